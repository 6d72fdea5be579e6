"""A fleet of libvirt hosts on one machine: N extra libvirtd daemons, isolated from the main one and
from each other, for tests that run one stack over several hosts.

Each host K is a directory (etc/, lib/, cache/, log/, run/, sock/) and a libvirtd in its own mount
and network namespace (`unshare --mount --net`), where a tmpfs covers /run/libvirt and host K's
directories are bound over /etc/libvirt, /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt:
its pools, volumes' pool definitions, secrets and runtime state are its own. Its sockets are in
host K's sock/ directory, outside the namespace's tmpfs, so the tests reach it as
`qemu+unix:///system?socket=<sock>/libvirt-sock`; the main libvirtd (/run/libvirt) is never touched.

Each daemon logs the clients that open a connection to it (`Bypass polkit auth for privileged client
pid:N`, one line per connection, the peer's pid): `connections_since` counts them per pid.

Stop a host with `stop(k)` (its own pid: SIGTERM, SIGKILL if it does not exit) and start it again
with the same state with `start(k)`. `close()` stops every daemon (their namespaces and mounts go
with them) and removes the directories.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Iterator

import libvirt
import pytest

from tests.support.daemons import wait_until

_CONFIGS = ("libvirt.conf", "libvirt-admin.conf", "qemu.conf", "virtlogd.conf", "virtlockd.conf", "lxc.conf")
_CLIENT = re.compile(r"privileged client pid:(\d+)")


class Host:
    def __init__(self, index: int, root: str) -> None:
        self.index = index
        self.dir = os.path.join(root, f"host{index}")
        self.sock = os.path.join(self.dir, "sock")
        self.pidfile = os.path.join(self.dir, "run", "libvirtd.pid")
        self.log = os.path.join(self.dir, "log", "libvirtd.log")
        self.pools = os.path.join(self.dir, "pools")  # where this host's dir pools may live
        self.uri = f"qemu+unix:///system?socket={self.sock}/libvirt-sock"
        self.process: subprocess.Popen[bytes] | None = None
        for sub in ("etc", "lib", "cache", "log", "run", "sock", "pools"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        for name in _CONFIGS:  # the machine's settings, none of its definitions (storage/, secrets/, qemu/)
            if os.path.exists(f"/etc/libvirt/{name}"):
                shutil.copy(f"/etc/libvirt/{name}", os.path.join(self.dir, "etc", name))
        if os.path.isdir("/var/cache/libvirt/qemu"):
            # QEMU's capabilities as the main daemon probed them: without them each daemon would
            # spend seconds of CPU probing QEMU at start (this provider never asks the QEMU driver).
            shutil.copytree("/var/cache/libvirt/qemu", os.path.join(self.dir, "cache", "qemu"), dirs_exist_ok=True)
        with open(os.path.join(self.dir, "libvirtd.conf"), "w") as f:
            f.write(f'unix_sock_dir = "{self.sock}"\n'
                    f'log_outputs = "2:file:{self.log}"\n'
                    'log_filters = "2:daemon.remote"\n')

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None and self.process.poll() is None else None

    def running(self) -> bool:
        return self.pid is not None

    def open(self) -> libvirt.virConnect:
        return libvirt.open(self.uri)

    def answers(self) -> bool:
        if not os.path.exists(os.path.join(self.sock, "libvirt-sock")):
            return False  # not yet, or stopped (without libvirt printing the failed connect)
        try:
            conn = libvirt.open(self.uri)
        except libvirt.libvirtError:
            return False
        try:
            conn.listAllStoragePools(0)
            conn.listAllSecrets(0)
            return True
        except libvirt.libvirtError:
            return False
        finally:
            conn.close()

    def log_size(self) -> int:
        return os.path.getsize(self.log) if os.path.exists(self.log) else 0

    def clients_since(self, mark: int) -> collections.Counter[int]:
        """{client pid: connections it opened} from the daemon's log after offset `mark`."""
        if not os.path.exists(self.log):
            return collections.Counter()
        with open(self.log, errors="replace") as f:
            f.seek(mark)
            return collections.Counter(int(pid) for pid in _CLIENT.findall(f.read()))


