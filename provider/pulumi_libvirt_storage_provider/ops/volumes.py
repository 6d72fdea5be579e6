"""Storage volume life cycle: create (empty, backed, cloned, uploaded), read, resize, wipe, delete."""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass
from typing import Any

import libvirt

from ..spec.pooltypes import VolumeKind, info
from ..spec.volume import declared_format
from ..xml.disk import disk_source, disk_xml
from ..xml.pool import parse_pool
from ..xml.volume import parse_volume, volume_xml
from .errors import LibvirtOpError, explain, is_gone, undo_quietly

WIPE_ALGORITHMS = {
    "zero": libvirt.VIR_STORAGE_VOL_WIPE_ALG_ZERO, "nnsa": libvirt.VIR_STORAGE_VOL_WIPE_ALG_NNSA,
    "dod": libvirt.VIR_STORAGE_VOL_WIPE_ALG_DOD, "bsi": libvirt.VIR_STORAGE_VOL_WIPE_ALG_BSI,
    "gutmann": libvirt.VIR_STORAGE_VOL_WIPE_ALG_GUTMANN, "schneier": libvirt.VIR_STORAGE_VOL_WIPE_ALG_SCHNEIER,
    "pfitzner7": libvirt.VIR_STORAGE_VOL_WIPE_ALG_PFITZNER7,
    "pfitzner33": libvirt.VIR_STORAGE_VOL_WIPE_ALG_PFITZNER33,
    "random": libvirt.VIR_STORAGE_VOL_WIPE_ALG_RANDOM, "trim": libvirt.VIR_STORAGE_VOL_WIPE_ALG_TRIM,
}


@dataclass
class VolumeState:
    pool: str
    pool_type: str
    observed: dict[str, Any]  # parse_volume()
    disk: dict[str, Any]

    def outputs(self) -> dict[str, Any]:
        o = self.observed
        return {"key": o.get("key"), "path": o.get("path"), "type": o.get("type"),
                "physical": o.get("physical", o.get("allocation")),
                "current_capacity": o.get("capacity"), "current_allocation": o.get("allocation"),
                "current_format": o.get("format"), "pool_type": self.pool_type,
                "disk": self.disk, "disk_xml": disk_xml(self.disk)}


def active_pool(conn: libvirt.virConnect, name: str) -> libvirt.virStoragePool:
    try:
        pool = conn.storagePoolLookupByName(name)
    except libvirt.libvirtError as e:
        if is_gone(e):
            raise LibvirtOpError(f"pool {name!r} does not exist on this host; create it first (a StoragePool "
                                 "resource's name output makes the volume wait for it)", e) from e
        raise explain(e, f"looking up pool {name}") from e
    if not pool.isActive():
        raise LibvirtOpError(f"pool {name!r} is not active; start it (StoragePool start=true) before using "
                             "its volumes")
    return pool


def state_of(pool: libvirt.virStoragePool, vol: libvirt.virStorageVol, pool_spec: dict[str, Any] | None = None,
             *, known_disk: tuple[str, dict[str, Any]] | None = None, declared: str | None = None) -> VolumeState:
    """`pool_spec`: parse_pool() of the pool, when the caller has just read it. `known_disk`:
    (pool type, disk source) still valid from before, e.g. after a resize, which changes sizes
    only; the pool's XML is then not read at all. `declared`: the format the program declared;
    the disk is opened with it (or the pool type's default), never with what libvirt probed."""
    try:
        observed = parse_volume(vol.XMLDesc(0))
        if "key" not in observed:
            observed["key"] = vol.key()
        if "path" not in observed:
            observed["path"] = vol.path()
        if known_disk is not None:
            pool_type, disk = known_disk
        else:
            if pool_spec is None:
                pool_spec = parse_pool(pool.XMLDesc(0))
            pool_type = pool_spec["type"]
            disk = disk_source(pool_spec, {**observed, "format": declared_format({"format": declared}, pool_type)})
    except libvirt.libvirtError as e:
        raise explain(e, f"reading volume {vol.name()}") from e
    return VolumeState(pool=pool.name(), pool_type=pool_type, observed=observed, disk=disk)


def current_state(pool: libvirt.virStoragePool, vol: libvirt.virStorageVol, *, declared: str | None = None
                  ) -> VolumeState | None:
    """The volume as it is now, changes made outside libvirt included; None when it is gone.
    Where libvirt re-reads a volume on XMLDesc (files, rbd) that read is enough; elsewhere (LVM,
    partitions, LUNs), or when the read fails (a file removed behind libvirt's back), the pool is
    refreshed first. Refreshing costs a scan of the whole pool, on every read of every volume."""
    try:
        pool_spec: dict[str, Any] | None = parse_pool(pool.XMLDesc(0))
    except libvirt.libvirtError:
        pool_spec = None
    if pool_spec is not None and info(pool_spec["type"]).volume_read_refreshes:
        try:
            return state_of(pool, vol, pool_spec, declared=declared)
        except LibvirtOpError:
            pass
    try:
        pool.refresh(0)
        vol = pool.storageVolLookupByName(vol.name())
    except libvirt.libvirtError:
        return None
    return state_of(pool, vol, pool_spec, declared=declared)


