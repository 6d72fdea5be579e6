"""Storage volume life cycle: create (empty, backed, cloned, uploaded), read, resize, wipe, delete."""

from __future__ import annotations

import contextlib
import copy
import functools
import os
import re
import stat
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import libvirt
from lxml import etree

from ..spec.pooltypes import SCRUB_ALGORITHMS, VolumeKind, info
from ..spec.volume import declared_format
from ..xml.disk import disk_source, disk_xml
from ..xml.pool import parse_pool
from ..xml.volume import parse_volume, volume_xml
from . import pools
from .errors import GONE_CODES, LibvirtOpError, explain, is_gone, undo_quietly
from .pools import refresh as refresh_pool

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
                "current_format": o.get("format"), "current_permissions": o.get("permissions"),
                "pool_type": self.pool_type,
                "disk": self.disk, "disk_xml": disk_xml(self.disk)}


def active_pool(conn: libvirt.virConnect, name: str) -> libvirt.virStoragePool:
    try:
        pool, active = pools.using(conn, name, lambda p: (p, p.isActive()))
    except libvirt.libvirtError as e:
        if is_gone(e):
            raise LibvirtOpError(f"pool {name!r} does not exist on this host; create it first (a StoragePool "
                                 "resource's name output makes the volume wait for it)", e) from e
        raise explain(e, f"looking up pool {name}") from e
    if not active:
        raise LibvirtOpError(f"pool {name!r} is not active; start it (StoragePool start=true) before using "
                             "its volumes")
    return pool


@functools.lru_cache(maxsize=64)
def _parsed_pool(xml: str) -> dict[str, Any]:
    return parse_pool(xml)


def pool_spec_of(pool: libvirt.virStoragePool) -> dict[str, Any]:
    """parse_pool() of the pool's live definition, read at most pools.POOL_MEMO_S ago (a refresh of
    N volumes of one pool reads it once, not N times) and parsed once per text (a pure function of
    the XML; the caller gets a copy)."""
    return copy.deepcopy(_parsed_pool(pools.definition(pool)))


def state_of(pool: libvirt.virStoragePool, vol: libvirt.virStorageVol, pool_spec: dict[str, Any] | None = None,
             *, known_disk: tuple[str, dict[str, Any]] | None = None, declared: str | None = None,
             encryption: dict[str, Any] | None = None) -> VolumeState:
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
                pool_spec = pool_spec_of(pool)
            pool_type = pool_spec["type"]
            disk = disk_source(pool_spec, {**observed, "format": declared_format({"format": declared}, pool_type)},
                               encryption)
    except libvirt.libvirtError as e:
        raise explain(e, f"reading volume {vol.name()}") from e
    return VolumeState(pool=pool.name(), pool_type=pool_type, observed=observed, disk=disk)


def current_state(pool: libvirt.virStoragePool, vol: libvirt.virStorageVol, *, declared: str | None = None,
                  encryption: dict[str, Any] | None = None) -> VolumeState | None:
    """The volume as it is now, changes made outside libvirt included; None only when libvirt says
    it is gone (no such volume, or its file no longer exists).

    Files and rbd images: libvirt re-reads the volume on XMLDesc, no refresh needed. Partitions,
    LUNs, zvols: libvirt keeps the figures of the pool's last refresh, so the pool is refreshed,
    except where a failed refresh would tear the storage down (libvirt stops a pool whose refresh
    fails: iSCSI logout, vgchange -an, vHBA removal): there the last figures are reported."""
    try:
        pool_spec = pool_spec_of(pool)
    except libvirt.libvirtError as e:
        raise explain(e, f"reading pool {pool.name()}") from e
    t = info(pool_spec["type"])
    if t.volume_read_needs_pool_refresh and not t.stop_tears_down:
        try:
            refresh_pool(pool)
        except libvirt.libvirtError as e:
            raise explain(e, f"refreshing pool {pool.name()} to read volume {vol.name()}") from e
        vol = lookup(pool, vol.name())
        if vol is None:
            return None
    try:
        return state_of(pool, vol, pool_spec, declared=declared, encryption=encryption)
    except LibvirtOpError as e:
        if e.code in GONE_CODES or _file_is_gone(e):
            return None
        raise


