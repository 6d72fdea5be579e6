"""Data safety on real block devices (loop devices): what used to destroy or strand data in fs and
disk pools, each proven closed (README, "What this provider never does")."""

from __future__ import annotations

import pathlib
import subprocess
import threading
from typing import Any, Iterator

import libvirt
import pytest

from pulumi_libvirt_storage_provider.ops.errors import LibvirtOpError
from pulumi_libvirt_storage_provider.resources import POOLS, VOLUMES, Context
from tests.conftest import unique
from tests.support.loopdev import loop_device

pytestmark = pytest.mark.libvirtd
MiB = 1024**2
CTX = Context()


def checked(logic: Any, raw: dict[str, Any], olds: dict[str, Any] | None = None) -> dict[str, Any]:
    result = logic.check(olds or {}, raw, CTX)
    assert not result.failures, [(f.prop, f.reason) for f in result.failures]
    return result.inputs


def partitions(device: str) -> list[str]:
    out = subprocess.run(["parted", "-s", "-m", device, "print"], capture_output=True, text=True).stdout
    return [line.split(":")[0] for line in out.splitlines()[2:] if line.strip()]


def blkid(device: str) -> str:
    return subprocess.run(["blkid", "-o", "value", "-s", "TYPE", device], capture_output=True, text=True).stdout.strip()


def mounted_at(path: pathlib.Path) -> str:
    return subprocess.run(["findmnt", "-n", "-o", "SOURCE", str(path)], capture_output=True, text=True).stdout.strip()


@pytest.fixture
def device(tmp_path: pathlib.Path) -> Iterator[str]:
    with loop_device(tmp_path / "disk.img", 512 * MiB) as dev:
        yield dev


@pytest.fixture
def aliased_device(tmp_path: pathlib.Path) -> Iterator[str]:
    """A loop device named so that libvirt's disk backend can delete the partitions it makes."""
    with loop_device(tmp_path / "disk.img", 256 * MiB, alias_dir=tmp_path) as dev:
        yield dev


def remove_pool(conn: libvirt.virConnect, name: str) -> None:
    try:
        pool = conn.storagePoolLookupByName(name)
    except libvirt.libvirtError:
        return
    if pool.isActive():
        pool.destroy()
    pool.undefine()


def test_deleting_the_storage_of_a_stopped_pool_that_holds_volumes_is_refused(aliased_device: str, conn) -> None:
    """Measured before: delete_storage_on_destroy on a stopped pool skipped the "still holds volumes"
    check (libvirt lists no volumes of a stopped pool), and libvirt zeroed the partition table."""
    name = unique("diskdel")
    spec = checked(POOLS, {"name": name, "type": "disk", "build": True, "build_mode": "overwrite",
                           "source": {"devices": [{"path": aliased_device}], "format": "gpt"},
                           "delete_storage_on_destroy": True})
    pool_id, outs = POOLS.create(spec, CTX)
    try:
        part = pathlib.Path(aliased_device).name + "1"
        vol_id, _ = VOLUMES.create(checked(VOLUMES, {"pool": name, "pool_type": "disk", "name": part,
                                                     "format": "linux", "capacity": "16MiB"}), CTX)
        conn.storagePoolLookupByName(name).destroy()  # stopped, e.g. by an operator
        with pytest.raises(LibvirtOpError, match="holds 1 volume"):
            POOLS.delete(pool_id, outs, CTX)
        assert partitions(aliased_device) == ["1"], "the partition table must be intact"
        assert not conn.storagePoolLookupByName(name).isActive(), "the pool is left stopped, as found"
    finally:
        pool = conn.storagePoolLookupByName(name)
        if not pool.isActive():
            pool.create(0)
        for vol in pool.listAllVolumes():
            vol.delete(0)
        POOLS.delete(pool_id, outs, CTX)
    assert partitions(aliased_device) == []


def test_a_redefinition_that_fails_to_start_puts_the_old_definition_back(device: str, conn, tmp_path) -> None:
    """Measured before: a new definition that failed to start left the pool down, with a definition
    the state does not hold."""
    name, mnt = unique("redef"), tmp_path / "mnt"
    spec = checked(POOLS, {"name": name, "type": "fs", "target": {"path": str(mnt)}, "mount_options": ["noatime"],
                           "source": {"devices": [{"path": device}], "format": "ext4"}})
    pool_id, outs = POOLS.create(spec, CTX)
    try:
        (mnt / "data.txt").write_text("kept")
        bad = checked(POOLS, {**{k: v for k, v in spec.items() if not k.startswith("__")},
                              "mount_options": ["plstest_no_such_option"]}, spec)
        with pytest.raises(LibvirtOpError, match="previous definition"):
            POOLS.update(pool_id, outs, bad, CTX)
        pool = conn.storagePoolLookupByName(name)
        assert pool.isActive() and mounted_at(mnt) == device
        assert "noatime" in pool.XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE)
        assert "plstest_no_such_option" not in pool.XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE)
        assert (mnt / "data.txt").read_text() == "kept"
    finally:
        POOLS.delete(pool_id, outs, CTX)


