"""The resources of this package, in one table: each one's name, schema, the dynamic provider class
that users' states name, its SDK module, and what deleting, replacing or creating it does to data.

Everything that lists the resources reads `RESOURCES`: the core (resources.LOGIC), both front ends'
type tokens, the package schema and the SDK generator, the CI guard, migrate-state, and the test that
holds the dynamic package to it. A resource added here is covered by all of them, the guard included;
one missing here exists for none of them.

Pure: no libvirt and nothing that imports it, so the guard and migrate-state run on any CI machine.
The data fates read stored outputs or planned inputs in the specs' snake_case names (the plugin's
camelCase ones are converted first, spec/names.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .fields import ResourceSchema, is_unknown
from .pool import POOL_SCHEMA
from .pooltypes import BUILD_OVERWRITE, POOL_TYPE_NAMES, info
from .secret import SECRET_KINDS, SECRET_SCHEMAS, SecretKind
from .volume import VOLUME_SCHEMA

PACKAGE = "libvirt-storage"


def token(name: str) -> str:
    """A token of the package schema, a resource's or a type's: libvirt-storage:index:NAME."""
    return f"{PACKAGE}:index:{name}"


@dataclass(frozen=True)
class DataFate:
    """What one planned step does to the data an object holds or unlocks."""

    text: str  # said to the user, e.g. "vm1.img in pool images is deleted: its data is lost"
    loses_data: bool  # whether data can be gone for good after the step


Props = dict[str, Any]


def _nothing_on_create(inputs: Props) -> DataFate | None:
    return None


@dataclass(frozen=True)
class ResourceType:
    """One resource type of this package."""

    name: str  # StoragePool; the last part of both front ends' type tokens
    schema: ResourceSchema
    # The pulumi.dynamic ResourceProvider, module path and class name: pickled by reference into every
    # resource's state, so it can never change once released.
    provider_class: str
    sdk_module: str  # the module of the generated SDKs: storage_pool
    # What deleting the object does to data, from its stored outputs.
    deleted: Callable[[Props], DataFate]
    # What replacing it does, from its stored outputs and the replacement's planned inputs ({} when the
    # preview does not show them).
    replaced: Callable[[Props, Props], DataFate]
    # What a first create does to data already on the host (None: nothing), from its planned inputs.
    created: Callable[[Props], DataFate | None] = field(default=_nothing_on_create)

    @property
    def dynamic_type(self) -> str:
        """The type token of the pulumi.dynamic front end (the SDK passes module=PACKAGE)."""
        return f"pulumi-python:dynamic/{PACKAGE}:{self.name}"

    @property
    def plugin_type(self) -> str:
        """The type token of the provider plugin (the package schema's)."""
        return token(self.name)

    @property
    def provider_module(self) -> str:
        return self.provider_class.rpartition(".")[0]

    @property
    def provider_class_name(self) -> str:
        return self.provider_class.rpartition(".")[2]


_RELEASED = DataFate("adopted: released as it is, data kept", False)


def _called(noun: str, name: Any) -> str:
    """"pool images", or "the pool" when the step carries no state to name it by."""
    return f"{noun} {name}" if name else f"the {noun}"


# -- StorageVolume ---------------------------------------------------------------------------------

def _volume_deleted(outputs: Props) -> DataFate:
    wipe = outputs.get("wipe_on_destroy")
    if outputs.get("adopted"):
        if wipe:  # the one way to wipe a LUN, which cannot be deleted
            return DataFate(f"adopted: released, but its data is WIPED first ({wipe})", True)
        return _RELEASED
    where = f"{outputs['name']} in pool {outputs.get('pool')}" if outputs.get("name") else "the volume"
    if wipe:
        return DataFate(f"{where} is wiped ({wipe}) and deleted: its data is lost", True)
    return DataFate(f"{where} is deleted: its data is lost", True)


def _volume_replaced(outputs: Props, inputs: Props) -> DataFate:
    # The old volume goes as on a delete; the new one is made empty, cloned or uploaded.
    return _volume_deleted(outputs)


# -- StoragePool -----------------------------------------------------------------------------------

def _reformats(inputs: Props) -> bool | None:
    """Whether creating a pool from these checked inputs formats its devices (build_mode overwrite, with
    build on, on a type that takes it: fs, logical, disk); None when the preview cannot tell yet."""
    mode, build, pool_type = inputs.get("build_mode"), inputs.get("build"), inputs.get("type")
    if mode is None or build is False or (not is_unknown(mode) and mode != BUILD_OVERWRITE):
        return False  # (check fills in build_mode's default, never overwrite)
    if is_unknown(mode) or is_unknown(build) or is_unknown(pool_type):
        return None
    if pool_type not in POOL_TYPE_NAMES or BUILD_OVERWRITE not in info(pool_type).build_modes:
        return False  # (check refuses it)
    return bool(info(pool_type).build_by_default if build is None else build)


def _devices(inputs: Props) -> str:
    source = inputs.get("source")
    devices = source.get("devices") if isinstance(source, dict) else None
    paths = [str(d.get("path")) for d in devices if isinstance(d, dict)] if isinstance(devices, list) else []
    return ", ".join(paths) or "its device"


def _pool_created(inputs: Props) -> DataFate | None:
    reformats = _reformats(inputs)
    if reformats is False:
        return None
    devices = _devices(inputs)
    if reformats is None:
        return DataFate(f"device may be reformatted: {devices} (build or build_mode is not known in the preview; "
                        "with build_mode overwrite whatever the device holds is lost)", True)
    return DataFate(f"device reformatted: {devices} is formatted anew (build_mode overwrite, {inputs['type']} pool): "
                    "whatever it holds is lost", True)


def _pool_deleted(outputs: Props) -> DataFate:
    if outputs.get("adopted"):
        return _RELEASED
    if outputs.get("delete_storage_on_destroy"):
        return DataFate(f"{_called('pool', outputs.get('name'))} is undefined and its storage DELETED "
                        "(delete_storage_on_destroy; refused while it holds volumes)", True)
    return DataFate(f"{_called('pool', outputs.get('name'))} is undefined; its storage and every volume in it are "
                    "kept", False)


def _pool_replaced(outputs: Props, inputs: Props) -> DataFate:
    old = _pool_deleted(outputs)
    if _reformats(inputs or outputs) is False:
        return old
    # Overwrite belongs to a resource's first create: its replacement takes the device as it finds it.
    return DataFate(f"{old.text}; the new pool uses {_devices(inputs or outputs)} as it is, or fails: device not "
                    "reformatted (build_mode overwrite applies on the first create only)", old.loses_data)


# -- secrets ---------------------------------------------------------------------------------------

def _secret_fates(kind: SecretKind) -> tuple[Callable[[Props], DataFate], Callable[[Props, Props], DataFate]]:
    # A passphrase that encrypts data (value_change_loses) is the one way into that data: without a copy
    # of the value, an undefined secret is data lost.
    opens_data = kind.value_change_loses is not None

    def deleted(outputs: Props) -> DataFate:
        if outputs.get("adopted"):
            return DataFate("adopted: released as it is, still defined", False)
        return DataFate(f"{_called('secret', outputs.get('usage_name'))} is undefined: {kind.while_undefined}",
                        opens_data)

    def replaced(outputs: Props, inputs: Props) -> DataFate:
        old = deleted(outputs)
        if outputs.get("adopted"):
            return old
        text = (f"{_called('secret', outputs.get('usage_name'))} is undefined, then defined again with the "
                f"program's value (in between, {kind.while_undefined})")
        old_uuid, new_uuid = outputs.get("uuid"), inputs.get("uuid")
        if old_uuid and isinstance(new_uuid, str) and new_uuid != old_uuid:
            shown = "not known yet" if is_unknown(new_uuid) else new_uuid
            text += f"; its uuid changes ({old_uuid} -> {shown}): whatever names the old uuid no longer finds it"
        return DataFate(text, opens_data)

    return deleted, replaced


def _secret(name: str, provider_class: str, sdk_module: str) -> ResourceType:
    deleted, replaced = _secret_fates(SECRET_KINDS[name])
    return ResourceType(name, SECRET_SCHEMAS[name], provider_class, sdk_module, deleted, replaced)


_DYNAMIC = "pulumi_libvirt_storage_provider.dynamic"

# In this order in the package schema, the SDK and the reference. The class paths are spelled out:
# they are in users' states and must not follow a rename.
RESOURCES: dict[str, ResourceType] = {r.name: r for r in (
    ResourceType("StoragePool", POOL_SCHEMA, f"{_DYNAMIC}.pool.StoragePoolProvider", "storage_pool",
                 _pool_deleted, _pool_replaced, _pool_created),
    ResourceType("StorageVolume", VOLUME_SCHEMA, f"{_DYNAMIC}.volume.StorageVolumeProvider", "storage_volume",
                 _volume_deleted, _volume_replaced),
    _secret("CephSecret", f"{_DYNAMIC}.secret.CephSecretProvider", "ceph_secret"),
    _secret("IscsiSecret", f"{_DYNAMIC}.secret.IscsiSecretProvider", "iscsi_secret"),
    _secret("VolumeSecret", f"{_DYNAMIC}.secret.VolumeSecretProvider", "volume_secret"),
    _secret("TlsSecret", f"{_DYNAMIC}.secret.TlsSecretProvider", "tls_secret"),
    _secret("VtpmSecret", f"{_DYNAMIC}.secret.VtpmSecretProvider", "vtpm_secret"),
)}


def resource_of_type(type_token: str) -> ResourceType | None:
    """The resource a type token of either front end names; None for anything else."""
    name = type_token.rpartition(":")[2]
    found = RESOURCES.get(name)
    return found if found is not None and type_token in (found.dynamic_type, found.plugin_type) else None