def _file_is_gone(e: LibvirtOpError) -> bool:
    """libvirt re-reads a file volume on XMLDesc: a file removed behind its back fails with the
    system error of the stat/open ("No such file or directory")."""
    return e.code == libvirt.VIR_ERR_SYSTEM_ERROR and "No such file or directory" in str(e)


def lookup(pool: libvirt.virStoragePool, name: str) -> libvirt.virStorageVol | None:
    try:
        return pool.storageVolLookupByName(name)
    except libvirt.libvirtError as e:
        if is_gone(e):
            return None
        raise explain(e, f"looking up volume {name} in pool {pool.name()}") from e


def create(conn: libvirt.virConnect, spec: dict[str, Any], name: str,
           pool: libvirt.virStoragePool | None = None,
           created: Callable[[libvirt.virStorageVol], object] | None = None) -> VolumeState:
    """Create the volume; on any later failure it is deleted again. `pool`: the active pool
    spec["pool"], when the caller has looked it up already. `created(vol)` runs as soon as libvirt
    returned the volume, before it is filled (uploaded, grown)."""
    pool = pool or active_pool(conn, spec["pool"])
    pool_spec = pool_spec_of(pool)
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
    if pool_type == "logical" and spec.get("allocation") is not None and spec["allocation"] != int(capacity):
        raise LibvirtOpError(f"allocation: on logical pool {spec['pool']!r} an allocation other than the capacity "
                             "makes libvirt create an LVM snapshot volume, whose data is lost once its copy-on-write "
                             "area fills; remove allocation")
    if pool_type == "rbd" and source_vol is not None and src_pool.UUIDString() != pool.UUIDString():
        raise LibvirtOpError(f"clone_from: rbd pool {spec['pool']!r} clones only images of its own pool: across "
                             "pools libvirt would clone the image of the same name in the destination pool instead")
    xml = volume_xml(spec, name, int(capacity), fmt, sparse=t.volume_kind is VolumeKind.FILE)
    # Partitions of one disk are made one at a time: libvirt 9.0 names a partition only after parted
    # made it, and a failed create must remove its own partition and nobody else's.
    with _partition_lock(pool) if pool_type == "disk" else contextlib.nullcontext(), contextlib.ExitStack() as undo:
        try:
            vol = _create_xml(pool, xml, source_vol, flags)
        except libvirt.libvirtError as e:
            if pool_type == "disk":
                _remove_misnamed_partition(pool, e)
            if NO_SPACE in (e.get_error_message() or ""):
                raise _no_room(pool, spec["pool"], name, int(spec.get("allocation") or capacity or 0)) from e
            if e.get_error_code() == libvirt.VIR_ERR_OPERATION_INVALID and "already exists" in str(e):
                # a file the pool had not listed yet (made outside libvirt since the pool's last refresh)
                raise LibvirtOpError(f"creating volume {name} in pool {spec['pool']}: {e.get_error_message()}, made "
                                     "outside this stack; it is left as it is: choose another name, or run `virsh "
                                     f"pool-refresh {spec['pool']}` and set adopt=true to take it under management",
                                     e) from e
            raise explain(e, f"creating volume {name} in pool {spec['pool']}") from e
        undo.callback(undo_quietly, lambda: vol.delete(0))
        if created is not None:
            created(vol)
        if source_vol is not None and vol.info()[1] < int(capacity):
            # rbd clones at the source's size whatever the XML asks for: grow to what was asked.
            resize(vol, int(capacity), allow_shrink=False)
        if spec.get("upload_from"):
            upload(conn, vol, spec["upload_from"], upload_size or 0)
            if vol.info()[1] < int(capacity):
                # A sparse upload ends with the file's last data: a trailing hole truncates the volume.
                resize(vol, int(capacity), allow_shrink=False)
        result = state_of(pool, vol, pool_spec, declared=fmt, encryption=spec.get("encryption"))
        undo.pop_all()
        return result


