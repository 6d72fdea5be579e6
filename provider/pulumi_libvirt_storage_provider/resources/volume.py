"""StorageVolume: check, diff, previews and the life cycle (create empty, backed, cloned or
uploaded; grow; wipe and delete, or release when adopted)."""

from __future__ import annotations

import threading
import time
from typing import Any

import libvirt

from .. import importer
from ..ops import connection, pools, volumes
from ..ops.errors import ConnectionLost, LibvirtOpError
from ..spec.fields import Failures, Policy, contains_unknown, is_unknown, normalize
from ..spec.pool import POOL_SCHEMA
from ..spec.pooltypes import info, volume_location
from ..spec.units import SpecError
from ..spec.volume import VOLUME_SCHEMA, check_volume, declared_format
from ..xml.disk import disk_source, disk_xml
from ..xml.common import prune
from ..xml.pool import parse_pool
from . import intents
from .base import POOL_KEY, SEED_KEY, Context, Diff, Read, ResourceLogic, whole_numbers


# What a volume is told of its pool (resources/base.py POOL_KEY): enough to tell where its volumes live.
POOL_DEFINITION_FIELDS = tuple(f for f in POOL_SCHEMA.inputs if f.name in ("name", "type", "target", "source"))


class VolumeLogic(ResourceLogic):
    schema = VOLUME_SCHEMA
    # pool_type is also filled in from the live pool: only a given one is compared.
    optional_echoes = ("pool_type",)
    # The pool's definition, as the SDK passes it from a StoragePool: when its auth or hosts change,
    # the volume's disk (what a VM is given) changes with it; the volume itself stays (see
    # changed_inputs for the rest of it).
    hidden_policies = {POOL_KEY: Policy.UPDATE}
    live_outputs = ("physical", "current_capacity", "current_allocation")

    def changed_live_outputs(self, paths: list[str]) -> tuple[str, ...]:
        return self.live_outputs if "capacity" in paths else ()  # only a resize changes the sizes

    def validate(self, raw: dict[str, Any]) -> dict[str, Any]:
        return check_volume(raw)

    def canonical_hidden(self, key: str, value: Any) -> Any:
        if key != POOL_KEY or not isinstance(value, dict) or contains_unknown(value):
            return value
        try:  # the pool's own normalisation: "/srv/p/" and "/srv/p", 6789.0 and 6789 are the same pool
            return prune(normalize(POOL_DEFINITION_FIELDS, value))
        except Failures:
            return value  # the pool's own check reports it

    def changed_inputs(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        """Two rules keep a volume whose data has not moved from being replaced:
        - a new `pool` that puts the volume at the same place (a pool renamed over the same directory)
          is an update, not a replacement, when both pools' definitions are known;
        - of the pool's definition only what a VM needs to reach the volume (auth, hosts) is compared.
          A pool moved to other storage leaves the volume where it is: `pulumi refresh` then reports it
          gone, and the next `up` creates it in the pool's new storage. Nothing is deleted on the way."""
        def access_only(props: dict[str, Any]) -> dict[str, Any]:
            return {**props, POOL_KEY: _access(props[POOL_KEY])} if POOL_KEY in props else props

        paths = []
        for path in super().changed_inputs(access_only(olds), access_only(news)):
            if path == "pool" and _same_place(olds, news):
                path = f"{POOL_KEY}.name"  # an update: the volume is read back from its renamed pool
            paths.append(path)
        return paths

    def check_transition(self, olds: dict[str, Any], spec: dict[str, Any], ctx: Context) -> list[SpecError]:
        old_cap, new_cap = olds.get("capacity"), spec.get("capacity")
        same_volume = all(olds.get(k) == spec.get(k) for k in ("pool", "name", "format"))
        if not (isinstance(old_cap, (int, float)) and isinstance(new_cap, int) and not is_unknown(new_cap)
                and new_cap != old_cap and same_volume and olds.get("adopt") == spec.get("adopt")):
            return []
        if new_cap < old_cap and not spec.get("allow_shrink"):
            return [SpecError("capacity", f"shrinking from {int(old_cap)} to {new_cap} bytes would lose the data "
                              "past the new end; set allow_shrink=true to shrink anyway")]
        pool_type = pool_type_of(spec) or pool_type_of(olds)
        if pool_type and not info(pool_type).volume_resize and not spec.get("adopt"):
            return [SpecError("capacity", f"volumes of a {pool_type} pool cannot be resized by libvirt; keep "
                              f"capacity at {int(old_cap)} or create a new volume (another name)")]
        return []

    def identity(self, conn: Any, id_: str, olds: dict[str, Any]) -> Any:
        found = volumes.by_key(conn, id_, olds.get("pool"), olds.get("name"))
        if found is None:
            return None
        pool, vol = found
        return (pool.UUIDString(), vol.key())

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any], ctx: Context) -> Diff:
        """A replacement of a volume that a running domain uses is refused here, in the preview already.
        The provider's delete refuses such a volume too, but never gets to: a volume is replaced
        delete-before-replace, and the engine first deletes what depends on it and would be replaced
        with it, i.e. the domain (pulumi-libvirt stops and undefines it), so that by the time the volume
        is deleted no one uses it and it comes back empty under a new domain."""
        d = super().diff(id_, olds, news, ctx)
        if d.replaces:
            try:
                users = self.call(olds, ctx, lambda conn: volumes.running_users(conn, id_, olds.get("pool"),
                                                                                 olds.get("name")))
            except connection.UriNotKnown:
                users = []  # the provider's uri is computed in this run: asked again in `up`, when it is known
            if users:
                changed = ", ".join(d.replaces)
                raise LibvirtOpError(
                    f"volume {olds.get('name')} of pool {olds.get('pool')} is in use by running domain "
                    f"{', '.join(users)} and would be replaced (a change to {changed}): the engine would first "
                    "delete that domain, then the volume, and the new volume would start empty. Nothing was changed. "
                    f"Undo the change to {changed}; or, to give the VM a new disk, declare a new volume beside "
                    "this one and point the domain's disk at it; or shut the domain down first if replacing "
                    "the disk and its data is what you want.")
        return d

    # -- previews --------------------------------------------------------------------------------
    def predict(self, inputs: dict[str, Any], olds: dict[str, Any], ctx: Context) -> dict[str, Any]:
        predicted: dict[str, Any] = {}
        if inputs.get("adopt") is False:
            predicted["adopted"] = False
        name = inputs.get("name")
        pool = inputs.get(POOL_KEY) or _pool_from_host(inputs, ctx)
        if not isinstance(name, str) or not pool or contains_unknown(pool) or contains_unknown(
                {k: inputs.get(k) for k in ("format", "pool", "adopt", "encryption")}):
            return predicted
        predicted["pool_type"] = pool["type"]
        location = volume_location(pool, name)
        if location is None:
            return predicted
        predicted.update(location)
        fmt = declared_format(inputs, pool["type"])
        disk = disk_source(pool, {**location, "name": name, "format": fmt}, inputs.get("encryption"))
        if not contains_unknown(inputs.get("disk_target")):
            predicted["disk_xml"] = disk_xml(disk, *_target(inputs))
        predicted["disk"] = disk
        return predicted

    # -- life cycle ------------------------------------------------------------------------------
    def create(self, inputs: dict[str, Any], ctx: Context) -> tuple[str, dict[str, Any]]:
        spec = self.canonical(inputs)
        name = spec["name"]
        seed = spec.get(SEED_KEY)
        # What an interrupted create of this resource would have left (see intents.py). (Known once
        # connected: the URI it holds is libvirt's default filled in.)
        known: list[dict[str, Any]] = []

        def intent() -> dict[str, Any]:
            if not known:
                known.append(self._intent(spec, ctx))
            return known[0]

        making = [False]

        def lost(_conn: Any) -> None:
            if making[0] and seed:
                intents.note(intent(), lost_at=time.time())  # (the end of the interrupted create's window)

        def run(conn: Any) -> tuple[volumes.VolumeState, bool]:
            pool = volumes.active_pool(conn, spec["pool"])
            existing = volumes.lookup(pool, name)
            if existing is not None and seed and not spec.get("adopt"):
                left = _left_by(intents.recorded(intent()), pool, existing)
                if left == "interrupted":
                    volumes.remove_leftover(pool, existing)  # never held anything but that create's bytes
                    existing = None
                elif left == "made":
                    state = volumes.state_of(pool, existing, declared=spec.get("format"),
                                             encryption=spec.get("encryption"))
                    if spec.get("capacity") is None or state.observed.get("capacity") == spec["capacity"]:
                        return state, False  # made by this resource in a run the engine did not record
            if existing is not None:
                if not spec.get("adopt"):
                    raise LibvirtOpError(f"a volume named {name!r} already exists in pool {spec['pool']!r}; choose "
                                         "another name, or set adopt=true to manage it")
                return volumes.state_of(pool, existing, declared=spec.get("format"),
                                        encryption=spec.get("encryption")), True
            if spec.get("adopt") and spec.get("capacity") is None and not (spec.get("clone_from")
                                                                           or spec.get("upload_from")):
                raise LibvirtOpError(f"adopt: no volume named {name!r} in pool {spec['pool']!r}, and without "
                                     "capacity there is nothing to create")
            if seed:
                intents.begin(intent(), pool_uuid=pool.UUIDString())
            making[0] = True
            return volumes.create(conn, spec, name, pool, created=lambda vol: intents.note(
                intent(), key=vol.key()) if seed else None), False

        try:
            state, adopted = self.call(spec, ctx, run, on_reconnect=lost)
        except ConnectionLost:
            lost(None)
            raise  # the intent stays: the next run removes what this one may have left
        except Exception as e:
            if making[0]:
                if seed and self._left_by_failed_create(spec, ctx, e):
                    # The rollback could not run (an rbd pool whose Ceph stopped answering: libvirt made the
                    # image, then could neither read it back nor remove it). The intent stays, so the next
                    # run removes it and makes it again.
                    raise LibvirtOpError(f"{e} The volume libvirt had begun could not be removed; the next "
                                         "`pulumi up` removes it and makes it again.") from e
                intents.end(intent())  # libvirt answered: the create's own rollback ran
            raise
        outputs = self._outputs(spec, state, adopted, ctx)  # (should this fail, the intent stays)
        if seed and not adopted:
            # until a call shows the state holds it (see intents.py)
            intents.made(intent(), key=state.observed["key"], ctime=state.observed.get("ctime"))
        return state.observed["key"], outputs

    def _left_by_failed_create(self, spec: dict[str, Any], ctx: Context, error: Exception) -> bool:
        """Whether libvirt still lists the volume of a create that failed after libvirt began it
        (libvirt's lists live in the daemon: the lookup reaches no storage). A create refused because
        the name was taken never made it, and when the question cannot be answered the answer is no:
        a possible leftover is better than removing by name what may be someone else's."""
        if getattr(error, "code", None) == libvirt.VIR_ERR_STORAGE_VOL_EXIST or "already exists" in str(error):
            return False
        try:
            return bool(self.call(spec, ctx, lambda conn: volumes.lookup(
                volumes.active_pool(conn, spec["pool"]), spec["name"]) is not None))
        except Exception:  # noqa: BLE001 - unknown: see above
            return False

    def _intent(self, props: dict[str, Any], ctx: Context) -> dict[str, Any]:
        # (the URI as the outputs hold it: libvirt's default filled in)
        return {"seed": props.get(SEED_KEY), "uri": connection.effective_uri(self.uri_of(props, ctx)),
                "kind": "volume", "pool": props.get("pool"), "name": props.get("name")}

    def _recorded(self, props: dict[str, Any], ctx: Context) -> None:
        """The engine holds this resource: its create's intent has served (see intents.py)."""
        if props.get(SEED_KEY):
            intents.end(self._intent(props, ctx))

    def diff_extra(self, olds: dict[str, Any], news: dict[str, Any], ctx: Context) -> list[str]:
        # The mode changed on the host (read back by a refresh) while the program's stayed: an update,
        # which says why it will not undo it (drift_refusals).
        return ["permissions.mode"] if _mode_drifted(olds, news) else []

    def in_place(self, olds: dict[str, Any], news: dict[str, Any]) -> frozenset[str]:
        if _mode_drifted(olds, news):
            return frozenset({"permissions.mode"})  # refused by update, never undone by a replacement
        dropped = _undeclared_permissions(olds, news)
        if dropped:
            return dropped  # no longer declared: the file keeps what it has, only the state forgets it
        declared, live = news.get("permissions"), olds.get("current_permissions")
        if _watched(olds) and isinstance(declared, dict) and isinstance(live, dict) \
                and _same_mode(declared.get("mode"), live.get("mode")):
            return frozenset({"permissions.mode"})  # declared as the host already has it: no replacement
        return frozenset()

    def drift_refusals(self, olds: dict[str, Any], news: dict[str, Any]) -> list[SpecError]:
        """Changes made on the host outside Pulumi (read back by `pulumi refresh`) that the program
        would undo only by destroying data: the update refuses them, with the ways out (change the
        program, or put the host back); nothing is replaced to repair a drift."""
        refused: list[SpecError] = []
        name = news.get("name")
        old_cap, new_cap = olds.get("capacity"), news.get("capacity")
        if isinstance(old_cap, (int, float)) and isinstance(new_cap, int) and new_cap < old_cap \
                and not news.get("allow_shrink"):
            refused.append(SpecError("capacity", f"volume {name} is {int(old_cap)} bytes on the host, more than the "
                                     f"{new_cap} declared; shrinking would lose the data past the new end: declare "
                                     f"capacity {int(old_cap)} or more (grown outside Pulumi? `pulumi refresh` shows it), "
                                     "or set allow_shrink=true to shrink anyway"))
        if _mode_drifted(olds, news):
            live, declared = olds["current_permissions"].get("mode"), news["permissions"]["mode"]
            refused.append(SpecError("permissions", f"volume {name} has mode {live} on the host, the program says "
                                     f"mode {declared} (changed outside Pulumi); libvirt cannot change a volume's "
                                     "permissions in place and replacing it would delete its data: set the mode back "
                                     f"on the host (chmod {declared} {olds.get('path') or name}), or declare mode "
                                     f"{live}"))
        return refused

    def _outputs(self, spec: dict[str, Any], state: volumes.VolumeState, adopted: bool, ctx: Context
                 ) -> dict[str, Any]:
        computed = {**state.outputs(), "adopted": adopted, "disk_xml": disk_xml(state.disk, *_target(spec)),
                    "current_pool": state.pool}
        return self.outputs(spec, computed, ctx)

    def import_(self, id_: str, ctx: Context) -> tuple[Read, dict[str, Any]]:
        def run(conn: Any) -> tuple[Any, Any, dict[str, Any]] | None:
            found = volumes.by_key(conn, id_)
            if found is None:
                return None
            pool, vol = found
            pool_type = parse_pool(pool.XMLDesc(0))["type"]
            args = importer.volume_args(vol.XMLDesc(0), pool.name(), pool_type)
            return pool, vol, args

        found = self.call({}, ctx, run)
        if found is None:
            return Read("", {}), {}
        pool, vol, args = found
        # A volume this provider would only adopt (a format qemu-img cannot write, capacity 0, an LVM
        # snapshot, legacy encryption, a LUN) is imported as adopted: released on destroy, never deleted,
        # as the program `pulumi import` prints declares it (adopt=true).
        adopted = bool(args.get("adopt"))
        spec = {**self.validate({**args, "adopt": True}), "adopt": adopted}  # (adopt: no capacity needed)
        state = self.call({}, ctx, lambda conn: volumes.state_of(pool, vol, declared=spec.get("format"),
                                                                 encryption=spec.get("encryption")))
        return Read(state.observed["key"], self._outputs(spec, state, adopted, ctx)), args

    def read(self, id_: str, props: dict[str, Any], ctx: Context) -> Read:
        self._recorded(props, ctx)
        declared = props.get("format")

        def run(conn: Any) -> volumes.VolumeState | str | None:
            found = volumes.by_key(conn, id_, props.get("pool"), props.get("name"))
            if found is None:
                # libvirt finds volumes of active pools only: a stopped pool is not a deleted volume.
                pool = pools.lookup(conn, name=props.get("pool"))
                if pool is not None and not pool.isActive():
                    return "inactive"
                return None
            return volumes.current_state(*found, declared=declared, encryption=props.get("encryption"))

        state = self.call(props, ctx, run)
        if state is None:
            return Read("", {})
        if state == "inactive":
            return Read(id_, {k: v for k, v in props.items() if k != "__provider"})
        live = self.inputs_only(props)
        observed = state.observed
        # The pool stays the one the program declares: a pool renamed or redefined outside Pulumi over
        # the same storage still holds the volume (found by its key), and a `pool` read back from the
        # host would make the next `up` replace, so delete, it. current_pool reports where it is now.
        live["name"] = observed.get("name")
        live["pool"] = props.get("pool") or state.pool
        # The declared format stays the truth: libvirt probes a file's format from its content, which
        # the guest writes (current_format reports what libvirt sees).
        cap, live_cap = live.get("capacity"), observed.get("capacity")
        # libvirt and qemu round some sizes (partitions, LVM extents, vpc geometry): the capacity
        # reported right after our create/resize is the user's capacity, not drift.
        if cap is not None and live_cap is not None and live_cap != props.get("current_capacity"):
            live["capacity"] = live_cap
        return Read(id_, self._outputs(live, state, bool(props.get("adopted")), ctx))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any], ctx: Context) -> dict[str, Any]:
        self._recorded(olds, ctx)
        olds = whole_numbers(olds)  # (the stored disk goes into disk_xml: a port 6789.0 is not a port)
        spec = self.canonical(news)
        refused = self.drift_refusals(olds, spec)
        if refused:
            raise LibvirtOpError("; ".join(str(r) for r in refused))

        def run(conn: Any) -> volumes.VolumeState:
            found = volumes.by_key(conn, id_, olds.get("pool"), olds.get("name"))
            if found is None:
                raise LibvirtOpError(f"volume {id_} no longer exists in pool {olds.get('pool')!r}; run `pulumi "
                                     "refresh` so that it is created again")
            pool, vol = found
            if spec.get("capacity") is not None and spec.get("capacity") != olds.get("capacity"):
                current = olds.get("current_capacity")
                volumes.resize(vol, spec["capacity"], allow_shrink=bool(spec.get("allow_shrink")),
                               current=int(current) if isinstance(current, (int, float)) else None)
                pool_type = olds.get("pool_type")
                if isinstance(pool_type, str) and isinstance(olds.get("disk"), dict) \
                        and olds.get(POOL_KEY) == spec.get(POOL_KEY):
                    # A resize changes sizes only: the disk is still what it was.
                    return volumes.state_of(pool, vol, known_disk=(pool_type, olds["disk"]),
                                            declared=spec.get("format"), encryption=spec.get("encryption"))
            return volumes.state_of(pool, vol, declared=spec.get("format"), encryption=spec.get("encryption"))

        state = self.call(olds, ctx, run)
        return self._outputs(spec, state, bool(olds.get("adopted")), ctx)

    def delete(self, id_: str, props: dict[str, Any], ctx: Context) -> None:
        self._recorded(props, ctx)
        if props.get("adopted"):
            # Adopted volumes (and LUNs) are released, never deleted; their data is wiped first only
            # when the program asked for it (the one way to wipe a LUN, which cannot be deleted).
            if props.get("wipe_on_destroy"):
                self.call(props, ctx, lambda conn: volumes.wipe(conn, id_, props["wipe_on_destroy"],
                                                                pool_name=props.get("pool"), name=props.get("name")))
            return
        self.call(props, ctx, lambda conn: volumes.delete(conn, id_, wipe=props.get("wipe_on_destroy"),
                                                          pool_name=props.get("pool"), name=props.get("name"),
                                                          pool_type=props.get("pool_type")))


