"""A remote URI for real: qemu+ssh:// to an sshd of our own on 127.0.0.1, with a key made for
the test. The provider connects through libvirt's ssh transport (virt-ssh-helper on the far end),
keeps one connection for the URI, and manages a pool there exactly as over the local socket."""

from __future__ import annotations

import pathlib
import socket
import subprocess
import time
from typing import Iterator

import pytest

from pulumi_libvirt_storage_provider.dynamic import StoragePoolProvider, StorageVolumeProvider
from pulumi_libvirt_storage_provider.ops import connection
from tests.conftest import unique


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ssh_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    d = tmp_path_factory.mktemp("sshd")
    port = free_port()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host_key")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "client_key")], check=True)
    (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
    (d / "authorized_keys").chmod(0o600)
    (d / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {d / 'host_key'}\nPidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        "Subsystem sftp internal-sftp\n")
    pathlib.Path("/run/sshd").mkdir(exist_ok=True)
    subprocess.run(["/usr/sbin/sshd", "-f", str(d / "sshd_config"), "-E", str(d / "sshd.log")], check=True)
    deadline = time.monotonic() + 10
    while not (d / "sshd.pid").exists():
        assert time.monotonic() < deadline, (d / "sshd.log").read_text() if (d / "sshd.log").exists() else ""
        time.sleep(0.05)
    try:
        yield (f"qemu+ssh://root@127.0.0.1:{port}/system?keyfile={d / 'client_key'}"
               "&no_verify=1&no_tty=1&sshauth=privkey")
    finally:
        pid = int((d / "sshd.pid").read_text())
        subprocess.run(["kill", str(pid)], check=False)  # only the sshd this fixture started


def test_pool_and_volume_over_qemu_ssh(ssh_uri: str, conn, tmp_path: pathlib.Path) -> None:
    pools, volumes = StoragePoolProvider(), StorageVolumeProvider()
    opened_before = connection.OPENED[ssh_uri]
    checked = pools.check({}, {"name": unique("ssh"), "type": "dir", "uri": ssh_uri,
                               "target": {"path": str(tmp_path / "p")}})
    assert not checked.failures
    created = pools.create(checked.inputs)
    try:
        # the pool really exists on the daemon behind the ssh transport (here: the local one)
        assert conn.storagePoolLookupByUUIDString(created.id).isActive()
        vol_in = volumes.check({}, {"pool": checked.inputs["name"], "uri": ssh_uri, "name": "v.qcow2",
                                    "format": "qcow2", "capacity": "16MiB"}).inputs
        vol = volumes.create(vol_in)
        assert volumes.read(vol.id, vol.outs).id == vol.id
        volumes.delete(vol.id, vol.outs)
        assert pools.read(created.id, created.outs).outs["active"] is True
    finally:
        pools.delete(created.id, created.outs)
    assert connection.OPENED[ssh_uri] - opened_before == 1, "one connection for the URI, shared by every call"
