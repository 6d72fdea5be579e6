"""StoragePool: check, diff, previews and the life cycle (define, build, start, autostart; stop,
delete the storage only when asked, undefine)."""

from __future__ import annotations

from typing import Any

from .. import importer
from ..ops import pools
from ..ops.errors import LibvirtOpError
from ..spec.fields import Policy, contains_unknown, is_unknown
from ..spec.pool import POOL_SCHEMA, check_pool
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
        if spec.get("delete_storage_on_destroy") and isinstance(spec.get("type"), str) \
                and not is_unknown(spec["type"]) and not info(spec["type"]).deletable:
            failures.append(SpecError("delete_storage_on_destroy", f"libvirt cannot delete the storage of a "
                                      f"{spec['type']} pool; set it to false (the pool is undefined, its data kept)"))
        return failures

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
        own_uuid = self.own_uuid(spec)

        def leftover(conn: Any) -> Any:
            """A pool of this name with the uuid this resource derives: made by an interrupted create of
            this very resource (a run killed mid-way, or this call's lost connection)."""
            existing = pools.lookup(conn, name=spec["name"])
            return existing if existing is not None and own_uuid and existing.UUIDString() == own_uuid else None

        def remove_leftover(conn: Any) -> None:
            found = leftover(conn)
            if found is not None:
                pools.undefine_leftover(found)  # stop and undefine; its storage is kept

        def run(conn: Any) -> tuple[pools.PoolState, bool]:
            remove_leftover(conn)
            existing = pools.lookup(conn, name=spec["name"])
            if existing is not None:
                if not spec.get("adopt"):
                    raise LibvirtOpError(f"a pool named {spec['name']!r} already exists on this host (uuid "
                                         f"{existing.UUIDString()}); choose another name, or set adopt=true to "
                                         "manage it")
                return self._adopt(existing, spec), True
            return pools.create(conn, spec), False

        state, adopted = self.call(spec, ctx, run, on_reconnect=remove_leftover)
        return state.uuid, self._outputs(spec, state, adopted, ctx)

    def _adopt(self, pool: Any, spec: dict[str, Any]) -> pools.PoolState:
        current = pools.state(pool)
        differences = [f"{k}: host has {v!r}" for k, v in xml_differences(spec, current.observed).items()]
        if spec.get("uuid") and spec["uuid"] != current.uuid:
            differences.append(f"uuid: host has {current.uuid!r}")
        if differences:
            raise LibvirtOpError(f"adopt: pool {spec['name']!r} exists with another definition ("
                                 + "; ".join(differences) + "). Make the program match the host, or remove "
                                 "adopt and use another name.")
        pools.set_active(pool, spec.get("start", True))
        pools.set_autostart(pool, spec.get("autostart", True))
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
