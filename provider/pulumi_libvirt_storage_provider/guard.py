"""A CI guard over `pulumi preview --json`: every pool, volume or secret the preview would delete
or replace, what happens to its data, and a refusal unless each one is allowed by name.

    pulumi preview --json > preview.json
    pulumi-libvirt-storage guard preview.json --allow vm1-disk

Why a command and not a policy pack: Pulumi's policy analyzer is shown each resource's new inputs,
not the step the engine plans for it, so a policy cannot tell a replacement from an update. The
preview's JSON has the plan (`steps`, each with its op and the old state).
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Any, Iterable

from .resources import LOGIC
from .spec.names import from_wire

# The resources of this project, in both front ends (pulumi.dynamic types carry the module name).
_KINDS = {"StoragePool": "StoragePool", "StorageVolume": "StorageVolume", "CephSecret": "CephSecret"}
_DESTRUCTIVE = {"delete": "DELETE", "replace": "REPLACE", "delete-replaced": "REPLACE",
                "create-replacement": "REPLACE", "discard": "DELETE", "discard-replaced": "REPLACE"}


@dataclass
class Finding:
    kind: str  # StoragePool, StorageVolume, CephSecret
    name: str  # the Pulumi resource name
    urn: str
    action: str  # DELETE or REPLACE
    reasons: list[str]  # the properties that force a replacement
    data: str  # what happens to the data
    loses_data: bool

    def line(self) -> str:
        why = f" (replaced because of: {', '.join(self.reasons)})" if self.reasons else ""
        return f"{self.action:7} {self.kind} {self.name}: {self.data}{why}"


def _kind(type_token: str) -> str | None:
    tail = type_token.rsplit(":", 1)[-1]
    return _KINDS.get(tail)


def _data_fate(kind: str, outputs: dict[str, Any]) -> tuple[str, bool]:
    """What destroying this object does to data, from its stored outputs."""
    if outputs.get("adopted"):
        wipe = outputs.get("wipe_on_destroy")
        if kind == "StorageVolume" and wipe:
            return f"adopted: released, but its data is WIPED first ({wipe})", True
        return "adopted: released as it is, data kept", False
    if kind == "StorageVolume":
        where = f"{outputs.get('name')} in pool {outputs.get('pool')}"
        wipe = outputs.get("wipe_on_destroy")
        if wipe:
            return f"{where} is wiped ({wipe}) and deleted: its data is lost", True
        return f"{where} is deleted: its data is lost", True
    if kind == "StoragePool":
        if outputs.get("delete_storage_on_destroy"):
            return (f"pool {outputs.get('name')} is undefined and its storage DELETED "
                    "(delete_storage_on_destroy; refused while it holds volumes)"), True
        return f"pool {outputs.get('name')} is undefined; its storage and every volume in it are kept", False
    return (f"secret {outputs.get('usage_name')} is undefined: pools and disks that authenticate with it fail "
            "until it is back"), False


def findings(preview: dict[str, Any]) -> list[Finding]:
    """Every step of `preview` (the JSON of `pulumi preview --json`) that deletes or replaces a pool,
    volume or secret of this project."""
    found: dict[str, Finding] = {}
    for step in preview.get("steps", []):
        action = _DESTRUCTIVE.get(step.get("op", ""))
        urn = step.get("urn", "")
        old = step.get("oldState") or {}
        type_token = old.get("type") or (urn.split("::")[-2] if "::" in urn else "")
        kind = _kind(type_token)
        if action is None or kind is None:
            continue
        outputs = old.get("outputs") or {}
        if type_token.startswith("libvirt-storage:index:"):  # the provider plugin's names are camelCase
            outputs = from_wire(LOGIC[kind].schema, outputs)
        data, loses = _data_fate(kind, outputs)
        previous = found.get(urn)
        reasons = sorted(set(step.get("replaceReasons") or []) | set(previous.reasons if previous else []))
        found[urn] = Finding(kind, urn.split("::")[-1], urn, "REPLACE" if previous else action, reasons, data, loses)
    return sorted(found.values(), key=lambda f: (not f.loses_data, f.kind, f.name))


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
    print(f"guard: {len(found)} libvirt storage object(s) deleted or replaced by this preview:", file=out)
    for f in found:
        print(f"  {'allowed ' if f not in refused else 'REFUSED '} {f.line()}", file=out)
    if refused:
        names = " ".join(f"--allow {f.name}" for f in refused)
        print(f"guard: refusing: review the list above, then allow each one explicitly ({names})", file=out)
        return 1
    return 0
