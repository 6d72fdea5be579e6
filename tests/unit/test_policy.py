"""The field policy tables (ResourceSchema.policy) that check, diff, the SDK and the docs read."""

from __future__ import annotations

import pytest

from pulumi_libvirt_storage_provider.spec.fields import Field, Kind, Policy, ResourceSchema
from pulumi_libvirt_storage_provider.spec.pool import POOL_SCHEMA
from pulumi_libvirt_storage_provider.spec.secret import SECRET_SCHEMA, SECRET_SCHEMAS
from pulumi_libvirt_storage_provider.spec.volume import VOLUME_SCHEMA

R, U, RS, S, C, SECRET = (Policy.REPLACE, Policy.UPDATE, Policy.RESTART, Policy.STATE, Policy.COMPUTED,
                          Policy.SECRET)
SCHEMAS = [POOL_SCHEMA, VOLUME_SCHEMA, *SECRET_SCHEMAS.values()]


@pytest.mark.parametrize("key, policy", [
    ("StoragePool.type", R),
    ("StoragePool.name", R),
    ("StoragePool.target.path", R),
    ("StoragePool.source.name", R),
    ("StoragePool.source.devices", R),
    ("StoragePool.source.adapter", R),
    ("StoragePool.autostart", U),
    ("StoragePool.start", U),
    ("StoragePool.target.permissions", U),
    ("StoragePool.target.permissions.mode", U),
    ("StoragePool.cow", U),
    ("StoragePool.mount_options", RS),
    ("StoragePool.source.auth", RS),
    ("StoragePool.source.auth.username", RS),
    ("StoragePool.source.auth.secret_uuid", RS),
    ("StoragePool.source.hosts", RS),
    ("StoragePool.rbd_config_options", RS),
    ("StoragePool.delete_storage_on_destroy", S),
    ("StoragePool.build", S),
    ("StoragePool.adopt", S),
    ("StoragePool.uuid", R),
    ("StoragePool.target_path", C),
    ("StorageVolume.capacity", U),
    ("StorageVolume.format", R),
    ("StorageVolume.pool", R),
    ("StorageVolume.name", R),
    ("StorageVolume.backing_store", R),
    ("StorageVolume.backing_store.path", R),
    ("StorageVolume.allow_shrink", S),
    ("StorageVolume.wipe_on_destroy", S),
    ("StorageVolume.key", C),
    ("CephSecret.value", SECRET | U),
    ("CephSecret.usage_name", R),
    ("CephSecret.description", U),
    ("CephSecret.value_fingerprint", C | SECRET),
    ("IscsiSecret.value", SECRET | U),
    ("VolumeSecret.value", SECRET | U),
])
def test_policy_table_says_what_a_change_does(key, policy):
    table = {k: v for s in SCHEMAS for k, v in s.policy.items()}
    assert table[key] == policy


def test_secret_values_and_their_fingerprints_are_the_only_secret_fields_and_are_secret_outputs():
    secrets = [k for s in SCHEMAS for k, p in s.policy.items() if p & SECRET]
    assert secrets == [f"{kind}.{f}" for kind in ("CephSecret", "IscsiSecret", "VolumeSecret",
                                                             "TlsSecret", "VtpmSecret")
                       for f in ("value", "value_fingerprint")]
    for schema in SCHEMAS[2:]:
        assert schema.secret_outputs == ("value", "value_fingerprint")


def _walk(fields: tuple[Field, ...], prefix: str = ""):
    for f in fields:
        yield f"{prefix}{f.name}", f
        yield from _walk(f.fields, f"{prefix}{f.name}.")


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.name)
def test_every_field_has_a_doc(schema: ResourceSchema):
    assert schema.doc.strip()
    undocumented = [path for path, f in _walk(schema.inputs + schema.outputs) if not f.doc.strip()]
    assert undocumented == []


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.name)
def test_computed_means_output_and_outputs_are_computed(schema: ResourceSchema):
    assert [p for p, f in _walk(schema.inputs) if f.policy & C] == []
    assert [p for p, f in _walk(schema.outputs) if f.policy & ~SECRET != C] == []  # (a fingerprint is also secret)


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.name)
def test_policy_table_lists_every_field_nested_ones_too(schema: ResourceSchema):
    assert set(schema.policy) == {f"{schema.name}.{p}" for p, _ in _walk(schema.inputs + schema.outputs)}


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.name)
def test_every_input_field_has_exactly_one_change_behaviour(schema: ResourceSchema):
    for path, f in _walk(schema.inputs):
        behaviours = [p for p in (R, U, RS, S) if f.policy & p]
        assert len(behaviours) == 1, f"{path}: {f.policy}"


def test_enum_fields_list_their_values_and_objects_their_fields():
    for schema in SCHEMAS:
        for path, f in _walk(schema.inputs + schema.outputs):
            assert bool(f.values) == (f.kind is Kind.ENUM), path
            if f.kind is Kind.OBJECT:
                assert f.fields, path


def test_fields_inside_a_list_have_the_policy_diff_applies_to_the_list():
    # changed_paths compares lists as a whole, so the list's policy is what a change of an item does.
    mismatched = []
    for schema in SCHEMAS:
        for path, f in _walk(schema.inputs):
            if f.kind is Kind.LIST and f.fields:
                mismatched += [f"{schema.name}.{path}.{sub.name}" for sub in f.fields if sub.policy != f.policy]
    assert mismatched == []
