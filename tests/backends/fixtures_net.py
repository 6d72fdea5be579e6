"""Session fixtures for the network backends that run on this machine: a one-brick Gluster volume
(scripts/gluster-test-server.sh) and a tgtd iSCSI target (scripts/iscsi-test-target.sh), both on
127.0.0.1 only, plus what their tests share.

pytest loads fixtures from conftest.py files only; the test modules import these:

    from tests.backends.fixtures_net import gluster, iscsi_target  # noqa: F401

A server already running from its directory (started by hand or by an earlier session) is used as
it is and left running; one this session starts is stopped at the end, and its directory removed
when the session made it. A server that cannot start fails the tests that need it: never a skip.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import libvirt
import pytest

from pulumi_libvirt_storage_provider.xml.schema import schema_errors
from tests.conftest import URI
from tests.support.engine import Project

ROOT = pathlib.Path(__file__).resolve().parents[2]
GLUSTER_SCRIPT = ROOT / "scripts" / "gluster-test-server.sh"
ISCSI_SCRIPT = ROOT / "scripts" / "iscsi-test-target.sh"
# Fixed places (not per-session temporary directories) so that a server started by hand with the
# script is found and reused; overridable for machines where /var/tmp does not suit.
GLUSTER_DIR = pathlib.Path(os.environ.get("PLS_GLUSTER_TEST_DIR", "/var/tmp/plstest-gluster"))
ISCSI_DIR = pathlib.Path(os.environ.get("PLS_ISCSI_TEST_DIR", "/var/tmp/plstest-iscsi"))


# -- names and the leftover guard: the root's (tests/conftest.py), re-exported for these modules ----

from tests.conftest import nothing_left_behind, unique  # noqa: E402,F401


# -- the servers ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class GlusterServer:
    """glusterd and one brick on 127.0.0.1, as the script reports them in DIR/gluster.env."""

    dir: pathlib.Path
    host: str  # resolves to 127.0.0.1 (Gluster refuses 127.0.0.1 itself as a brick host)
    port: int
    volume: str
    brick: pathlib.Path  # the brick's directory: where the volume's files really are
    socket: pathlib.Path
    start_seconds: float  # 0.0 when it was running already

    def client_log(self, what: str) -> pathlib.Path:
        """Where a FUSE client logs (the mount option log-file): under DIR, not in /var/log/glusterfs."""
        logs = self.dir / "log" / "clients"
        logs.mkdir(parents=True, exist_ok=True)
        return logs / f"{what}.log"

    def cli(self, *args: str) -> str:
        done = subprocess.run(["gluster", "--mode=script", f"--glusterd-sock={self.socket}", *args],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"gluster {' '.join(args)} failed: {done.stderr.strip()}"
        return done.stdout

    @contextlib.contextmanager
    def mounted(self, mountpoint: pathlib.Path) -> Iterator[pathlib.Path]:
        """The volume through a FUSE mount of our own (mount.glusterfs), unmounted at the end."""
        mountpoint.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "glusterfs", "-o", f"log-file={self.client_log(mountpoint.name)}",
                        f"{self.host}:/{self.volume}", str(mountpoint)], check=True, capture_output=True,
                       text=True, timeout=60)
        try:
            yield mountpoint
        finally:
            unmount(mountpoint)


@dataclass(frozen=True)
class IscsiTarget:
    """tgtd on 127.0.0.1 with an open target and a CHAP target, as DIR/iscsi.env reports them."""

    dir: pathlib.Path
    host: str
    port: int
    open_iqn: str
    open_luns: int
    chap_iqn: str
    chap_luns: int
    chap_user: str
    chap_password: str = field(repr=False)
    initiator_iqn: str = ""
    lun_bytes: int = 0
    start_seconds: float = 0.0

    def backing_file(self, iqn: str, lun: int) -> pathlib.Path:
        """The sparse file behind a LUN (named by the script after the target's last IQN part)."""
        return self.dir / f"{iqn.rsplit(':', 1)[1]}-lun{lun}.img"


def _script(script: pathlib.Path, action: str, directory: pathlib.Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(script), action, str(directory)], capture_output=True, text=True,
                          timeout=300)


