"""A guard in the style of virt-manager's XML coverage test: every pool input that maps to libvirt
XML is set by at least one spec of the round-trip tests (tests/unit/specs.py ROUND_TRIP_POOLS), so a
new field cannot be added to POOL_SCHEMA without a round-trip test of its XML."""

from __future__ import annotations

from typing import Any

from pulumi_libvirt_storage_provider.spec.fields import Field, Kind
from pulumi_libvirt_storage_provider.spec.pool import POOL_SCHEMA

from .specs import ROUND_TRIP_POOLS

# Inputs that are settings of the provider, not part of the pool XML ("__name_prefix" is not a field).
NOT_IN_XML = {"uri", "build", "build_mode", "start", "autostart", "delete_storage_on_destroy", "adopt"}


def _leaves(fields: tuple[Field, ...], prefix: str = "") -> set[str]:
    """Dotted paths of the scalar, map and scalar-list fields (objects and object lists recursed)."""
    paths: set[str] = set()
    for f in fields:
        path = f"{prefix}{f.name}"
        if f.fields:
            paths |= _leaves(f.fields, path + ".")
        else:
            paths.add(path)
    return paths


def _set_paths(raw: Any, prefix: str = "") -> set[str]:
    """Dotted paths a raw spec sets (list items merged, map values not descended into)."""
    paths: set[str] = set()
    if isinstance(raw, dict):
        for key, value in raw.items():
            path = f"{prefix}{key}"
            paths.add(path)
            if isinstance(value, dict) and key not in ("rbd_config_options",):
                paths |= _set_paths(value, path + ".")
            elif isinstance(value, list):
                for item in value:
                    paths |= _set_paths(item, path + ".")
    return paths


def test_every_xml_mapped_pool_field_is_set_by_a_round_trip_spec():
    mapped = {p for p in _leaves(POOL_SCHEMA.inputs) if p.split(".")[0] not in NOT_IN_XML}
    exercised: set[str] = {"name"}  # the round-trip test names every spec
    for raw in ROUND_TRIP_POOLS.values():
        exercised |= _set_paths(raw)
    assert mapped - exercised == set(), "pool fields without a round-trip test of their XML"


def test_guard_knows_every_top_level_pool_input():
    top = {f.name for f in POOL_SCHEMA.inputs}
    assert NOT_IN_XML <= top
    assert any(f.kind is Kind.MAP for f in POOL_SCHEMA.inputs)  # rbd_config_options, a leaf for the guard
    assert "source.adapter.parent_address.unique_id" in _leaves(POOL_SCHEMA.inputs)
    assert "source.hosts.port" in _leaves(POOL_SCHEMA.inputs)
