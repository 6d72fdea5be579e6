"""Pools and secrets given an explicit `uuid` after a lost connection (issue 20, item 7), against the
real libvirtd: a create whose reply was lost (it ran on the host, then ConnectionLost) is followed by
the rerun a user makes, with the same inputs.

Measured before the fix: only objects whose uuid the resource derives from its seed were recognised as
its own; with an explicit uuid the rerun failed with "already exists" and the object was stranded.
"""

from __future__ import annotations

import pathlib
import uuid as uuidlib
from typing import Any, Iterator

import libvirt
import pytest

from pulumi_libvirt_storage_provider.ops.errors import ConnectionLost, LibvirtOpError
from pulumi_libvirt_storage_provider.resources import POOLS, VOLUME_SECRETS, Context
from pulumi_libvirt_storage_provider.resources.base import derived_uuid
from tests.support.lost_reply import lose_the_next_reply

from .conftest import URI, Cleanup, unique

pytestmark = pytest.mark.libvirtd
CTX = Context()


def checked(logic: Any, raw: dict[str, Any]) -> dict[str, Any]:
    result = logic.check({}, raw, CTX)
    assert not result.failures, [(f.prop, f.reason) for f in result.failures]
    return result.inputs


@pytest.fixture
def intents_home(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """Intents (resources/intents.py) of this test only."""
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def volume_secrets(conn: libvirt.virConnect) -> Iterator[list[str]]:
    """Usages of volume secrets the test may leave; undefined at the end."""
    usages: list[str] = []
    yield usages
    for usage in usages:
        try:
            conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_VOLUME, usage).undefine()
        except libvirt.libvirtError as e:
            assert e.get_error_code() == libvirt.VIR_ERR_NO_SECRET, e


# -- pools --------------------------------------------------------------------------------------

def dir_pool_inputs(cleanup: Cleanup, tmp_path: pathlib.Path, **extra: Any) -> dict[str, Any]:
    name = unique("uuidpool")
    path = tmp_path / name
    cleanup.pools.append(name)
    cleanup.paths.append(path)
    return checked(POOLS, {"name": name, "type": "dir", "uri": URI, "target": {"path": str(path)},
                           "__seed": f"urn:pulumi:test::proj::libvirt-storage:index:StoragePool::{name}",
                           "__name_prefix": "pool", **extra})


def test_a_pool_with_an_explicit_uuid_whose_create_lost_its_reply_is_taken_over_on_the_rerun(
        cleanup: Cleanup, conn, intents_home, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uuid = str(uuidlib.uuid4())
    inputs = dir_pool_inputs(cleanup, tmp_path, uuid=uuid)
    lose_the_next_reply(monkeypatch)
    with pytest.raises(ConnectionLost):
        POOLS.create(inputs, CTX)
    left = conn.storagePoolLookupByName(inputs["name"])
    assert left.UUIDString() == uuid and left.isActive(), "the lost create made the pool"
    data = pathlib.Path(inputs["target"]["path"]) / "data.txt"
    data.write_text("kept")

    pool_id, outs = POOLS.create(inputs, CTX)  # the rerun
    assert pool_id == uuid and outs["uuid"] == uuid and outs["adopted"] is False
    assert conn.storagePoolLookupByName(inputs["name"]).isActive()
    assert data.read_text() == "kept"
    POOLS.delete(pool_id, outs, CTX)  # managed as any pool it made
    with pytest.raises(libvirt.libvirtError):
        conn.storagePoolLookupByName(inputs["name"])


def test_a_pool_of_that_name_and_uuid_with_another_definition_is_refused_and_left_as_it_is(
        cleanup: Cleanup, conn, intents_home, tmp_path: pathlib.Path) -> None:
    """The take-over is for the pool the program declares: a definition that differs (here its target)
    is refused with the way out, never redefined. (Refused before the fix too, as 'already exists'.)"""
    uuid = str(uuidlib.uuid4())
    inputs = dir_pool_inputs(cleanup, tmp_path, uuid=uuid)
    elsewhere = tmp_path / "elsewhere"
    cleanup.paths.append(elsewhere)
    theirs = conn.storagePoolDefineXML(f"<pool type='dir'><name>{inputs['name']}</name><uuid>{uuid}</uuid>"
                                       f"<target><path>{elsewhere}</path></target></pool>", 0)
    with pytest.raises(LibvirtOpError, match="already exists"):
        POOLS.create(inputs, CTX)
    assert str(elsewhere) in theirs.XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE) and not theirs.isActive()


# -- secrets ------------------------------------------------------------------------------------

def secret_inputs(usage: str, value: str, uuid: str | None) -> dict[str, Any]:
    raw = {"usage_name": usage, "value": value, "private": False, "uri": URI,
           "__seed": f"urn:pulumi:test::proj::libvirt-storage:index:VolumeSecret::{usage}", "__name_prefix": "luks"}
    return checked(VOLUME_SECRETS, {**raw, "uuid": uuid} if uuid else raw)


def test_a_secret_with_an_explicit_uuid_left_by_an_interrupted_create_is_made_again_on_the_rerun(
        conn, intents_home, volume_secrets: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Its create defined it and never returned (nothing can have used it: its dependents wait for its
    uuid). The rerun removes it and makes it again with the program's value, here changed between the
    runs: a take-over of a VolumeSecret holding another value would have been refused."""
    usage, uuid = f"/var/lib/libvirt/images/{unique('luks')}.qcow2", str(uuidlib.uuid4())
    volume_secrets.append(usage)
    lose_the_next_reply(monkeypatch)
    with pytest.raises(ConnectionLost):
        VOLUME_SECRETS.create(secret_inputs(usage, "first passphrase", uuid), CTX)
    assert conn.secretLookupByUUIDString(uuid).value() == b"first passphrase", "the lost create defined it"

    secret_id, outs = VOLUME_SECRETS.create(secret_inputs(usage, "second passphrase", uuid), CTX)  # the rerun
    assert secret_id == uuid and outs["adopted"] is False
    secret = conn.secretLookupByUUIDString(uuid)
    assert secret.usageID() == usage and secret.value() == b"second passphrase"
    VOLUME_SECRETS.delete(secret_id, outs, CTX)
    with pytest.raises(libvirt.libvirtError):
        conn.secretLookupByUUIDString(uuid)


@pytest.mark.parametrize("explicit", [True, False], ids=["explicit-uuid", "derived-uuid"])
def test_a_secret_under_the_resource_s_uuid_made_by_someone_else_is_refused_not_undefined(
        explicit: bool, conn, intents_home, volume_secrets: list[str]) -> None:
    """No intent of this resource: someone else made it (or an earlier stack). Measured before the fix:
    with a derived uuid it was undefined and defined again with the program's value (a LUKS volume
    encrypted with the old one no longer opens); with an explicit one it was refused."""
    usage = f"/var/lib/libvirt/images/{unique('luks')}.qcow2"
    volume_secrets.append(usage)
    inputs = secret_inputs(usage, "ours", str(uuidlib.uuid4()) if explicit else None)
    uuid = inputs["uuid"]
    assert explicit or uuid == derived_uuid(inputs["__seed"])
    theirs = conn.secretDefineXML(f"<secret ephemeral='no' private='no'><uuid>{uuid}</uuid>"
                                  f"<usage type='volume'><volume>{usage}</volume></usage></secret>", 0)
    theirs.setValue(b"theirs")
    with pytest.raises(LibvirtOpError, match="already exists"):
        VOLUME_SECRETS.create(inputs, CTX)
    assert conn.secretLookupByUUIDString(uuid).value() == b"theirs", "someone else's secret was given our value"
