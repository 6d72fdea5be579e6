"""StoragePoolProvider: check/diff/create/read/update/delete of a libvirt storage pool.

The class path `pulumi_libvirt_storage_provider.dynamic.pool.StoragePoolProvider` is stored in
every pool's state: never rename or move it.
"""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult

from ..ops import pools
from ..ops.errors import LibvirtOpError
from ..spec.fields import Policy, contains_unknown
from ..spec.pool import POOL_SCHEMA, check_pool
from ..spec.pooltypes import info
from ..xml.pool import pool_xml
from ..xml.schema import schema_errors
from .base import LibvirtProvider, merge_outputs, overlay

# Inputs whose live value libvirt's XML reports (compared on refresh to show drift).
_XML_FIELDS = ("name", "type", "target", "source", "cow", "mount_options", "rbd_config_options",
               "rbd_refresh_volume_allocation")


class StoragePoolProvider(LibvirtProvider):
    schema = POOL_SCHEMA
    validate = staticmethod(check_pool)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return self.run_check(_olds, news, check_pool)

    def check_transition(self, olds: dict[str, Any], spec: dict[str, Any]) -> list[CheckFailure]:
        failures = []
        if not contains_unknown({k: v for k, v in spec.items() if not k.startswith("__")}):
            # The definition we would give libvirt must pass libvirt's own schema (where installed).
            errors = schema_errors(pool_xml(spec), "storagepool")
            if errors:
                failures.append(CheckFailure("type", f"libvirt's storagepool schema refuses the {spec['type']} pool "
                                             f"definition built from these inputs: {'; '.join(errors[:3])}"))
        if spec.get("delete_storage_on_destroy") and isinstance(spec.get("type"), str):
            if not info(spec["type"]).deletable:
                failures.append(CheckFailure("delete_storage_on_destroy", f"libvirt cannot delete the storage of "
                                             f"a {spec['type']} pool; set it to false (the pool is undefined, "
                                             "its data kept)"))
        return failures

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return self.diff_from_paths(self.changed_inputs(olds, news))

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = self.canonical(props)

        def run(conn: Any) -> tuple[pools.PoolState, bool]:
            existing = pools.lookup(conn, name=spec["name"])
            if existing is not None:
                if not spec.get("adopt"):
                    raise LibvirtOpError(f"a pool named {spec['name']!r} already exists on this host (uuid "
                                         f"{existing.UUIDString()}); choose another name, or set adopt=true to "
                                         "manage it")
                return self._adopt(existing, spec), True
            return pools.create(conn, spec), False

        state, adopted = self.call(spec, run)
        return CreateResult(state.uuid, self._outputs(spec, state, adopted))

    def _adopt(self, pool: Any, spec: dict[str, Any]) -> pools.PoolState:
        current = pools.state(pool)
        differences = [f"{k}: host has {v!r}" for k, v in _xml_differences(spec, current.observed).items()]
        if differences:
            raise LibvirtOpError(f"adopt: pool {spec['name']!r} exists with another definition ("
                                 + "; ".join(differences) + "). Make the program match the host, or remove "
                                 "adopt and use another name.")
        pools.set_active(pool, spec.get("start", True))
        pools.set_autostart(pool, spec.get("autostart", True))
        return pools.state(pool)

    def _outputs(self, spec: dict[str, Any], state: pools.PoolState, adopted: bool) -> dict[str, Any]:
        return merge_outputs(self.schema, spec, {**state.outputs(), "adopted": adopted})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        state = self.call(props, lambda conn: pools.read(conn, id_))
        if state is None:
            return ReadResult(id_="", outs={})
        live = _as_live(self.inputs_only(props), state.observed)
        live["start"], live["autostart"] = state.active, state.autostart
        return ReadResult(id_=state.uuid, outs=self._outputs(live, state, bool(props.get("adopted"))))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        spec = self.canonical(news)
        paths = self.changed_inputs(olds, spec)
        restart = any(self.policy(p) & Policy.RESTART for p in paths)
        redefine = restart or any(p.split(".")[0] in _XML_FIELDS for p in paths)
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

        state = self.call(spec, run)
        return UpdateResult(self._outputs(spec, state, bool(olds.get("adopted"))))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        if props.get("adopted"):
            return  # adopted pools are released as they are
        self.call(props, lambda conn: pools.delete(conn, id_,
                                                   delete_storage=bool(props.get("delete_storage_on_destroy"))))


def _as_live(spec: dict[str, Any], observed: dict[str, Any]) -> dict[str, Any]:
    """`spec` with the live value (from the pool's XML) of every XML field the user set."""
    live = dict(spec)
    for key in _XML_FIELDS:
        if spec.get(key) is not None:
            live[key] = overlay(spec[key], observed.get(key))
    return live


def _xml_differences(spec: dict[str, Any], observed: dict[str, Any]) -> dict[str, Any]:
    live = _as_live(spec, observed)
    return {key: observed.get(key) for key in _XML_FIELDS if live.get(key) != spec.get(key)}
