"""fs, disk and logical pools on real block devices (loop devices over sparse files).

What the kernel here lacks (device-mapper) limits the logical pool to the volume-group level:
build, start, stop and delete run for real; creating a logical volume is shown to fail with
libvirt's own error, and the test says so.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
from typing import Any, Iterator

import libvirt
import pytest

from pulumi_libvirt_storage_provider.dynamic import StoragePoolProvider, StorageVolumeProvider
from tests.conftest import unique
from tests.support.engine import Project
from tests.support.loopdev import loop_device

pytestmark = pytest.mark.libvirtd
MiB = 1024**2


def checked(provider: Any, raw: dict[str, Any]) -> dict[str, Any]:
    result = provider.check({}, raw)
    assert not result.failures, [(f.property, f.reason) for f in result.failures]
    return result.inputs


def blkid(device: str) -> str:
    return subprocess.run(["blkid", "-o", "value", "-s", "TYPE", device], capture_output=True, text=True).stdout.strip()


def mounted_at(path: pathlib.Path) -> str:
    return subprocess.run(["findmnt", "-n", "-o", "SOURCE", str(path)], capture_output=True, text=True).stdout.strip()


@pytest.fixture
def device(tmp_path: pathlib.Path) -> Iterator[str]:
    # sparse; xfs wants more than 300 MB
    with loop_device(tmp_path / "disk.img", 512 * MiB) as dev:
        yield dev


@pytest.mark.parametrize("fs_format", ["ext4", "xfs"])
def test_fs_pool_builds_mounts_and_unmounts_a_real_device(fs_format: str, device: str, conn,
                                                         tmp_path: pathlib.Path) -> None:
    pools, volumes = StoragePoolProvider(), StorageVolumeProvider()
    mnt = tmp_path / "mnt"
    spec = checked(pools, {"name": unique("fs"), "type": "fs", "target": {"path": str(mnt)},
                           "source": {"devices": [{"path": device}], "format": fs_format}})
    assert spec["build"] is True and spec["build_mode"] == "no_overwrite"
    created = pools.create(spec)
    try:
        assert blkid(device) == fs_format, "build with no_overwrite formats an empty device"
        assert mounted_at(mnt) == device, "start mounts the device on the target path"
        vol_spec = checked(volumes, {"pool": spec["name"], "pool_type": "fs", "name": "disk.qcow2",
                                     "format": "qcow2", "capacity": "1GiB"})
        vol = volumes.create(vol_spec)
        assert (mnt / "disk.qcow2").exists()
        volumes.delete(vol.id, vol.outs)

        pool = conn.storagePoolLookupByUUIDString(created.id)
        pool.destroy()
        assert mounted_at(mnt) == "", "stop unmounts"
        pool.create(0)
        assert mounted_at(mnt) == device
    finally:
        pools.delete(created.id, created.outs)
    assert mounted_at(mnt) == ""
    assert blkid(device) == fs_format, "destroy without delete_storage_on_destroy keeps the file system"


def test_fs_pool_with_no_overwrite_keeps_existing_data(device: str, conn, tmp_path: pathlib.Path) -> None:
    subprocess.run(["mkfs.ext4", "-q", "-F", device], check=True)
    staging = tmp_path / "staging"
    staging.mkdir()
    subprocess.run(["mount", device, str(staging)], check=True)
    (staging / "precious.txt").write_text("keep me")
    subprocess.run(["umount", str(staging)], check=True)

    pools = StoragePoolProvider()
    mnt = tmp_path / "mnt"
    spec = checked(pools, {"name": unique("fskeep"), "type": "fs", "target": {"path": str(mnt)},
                           "source": {"devices": [{"path": device}], "format": "ext4"}})
    created = pools.create(spec)
    try:
        assert (mnt / "precious.txt").read_text() == "keep me"
    finally:
        pools.delete(created.id, created.outs)


@pytest.mark.engine
def test_fs_pool_through_the_engine(device: str, conn, tmp_path: pathlib.Path) -> None:
    name = unique("fseng")
    mnt = tmp_path / "mnt"
    program = f'''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume
pool = StoragePool("fs", name={name!r}, type="fs", target={{"path": {str(mnt)!r}}},
                   source={{"devices": [{{"path": {device!r}}}], "format": "ext4"}},
                   mount_options=["noatime"])
vol = StorageVolume("vol", pool=pool, name="a.raw", capacity="8MiB")
pulumi.export("path", vol.path)
'''
    project = Project(tmp_path / "project", program)
    try:
        project.up()
        assert mounted_at(mnt) == device
        opts = subprocess.run(["findmnt", "-n", "-o", "OPTIONS", str(mnt)], capture_output=True, text=True).stdout
        assert "noatime" in opts, "mount options reach the mount"
        project.preview("--expect-no-changes")
        project.destroy()
        assert mounted_at(mnt) == ""
    finally:
        project.close()


@pytest.mark.parametrize("label", ["gpt", "dos"])
def test_disk_pool_labels_the_device_and_makes_partitions(label: str, conn, tmp_path: pathlib.Path) -> None:
    pools, volumes = StoragePoolProvider(), StorageVolumeProvider()
    with loop_device(tmp_path / "disk.img", 256 * MiB, alias_dir=tmp_path) as dev:
        part = os.path.basename(os.path.realpath(dev)) + "p"
        spec = checked(pools, {"name": unique("disk"), "type": "disk", "build": True,
                               "source": {"devices": [{"path": dev}], "format": label}})
        created = pools.create(spec)
        try:
            parted = subprocess.run(["parted", "-s", dev, "print"], capture_output=True, text=True).stdout
            assert ("gpt" if label == "gpt" else "msdos") in parted

            # a name that is not the next partition: libvirt refuses, and no partition is left over
            bad = checked(volumes, {"pool": spec["name"], "pool_type": "disk", "name": "wrong1",
                                    "capacity": "32MiB"})
            with pytest.raises(Exception, match=f"expected '{part}1'"):
                volumes.create(bad)
            pool = conn.storagePoolLookupByUUIDString(created.id)
            pool.refresh(0)
            assert pool.listVolumes() == []

            made = []
            for n in (1, 2):
                vol = volumes.create(checked(volumes, {"pool": spec["name"], "pool_type": "disk",
                                                      "name": f"{part}{n}", "capacity": "32MiB"}))
                made.append(vol)
                assert vol.outs["disk"]["type"] == "block" and vol.outs["disk"]["dev"] == vol.outs["path"]
                assert vol.outs["current_capacity"] >= 32 * MiB
                # libvirt aligns partitions: its rounding is not drift
                assert volumes.read(vol.id, vol.outs).outs["capacity"] == 32 * MiB
            for vol in made:
                volumes.delete(vol.id, vol.outs)
            pool.refresh(0)
            assert pool.listVolumes() == []
        finally:
            pools.delete(created.id, created.outs)


def test_logical_pool_builds_and_deletes_a_volume_group(device: str, conn) -> None:
    pools, volumes = StoragePoolProvider(), StorageVolumeProvider()
    vg = unique("vg").replace("-", "_")
    spec = checked(pools, {"name": unique("lvm"), "type": "logical", "build": True,
                           "source": {"name": vg, "devices": [{"path": device}]},
                           "delete_storage_on_destroy": True})
    created = pools.create(spec)
    try:
        assert created.outs["active"] is True and created.outs["target_path"] == f"/dev/{vg}"
        vgs = subprocess.run(["vgs", "--noheadings", "-o", "vg_name"], capture_output=True, text=True).stdout
        assert vg in vgs.split()
        # This kernel has no device-mapper: libvirt's lvcreate fails, and says so. On a host with
        # device-mapper the same call creates the logical volume.
        lv = checked(volumes, {"pool": spec["name"], "pool_type": "logical", "name": "lv0", "capacity": "16MiB"})
        with pytest.raises(Exception, match="device-mapper|/dev/mapper/control"):
            volumes.create(lv)
        pool = conn.storagePoolLookupByUUIDString(created.id)
        pool.destroy()
        pool.create(0)
        assert pool.isActive()
    finally:
        pools.delete(created.id, created.outs)
    vgs = subprocess.run(["vgs", "--noheadings", "-o", "vg_name"], capture_output=True, text=True).stdout
    assert vg not in vgs.split(), "delete_storage_on_destroy removes the volume group"
    with pytest.raises(libvirt.libvirtError):
        conn.storagePoolLookupByName(spec["name"])
