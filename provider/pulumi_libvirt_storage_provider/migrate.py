"""Move a stack from the dynamic front end to the provider plugin without touching the host:
rewrite its exported state so that every pool, volume and secret of the dynamic provider becomes
the same resource of the plugin (same id, same names, same storage), then import it back.

    pulumi stack export --file before.json
    pulumi-libvirt-storage migrate-state before.json > after.json
    pulumi stack import --file after.json
    # the program: from pulumi_libvirt_storage_native import ... (pool=pool.name for volumes)
    pulumi preview --expect-no-changes

Why a state rewrite and not aliases: an alias may change a resource's type but not its provider,
and a resource whose provider changes is replaced; for storage that would mean its data.
What changes per resource: the type (`pulumi-python:dynamic/libvirt-storage:X` becomes
`libvirt-storage:index:X`) and so the URN, every reference to that URN (parents, dependencies),
the provider reference (the plugin's default provider, added to the state), and the property names
(snake_case becomes the schema's camelCase). Values, secrets included, are copied as they are.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from . import __version__
from .spec.names import to_wire
from .spec.registry import PACKAGE, RESOURCES

# Every resource of the registry, by its dynamic type. (No libvirt is needed: a state is rewritten
# on any machine.)
_BY_DYNAMIC_TYPE = {r.dynamic_type: r for r in RESOURCES.values()}
_SDK_KEYS = ("__provider",)  # the dynamic provider's own key: gone with it


def _new_urn(urn: str, types: dict[str, str]) -> str:
    """The URN with every dynamic type in its type chain replaced (children of components keep
    their parents' types)."""
    head, _, name = urn.rpartition("::")
    prefix, _, chain = head.rpartition("::")
    parts = [types.get(t, t) for t in chain.split("$")]
    return f"{prefix}::{'$'.join(parts)}::{name}"


def migrate(export: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """(the rewritten `pulumi stack export` document, how many resources moved)."""
    out = copy.deepcopy(export)
    deployment = out.get("deployment") or {}
    resources: list[dict[str, Any]] = deployment.get("resources") or []
    types = {dynamic: r.plugin_type for dynamic, r in _BY_DYNAMIC_TYPE.items()}
    moved = [r for r in resources if r.get("type") in types]
    if not moved:
        return out, 0
    renamed = {r["urn"]: _new_urn(r["urn"], types) for r in resources}
    stack_urn = next((r["urn"] for r in resources if r.get("type") == "pulumi:pulumi:Stack"), moved[0]["urn"])
    prefix = stack_urn.split("::")[0] + "::" + stack_urn.split("::")[1]
    version = __version__.replace(".", "_")
    provider_urn = f"{prefix}::pulumi:providers:{PACKAGE}::default_{version}"
    provider_id = str(uuid.uuid4())
    existing = next((r for r in resources if r["urn"] == provider_urn), None)
    if existing is None:
        existing = {"urn": provider_urn, "custom": True, "id": provider_id, "type": f"pulumi:providers:{PACKAGE}",
                    "inputs": {"version": __version__}, "outputs": {"version": __version__}}
        first = resources.index(moved[0])
        resources.insert(first, existing)
    provider_ref = f"{provider_urn}::{existing['id']}"

    for r in resources:
        r["urn"] = renamed.get(r["urn"], r["urn"])
        if r.get("parent"):
            r["parent"] = renamed.get(r["parent"], r["parent"])
        if r.get("dependencies"):
            r["dependencies"] = [renamed.get(d, d) for d in r["dependencies"]]
        if r.get("propertyDependencies"):
            r["propertyDependencies"] = {k: [renamed.get(d, d) for d in v]
                                         for k, v in r["propertyDependencies"].items()}
        if r.get("deletedWith"):
            r["deletedWith"] = renamed.get(r["deletedWith"], r["deletedWith"])
    for r in moved:
        schema = _BY_DYNAMIC_TYPE[r["type"]].schema
        r["type"] = types[r["type"]]
        r["provider"] = provider_ref
        for key in ("inputs", "outputs"):
            props = {k: v for k, v in (r.get(key) or {}).items() if k not in _SDK_KEYS}
            r[key] = to_wire(schema, props)
        if r.get("propertyDependencies"):
            r["propertyDependencies"] = to_wire(schema, r["propertyDependencies"])
    return out, len(moved)