def _read_env(path: pathlib.Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def _tail(directory: pathlib.Path, pattern: str, lines: int = 20) -> str:
    return "\n".join(f"--- {p}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-lines:])
                     for p in sorted(directory.glob(pattern)) if p.is_file())


def _report(request: pytest.FixtureRequest, line: str) -> None:
    """A line on the terminal, not in the captured output of the first test that used the server."""
    reporter = request.config.pluginmanager.getplugin("terminalreporter")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if reporter is not None:
        with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
            reporter.write_line(line)


@contextlib.contextmanager
def _server(request: pytest.FixtureRequest, what: str, script: pathlib.Path, directory: pathlib.Path,
            tools: tuple[str, ...], logs: str) -> Iterator[float]:
    """Start the server unless it runs; yields how long the start took (0.0 when it ran already).
    Stops only what it started; removes the directory only when it made it."""
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run `make setup` (scripts/setup.sh installs it); the {what} tests "
                        "never skip")
    if _script(script, "status", directory).returncode == 0:
        _report(request, f"{what}: already running from {directory}, used as it is")
        yield 0.0
        return
    made_dir = not directory.exists()
    started = time.monotonic()
    done = _script(script, "start", directory)
    seconds = time.monotonic() - started
    try:
        if done.returncode != 0:
            pytest.fail(f"the {what} did not start ({script.name} start {directory}, exit {done.returncode}):\n"
                        f"{done.stderr}\n{_tail(directory, logs)}")
        _report(request, f"{what}: started in {seconds:.1f} s ({directory})")
        yield seconds
    finally:
        stopped = _script(script, "stop", directory)
        if made_dir and stopped.returncode == 0:
            shutil.rmtree(directory, ignore_errors=True)
    assert stopped.returncode == 0, f"stopping the {what} failed: {stopped.stderr}"


@pytest.fixture(scope="session")
def gluster(request: pytest.FixtureRequest) -> Iterator[GlusterServer]:
    """glusterd and a one-brick volume on 127.0.0.1. Fails when they cannot start."""
    with _server(request, "gluster test server", GLUSTER_SCRIPT, GLUSTER_DIR,
                 ("glusterd", "gluster", "mount.glusterfs"), "log/*.log") as seconds:
        env = _read_env(GLUSTER_DIR / "gluster.env")
        yield GlusterServer(dir=GLUSTER_DIR, host=env["GLUSTER_HOST"], port=int(env["GLUSTER_PORT"]),
                            volume=env["GLUSTER_VOLUME"], brick=pathlib.Path(env["GLUSTER_BRICK"]),
                            socket=pathlib.Path(env["GLUSTER_SOCKET"]), start_seconds=seconds)


@pytest.fixture(scope="session")
def iscsi_target(request: pytest.FixtureRequest) -> Iterator[IscsiTarget]:
    """tgtd on 127.0.0.1 with an open and a CHAP target. Fails when it cannot start."""
    with _server(request, "iSCSI test target", ISCSI_SCRIPT, ISCSI_DIR, ("tgtd", "tgtadm", "iscsi-ls"),
                 "tgtd.log") as seconds:
        env = _read_env(ISCSI_DIR / "iscsi.env")
        yield IscsiTarget(dir=ISCSI_DIR, host=env["ISCSI_HOST"], port=int(env["ISCSI_PORT"]),
                          open_iqn=env["ISCSI_OPEN_IQN"], open_luns=int(env["ISCSI_OPEN_LUNS"]),
                          chap_iqn=env["ISCSI_CHAP_IQN"], chap_luns=int(env["ISCSI_CHAP_LUNS"]),
                          chap_user=env["ISCSI_CHAP_USER"], chap_password=env["ISCSI_CHAP_PASSWORD"],
                          initiator_iqn=env["ISCSI_INITIATOR_IQN"], lun_bytes=int(env["ISCSI_LUN_BYTES"]),
                          start_seconds=seconds)


# -- host helpers --------------------------------------------------------------------------------

def mounts() -> dict[str, tuple[str, str]]:
    """Mount point -> (source, file system type), from /proc/mounts."""
    table = {}
    for line in pathlib.Path("/proc/mounts").read_text().splitlines():
        source, mountpoint, fstype = line.split()[:3]
        table[mountpoint.replace("\\040", " ")] = (source, fstype)
    return table


def unmount(mountpoint: pathlib.Path) -> None:
    for _ in range(50):  # a FUSE mount can stay busy for a moment after its last user
        if str(mountpoint) not in mounts():
            return
        if subprocess.run(["umount", str(mountpoint)], capture_output=True).returncode == 0:
            return
        time.sleep(0.2)
    subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)


