"""CephSecret against libvirtd's real secret driver: defined, set, rotated, redefined, adopted
and undefined through the provider; the key never appears in what the provider returns."""

from __future__ import annotations

import base64
import json
import os
import uuid

import libvirt
import pytest

from pulumi_libvirt_storage_provider.ops.errors import LibvirtOpError

from .conftest import checked, secret_usages, unique, virsh, xml_of

pytestmark = pytest.mark.libvirtd


def new_key() -> str:
    return base64.b64encode(os.urandom(16)).decode()


def update_inputs(secrets, made, **changes) -> dict:
    return checked(secrets.provider, {**made.inputs, **changes}, made.inputs)


def assert_key_absent(outputs: dict, key: str) -> None:
    text = json.dumps(outputs, sort_keys=True)
    raw = base64.b64decode(key)
    assert key not in text
    assert raw not in text.encode() and raw.hex() not in text
    assert "value" not in outputs


def test_create_defines_a_private_persistent_ceph_secret_whose_value_cannot_be_read(secrets, conn) -> None:
    key = new_key()
    made = secrets.create(value=key, description="cephx key of client.libvirt")
    secret = conn.secretLookupByUUIDString(made.id)

    assert secret.usageType() == libvirt.VIR_SECRET_USAGE_TYPE_CEPH
    assert secret.usageID() == made.inputs["usage_name"]
    definition = xml_of(secret.XMLDesc(0))
    assert definition.get("private") == "yes" and definition.get("ephemeral") == "no"
    assert definition.findtext("description") == "cephx key of client.libvirt"
    with pytest.raises(libvirt.libvirtError) as refused:
        secret.value()
    assert refused.value.get_error_code() == libvirt.VIR_ERR_INVALID_SECRET
    assert made.outs["uuid"] == made.id and made.outs["adopted"] is False
    assert made.outs["value_fingerprint"]


def test_a_public_secret_reads_back_the_decoded_key(secrets, conn) -> None:
    key = new_key()
    made = secrets.create(value=key, private=False)

    assert conn.secretLookupByUUIDString(made.id).value() == base64.b64decode(key)
    assert xml_of(conn.secretLookupByUUIDString(made.id).XMLDesc(0)).get("private") == "no"


@pytest.mark.parametrize("private", [True, False])
def test_outputs_carry_uuid_and_fingerprint_but_never_the_key(secrets, private) -> None:
    key, rotated = new_key(), new_key()
    made = secrets.create(value=key, private=private)
    assert made.outs["uuid"] == made.id and made.outs["value_fingerprint"].startswith("pbkdf2-sha256:")
    assert_key_absent(made.outs, key)

    read = secrets.provider.read(made.id, made.outs)
    assert read.outs["value_fingerprint"] == made.outs["value_fingerprint"]
    assert_key_absent(read.outs, key)

    updated = secrets.provider.update(made.id, made.outs, update_inputs(secrets, made, value=rotated)).outs
    assert_key_absent(updated, key)
    assert_key_absent(updated, rotated)


def test_a_new_value_is_set_in_place_and_changes_the_fingerprint(secrets, conn) -> None:
    made = secrets.create(value=new_key())
    news = update_inputs(secrets, made, value=new_key())

    diff = secrets.provider.diff(made.id, made.outs, news)
    assert diff.changes and diff.replaces == []
    outs = secrets.provider.update(made.id, made.outs, news).outs
    assert outs["uuid"] == made.id and conn.secretLookupByUUIDString(made.id).usageID() == made.inputs["usage_name"]
    assert outs["value_fingerprint"] != made.outs["value_fingerprint"]
    assert not secrets.provider.diff(made.id, outs, news).changes


def test_a_new_value_of_a_public_secret_reads_back_changed(secrets, conn) -> None:
    made = secrets.create(value=new_key(), private=False)
    rotated = new_key()

    outs = secrets.provider.update(made.id, made.outs, update_inputs(secrets, made, value=rotated)).outs
    assert outs["uuid"] == made.id
    assert conn.secretLookupByUUIDString(made.id).value() == base64.b64decode(rotated)
    assert secrets.provider.read(made.id, outs).outs["value_fingerprint"] == outs["value_fingerprint"]


def test_a_description_change_redefines_in_place_and_keeps_the_value(secrets, conn) -> None:
    key = new_key()
    made = secrets.create(value=key, private=False, description="before")
    news = update_inputs(secrets, made, description="after")

    diff = secrets.provider.diff(made.id, made.outs, news)
    assert diff.changes and diff.replaces == []
    outs = secrets.provider.update(made.id, made.outs, news).outs
    secret = conn.secretLookupByUUIDString(made.id)
    assert xml_of(secret.XMLDesc(0)).findtext("description") == "after"
    assert secret.value() == base64.b64decode(key)
    assert outs["uuid"] == made.id and outs["description"] == "after"
    assert outs["value_fingerprint"] == made.outs["value_fingerprint"]


def test_a_fixed_uuid_is_honoured(secrets, conn) -> None:
    fixed = uuid.uuid4()
    made = secrets.create(value=new_key(), uuid=fixed.hex.upper())  # normalised by check

    assert made.id == str(fixed) == made.outs["uuid"]
    assert conn.secretLookupByUUIDString(str(fixed)).usageID() == made.inputs["usage_name"]


def test_an_existing_usage_name_fails_unless_adopt(secrets, conn) -> None:
    usage = unique("secret")
    secrets.cleanup.secret_usages.append(usage)
    existing = conn.secretDefineXML(f"<secret ephemeral='no' private='no'><usage type='ceph'><name>{usage}</name>"
                                    "</usage></secret>", 0)
    key = new_key()

    with pytest.raises(LibvirtOpError) as failure:
        secrets.provider.create(secrets.inputs(usage_name=usage, value=key, private=False))
    assert usage in str(failure.value) and "adopt" in str(failure.value)

    adopted = secrets.create(usage_name=usage, value=key, private=False, adopt=True)
    assert adopted.id == existing.UUIDString() and adopted.outs["adopted"] is True
    assert existing.value() == base64.b64decode(key)  # adoption sets the program's value

    secrets.provider.delete(adopted.id, adopted.outs)
    assert usage in secret_usages(conn)  # released, not undefined


def test_delete_undefines_the_secret(secrets, conn) -> None:
    made = secrets.create(value=new_key())

    secrets.provider.delete(made.id, made.outs)
    assert made.inputs["usage_name"] not in secret_usages(conn)
    assert made.id not in virsh("secret-list")


def test_read_returns_an_empty_id_after_an_out_of_band_undefine(secrets) -> None:
    made = secrets.create(value=new_key())
    virsh("secret-undefine", made.id)

    result = secrets.provider.read(made.id, made.outs)
    assert result.id == "" and result.outs == {}
