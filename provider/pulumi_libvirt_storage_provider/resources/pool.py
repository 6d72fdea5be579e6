"""StoragePool: check, diff, previews and the life cycle (define, build, start, autostart; stop,
delete the storage only when asked, undefine)."""

from __future__ import annotations

from typing import Any

from .. import importer
from ..ops import pools
from ..ops.errors import LibvirtOpError
from ..spec.fields import Policy, contains_unknown, is_unknown
from ..spec.pool import POOL_SCHEMA, check_pool, secret_option_failures
from ..spec.pooltypes import effective_target_path, info
from ..spec.units import SpecError
from ..xml.pool import pool_xml
from ..xml.schema import schema_errors
from .base import Context, Read, ResourceLogic, overlay

# Inputs whose live value libvirt's XML reports (compared on refresh to show drift).
XML_FIELDS = ("name", "type", "target", "source", "cow", "mount_options", "rbd_config_options",
              "rbd_refresh_volume_allocation")


class PoolLogic(ResourceLogic):
    schema = POOL_SCHEMA
    uuid_key = "uuid"
    optional_echoes = ("uuid",)
    live_outputs = ("capacity", "allocation", "available", "xml")

    def validate(self, raw: dict[str, Any]) -> dict[str, Any]:
        return check_pool(raw)

    def check_transition(self, olds: dict[str, Any], spec: dict[str, Any], ctx: Context) -> list[SpecError]:
        failures = []
        if not contains_unknown({k: v for k, v in spec.items() if not k.startswith("__")}):
            # The definition we would give libvirt must pass libvirt's own schema (where installed).
            errors = schema_errors(pool_xml(spec, uuid=spec.get("uuid")), "storagepool")
            if errors:
                failures.append(SpecError("type", f"libvirt's storagepool schema refuses the {spec['type']} pool "
                                          f"definition built from these inputs: {'; '.join(errors[:3])}"))
        forced = _forced_target_path(spec)
        if forced is not None:
            failures.append(SpecError("target.path", f"libvirt uses {forced} as the target of a {spec['type']} pool "
                                      f"whatever is written (its {'volume group' if spec['type'] == 'logical' else 'zpool'}"
                                      f"'s device directory): remove target.path, or set it to {forced}"))
        if spec.get("delete_storage_on_destroy") and isinstance(spec.get("type"), str) \
                and not is_unknown(spec["type"]) and not info(spec["type"]).deletable:
            failures.append(SpecError("delete_storage_on_destroy", f"libvirt cannot delete the storage of a "
                                      f"{spec['type']} pool; set it to false (the pool is undefined, its data kept)"))
        return failures

    def changed_inputs(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        """A target path written another way than libvirt's own (none, for a logical pool's
        /dev/<volume group>) is the same target: no change, and no replacement."""
        old_path, new_path = target_path_of(olds), target_path_of(news)
        if old_path is not UNKNOWN and old_path is not None and old_path == new_path:
            # (compared as libvirt's own path on both sides; a side without any target included)
            olds, news = _with_target_path(olds, old_path), _with_target_path(news, new_path)
        return super().changed_inputs(olds, news)

    def identity(self, conn: Any, id_: str, olds: dict[str, Any]) -> Any:
        pool = pools.lookup(conn, uuid=id_)
        return None if pool is None else pool.UUIDString()

    def predict(self, inputs: dict[str, Any], olds: dict[str, Any], ctx: Context) -> dict[str, Any]:
        predicted: dict[str, Any] = {}
        if inputs.get("adopt") is False:
            predicted["adopted"] = False  # a pool of that name existing would fail the create
        if isinstance(inputs.get("start"), bool):
            predicted["active"] = inputs["start"]
        target_path = target_path_of(inputs)
        if target_path is not UNKNOWN:
            predicted["target_path"] = target_path
        return predicted

    def create(self, inputs: dict[str, Any], ctx: Context) -> tuple[str, dict[str, Any]]:
        spec = self.canonical(inputs)
        # build_mode overwrite formats the device on the first create of this resource only: a
        # replacement finds the data of the pool it replaces there.
        first = not self.was_in_state(spec)

        def run(conn: Any) -> tuple[pools.PoolState, bool]:
            existing = pools.lookup(conn, name=spec["name"])
            if existing is not None:
                if spec.get("adopt"):
                    return self._adopt(existing, spec), True
                if spec.get("uuid") and existing.UUIDString() == spec["uuid"]:
                    return self._take_over(existing, spec), False
                raise LibvirtOpError(f"a pool named {spec['name']!r} already exists on this host (uuid "
                                     f"{existing.UUIDString()}); choose another name, or set adopt=true to "
                                     "manage it")
            return pools.create(conn, spec, overwrite=first), False

        # (Safe to run again after a lost connection: a pool the lost attempt defined is found under this
        # name and uuid, identical, and taken over.)
        state, adopted = self.call(spec, ctx, run)
        return state.uuid, self._outputs(spec, state, adopted, ctx)

    def _differences(self, pool: Any, spec: dict[str, Any]) -> list[str]:
        current = pools.state(pool)
        differences = [f"{k}: host has {v!r}" for k, v in xml_differences(spec, current.observed).items()]
        if spec.get("uuid") and spec["uuid"] != current.uuid:
            differences.append(f"uuid: host has {current.uuid!r}")
        return differences

    @staticmethod
    def _refuse_secret_material(pool: Any, spec: dict[str, Any], what: str) -> None:
        """A definition made outside this provider holding a password or key in its options: starting the
        pool would put it on mount's command line (ps) and in libvirt's errors; refused before anything
        starts it."""
        refused = secret_option_failures(pools.state(pool).observed)
        if refused:
            raise LibvirtOpError(f"{what}: pool {spec['name']!r} holds secret material in its definition on the "
                                 "host (" + "; ".join(str(f) for f in refused) + "). Move it out of the definition "
                                 f"(virsh pool-edit {spec['name']}: a credentials= file, a CephSecret), then run "
                                 "again.")

    def _adopt(self, pool: Any, spec: dict[str, Any]) -> pools.PoolState:
        self._refuse_secret_material(pool, spec, "adopt")
        differences = self._differences(pool, spec)
        if differences:
            raise LibvirtOpError(f"adopt: pool {spec['name']!r} exists with another definition ("
                                 + "; ".join(differences) + "). Make the program match the host, or remove "
                                 "adopt and use another name.")
        pools.set_active(pool, spec.get("start", True))
        pools.set_autostart(pool, spec.get("autostart", True))
        return pools.state(pool)

    def _take_over(self, pool: Any, spec: dict[str, Any]) -> pools.PoolState:
        """A pool with this name and this resource's own uuid (derived from the stack and resource name,
        or given) that this stack's state does not hold: defined by a create of this resource whose
        reply was lost (a lost connection, a killed CLI), or left by an earlier stack of the same name
        (`pulumi stack rm`, `pulumi state delete`), another checkout or state backend. When its
        definition is the one the program declares it is managed as it is: started (built first, never
        formatted, when it never was) and autostarted as declared. Otherwise it is left as it is and
        refused with the way out: it is never redefined, rebuilt or formatted."""
        differences = self._differences(pool, spec)
        if differences:
            raise LibvirtOpError(
                f"a pool named {spec['name']!r} with this resource's uuid {pool.UUIDString()} already exists, with "
                f"another definition ({'; '.join(differences)}), and this stack's state does not hold it (an "
                "earlier stack of the same name, `pulumi state delete`, another checkout or state backend); it is "
                "left as it is. Make the program declare what the host has (it is then taken over), or set "
                f"adopt=true to manage it as it is, or undefine it (`virsh pool-undefine {spec['name']}`, its "
                "storage is kept) and run again.")
        self._refuse_secret_material(pool, spec, "taking over")
        pools.finish(pool, spec)
        return pools.state(pool)

    def _outputs(self, spec: dict[str, Any], state: pools.PoolState, adopted: bool, ctx: Context
                 ) -> dict[str, Any]:
        return self.outputs(spec, {**state.outputs(), "adopted": adopted}, ctx)

    def import_(self, id_: str, ctx: Context) -> tuple[Read, dict[str, Any]]:
        state = self.call({}, ctx, lambda conn: pools.read(conn, id_))
        if state is None:
            return Read("", {}), {}
        args = importer.pool_args(state.xml, active=state.active, autostart=state.autostart)
        spec = self.validate(dict(args))
        return Read(state.uuid, self._outputs(spec, state, False, ctx)), args

    def read(self, id_: str, props: dict[str, Any], ctx: Context) -> Read:
        state = self.call(props, ctx, lambda conn: pools.read(conn, id_))
        if state is None:
            return Read("", {})
        live = as_live(self.inputs_only(props), state.observed)
        live["start"], live["autostart"] = state.active, state.autostart
        if live.get("uuid") is not None:
            live["uuid"] = state.uuid
        return Read(state.uuid, self._outputs(live, state, bool(props.get("adopted")), ctx))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any], ctx: Context) -> dict[str, Any]:
        spec = self.canonical(news)
        paths = self.changed_inputs(olds, spec)
        restart = any(self.policy(p) & Policy.RESTART for p in paths)
        redefine = restart or any(p.split(".")[0] in XML_FIELDS for p in paths)
        rebuild = spec["type"] == "dir" and any(p.startswith("target.permissions") for p in paths)

        def run(conn: Any) -> pools.PoolState:
            pool = pools.lookup(conn, uuid=id_)
            if pool is None:
                raise LibvirtOpError(f"pool {spec['name']!r} ({id_}) no longer exists; run `pulumi refresh` "
                                     "so that it is created again")
            if redefine:
                pools.redefine(conn, pool, spec, restart=restart, rebuild=rebuild)
            pools.set_active(pool, spec.get("start", True))
            pools.set_autostart(pool, spec.get("autostart", True))
            return pools.state(pool)

        state = self.call(olds, ctx, run)
        return self._outputs(spec, state, bool(olds.get("adopted")), ctx)

    def delete(self, id_: str, props: dict[str, Any], ctx: Context) -> None:
        if props.get("adopted"):
            return  # adopted pools are released as they are
        self.call(props, ctx, lambda conn: pools.delete(conn, id_,
                                                        delete_storage=bool(props.get("delete_storage_on_destroy"))))


