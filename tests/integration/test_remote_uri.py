"""A remote URI for real: qemu+ssh:// to an sshd of our own on 127.0.0.1, with a key made for
the test. The provider connects through libvirt's ssh transport (virt-ssh-helper on the far end),
keeps one connection for the URI, and manages a pool there exactly as over the local socket."""

from __future__ import annotations

import pathlib

from pulumi_libvirt_storage_provider.dynamic import StoragePoolProvider, StorageVolumeProvider
from pulumi_libvirt_storage_provider.ops import connection
from tests.conftest import unique


from tests.support.sshd import ssh_uri, sshd  # noqa: F401  (the fixtures)


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
