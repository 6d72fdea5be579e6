"""Storage pool life cycle on libvirt: define, build, start, autostart, read, update, delete."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import libvirt

from ..spec.pooltypes import BUILD_NO_OVERWRITE, BUILD_OVERWRITE, default_target_path
from ..spec.pool import redact_pool_spec
from ..xml.pool import parse_pool, pool_xml, redact_pool_xml
from .errors import GONE_CODES, LibvirtOpError, explain, is_gone, undo_quietly

T = TypeVar("T")

BUILD_FLAGS = {
    "normal": 0,
    BUILD_NO_OVERWRITE: libvirt.VIR_STORAGE_POOL_BUILD_NO_OVERWRITE,
    BUILD_OVERWRITE: libvirt.VIR_STORAGE_POOL_BUILD_OVERWRITE,
}


@dataclass
class PoolState:
    """What libvirt holds for a pool."""

    name: str
    uuid: str
    active: bool
    autostart: bool
    capacity: int
    allocation: int
    available: int
    xml: str  # the persistent definition (what `virsh pool-dumpxml --inactive` shows)
    observed: dict[str, Any]  # parse_pool() of the live definition

    def outputs(self) -> dict[str, Any]:
        target = self.observed.get("target") or {}
        source = self.observed.get("source") or {}
        default_target = default_target_path(self.observed["type"], self.name, source.get("name"))
        # A definition made outside this provider may hold a password or key in its options: the output
        # (plain text in the state) shows it redacted.
        return {"uuid": self.uuid, "active": self.active, "capacity": self.capacity,
                "allocation": self.allocation, "available": self.available,
                "target_path": target.get("path") or default_target, "xml": redact_pool_xml(self.xml)}


def lookup(conn: libvirt.virConnect, *, name: str | None = None, uuid: str | None = None
           ) -> libvirt.virStoragePool | None:
    try:
        return conn.storagePoolLookupByUUIDString(uuid) if uuid else conn.storagePoolLookupByName(name)
    except libvirt.libvirtError as e:
        if is_gone(e):
            return None
        raise explain(e, f"looking up pool {uuid or name}") from e


# -- what volume calls read of their pool ---------------------------------------------------------
# A refresh (or an update, or a destroy) of N volumes of one pool looks that pool up and reads its
# definition N times within a second or two: two of the four round trips of a volume read. Both are
# kept for POOL_MEMO_S per connection (the connection is part of the key: one opened again after a
# loss finds nothing kept). This process's own changes to a pool forget them at once (see _changing);
# a change made elsewhere is seen at most POOL_MEMO_S later. A kept pool is only a handle: libvirt
# checks its uuid on every call, so a call on a pool undefined or redefined meanwhile fails, and
# `using` looks it up again.
POOL_MEMO_S = 1.0
_memo_lock = threading.Lock()
_handles: dict[tuple[int, str], tuple[float, libvirt.virConnect, Any]] = {}
_definitions: dict[tuple[int, str], tuple[float, libvirt.virConnect, Any]] = {}


def _kept(table: dict[tuple[int, str], tuple[float, libvirt.virConnect, Any]], conn: libvirt.virConnect, key: str,
          read: Callable[[], Any], *, fresh: bool = False) -> tuple[Any, bool]:
    """(the value kept in `table` for (conn, key) less than POOL_MEMO_S ago, or read() now; whether it
    was kept)."""
    now = time.monotonic()
    with _memo_lock:
        kept = None if fresh else table.get((id(conn), key))
    if kept is not None and kept[1] is conn and now - kept[0] < POOL_MEMO_S:
        return kept[2], True
    value = read()
    with _memo_lock:
        table[(id(conn), key)] = (now, conn, value)
    return value, False


def using(conn: libvirt.virConnect, name: str, fn: Callable[[libvirt.virStoragePool], T]) -> T:
    """fn(the pool named `name`), with the pool kept from an earlier call when there is one; when fn
    fails on a kept pool (undefined or redefined since), once more on the pool looked up now.
    libvirt's error when there is no such pool."""
    def look_up() -> libvirt.virStoragePool:
        return conn.storagePoolLookupByName(name)

    pool, kept = _kept(_handles, conn, name, look_up)
    if kept:
        try:
            return fn(pool)
        except libvirt.libvirtError:
            pool, _ = _kept(_handles, conn, name, look_up, fresh=True)
    return fn(pool)


