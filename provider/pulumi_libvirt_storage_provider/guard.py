"""A CI guard over `pulumi preview --json`: every pool, volume or secret the preview would delete
or replace, every pool whose create formats its device (build_mode overwrite), what happens to the
data, and a refusal unless each one is allowed by name. It covers every resource of the registry
(spec/registry.py), on both front ends' type tokens, and needs no libvirt.

    pulumi preview --json > preview.json
    pulumi-libvirt-storage guard preview.json --allow vm1-disk

Why a command and not a policy pack: Pulumi's policy analyzer is shown each resource's new inputs,
not the step the engine plans for it, so a policy cannot tell a replacement from an update. The
preview's JSON has the plan (`steps`, each with its op, the old state and the planned inputs).
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from typing import Any, Iterable

# The registry and the names only: the guard runs on CI machines without libvirt.
from .spec.names import from_wire
from .spec.registry import ResourceType, resource_of_type

_DELETES = {"delete", "discard"}
_REPLACES = {"replace", "create-replacement", "delete-replaced", "discard-replaced", "import-replacement"}
# A first create: the one step where build_mode overwrite formats a pool's device.
_CREATES = {"create"}


@dataclass
class Finding:
    kind: str  # the resource type: StoragePool, StorageVolume, CephSecret, ...
    name: str  # the Pulumi resource name
    urn: str
    action: str  # DELETE, REPLACE or CREATE
    reasons: list[str]  # the properties that force a replacement
    data: str  # what happens to the data
    loses_data: bool

    def line(self) -> str:
        why = f" (replaced because of: {', '.join(self.reasons)})" if self.reasons else ""
        return f"{self.action:7} {self.kind} {self.name}: {self.data}{why}"


@dataclass
class _Planned:
    """Every step the preview plans for one resource (a replacement is two or three)."""

    resource: ResourceType
    ops: set[str] = field(default_factory=set)
    reasons: set[str] = field(default_factory=set)
    old_outputs: dict[str, Any] = field(default_factory=dict)
    new_inputs: dict[str, Any] = field(default_factory=dict)


def _properties(resource: ResourceType, type_token: str, state: dict[str, Any] | None, key: str) -> dict[str, Any]:
    props = (state or {}).get(key) or {}
    # The provider plugin's names are camelCase; the registry reads the specs' snake_case.
    return from_wire(resource.schema, props) if type_token == resource.plugin_type else dict(props)


def _type_in_urn(urn: str) -> str:
    """The resource's type from its URN (its type part is a chain, parent$child, under a parent)."""
    return urn.split("::")[-2].rpartition("$")[2] if urn.count("::") >= 2 else ""


def _finding(urn: str, plan: _Planned) -> Finding | None:
    r = plan.resource
    if plan.ops & _REPLACES:
        action, fate = "REPLACE", r.replaced(plan.old_outputs, plan.new_inputs)
    elif plan.ops & _DELETES:
        action, fate = "DELETE", r.deleted(plan.old_outputs)
    elif plan.ops & _CREATES and (created := r.created(plan.new_inputs)) is not None:
        action, fate = "CREATE", created
    else:
        return None
    return Finding(r.name, urn.split("::")[-1], urn, action, sorted(plan.reasons), fate.text, fate.loses_data)


def findings(preview: dict[str, Any]) -> list[Finding]:
    """Every resource of this package that `preview` (the JSON of `pulumi preview --json`) deletes or
    replaces, or whose create formats a device."""
    planned: dict[str, _Planned] = {}
    for step in preview.get("steps", []):
        op, urn = step.get("op", ""), step.get("urn", "")
        if op not in _DELETES | _REPLACES | _CREATES:
            continue
        old, new = step.get("oldState") or {}, step.get("newState") or {}
        type_token = old.get("type") or new.get("type") or _type_in_urn(urn)
        resource = resource_of_type(type_token)
        if resource is None:
            continue
        plan = planned.setdefault(urn, _Planned(resource))
        plan.ops.add(op)
        plan.reasons.update(step.get("replaceReasons") or [])
        plan.old_outputs = plan.old_outputs or _properties(resource, type_token, old, "outputs")
        plan.new_inputs = plan.new_inputs or _properties(resource, type_token, new, "inputs")
    found = [f for urn, plan in planned.items() if (f := _finding(urn, plan)) is not None]
    return sorted(found, key=lambda f: (not f.loses_data, f.kind, f.name))


def allowed(finding: Finding, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(finding.name, p) or fnmatch.fnmatchcase(finding.urn, p) for p in patterns)


def run(preview_text: str, allow: list[str], out: Any) -> int:
    """Print the report; 0 when nothing destructive is planned or all of it is allowed, 1 otherwise,
    2 when the input is not a preview."""
    try:
        preview = json.loads(preview_text)
    except ValueError as e:
        print(f"guard: the input is not the JSON of `pulumi preview --json`: {e}", file=out)
        return 2
    if not isinstance(preview, dict) or "steps" not in preview:
        print("guard: the input has no 'steps': give the output of `pulumi preview --json`", file=out)
        return 2
    found = findings(preview)
    if not found:
        print("guard: no libvirt pool, volume or secret is deleted or replaced by this preview", file=out)
        return 0
    refused = [f for f in found if not allowed(f, allow)]
    what = "deleted, replaced or reformatted" if any(f.action == "CREATE" for f in found) else "deleted or replaced"
    print(f"guard: {len(found)} libvirt storage object(s) {what} by this preview:", file=out)
    for f in found:
        print(f"  {'allowed ' if f not in refused else 'REFUSED '} {f.line()}", file=out)
    if refused:
        names = " ".join(f"--allow {f.name}" for f in refused)
        print(f"guard: refusing: review the list above, then allow each one explicitly ({names})", file=out)
        return 1
    return 0