def qemu_opens(disk: dict[str, Any]) -> dict[str, Any]:
    """`qemu-img info` of a network disk (a volume's `disk` output), given to QEMU the way libvirt
    gives it a <source protocol=...>: proof that name, hosts and initiator lead to the real data.
    (QEMU's gluster driver fails a short read at the end of a file: use a raw file there.)"""
    host = disk["hosts"][0]
    if disk["protocol"] == "iscsi":
        target, lun = disk["name"].rsplit("/", 1)
        file: dict[str, Any] = {"driver": "iscsi", "transport": "tcp",
                                "portal": f"{host['name']}:{host.get('port', 3260)}", "target": target,
                                "lun": int(lun), "initiator-name": disk.get("initiator_iqn")}
    elif disk["protocol"] == "gluster":
        volume, path = disk["name"].split("/", 1)
        file = {"driver": "gluster", "volume": volume, "path": path,
                "server": [{"type": "inet", "host": host["name"], "port": str(host.get("port", 24007))}]}
    else:
        raise AssertionError(f"no QEMU mapping here for protocol {disk['protocol']!r}")
    spec = {"driver": disk["driver_type"], "file": {k: v for k, v in file.items() if v is not None}}
    done = subprocess.run(["qemu-img", "info", "--output=json", f"json:{json.dumps(spec)}"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"QEMU cannot open {spec}: {done.stderr.strip()}"
    return json.loads(done.stdout)


def domain_schema_errors(disk_xml: str) -> list[str] | None:
    """libvirt's domain schema on a minimal domain holding this <disk>: [] when libvirt would take it."""
    domain = (f"<domain type='kvm'><name>plstest-disk-check</name><memory>65536</memory>"
              f"<os><type arch='x86_64'>hvm</type></os><devices>{disk_xml}</devices></domain>")
    return schema_errors(domain, "domain")


# -- driving a provider as the engine does --------------------------------------------------------

def checked(provider: Any, raw: dict[str, Any], olds: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check's canonical inputs (what the engine then sends to create/update); fails on a failure."""
    result = provider.check(olds or {}, raw)
    assert not result.failures, [(f.property, f.reason) for f in result.failures]
    return result.inputs


def check_failures(provider: Any, raw: dict[str, Any], olds: dict[str, Any] | None = None) -> dict[str, str]:
    return {f.property: f.reason for f in provider.check(olds or {}, raw).failures}


# -- cleaning up ---------------------------------------------------------------------------------

@dataclass
class NetCleanup:
    """What a test made; `run` removes what is left of it. Pools are stopped and undefined, their
    volumes never deleted: they are the servers' files and LUNs (tests remove their own files)."""

    conn: libvirt.virConnect
    pools: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # uuids
    callbacks: list[Callable[[], None]] = field(default_factory=list)

    def run(self) -> list[str]:
        problems = []
        for name in reversed(self.pools):
            try:
                pool = self.conn.storagePoolLookupByName(name)
                if pool.isActive():
                    pool.destroy()
                if pool.isPersistent():
                    pool.undefine()
            except libvirt.libvirtError as e:
                if e.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_POOL:
                    problems.append(f"pool {name}: {e}")
        for uuid in self.secrets:
            try:
                self.conn.secretLookupByUUIDString(uuid).undefine()
            except libvirt.libvirtError as e:
                if e.get_error_code() != libvirt.VIR_ERR_NO_SECRET:
                    problems.append(f"secret {uuid}: {e}")
        for callback in reversed(self.callbacks):
            try:
                callback()
            except Exception as e:  # noqa: BLE001 - report every failure, not only the first
                problems.append(f"{callback}: {e}")
        return problems


@pytest.fixture
def net_cleanup(conn: libvirt.virConnect) -> Iterator[NetCleanup]:
    made = NetCleanup(conn)
    yield made
    problems = made.run()
    assert not problems, f"cleanup failed: {problems}"


@pytest.fixture
def net_project(project: Callable[..., Project]) -> Callable[..., Project]:
    """The root `project` fixture (tests/conftest.py), under the name these modules use."""
    return project


__all__ = ["GlusterServer", "IscsiTarget", "NetCleanup", "URI", "check_failures", "checked",
           "domain_schema_errors", "gluster", "iscsi_target", "mounts", "net_cleanup", "net_project",
           "nothing_left_behind", "qemu_opens", "unique", "unmount"]