NO_SPACE = "No space left on device"


def _mib(n: int) -> str:
    return f"{n / 1024**2:.1f} MiB"


def _no_room(pool: libvirt.virStoragePool, pool_name: str, name: str, needed: int) -> LibvirtOpError:
    """The pool's file system (or volume group) has less room than the volume allocates up front:
    libvirt removes what it began (measured: a raw file of 64 MiB on a 16 MiB tmpfs leaves nothing),
    so the error only has to say by how much, and the ways out."""
    try:
        available = int(pool.info()[3])
    except libvirt.libvirtError:
        available = -1
    room = (f"the pool has {available} bytes free ({_mib(available)}), short by {needed - available} bytes "
            f"({_mib(needed - available)})" if 0 <= available < needed else "the pool has not that much room left")
    return LibvirtOpError(
        f"creating volume {name} in pool {pool_name}: it allocates {needed} bytes ({_mib(needed)}) up front and "
        f"{room}. Nothing was left behind. Free space in the pool, or leave out allocation: a sparse volume takes "
        "room only as it is written (the pool can then be over-committed: a guest writing into a full file system "
        "gets write errors).")


def identity(vol: libvirt.virStorageVol) -> dict[str, Any]:
    """What tells this volume from another of the same name made later: its key (an LVM uuid is new
    with every volume; a path is not) and, for a file, when it last changed (libvirt's ctime)."""
    try:
        observed = parse_volume(vol.XMLDesc(0))
        return {"key": observed.get("key") or vol.key(), "ctime": observed.get("ctime")}
    except libvirt.libvirtError as e:
        raise explain(e, f"reading volume {_name_of(vol)}") from e


def remove_leftover(pool: libvirt.virStoragePool, vol: libvirt.virStorageVol) -> None:
    """Delete the volume an interrupted create of the same resource left (possibly half written):
    this very one, which the caller identified as that create's (resources/intents.py)."""
    try:
        vol.delete(0)
    except libvirt.libvirtError as e:
        if not is_gone(e):
            raise explain(e, f"removing volume {_name_of(vol)}, left in pool {_name_of(pool)} by an interrupted "
                          "create") from e


#: qemu-img times its LUKS key derivation with the thread's CPU clock; where the kernel accounts CPU
#: time per tick (CONFIG_TICK_CPU_ACCOUNTING, 4 ms at HZ=250: most VMs), a short first round reads
#: 0 ms and qemu-img gives up ("Unable to get accurate CPU usage"): 9 creates in 30 on the 2-core
#: machine of the tests. libvirt removes what it began, so the create is tried again, up to this many
#: times (a failure left after 12 tries: 0.3^12, about one create in two million).
LUKS_BENCHMARK_TRIES = 12
LUKS_BENCHMARK_ERROR = "Unable to get accurate CPU usage"


def _create_xml(pool: libvirt.virStoragePool, xml: str, source_vol: libvirt.virStorageVol | None, flags: int
                ) -> libvirt.virStorageVol:
    """createXML(From), tried again when qemu-img's LUKS key-derivation benchmark could not time
    itself (see LUKS_BENCHMARK_TRIES): nothing was made then."""
    for attempt in range(LUKS_BENCHMARK_TRIES):
        try:
            if source_vol is not None:
                return pool.createXMLFrom(xml, source_vol, flags)
            return pool.createXML(xml, flags)
        except libvirt.libvirtError as e:
            if LUKS_BENCHMARK_ERROR not in (e.get_error_message() or "") or attempt == LUKS_BENCHMARK_TRIES - 1:
                raise
    raise AssertionError("unreachable")


_PARTITION_LOCKS: dict[str, threading.Lock] = {}
_PARTITION_LOCKS_LOCK = threading.Lock()


def _partition_lock(pool: libvirt.virStoragePool) -> threading.Lock:
    with _PARTITION_LOCKS_LOCK:
        return _PARTITION_LOCKS.setdefault(pool.UUIDString(), threading.Lock())