def definition(pool: libvirt.virStoragePool) -> str:
    """The pool's live definition (XMLDesc(0)), read at most POOL_MEMO_S ago."""
    xml, _ = _kept(_definitions, pool.connect(), pool.UUIDString(), lambda: pool.XMLDesc(0))
    return str(xml)


def forget() -> None:
    """Drop every kept pool and definition (a pool of this process changes)."""
    with _memo_lock:
        _handles.clear()
        _definitions.clear()


@contextlib.contextmanager
def _changing() -> Any:
    """Around a change of a pool: what volume calls kept of pools is forgotten before and after
    (a volume call running meanwhile may have kept the pool as it was)."""
    forget()
    try:
        yield
    finally:
        forget()


def state(pool: libvirt.virStoragePool) -> PoolState:
    try:
        state_code, capacity, allocation, available = pool.info()
        live_xml = pool.XMLDesc(0)
        persistent_xml = pool.XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE) if pool.isPersistent() else live_xml
        return PoolState(name=pool.name(), uuid=pool.UUIDString(),
                         active=bool(pool.isActive()), autostart=bool(pool.autostart()),
                         capacity=capacity, allocation=allocation, available=available,
                         xml=persistent_xml, observed=redact_pool_spec(parse_pool(live_xml)))
    except libvirt.libvirtError as e:
        raise explain(e, f"reading pool {pool.name()}") from e


def read(conn: libvirt.virConnect, uuid: str) -> PoolState | None:
    """The pool as libvirt holds it. No refresh: libvirt stops a pool whose refresh fails, which for
    fs, netfs, iscsi, logical and scsi pools tears the storage down under running VMs. The sizes are
    then libvirt's figures from its last refresh (start, volume create or delete, virsh pool-refresh)."""
    pool = lookup(conn, uuid=uuid)
    if pool is None:
        return None
    try:
        return state(pool)
    except LibvirtOpError as e:
        if e.code in GONE_CODES:
            return None
        raise


ASYNC_JOBS_WAIT_S = 120.0


def refresh(pool: libvirt.virStoragePool) -> None:
    """Refresh a pool whose refresh cannot tear its storage down (see PoolTypeInfo.stop_tears_down).
    libvirt refuses a refresh while a build, clone, wipe or upload runs on the pool ("has asynchronous
    jobs running"): wait for it, up to ASYNC_JOBS_WAIT_S."""
    deadline = time.monotonic() + ASYNC_JOBS_WAIT_S
    delay = 0.05
    while True:
        try:
            pool.refresh(0)
            return
        except libvirt.libvirtError as e:
            if not _async_jobs_running(e) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def _async_jobs_running(e: libvirt.libvirtError) -> bool:
    return (e.get_error_code() == libvirt.VIR_ERR_INTERNAL_ERROR
            and "asynchronous jobs running" in (e.get_error_message() or ""))


@_changing()
def create(conn: libvirt.virConnect, spec: dict[str, Any], *, overwrite: bool = True) -> PoolState:
    """Define, build, start and autostart. If a step fails, the steps done are undone and the
    error says which step failed; nothing stays defined. `overwrite`: whether build_mode overwrite may
    format a device that holds something else (only on a resource's first create, see _build)."""
    name = spec["name"]
    with contextlib.ExitStack() as undo:
        try:
            pool = conn.storagePoolDefineXML(pool_xml(spec), 0)
        except libvirt.libvirtError as e:
            other = re.search(r"Storage source conflict with pool: '([^']+)'", e.get_error_message() or "")
            if other is not None:
                raise LibvirtOpError(
                    f"defining pool {name}: pool {other.group(1)!r} on this host already uses the same storage "
                    f"(libvirt: {e.get_error_message()}); nothing was changed. Manage that pool instead (declare its "
                    f"name and set adopt=true), or undefine it (`virsh pool-undefine {other.group(1)}`, its "
                    "storage and volumes are kept) and run again.", e) from e
            raise explain(e, f"defining pool {name}") from e
        undo.callback(undo_quietly, pool.undefine)
        if spec.get("build"):
            built = _build(pool, spec, overwrite=overwrite)
            if built and spec["type"] in ("dir", "netfs"):
                # Undo only what is cheap and safe: an empty directory we made.
                undo.callback(undo_quietly, lambda: pool.delete(0))
        if spec.get("start", True):
            try:
                pool.create(0)
            except libvirt.libvirtError as e:
                raise explain(e, f"starting pool {name}") from e
            undo.callback(undo_quietly, pool.destroy)
        if spec.get("autostart", True):
            try:
                pool.setAutostart(1)
            except libvirt.libvirtError as e:
                raise explain(e, f"setting autostart of pool {name}") from e
        result = state(pool)
        undo.pop_all()
        return result