class _Unknown:
    pass


UNKNOWN = _Unknown()


def target_path_of(spec: dict[str, Any]) -> Any:
    """The target path libvirt will use for this pool, or UNKNOWN while a part it depends on is."""
    source = spec.get("source") or {}
    target = spec.get("target") or {}
    parts = (spec.get("type"), spec.get("name"), source, target)
    if any(is_unknown(p) for p in parts) or is_unknown(source.get("name")) or is_unknown(target.get("path")):
        return UNKNOWN
    if not isinstance(spec.get("type"), str):
        return UNKNOWN
    return effective_target_path(spec["type"], spec.get("name"), target.get("path"), source.get("name"))


def _with_target_path(props: dict[str, Any], path: str) -> dict[str, Any]:
    target = props.get("target")
    if target is not None and not isinstance(target, dict):
        return props
    return {**props, "target": {**(target or {}), "path": path}}


def _forced_target_path(spec: dict[str, Any]) -> str | None:
    """The target path libvirt gives a logical or zfs pool in place of a different one written (it
    derives it from the volume group or zpool); None when the written one is libvirt's, or none is
    written. libvirt then reports its own, and a refresh would make every later `up` replace the pool."""
    given = (spec.get("target") or {}).get("path") if isinstance(spec.get("target"), dict) else None
    if spec.get("type") not in ("logical", "zfs") or not isinstance(given, str) or is_unknown(given):
        return None
    forced = target_path_of(spec)
    return forced if isinstance(forced, str) and forced != given else None


def as_live(spec: dict[str, Any], observed: dict[str, Any]) -> dict[str, Any]:
    """`spec` with the live value (from the pool's XML) of every XML field the user set."""
    live = dict(spec)
    for key in XML_FIELDS:
        if spec.get(key) is not None:
            live[key] = overlay(spec[key], observed.get(key))
    return live


def xml_differences(spec: dict[str, Any], observed: dict[str, Any]) -> dict[str, Any]:
    live = as_live(spec, observed)
    return {key: observed.get(key) for key in XML_FIELDS if live.get(key) != spec.get(key)}


POOLS = PoolLogic()