def _remove_misnamed_partition(pool: libvirt.virStoragePool, e: libvirt.libvirtError) -> None:
    """libvirt 9.0 checks a new partition's name only after parted made it ("invalid partition name
    'x', expected 'loop0p2'"), and removes it itself only when the disk's path is spelt as the
    partitions are named. Remove that partition, the one named in the error, and nothing else."""
    made = re.search(r"expected '([^']+)'", e.get_error_message() or "")
    if e.get_error_code() != libvirt.VIR_ERR_INVALID_ARG or made is None:
        return
    try:
        refresh_pool(pool)
        pool.storageVolLookupByName(made.group(1)).delete(0)
    except libvirt.libvirtError:
        pass  # libvirt removed it itself


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
            pool, vol = pools.using(conn, pool_name, lambda p: (p, p.storageVolLookupByName(name)))
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
    found = _find_for_destroy(conn, key, pool_name, name, "delete")
    if found is None:
        return
    pool, vol = found
    _refuse_if_in_use(conn, pool, vol, "delete")
    try:
        pool_type = pool_type or parse_pool(pool.XMLDesc(0))["type"]
        if wipe:
            _wipe(pool, vol, pool_type, wipe)
        with_snapshots = info(pool_type).volume_delete_with_snapshots
        vol.delete(libvirt.VIR_STORAGE_VOL_DELETE_WITH_SNAPSHOTS if with_snapshots else 0)
    except libvirt.libvirtError as e:
        if is_gone(e):
            return
        if e.get_error_code() == libvirt.VIR_ERR_OPERATION_INVALID:
            # The pool stopped or went away between finding the volume and deleting it: another step
            # of the same run, when the state records no dependency of this volume on its pool (right
            # after `pulumi import`). That step stops the pool, then undefines it: give it a moment,
            # then decide as if the pool had been so from the start: a stopped pool is a clear error,
            # an undefined one leaves the volume's storage to its owner. (A pool still running finds
            # the volume: libvirt's own error stands.)
            _settle(pool)
            if _find_for_destroy(conn, key, pool_name or _name_of(pool), name, "delete") is None:
                return
        raise explain(e, f"deleting volume {key}") from e


def in_use_by(conn: libvirt.virConnect, pool: libvirt.virStoragePool, vol: libvirt.virStorageVol
              ) -> list[str]:
    """The running domains that have this volume as a disk ("name (target)"). libvirt itself deletes
    or wipes a volume under a running guest without a word. A host without a hypervisor driver, or
    one that refuses the question, has none."""
    try:
        domains = conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)
    except libvirt.libvirtError:
        return []
    if not domains:
        return []
    try:
        path, name, pool_name = vol.path(), vol.name(), pool.name()
    except libvirt.libvirtError:
        return []
    users = []
    for dom in domains:
        try:
            tree = etree.fromstring(dom.XMLDesc(0).encode())
        except (libvirt.libvirtError, etree.XMLSyntaxError):
            continue
        for disk in tree.iterfind("devices/disk"):
            for source in disk.iter("source"):  # the disk's own, and those of its backing chain
                if path in (source.get("file"), source.get("dev"), source.get("dir"), source.get("name")) or (
                        source.get("pool") == pool_name and source.get("volume") == name):
                    target = disk.find("target")
                    users.append(f"{tree.findtext('name')} ({target.get('dev') if target is not None else 'disk'}"
                                 f"{'' if source.getparent() is disk else ', its backing chain'})")
                    break
    return users


def running_users(conn: libvirt.virConnect, key: str, pool_name: str | None = None, name: str | None = None
                  ) -> list[str]:
    """in_use_by for the volume with this key: none when there is no such volume."""
    found = by_key(conn, key, pool_name, name)
    return in_use_by(conn, *found) if found is not None else []