def lookup(pool: libvirt.virStoragePool, name: str) -> libvirt.virStorageVol | None:
    try:
        return pool.storageVolLookupByName(name)
    except libvirt.libvirtError as e:
        if is_gone(e):
            return None
        raise explain(e, f"looking up volume {name} in pool {pool.name()}") from e


def create(conn: libvirt.virConnect, spec: dict[str, Any], name: str,
           pool: libvirt.virStoragePool | None = None) -> VolumeState:
    """Create the volume; on any later failure it is deleted again. `pool`: the active pool
    spec["pool"], when the caller has looked it up already."""
    pool = pool or active_pool(conn, spec["pool"])
    pool_spec = parse_pool(pool.XMLDesc(0))
    pool_type = pool_spec["type"]
    t = info(pool_type)
    if not t.volume_formats:
        raise LibvirtOpError(f"a {pool_type} pool cannot create volumes; set adopt=true to manage the existing "
                             f"volume {name!r}")
    fmt = spec.get("format") or t.default_volume_format
    source_vol = None
    capacity = spec.get("capacity")
    if spec.get("clone_from"):
        src_pool = active_pool(conn, spec["clone_from"]["pool"])
        source_vol = lookup(src_pool, spec["clone_from"]["name"])
        if source_vol is None:
            raise LibvirtOpError(f"clone_from: volume {spec['clone_from']['name']!r} not found in pool "
                                 f"{spec['clone_from']['pool']!r}")
        capacity = max(capacity or 0, source_vol.info()[1])
    upload_size = None
    if spec.get("upload_from"):
        path = spec["upload_from"]
        try:
            st = os.stat(path)
            with open(path, "rb"):
                pass
        except OSError as e:
            raise LibvirtOpError(f"upload_from: cannot read {path}: {e.strerror}") from e
        if not stat.S_ISREG(st.st_mode):
            raise LibvirtOpError(f"upload_from: {path} is not a regular file")
        upload_size = st.st_size
        capacity = max(capacity or 0, upload_size)
    if spec.get("backing_store"):
        # Resolve the backing volume: its path as libvirt knows it, its format when not given
        # (libvirt would otherwise record raw and a qcow2 base would be read as raw bytes).
        backing_vol = _backing_volume(conn, spec["backing_store"]["path"])
        backing = parse_volume(backing_vol.XMLDesc(0))
        spec = {**spec, "backing_store": {"path": backing_vol.path(),
                                          "format": spec["backing_store"].get("format") or backing.get("format")}}
        if capacity is None:
            capacity = backing_vol.info()[1]
    flags = 0
    if (spec.get("qcow2") or {}).get("preallocation") == "metadata":
        flags |= libvirt.VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA
    xml = volume_xml(spec, name, int(capacity), fmt, sparse=t.volume_kind is VolumeKind.FILE)
    before = _volume_names(pool) if pool_type == "disk" else set()
    with contextlib.ExitStack() as undo:
        try:
            if source_vol is not None:
                vol = pool.createXMLFrom(xml, source_vol, flags)
            else:
                vol = pool.createXML(xml, flags)
        except libvirt.libvirtError as e:
            if pool_type == "disk":
                # libvirt 9.0 checks a partition's name only after parted made it: remove it again.
                _delete_new_volumes(pool, before)
            raise explain(e, f"creating volume {name} in pool {spec['pool']}") from e
        undo.callback(undo_quietly, lambda: vol.delete(0))
        if source_vol is not None and vol.info()[1] < int(capacity):
            # rbd clones at the source's size whatever the XML asks for: grow to what was asked.
            resize(vol, int(capacity), allow_shrink=False)
        if spec.get("upload_from"):
            upload(conn, vol, spec["upload_from"], upload_size or 0)
        result = state_of(pool, vol, pool_spec, declared=fmt)
        undo.pop_all()
        return result


def _volume_names(pool: libvirt.virStoragePool) -> set[str]:
    try:
        pool.refresh(0)
        return set(pool.listVolumes())
    except libvirt.libvirtError as e:
        raise explain(e, f"listing volumes of pool {pool.name()}") from e


def _delete_new_volumes(pool: libvirt.virStoragePool, before: set[str]) -> None:
    try:
        for name in _volume_names(pool) - before:
            pool.storageVolLookupByName(name).delete(0)
    except (libvirt.libvirtError, LibvirtOpError):
        pass


def _backing_volume(conn: libvirt.virConnect, path_or_key: str) -> libvirt.virStorageVol:
    for lookup_fn in (conn.storageVolLookupByPath, conn.storageVolLookupByKey):
        try:
            return lookup_fn(path_or_key)
        except libvirt.libvirtError:
            continue
    raise LibvirtOpError(f"backing_store.path: no volume with path or key {path_or_key!r} is known to libvirt; "
                         "point at a volume of an active pool")


