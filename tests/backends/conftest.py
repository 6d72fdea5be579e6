"""Fixtures of the backends tier that start servers of their own.

`ceph`: a one-node Ceph cluster on 127.0.0.1 (scripts/ceph-test-cluster.sh), started once per
session in a temporary directory, with an rbd pool and a cephx client for libvirt. A cluster that
cannot start fails the tests that need it; it never skips them. At the end only the daemons this
session started are stopped, and their directory is removed.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest

from tests.conftest import unique

ROOT = pathlib.Path(__file__).resolve().parents[2]
CEPH_CLUSTER_SCRIPT = ROOT / "scripts" / "ceph-test-cluster.sh"
MON_HOST = "127.0.0.1"  # the only address the cluster binds to; libvirt and QEMU get its v1 port

_TIMINGS: dict[str, float] = {}  # shown in the terminal summary


def _caps(pool: str) -> list[str]:
    """What libvirt and QEMU need on one rbd pool, as in Ceph's own libvirt guide."""
    return ["mon", "profile rbd", "osd", f"profile rbd pool={pool}", "mgr", f"profile rbd pool={pool}"]


@dataclass
class CephCluster:
    """The running test cluster, seen as an operator sees it: `ceph`/`rbd` as client.admin."""

    dir: pathlib.Path
    mon_host: str
    mon_port: int
    pool: str  # an rbd pool, initialised (`rbd pool init`)
    client: str  # the cephx user for libvirt, without "client."
    key: str = field(repr=False)  # its key, base64 as `ceph auth get-key` prints it
    bootstrap_seconds: float = 0.0
    ports: dict[str, str] = field(default_factory=dict)  # CEPH_TEST_MON_V1_PORT/V2_PORT it was started with

    @property
    def conf(self) -> pathlib.Path:
        return self.dir / "ceph.conf"

    def stop_daemons(self, *names: str) -> None:
        """SIGTERM these daemons ("mon.a", "osd.0", "mgr.x") at once and wait until they are gone; their
        data stays, and `start` brings them back: an outage, for the fault tests. SIGKILL after 60 s."""
        pids = []
        for name in names or ("mon.a", "osd.0"):
            pid_file = self.dir / "run" / f"{name}.pid"
            pid = int(pid_file.read_text().strip())
            assert str(self.conf) in pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"), \
                f"pid {pid} of {pid_file} is not a daemon of this cluster"
            os.kill(pid, 15)
            pids.append((pid, pid_file))
        deadline = time.monotonic() + 60
        for pid, pid_file in pids:
            while _alive(pid):
                if time.monotonic() > deadline:
                    os.kill(pid, 9)
                    deadline = float("inf")
                time.sleep(0.05)
            pid_file.unlink(missing_ok=True)

    def start(self) -> float:
        """Start the daemons that are not running (scripts/ceph-test-cluster.sh start) and wait until the
        cluster is HEALTH_OK again; the seconds it took."""
        started = time.monotonic()
        done = _script("start", self.dir, self.ports)
        assert done.returncode == 0, f"restarting the Ceph test cluster failed: {done.stderr}"
        return time.monotonic() - started

    def _run(self, argv: list[str], stdin: str | None = None) -> str:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def ceph(self, *args: str, stdin: str | None = None) -> str:
        """`ceph ARGS` as client.admin; its stdout. Fails the test when the command fails."""
        return self._run(["ceph", "-c", str(self.conf), "--connect-timeout", "20", *args], stdin)

    def rbd(self, *args: str) -> str:
        return self._run(["rbd", "-c", str(self.conf), *args])

    def images(self) -> set[str]:
        """The images in the rbd pool."""
        return set(json.loads(self.rbd("ls", "--format", "json", self.pool)))

    def image_info(self, image: str) -> dict[str, Any]:
        return json.loads(self.rbd("info", "--format", "json", f"{self.pool}/{image}"))

    def snapshots(self, image: str) -> list[dict[str, Any]]:
        return json.loads(self.rbd("snap", "ls", "--all", "--format", "json", f"{self.pool}/{image}"))

    def watchers(self, image: str) -> list[dict[str, Any]]:
        """Clients that have the image open (QEMU keeps a watch on an image it uses)."""
        return json.loads(self.rbd("status", "--format", "json", f"{self.pool}/{image}")).get("watchers", [])

    def get_key(self, client: str | None = None) -> str:
        return self.ceph("auth", "get-key", f"client.{client or self.client}").strip()

    def rotate_key(self, client: str | None = None) -> str:
        """Give the client a new key in place (same name, same caps) and return it. This Ceph
        (pacific) has no `auth get-or-create-pending`/`commit-pending`: `auth import` of a keyring
        with a fresh key replaces the old one. The keyring goes through a file in the cluster's
        private directory, never through process arguments."""
        client = client or self.client
        keyring = self.dir / f"rotate-{client}.keyring"
        keyring.unlink(missing_ok=True)
        caps = _caps(self.pool)
        cap_args = [a for i in range(0, len(caps), 2) for a in ("--cap", caps[i], caps[i + 1])]
        try:
            self._run(["ceph-authtool", "--create-keyring", str(keyring), "--gen-key", "-n", f"client.{client}",
                       *cap_args])
            self.ceph("auth", "import", "-i", str(keyring))
        finally:
            keyring.unlink(missing_ok=True)
        new_key = self.get_key(client)
        if client == self.client:
            self.key = new_key
        return new_key