def test_a_device_holding_another_file_system_is_not_taken_for_built(device: str, conn, tmp_path) -> None:
    """Measured before: libvirt raises "pool built" both for "already built as asked" and for "holds
    another file system, overwrite needed"; the second was taken for the first."""
    subprocess.run(["mkfs.xfs", "-q", "-f", device], check=True)
    name = unique("otherfs")
    spec = checked(POOLS, {"name": name, "type": "fs", "target": {"path": str(tmp_path / "mnt")},
                           "source": {"devices": [{"path": device}], "format": "ext4"}})
    assert spec["build_mode"] == "no_overwrite"
    try:
        with pytest.raises(LibvirtOpError, match="holds another file system.*build_mode overwrite"):
            POOLS.create(spec, CTX)
        assert blkid(device) == "xfs", "the device's file system is untouched"
        with pytest.raises(libvirt.libvirtError):
            conn.storagePoolLookupByName(name)  # and nothing is left defined
    finally:
        remove_pool(conn, name)


def test_a_failed_partition_create_removes_only_its_own_partition(aliased_device: str, conn) -> None:
    """Measured before: the rollback of a failed create in a disk pool deleted every partition that
    appeared meanwhile, including one a concurrent create in the same pool had just made."""
    name = unique("diskroll")
    base = pathlib.Path(aliased_device).name
    spec = checked(POOLS, {"name": name, "type": "disk", "build": True, "build_mode": "overwrite",
                           "source": {"devices": [{"path": aliased_device}], "format": "gpt"}})
    pool_id, outs = POOLS.create(spec, CTX)
    errors: list[BaseException] = []
    made: list[str] = []

    def create(part: str) -> None:
        try:
            vol_id, _ = VOLUMES.create(checked(VOLUMES, {"pool": name, "pool_type": "disk", "name": part,
                                                         "format": "linux", "capacity": "8MiB"}), CTX)
            made.append(part)
        except LibvirtOpError as e:
            errors.append(e)

    try:
        for round_ in range(3):
            good = f"{base}{round_ + 1}"
            threads = [threading.Thread(target=create, args=(good,)),
                       threading.Thread(target=create, args=(f"{base}-wrong{round_}",))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert len(errors) == 3 and all("partition" in str(e) for e in errors), errors
        pool = conn.storagePoolLookupByName(name)
        pool.refresh(0)
        assert sorted(pool.listVolumes()) == sorted(made) == [f"{base}{i}" for i in (1, 2, 3)]
    finally:
        pool = conn.storagePoolLookupByName(name)
        for vol in pool.listAllVolumes():
            vol.delete(0)
        POOLS.delete(pool_id, outs, CTX)


def test_reads_never_refresh_a_pool_whose_stop_would_unmount_it(device: str, conn, tmp_path) -> None:
    """libvirt stops a pool whose refresh fails, and stopping an fs pool unmounts it under running
    VMs. Measured before: every pool and volume read refreshed the pool. Watched here through
    libvirt's own refresh events."""
    import time

    from pulumi_libvirt_storage_provider.ops import connection
    from tests.conftest import URI

    name, mnt = unique("norefresh"), tmp_path / "mnt"
    spec = checked(POOLS, {"name": name, "type": "fs", "target": {"path": str(mnt)},
                           "source": {"devices": [{"path": device}], "format": "ext4"}})
    pool_id, outs = POOLS.create(spec, CTX)
    connection._start_event_loop()  # events need libvirt's event loop, registered before the open
    watcher = libvirt.open(URI)
    refreshed: list[str] = []
    callback = watcher.storagePoolEventRegisterAny(
        None, libvirt.VIR_STORAGE_POOL_EVENT_ID_REFRESH, lambda _c, pool, _o: refreshed.append(pool.name()), None)
    try:
        vol_id, vol_outs = VOLUMES.create(checked(VOLUMES, {"pool": name, "pool_type": "fs", "name": "d.qcow2",
                                                            "format": "qcow2", "capacity": "64MiB"}), CTX)
        refreshed.clear()
        assert POOLS.read(pool_id, outs, CTX).id == pool_id
        assert VOLUMES.read(vol_id, vol_outs, CTX).id == vol_id
        time.sleep(1)
        assert name not in refreshed, "a read refreshed the fs pool"
        watcher.storagePoolLookupByName(name).refresh(0)  # the watcher does see a refresh
        deadline = time.monotonic() + 5
        while name not in refreshed and time.monotonic() < deadline:
            time.sleep(0.05)
        assert name in refreshed
        VOLUMES.delete(vol_id, vol_outs, CTX)
    finally:
        watcher.storagePoolEventDeregisterAny(callback)
        watcher.close()
        POOLS.delete(pool_id, outs, CTX)