def _refuse_if_in_use(conn: libvirt.virConnect, pool: libvirt.virStoragePool, vol: libvirt.virStorageVol,
                      action: str) -> None:
    users = in_use_by(conn, pool, vol)
    if users:
        raise LibvirtOpError(f"volume {_name_of(vol)} of pool {_name_of(pool)} is in use by running domain "
                             f"{', '.join(users)}: shut the domain down or detach the disk, then run again "
                             f"(nothing was done: libvirt would {action} it under the running guest)")


def _settle(pool: libvirt.virStoragePool, seconds: float = 3.0) -> None:
    """Wait while the pool is stopped but still defined (its delete is under way), at most `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if pool.isActive():
                return
        except libvirt.libvirtError:
            return  # undefined
        time.sleep(0.05)


def _name_of(pool: Any) -> str | None:
    try:
        return str(pool.name())
    except libvirt.libvirtError:
        return None


def wipe(conn: libvirt.virConnect, key: str, algorithm: str, *, pool_name: str | None = None,
         name: str | None = None) -> None:
    """Overwrite the volume's data with `algorithm` and keep the volume: how an adopted LUN,
    which libvirt cannot delete, is wiped on destroy. A volume already gone needs no wiping."""
    found = _find_for_destroy(conn, key, pool_name, name, "wipe")
    if found is None:
        return
    pool, vol = found
    _refuse_if_in_use(conn, pool, vol, "wipe")
    try:
        _wipe(pool, vol, parse_pool(pool.XMLDesc(0))["type"], algorithm)
    except libvirt.libvirtError as e:
        if is_gone(e):
            return
        raise explain(e, f"wiping volume {key} ({algorithm})") from e


def _find_for_destroy(conn: libvirt.virConnect, key: str, pool_name: str | None, name: str | None, what: str
                      ) -> tuple[libvirt.virStoragePool, libvirt.virStorageVol] | None:
    """The volume to delete or wipe; None when it is gone. A volume of a stopped pool is not gone:
    libvirt only cannot see it, and neither delete nor wipe it until the pool runs again."""
    found = by_key(conn, key, pool_name, name)
    if found is not None:
        return found
    pool = None
    if pool_name:
        try:
            pool = conn.storagePoolLookupByName(pool_name)
        except libvirt.libvirtError:
            pool = None
    if pool is not None and not pool.isActive():
        raise LibvirtOpError(
            f"cannot {what} volume {name or key}: its pool {pool_name!r} is stopped, and libvirt can neither see nor "
            f"{what} the volumes of a stopped pool. Start the pool (`virsh pool-start {pool_name}`, or start=true) "
            "and run again; or, to keep its data and forget it, `pulumi state delete` the volume.")
    return None


def _wipe(pool: libvirt.virStoragePool, vol: libvirt.virStorageVol, pool_type: str, algorithm: str) -> None:
    """Wipe with an algorithm the pool's backend implements. scrub (every algorithm but zero and
    trim) writes every block: a sparse file volume becomes fully allocated, so the pool must have
    room for it, or the file system fills under every VM on it."""
    t = info(pool_type)
    if algorithm not in t.wipe_algorithms:
        raise LibvirtOpError(f"wipe_on_destroy: libvirt cannot wipe volumes of a {pool_type} pool with "
                             f"{algorithm!r}" + (f"; it can with {', '.join(t.wipe_algorithms)}"
                                                 if t.wipe_algorithms else ""))
    if algorithm in SCRUB_ALGORITHMS and t.volume_kind is VolumeKind.FILE:
        _, capacity, allocation = vol.info()
        _, _, _, available = pool.info()
        needed = capacity - allocation
        if needed > available:
            raise LibvirtOpError(
                f"wipe_on_destroy {algorithm!r}: scrub writes every block of volume {vol.name()}, which needs "
                f"{needed} more bytes in pool {pool.name()}, which has {available} free: it would fill the file "
                "system under every VM on it. Nothing was wiped or deleted. Free space, or use wipe 'zero' (a "
                "sparse file is truncated, not filled).")
    vol.wipePattern(WIPE_ALGORITHMS[algorithm], 0)
