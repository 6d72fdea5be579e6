"""StorageVolumeProvider. The class path is stored in state: never rename or move it."""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult

from ..ops import pools, volumes
from ..ops.errors import LibvirtOpError
from ..spec.fields import is_unknown
from ..spec.pooltypes import info
from ..spec.volume import VOLUME_SCHEMA, check_volume
from .base import LibvirtProvider, merge_outputs, whole_numbers


class StorageVolumeProvider(LibvirtProvider):
    schema = VOLUME_SCHEMA
    validate = staticmethod(check_volume)

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return self.run_check(olds, news, check_volume)

    def check_transition(self, olds: dict[str, Any], spec: dict[str, Any]) -> list[CheckFailure]:
        old_cap, new_cap = olds.get("capacity"), spec.get("capacity")
        if (isinstance(old_cap, (int, float)) and isinstance(new_cap, int) and not is_unknown(new_cap)
                and new_cap < old_cap and not spec.get("allow_shrink")
                and all(olds.get(k) == spec.get(k) for k in ("pool", "name", "format"))):
            return [CheckFailure("capacity", f"shrinking from {int(old_cap)} to {new_cap} bytes would lose the data "
                                 "past the new end; set allow_shrink=true to shrink anyway")]
        return []

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # pool_type is both an optional input and the pool's live type: only a given one counts.
        paths = self.changed_inputs(olds, news, skip=() if news.get("pool_type") is not None else ("pool_type",))
        result = self.diff_from_paths(paths)
        pool_type = olds.get("pool_type")
        if "capacity" in paths and not result.replaces and isinstance(pool_type, str):
            if not info(pool_type).volume_resize and not olds.get("adopted"):
                raise LibvirtOpError(f"capacity: volumes of a {pool_type} pool cannot be resized by libvirt; keep "
                                     f"capacity at {olds.get('capacity')} or create a new volume")
        return result

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = self.canonical(props)
        name = spec["name"]

        def run(conn: Any) -> tuple[volumes.VolumeState, bool]:
            pool = volumes.active_pool(conn, spec["pool"])
            existing = volumes.find(pool, name)
            if existing is not None:
                if not spec.get("adopt"):
                    raise LibvirtOpError(f"a volume named {name!r} already exists in pool {spec['pool']!r}; choose "
                                         "another name, or set adopt=true to manage it")
                return existing, True
            if spec.get("adopt") and spec.get("capacity") is None and not (spec.get("clone_from")
                                                                           or spec.get("upload_from")):
                raise LibvirtOpError(f"adopt: no volume named {name!r} in pool {spec['pool']!r}, and without "
                                     "capacity there is nothing to create")
            return volumes.create(conn, spec, name, pool), False

        state, adopted = self.call(spec, run)
        return CreateResult(state.observed["key"], self._outputs(spec, state, adopted))

    def _outputs(self, spec: dict[str, Any], state: volumes.VolumeState, adopted: bool) -> dict[str, Any]:
        return merge_outputs(self.schema, spec, {**state.outputs(), "adopted": adopted})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        def run(conn: Any) -> volumes.VolumeState | str | None:
            found = volumes.by_key(conn, id_, props.get("pool"), props.get("name"))
            if found is None:
                # libvirt finds volumes of active pools only: a stopped pool is not a deleted volume.
                pool = pools.lookup(conn, name=props.get("pool"))
                if pool is not None and not pool.isActive():
                    return "inactive"
                return None
            return volumes.current_state(*found)

        state = self.call(props, run)
        if state is None:
            return ReadResult(id_="", outs={})
        if state == "inactive":
            return ReadResult(id_=id_, outs={k: v for k, v in props.items() if k != "__provider"})
        live = self.inputs_only(props)
        observed = state.observed
        live["name"], live["pool"] = observed.get("name"), state.pool
        if live.get("format") is not None:
            live["format"] = observed.get("format")
        cap, live_cap = live.get("capacity"), observed.get("capacity")
        # libvirt and qemu round some sizes (partitions, LVM extents, vpc geometry): the capacity
        # reported right after our create/resize is the user's capacity, not drift.
        if cap is not None and live_cap is not None and live_cap != props.get("current_capacity"):
            live["capacity"] = live_cap
        return ReadResult(id_=id_, outs=self._outputs(live, state, bool(props.get("adopted"))))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        spec = self.canonical(news)

        def run(conn: Any) -> volumes.VolumeState:
            found = volumes.by_key(conn, id_, olds.get("pool"), olds.get("name"))
            if found is None:
                raise LibvirtOpError(f"volume {id_} no longer exists; run `pulumi refresh` so that it is created "
                                     "again")
            pool, vol = found
            if spec.get("capacity") is not None and spec.get("capacity") != olds.get("capacity"):
                current = olds.get("current_capacity")
                volumes.resize(vol, spec["capacity"], allow_shrink=bool(spec.get("allow_shrink")),
                               current=int(current) if isinstance(current, (int, float)) else None)
                if isinstance(olds.get("pool_type"), str) and isinstance(olds.get("disk"), dict):
                    known_disk = (olds["pool_type"], whole_numbers(olds["disk"]))
                    return volumes.state_of(pool, vol, known_disk=known_disk)
            return volumes.state_of(pool, vol)

        state = self.call(spec, run)
        return UpdateResult(self._outputs(spec, state, bool(olds.get("adopted"))))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        if props.get("adopted"):
            # Adopted volumes (and LUNs) are released, never deleted; their data is wiped first only
            # when the program asked for it (the one way to wipe a LUN, which cannot be deleted).
            if props.get("wipe_on_destroy"):
                self.call(props, lambda conn: volumes.wipe(conn, id_, props["wipe_on_destroy"],
                                                           pool_name=props.get("pool"), name=props.get("name")))
            return
        self.call(props, lambda conn: volumes.delete(conn, id_, wipe=props.get("wipe_on_destroy"),
                                                     pool_name=props.get("pool"), name=props.get("name"),
                                                     pool_type=props.get("pool_type")))