def _left_by(record: dict[str, Any] | None, pool: Any, vol: Any) -> str | None:
    """Whether `vol`, found under the name this resource creates, is what an earlier create of this
    very resource left (its intent, see intents.py): "interrupted" (cut short: remove it and make it
    again), "made" (whole, returned to a run the engine did not record: take it over), or None
    (someone else's, or an intent too old or about another object: refuse, as any name conflict)."""
    if record is None or record.get("pool_uuid") not in (None, pool.UUIDString()):
        return None
    found = volumes.identity(vol)
    if record.get("made"):
        same = record.get("key") == found["key"] and record.get("ctime") == found["ctime"]
        return "made" if same else None
    if record.get("pool_uuid") is None:
        return None  # (an intent of an older version, which recorded no pool: not enough to delete by)
    if record.get("key") is not None and record["key"] != found["key"]:
        return None
    if found["ctime"] is not None and not intents.changed_within(record, found["ctime"]):
        return None  # a file changed outside that create's window is not its leftover
    return "interrupted"


def _watched(olds: dict[str, Any]) -> bool:
    """Whether a drift of the volume's mode is watched: a file volume the stack made. (Device nodes take
    their permissions from udev; an adopted volume was never given the declared ones. Owner, group
    and label are not watched: libvirt gives a disk to the qemu user while a domain runs it, and
    never applies a label.)"""
    return olds.get("type") == "file" and not olds.get("adopted")