def _build(pool: libvirt.virStoragePool, spec: dict[str, Any], *, overwrite: bool) -> bool:
    """Build with the spec's mode; with no_overwrite an already built pool is kept as it is.
    True when something was built.

    build_mode overwrite formats whatever the device holds, and only on `overwrite` (the resource's
    first create). A replacement of the pool, or a pool found again under its own name and uuid,
    builds as no_overwrite: the device then holds the data of the pool that was there, and a device
    holding something other than the declared format fails, with nothing changed."""
    mode = spec.get("build_mode") or "normal"
    if mode == BUILD_OVERWRITE and not overwrite:
        mode = BUILD_NO_OVERWRITE
    try:
        pool.build(BUILD_FLAGS[mode])
        return True
    except libvirt.libvirtError as e:
        if mode == BUILD_NO_OVERWRITE and e.get_error_code() == libvirt.VIR_ERR_STORAGE_POOL_BUILT:
            found = _other_format(e.get_error_message() or "")
            if found is None:
                return False  # built already, as asked: used as it is
            declared = (spec.get("source") or {}).get("format") or "format"
            if spec.get("build_mode") == BUILD_OVERWRITE:
                why = ("build_mode overwrite formats a device on the pool's first create only, and this create "
                       "replaces a pool the stack had (or finds its own again): the device holds that pool's data. "
                       "Declare the format it holds, or, if its data is to go, format it yourself (mkfs, wipefs) "
                       "and run again.")
            else:
                why = "Declare the format it holds, or set build_mode overwrite to format it, which destroys its data."
            raise LibvirtOpError(
                f"building pool {spec['name']}: the device holds {found}, not the {declared} the pool is declared "
                f"with (libvirt: {e.get_error_message()}); nothing was changed. {why}", e) from e
        raise explain(e, f"building pool {spec['name']} (build_mode {mode})") from e


def _other_format(message: str) -> str | None:
    """libvirt's no-overwrite build refuses with "pool built" both when the device is already built as
    asked and when it holds another format ("Format of device X does not match the expected format
    Y, forced overwrite is necessary"). None for the first; a description for the second."""
    if "does not match the expected format" not in message:
        return None
    return "another file system or label"


@_changing()
def redefine(conn: libvirt.virConnect, pool: libvirt.virStoragePool, spec: dict[str, Any], *, restart: bool,
             rebuild: bool) -> None:
    """Apply a changed definition to an existing pool (same uuid). An active pool is restarted
    when the change only takes effect on start (mount options, auth, rbd options) or needs a
    build (new permissions of a dir pool), since libvirt builds inactive pools only. When a step
    fails, the previous definition is put back and the pool started again as it was."""
    name = spec["name"]
    try:
        previous = pool.XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE)
        was_active = bool(pool.isActive())
        conn.storagePoolDefineXML(pool_xml(spec, uuid=pool.UUIDString()), 0)
    except libvirt.libvirtError as e:
        raise explain(e, f"redefining pool {name}") from e
    try:
        if (restart or rebuild) and was_active:
            pool.destroy()
        if rebuild:  # a dir pool's build is mkdir -p + chown + chmod: it applies new permissions
            pool.build(0)
        if (restart or rebuild) and was_active:
            pool.create(0)
    except libvirt.libvirtError as e:
        undo_quietly(lambda: conn.storagePoolDefineXML(previous, 0))
        if was_active:
            undo_quietly(lambda: None if pool.isActive() else pool.create(0))
        state_now = "active again" if was_active and _is_active(pool) else "as it was"
        raise LibvirtOpError(f"redefining pool {name}: {e.get_error_message()} (libvirt error code "
                             f"{e.get_error_code()}). The previous definition is back and the pool is {state_now}; "
                             "nothing changed.", e) from e