def _alive(pid: int) -> bool:
    """Alive and not a zombie (the daemons fork away from the script: pid 1 reaps them)."""
    try:
        return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _script(action: str, directory: pathlib.Path, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(CEPH_CLUSTER_SCRIPT), action, str(directory)], capture_output=True,
                          text=True, timeout=600, env={**os.environ, **(env or {})})


def _monitor_ports() -> dict[str, str]:
    """The monitor's ports: CEPH_TEST_MON_V1_PORT/V2_PORT when set, else two free ones, so that the
    session does not collide with another test cluster (on Ceph's defaults 6789/3300) on this host."""
    with socket.socket() as v1, socket.socket() as v2:
        v1.bind((MON_HOST, 0))
        v2.bind((MON_HOST, 0))
        return {"CEPH_TEST_MON_V1_PORT": os.environ.get("CEPH_TEST_MON_V1_PORT") or str(v1.getsockname()[1]),
                "CEPH_TEST_MON_V2_PORT": os.environ.get("CEPH_TEST_MON_V2_PORT") or str(v2.getsockname()[1])}


@pytest.fixture(scope="session")
def ceph() -> Iterator[CephCluster]:
    """A one-node Ceph cluster with an rbd pool and a client for libvirt. Fails when it cannot start."""
    for tool in ("ceph", "rbd", "ceph-mon", "ceph-mgr", "ceph-osd", "ceph-authtool", "monmaptool"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run `make setup` (scripts/setup.sh installs ceph-mon, ceph-mgr, "
                        "ceph-osd and ceph-common); the rbd tests never skip")
    directory = pathlib.Path(tempfile.mkdtemp(prefix="plstest-ceph-"))
    ports = _monitor_ports()
    started = time.monotonic()
    done = _script("start", directory, ports)
    bootstrap_seconds = time.monotonic() - started
    try:
        if done.returncode != 0:
            logs = "\n".join(f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-15:])
                             for p in sorted((directory / "log").glob("*.log")))
            pytest.fail(f"the Ceph test cluster did not start ({done.returncode}):\n{done.stderr}\n{logs}")
        _TIMINGS["bootstrap"] = bootstrap_seconds
        pool, client = unique("rbd"), unique("libvirt")
        cluster = CephCluster(dir=directory, mon_host=MON_HOST, mon_port=int(ports["CEPH_TEST_MON_V1_PORT"]),
                              pool=pool, client=client,
                              key="", bootstrap_seconds=bootstrap_seconds, ports=ports)
        cluster.ceph("osd", "pool", "create", pool, "8", "8")
        cluster.rbd("pool", "init", pool)
        # get-or-create prints a keyring: captured and dropped; the key is then read on its own.
        cluster.ceph("auth", "get-or-create", f"client.{client}", *_caps(pool))
        cluster.key = cluster.get_key()
        yield cluster
    finally:
        stopped = _script("stop", directory)
        shutil.rmtree(directory, ignore_errors=True)
    assert stopped.returncode == 0, f"stopping the Ceph test cluster failed: {stopped.stderr}"


@pytest.fixture(scope="session")
def virtlogd() -> None:
    """QEMU domains log through virtlogd; scripts/setup.sh starts it only together with libvirtd.
    Started here when missing, and left running (libvirtd expects it for the rest of its life)."""
    if subprocess.run(["pgrep", "-x", "virtlogd"], capture_output=True).returncode != 0:
        subprocess.run(["virtlogd", "-d"], check=True)
        deadline = time.monotonic() + 10
        while not os.path.exists("/run/libvirt/virtlogd-sock"):
            if time.monotonic() > deadline:
                pytest.fail("virtlogd did not create /run/libvirt/virtlogd-sock")
            time.sleep(0.1)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if "bootstrap" in _TIMINGS:
        terminalreporter.write_line(f"ceph test cluster: bootstrap took {_TIMINGS['bootstrap']:.1f} s")