def _undeclared_permissions(olds: dict[str, Any], news: dict[str, Any]) -> frozenset[str]:
    """The permissions the program declared before and no longer declares (the whole block, or some
    of its fields while the others stay as they were). Undeclaring changes nothing on the host, so it
    is an update of the state, never a replacement that would delete the volume's data."""
    old, new = olds.get("permissions"), news.get("permissions")
    if not isinstance(old, dict) or is_unknown(new):
        return frozenset()
    if new is None:
        return frozenset({"permissions"})
    if not isinstance(new, dict) or any(is_unknown(v) for v in new.values()):
        return frozenset()
    kept_as_they_were = all(new.get(k) == old.get(k) for k in new if new.get(k) is not None)
    dropped = {f"permissions.{k}" for k, v in old.items() if v is not None and new.get(k) is None}
    return frozenset(dropped) if dropped and kept_as_they_were else frozenset()


def _same_mode(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and int(a, 8) == int(b, 8)


def _mode_drifted(olds: dict[str, Any], news: dict[str, Any]) -> bool:
    """The program's mode is unchanged, and the file on the host no longer has it."""
    declared, live, old = news.get("permissions"), olds.get("current_permissions"), olds.get("permissions")
    if not (_watched(olds) and isinstance(declared, dict) and isinstance(live, dict) and isinstance(old, dict)):
        return False
    mode = declared.get("mode")
    return isinstance(mode, str) and not is_unknown(mode) and _same_mode(mode, old.get("mode")) \
        and isinstance(live.get("mode"), str) and not _same_mode(mode, live.get("mode"))


def _access(pool: Any) -> Any:
    """The parts of a pool's definition a VM needs to reach its volumes."""
    if not isinstance(pool, dict):
        return pool
    source = pool.get("source")
    if not isinstance(source, dict):
        return {"source": source}
    return {"source": {k: source.get(k) for k in ("auth", "hosts")}}


def _same_place(olds: dict[str, Any], news: dict[str, Any]) -> bool:
    """Whether the volume lives at the same path in the new pool as in the old one (both pools'
    definitions known)."""
    old_pool, new_pool, name = olds.get(POOL_KEY), news.get(POOL_KEY), news.get("name")
    if not (isinstance(old_pool, dict) and isinstance(new_pool, dict) and isinstance(name, str)) \
            or contains_unknown(new_pool) or is_unknown(name) or name != olds.get("name"):
        return False
    old_place, new_place = volume_location(old_pool, name), volume_location(new_pool, name)
    return old_place is not None and old_place == new_place and old_pool.get("type") == new_pool.get("type")


def _target(spec: dict[str, Any]) -> tuple[str, str]:
    target = spec.get("disk_target") or {}
    return target.get("dev") or "vda", target.get("bus") or "virtio"


def pool_type_of(props: dict[str, Any]) -> str | None:
    value = props.get("pool_type") or (props.get(POOL_KEY) or {}).get("type")
    return value if isinstance(value, str) and not is_unknown(value) else None


# Pool definitions read from the host for previews, per (uri, pool name), for the life of the process.
_POOL_DEFINITIONS: dict[tuple[str, str], dict[str, Any] | None] = {}
_POOL_DEFINITIONS_LOCK = threading.Lock()


def _pool_from_host(inputs: dict[str, Any], ctx: Context) -> dict[str, Any] | None:
    """The definition of the volume's pool read from the host, for a volume whose program gave the
    pool by name only. Best effort: a pool that does not exist yet, or a host that does not answer,
    gives no prediction (the preview then shows the volume's outputs as unknown)."""
    pool_name, uri = inputs.get("pool"), inputs.get("uri")
    if not isinstance(pool_name, str) or is_unknown(pool_name) or is_unknown(uri):
        return None
    key = (ctx.resolve(uri), pool_name)
    with _POOL_DEFINITIONS_LOCK:
        if key in _POOL_DEFINITIONS:
            return _POOL_DEFINITIONS[key]

    def read(conn: Any) -> dict[str, Any] | None:
        pool = pools.lookup(conn, name=pool_name)
        return None if pool is None else parse_pool(pool.XMLDesc(0))

    try:
        definition = connection.call(key[0], read)
    except Exception:  # noqa: BLE001 - a prediction never fails a check
        definition = None
    with _POOL_DEFINITIONS_LOCK:
        _POOL_DEFINITIONS[key] = definition
    return definition


VOLUMES = VolumeLogic()