class Fleet:
    def __init__(self, n: int) -> None:
        self.root = tempfile.mkdtemp(prefix="plstest-fleet-", dir="/tmp")
        os.chmod(self.root, 0o755)
        self.hosts = [Host(k, self.root) for k in range(n)]

    def __getitem__(self, k: int) -> Host:
        return self.hosts[k]

    def __iter__(self) -> Iterator[Host]:
        return iter(self.hosts)

    def start(self, k: int, timeout_s: float = 60) -> None:
        h = self.hosts[k]
        assert not h.running(), f"host {k} already runs"
        script = ("set -e; mount -t tmpfs -o mode=0755 plstest-fleet /run/libvirt; "
                  f"mount --bind {h.dir}/etc /etc/libvirt; mount --bind {h.dir}/lib /var/lib/libvirt; "
                  f"mount --bind {h.dir}/cache /var/cache/libvirt; mount --bind {h.dir}/log /var/log/libvirt; "
                  f"exec libvirtd --config {h.dir}/libvirtd.conf --pid-file {h.pidfile}")
        out = open(os.path.join(h.dir, "log", "stdout.log"), "ab")
        # `unshare` execs sh, which execs libvirtd: the pid we hold is the daemon's own.
        h.process = subprocess.Popen(["unshare", "--mount", "--net", "--propagation", "private", "sh", "-c", script],
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        deadline = time.monotonic() + timeout_s

        def ready() -> bool:
            if h.process is not None and h.process.poll() is not None:
                with open(os.path.join(h.dir, "log", "stdout.log"), errors="replace") as f:
                    raise AssertionError(f"libvirtd of host {k} exited ({h.process.returncode}): {f.read()[-2000:]}")
            return h.answers()

        wait_until(ready, deadline, f"libvirtd of host {k} did not answer within {timeout_s} s")

    def stop(self, k: int, timeout_s: float = 30) -> None:
        """Stop host k's daemon by its own pid: SIGTERM, then SIGKILL if it has not exited."""
        h = self.hosts[k]
        if h.process is None:
            return
        if h.process.poll() is None:
            h.process.send_signal(signal.SIGTERM)
            try:
                h.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                h.process.kill()
                h.process.wait(10)
        h.process = None
        assert not os.path.exists(os.path.join(h.sock, "libvirt-sock")) or not h.answers(), f"host {k} still answers"

    def close(self) -> None:
        for k in range(len(self.hosts)):
            self.stop(k)
        # The daemons' namespaces, and with them their mounts, are gone with them: nothing of the
        # fleet may be mounted in ours.
        with open("/proc/self/mounts") as f:
            assert self.root not in f.read(), "a fleet mount leaked into the test's namespace"
        shutil.rmtree(self.root, ignore_errors=True)


def assert_isolated(fleet: Fleet, main: libvirt.virConnect) -> None:
    """A pool and a secret defined on one host are seen by no other host and not by the main
    daemon; then removed."""
    from tests.conftest import unique
    conns = [h.open() for h in fleet]
    try:
        for k, conn in enumerate(conns):
            name = unique(f"fleet-iso{k}")
            pool = conn.storagePoolDefineXML(f"<pool type='dir'><name>{name}</name><target><path>"
                                             f"{fleet[k].pools}/{name}</path></target></pool>", 0)
            secret = conn.secretDefineXML(f"<secret ephemeral='no' private='no'><usage type='volume'>"
                                          f"<volume>/{name}</volume></usage></secret>", 0)
            try:
                for other, oconn in [*((j, c) for j, c in enumerate(conns) if j != k), ("main", main)]:
                    assert name not in {p.name() for p in oconn.listAllStoragePools(0)}, \
                        f"host {k}'s pool is visible on {other}"
                    assert f"/{name}" not in {s.usageID() for s in oconn.listAllSecrets(0)}, \
                        f"host {k}'s secret is visible on {other}"
                assert name in {p.name() for p in conn.listAllStoragePools(0)}
            finally:
                pool.undefine()
                secret.undefine()
    finally:
        for conn in conns:
            conn.close()


@pytest.fixture
def fleet(conn) -> Iterator[Fleet]:
    """Three libvirt hosts of the test's own, running, isolated from each other and from the main
    daemon (checked); all stopped and removed at the end. Request it before `project`, so that the
    stacks are destroyed while the hosts still run."""
    f = Fleet(3)
    try:
        for k in range(3):
            f.start(k)
        assert_isolated(f, conn)
        yield f
    finally:
        f.close()
