"""Control of the local libvirtd for tests that restart it."""

from __future__ import annotations

import subprocess
import time


def libvirtd_answers() -> bool:
    return subprocess.run(["virsh", "-c", "qemu:///system", "version"], capture_output=True,
                          timeout=10).returncode == 0


def restart_libvirtd(timeout_s: float = 30) -> None:
    """Stop libvirtd (SIGTERM) and start it again the way scripts/setup.sh does."""
    subprocess.run(["pkill", "-TERM", "-x", "libvirtd"], check=False)
    deadline = time.monotonic() + timeout_s
    while subprocess.run(["pgrep", "-x", "libvirtd"], capture_output=True).returncode == 0:
        if time.monotonic() > deadline:
            raise AssertionError("libvirtd did not stop")
        time.sleep(0.1)
    subprocess.run(["libvirtd", "-d"], check=True)
    while not libvirtd_answers():
        if time.monotonic() > deadline:
            raise AssertionError("libvirtd did not come back")
        time.sleep(0.2)