def _is_active(pool: libvirt.virStoragePool) -> bool:
    try:
        return bool(pool.isActive())
    except libvirt.libvirtError:
        return False


@_changing()
def finish(pool: libvirt.virStoragePool, spec: dict[str, Any]) -> None:
    """Bring a pool defined earlier (by a create whose reply was lost, or an earlier state) to what the
    spec declares without redefining it: built (never formatting: as no_overwrite) when it is not
    running and the spec builds, then started and autostarted as declared."""
    try:
        inactive = not pool.isActive()
    except libvirt.libvirtError as e:
        raise explain(e, f"reading pool {spec['name']}") from e
    if inactive and spec.get("build") and spec.get("start", True):
        _build(pool, spec, overwrite=False)
    set_active(pool, spec.get("start", True))
    set_autostart(pool, spec.get("autostart", True))


@_changing()
def set_active(pool: libvirt.virStoragePool, active: bool) -> None:
    try:
        if active and not pool.isActive():
            pool.create(0)
        elif not active and pool.isActive():
            pool.destroy()
    except libvirt.libvirtError as e:
        raise explain(e, f"{'starting' if active else 'stopping'} pool {pool.name()}") from e


def set_autostart(pool: libvirt.virStoragePool, autostart: bool) -> None:
    try:
        if bool(pool.autostart()) != autostart:
            pool.setAutostart(1 if autostart else 0)
    except libvirt.libvirtError as e:
        raise explain(e, f"setting autostart of pool {pool.name()}") from e


def _refuse_unless_empty(pool: libvirt.virStoragePool, name: str) -> None:
    """Raise unless the pool holds no volume. libvirt lists no volumes of a stopped pool, and deletes
    the storage of logical, disk and zfs pools whatever it holds: a stopped pool is started to look,
    and stopped again when it holds something."""
    started_here = False
    if not pool.isActive():
        try:
            pool.create(0)
            started_here = True
        except libvirt.libvirtError as e:
            raise LibvirtOpError(
                f"pool {name} is stopped and could not be started to check that it holds no volumes "
                f"({e.get_error_message()}); refusing to delete its storage. Start it, or set "
                "delete_storage_on_destroy=false to undefine it and keep its data.", e) from e
    try:
        refresh(pool)
        volumes = pool.listVolumes()
    except libvirt.libvirtError as e:
        volumes = None
        reason = e.get_error_message()
    if volumes == []:
        return
    if started_here:
        undo_quietly(pool.destroy)
    if volumes is None:
        raise LibvirtOpError(f"could not list the volumes of pool {name} ({reason}); refusing to delete its storage")
    raise LibvirtOpError(
        f"pool {name} still holds {len(volumes)} volume(s) ({', '.join(sorted(volumes)[:5])}); refusing to delete "
        "its storage. Delete those volumes first, or set delete_storage_on_destroy=false to undefine the pool and "
        "keep its data.")


@_changing()
def delete(conn: libvirt.virConnect, uuid: str, *, delete_storage: bool) -> None:
    """Stop, delete the storage when asked, undefine. Without delete_storage the data stays on
    the host, whatever the pool holds."""
    pool = lookup(conn, uuid=uuid)
    if pool is None:
        return
    name = pool.name()
    try:
        if delete_storage:
            _refuse_unless_empty(pool, name)
        if pool.isActive():
            pool.destroy()
        if delete_storage:
            try:
                pool.delete(0)
            except libvirt.libvirtError as e:
                raise LibvirtOpError(
                    f"could not delete the storage of pool {name}: {e.get_error_message()}. The pool stays defined "
                    "(stopped) and its data is kept; empty it, or set delete_storage_on_destroy=false to undefine "
                    "it and keep the data.", e) from e
        if pool.isPersistent():
            pool.undefine()
    except libvirt.libvirtError as e:
        if is_gone(e):
            return
        raise explain(e, f"deleting pool {name}") from e