def upload(conn: libvirt.virConnect, vol: libvirt.virStorageVol, path: str, size: int) -> None:
    """Send the file through a libvirt stream; holes are sent as holes (sparse stream)."""
    stream = conn.newStream(0)
    fd = os.open(path, os.O_RDONLY)
    try:
        vol.upload(stream, 0, size, libvirt.VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM)

        def read_data(_stream: Any, nbytes: int, fd: int) -> bytes:
            return os.read(fd, nbytes)

        def in_data(_stream: Any, fd: int) -> tuple[bool, int]:
            cur = os.lseek(fd, 0, os.SEEK_CUR)
            try:
                data = os.lseek(fd, cur, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left until the end of the file
                end = os.lseek(fd, 0, os.SEEK_END)
                os.lseek(fd, cur, os.SEEK_SET)
                return False, end - cur
            if data > cur:
                os.lseek(fd, cur, os.SEEK_SET)
                return False, data - cur
            hole = os.lseek(fd, cur, os.SEEK_HOLE)
            os.lseek(fd, cur, os.SEEK_SET)
            return True, hole - cur

        def skip(_stream: Any, length: int, fd: int) -> int:
            return os.lseek(fd, length, os.SEEK_CUR)

        stream.sparseSendAll(read_data, in_data, skip, fd)
        stream.finish()
    except libvirt.libvirtError as e:
        with contextlib.suppress(libvirt.libvirtError):
            stream.abort()
        raise explain(e, f"uploading {path} into volume {vol.name()}") from e
    finally:
        os.close(fd)


def resize(vol: libvirt.virStorageVol, capacity: int, *, allow_shrink: bool, current: int | None = None) -> None:
    """`current`: the capacity the state last saw, when known (saves a call). If it is stale and the
    volume is in fact larger, libvirt itself refuses to shrink without the SHRINK flag."""
    if current is None:
        current = vol.info()[1]
    if capacity == current:
        return
    flags = 0
    if capacity < current:
        if not allow_shrink:
            raise LibvirtOpError(f"capacity: shrinking volume {vol.name()} from {current} to {capacity} bytes "
                                 "would lose data; set allow_shrink=true to do it anyway")
        flags |= libvirt.VIR_STORAGE_VOL_RESIZE_SHRINK
    try:
        vol.resize(capacity, flags)
    except libvirt.libvirtError as e:
        raise explain(e, f"resizing volume {vol.name()} to {capacity} bytes") from e


def by_key(conn: libvirt.virConnect, key: str, pool_name: str | None = None, name: str | None = None
           ) -> tuple[libvirt.virStoragePool, libvirt.virStorageVol] | None:
    """The volume with libvirt key `key`, and its pool; None when it is gone. Given the names of its
    pool and of the volume (from the state), it is looked up there first: a lookup by key visits
    every pool of the host and waits for each one's lock, so one busy pool (an rbd pool on a slow
    cluster) would stall every volume read."""
    if pool_name and name:
        try:
            pool = conn.storagePoolLookupByName(pool_name)
            vol = pool.storageVolLookupByName(name)
            if vol.key() == key:
                return pool, vol
        except libvirt.libvirtError:
            pass  # not there, or its pool is stopped: ask libvirt by key
    try:
        vol = conn.storageVolLookupByKey(key)
        return vol.storagePoolLookupByVolume(), vol
    except libvirt.libvirtError as e:
        if is_gone(e):
            return None
        raise explain(e, f"looking up volume {key}") from e


def delete(conn: libvirt.virConnect, key: str, *, wipe: str | None, pool_name: str | None = None,
           name: str | None = None, pool_type: str | None = None) -> None:
    """`pool_type`: the pool's type when the caller knows it (saves reading the pool's XML)."""
    found = by_key(conn, key, pool_name, name)
    if found is None:
        return
    pool, vol = found
    try:
        with_snapshots = info(pool_type or parse_pool(pool.XMLDesc(0))["type"]).volume_delete_with_snapshots
        if wipe:
            vol.wipePattern(WIPE_ALGORITHMS[wipe], 0)
        vol.delete(libvirt.VIR_STORAGE_VOL_DELETE_WITH_SNAPSHOTS if with_snapshots else 0)
    except libvirt.libvirtError as e:
        if is_gone(e):
            return
        raise explain(e, f"deleting volume {key}") from e


def wipe(conn: libvirt.virConnect, key: str, algorithm: str, *, pool_name: str | None = None,
         name: str | None = None) -> None:
    """Overwrite the volume's data with `algorithm` and keep the volume: how an adopted LUN,
    which libvirt cannot delete, is wiped on destroy. A volume already gone needs no wiping."""
    found = by_key(conn, key, pool_name, name)
    if found is None:
        return
    _pool, vol = found
    try:
        vol.wipePattern(WIPE_ALGORITHMS[algorithm], 0)
    except libvirt.libvirtError as e:
        if is_gone(e):
            return
        raise explain(e, f"wiping volume {key} ({algorithm})") from e
