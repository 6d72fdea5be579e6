"""Control of the local libvirtd for tests that restart it."""

from __future__ import annotations

import pathlib
import subprocess
import time

# What this provider needs from the daemon: its storage and secret drivers. Never `virsh version`:
# it asks the QEMU driver, which after a restart re-probes QEMU's capabilities (minutes on a slow
# host) while storage calls are answered at once.
_PROBES = (["virsh", "-c", "qemu:///system", "pool-list", "--all"],
           ["virsh", "-c", "qemu:///system", "secret-list"])


def libvirtd_answers(timeout_s: float = 10) -> bool:
    """True when the storage and secret drivers answer within `timeout_s`. Never raises: a probe
    that times out or cannot run counts as "not yet"."""
    for probe in _PROBES:
        try:
            if subprocess.run(probe, capture_output=True, timeout=timeout_s).returncode != 0:
                return False
        except (subprocess.TimeoutExpired, OSError):
            return False
    return True


def wait_until(predicate, deadline: float, what: str, interval_s: float = 0.2) -> None:
    """Poll `predicate` until it is true or `deadline` (time.monotonic()) passes."""
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(interval_s)


def libvirtd_running() -> bool:
    return subprocess.run(["pgrep", "-x", "libvirtd"], capture_output=True).returncode == 0


def stop_libvirtd(timeout_s: float = 30, signal: str = "TERM") -> None:
    subprocess.run(["pkill", f"-{signal}", "-x", "libvirtd"], check=False)
    wait_until(lambda: not libvirtd_running(), time.monotonic() + timeout_s, "libvirtd did not stop")


def _log_tail(lines: int = 15) -> str:
    try:
        return "\n".join(pathlib.Path("/var/log/libvirt/libvirtd.log").read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no /var/log/libvirt/libvirtd.log)"


def launch_libvirtd() -> None:
    """`libvirtd -d` as scripts/setup.sh runs it, once more if no daemon is running a few seconds
    later (a start right after a forced shutdown can lose the race for the pid file)."""
    for attempt in range(2):
        subprocess.run(["libvirtd", "-d"], check=False)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if libvirtd_running():
                return
            time.sleep(0.2)
    raise AssertionError(f"`libvirtd -d` started no daemon (twice); the end of its log:\n{_log_tail()}")


def start_libvirtd(timeout_s: float = 60) -> None:
    """Start libvirtd the way scripts/setup.sh does and wait until storage and secrets answer."""
    launch_libvirtd()
    deadline = time.monotonic() + timeout_s
    wait_until(lambda: libvirtd_answers(timeout_s=max(1.0, min(10.0, deadline - time.monotonic()))),
               deadline, f"libvirtd's storage and secret drivers did not answer within {timeout_s} s; "
                         f"the end of its log:\n{_log_tail()}")


def ensure_libvirtd() -> None:
    """After a test: a libvirtd that a failed restart test left stopped is started again, so that one
    failure does not fail every later test."""
    if not libvirtd_running():
        start_libvirtd()


def restart_libvirtd(timeout_s: float = 60) -> None:
    """Stop libvirtd (SIGTERM) and start it again the way scripts/setup.sh does."""
    stop_libvirtd(timeout_s)
    start_libvirtd(timeout_s)
