"""The Pulumi package schema of `libvirt-storage`, built from the specs: what the provider plugin
answers to GetSchema, what Pulumi's code generators read (sdk/schema.json), in Pulumi's camelCase
property convention (each SDK generator maps it to its language's style)."""

from __future__ import annotations

import json
from typing import Any

from . import __version__
from .ops.uri_safety import ALLOW_DOC, ALLOW_PROPERTY
from .spec.fields import Field, Kind, Policy, ResourceSchema
from .spec.names import camel
from .spec.pooltypes import (BUILD_NO_OVERWRITE, BUILD_NORMAL, BUILD_OVERWRITE, DISK_FORMATS, FS_FORMATS,
                             LOGICAL_FORMATS, NETFS_FORMATS, POOL_TYPE_NAMES, VOLUME_FORMATS)
from .spec.registry import PACKAGE, RESOURCES, token
from .spec.volume import WIPE_ALGORITHMS

SCHEMAS: tuple[ResourceSchema, ...] = tuple(r.schema for r in RESOURCES.values())
ENUMS = {"PoolType": POOL_TYPE_NAMES, "WipeAlgorithm": WIPE_ALGORITHMS, "VolumeFormat": VOLUME_FORMATS,
         "SourceFormat": tuple(dict.fromkeys(FS_FORMATS + NETFS_FORMATS + DISK_FORMATS + LOGICAL_FORMATS)),
         "BuildMode": (BUILD_NORMAL, BUILD_NO_OVERWRITE, BUILD_OVERWRITE)}
_TYPES = {Kind.STRING: "string", Kind.INTEGER: "integer", Kind.BOOLEAN: "boolean", Kind.MODE: "string",
          Kind.UID: "integer", Kind.PATH: "string", Kind.ENUM: "string"}
URI_DOC = ("libvirt connection URI of the host, e.g. qemu+ssh://root@kvm1/system; else the stack config "
           "libvirt-storage:uri, else LIBVIRT_DEFAULT_URI, else libvirt's default.")


def enum_const(value: str) -> str:
    const = value.upper().replace("-", "_").replace(".", "_").replace("+", "_PLUS")
    return "_" + const if const[0].isdigit() else const


def policy_note(f: Field) -> str:
    if f.policy & Policy.SECRET:
        return "(secret; changes in place) "
    if f.policy & Policy.REPLACE:
        return "(changing it replaces the resource) "
    if f.policy & Policy.STATE:
        return "(a setting of this provider; no change on the host) "
    return "(changes in place) "


def _type_name(owner: str, f: Field) -> str:
    name = f.name.rstrip("s") if f.kind is Kind.LIST else f.name
    return owner + "".join(p[:1].upper() + p[1:] for p in name.split("_"))


def _property(f: Field, owner: str, types: dict[str, Any], output: bool = False) -> dict[str, Any]:
    prop: dict[str, Any] = {"description": policy_note(f) + f.doc}
    if f.kind is Kind.SIZE:
        prop.update({"type": "integer"} if output else {"oneOf": [{"type": "integer"}, {"type": "string"}]})
    elif f.kind is Kind.OBJECT or (f.kind is Kind.LIST and f.fields):
        name = _type_name(owner, f)
        types[token(name)] = {"type": "object", "description": f.doc,
                              "properties": {camel(sub.name): _property(sub, name, types) for sub in f.fields},
                              "required": [camel(sub.name) for sub in f.fields if sub.required]}
        ref = {"$ref": f"#/types/{token(name)}"}
        prop.update({"type": "array", "items": ref} if f.kind is Kind.LIST else ref)
    elif f.kind is Kind.LIST:
        prop.update({"type": "array", "items": {"type": _TYPES[f.item or Kind.STRING]}})
    elif f.kind is Kind.MAP:
        prop.update({"type": "object", "additionalProperties": {"$ref": "pulumi.json#/Any"} if output
                     else {"type": "string"}})
    else:
        prop["type"] = _TYPES[f.kind]
        if f.kind is Kind.ENUM and not output:
            prop["description"] += " One of: " + ", ".join(f.values) + "."
    if f.default is not None:
        prop["default"] = f.default
    if f.policy & Policy.SECRET:
        prop["secret"] = True
    # No replaceOnChanges: Pulumi's code generators turn it into the replace_on_changes resource
    # option, which makes the engine replace on any change under the property. The provider's Diff
    # decides (target.permissions changes in place under a replacing target; a uri written another
    # way is no change at all); the description says what a change does.
    return prop


def package_schema() -> dict[str, Any]:
    types: dict[str, Any] = {}
    resources: dict[str, Any] = {}
    for schema in SCHEMAS:
        inputs = {camel(f.name): _property(f, schema.name, types) for f in schema.inputs}
        outputs = {camel(f.name): _property(f, schema.name, types, output=True)
                   for f in schema.inputs + schema.outputs
                   if not (f.policy & Policy.SECRET and not f.policy & Policy.COMPUTED)}
        resources[token(schema.name)] = {
            "description": schema.doc + "\n\n## Example\n\n```python\n" + schema.example + "\n```",
            "inputProperties": inputs,
            "requiredInputs": [camel(f.name) for f in schema.inputs if f.required],
            "properties": outputs,
            "required": [camel(f.name) for f in schema.outputs],
        }
    for name, values in ENUMS.items():
        types[token(name)] = {"type": "string", "enum": [{"name": enum_const(v), "value": v} for v in values]}
    return {
        "name": PACKAGE,
        "displayName": "libvirt storage",
        "version": __version__,
        "description": "Pools of every libvirt type, their volumes and the secrets they use (cephx keys, CHAP passwords, LUKS and vTPM passphrases).",
        "keywords": ["pulumi", "libvirt", "kvm", "storage", "ceph", "rbd", "gluster", "iscsi", "category/infrastructure"],
        "license": "Apache-2.0",
        # allowUnsafeUris: a variable and a provider input of the same name, so that the stack config
        # libvirt-storage:allowUnsafeUris reaches the default provider (and the dynamic provider reads the
        # same key); an explicit Provider takes it as an argument. Not an output: nothing reads it back.
        "config": {"variables": {"uri": {"type": "string", "description": URI_DOC},
                                 ALLOW_PROPERTY: {"type": "boolean", "description": ALLOW_DOC}}},
        "provider": {"description": "The libvirt-storage provider: one per libvirt host.",
                     "inputProperties": {"uri": {"type": "string", "description": URI_DOC},
                                         ALLOW_PROPERTY: {"type": "boolean", "description": ALLOW_DOC}},
                     "properties": {"uri": {"type": "string", "description": URI_DOC}}},
        "language": {"python": {"packageName": "pulumi_libvirt_storage_native",
                                "respectSchemaVersion": True,
                                "pyproject": {"enabled": True}}},
        "resources": resources,
        "types": dict(sorted(types.items())),
    }


def package_schema_json() -> str:
    return json.dumps(package_schema(), indent=2, sort_keys=False) + "\n"
