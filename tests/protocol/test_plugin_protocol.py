"""The provider plugin `pulumi-resource-libvirt-storage` driven over gRPC as the engine drives it:
schema, configuration, camelCase properties, secrets kept secret, detailed diffs, previews that keep
what an update does not change, import by id, the dependent-replacement probe, and errors as one
message without a traceback. Against the real libvirtd."""

from __future__ import annotations

import base64
import json
import os
import pathlib
from typing import Any, Iterator

import grpc
import libvirt
from google.protobuf import json_format
import pytest
from pulumi.runtime.proto import provider_pb2

from tests.conftest import unique
from tests.support.protocol import SECRET_SIG, UNKNOWN, PluginProcess, from_struct, secret, to_struct

pytestmark = pytest.mark.libvirtd
MiB = 1024**2
SIG = "4dabf18193072939515e22adb298388d"


def urn(kind: str, name: str) -> str:
    return f"urn:pulumi:test::plstest::libvirt-storage:index:{kind}::{name}"


@pytest.fixture(scope="module")
def plugin() -> Iterator[PluginProcess]:
    server = PluginProcess()
    yield server
    stderr = server.close()
    assert "Traceback" not in stderr, stderr


def unknown(value: Any) -> bool:
    return type(value).__name__ == "Unknown"


def check(plugin: PluginProcess, kind: str, name: str, news: dict[str, Any], olds: dict[str, Any] | None = None
          ) -> Any:
    return plugin.stub.Check(provider_pb2.CheckRequest(urn=urn(kind, name), name=name,
                                                       type=f"libvirt-storage:index:{kind}",
                                                       olds=to_struct(olds or {}), news=to_struct(news)))


def test_schema_is_the_package_schema_in_camel_case(plugin: PluginProcess) -> None:
    schema = json.loads(plugin.stub.GetSchema(provider_pb2.GetSchemaRequest()).schema)
    pool = schema["resources"]["libvirt-storage:index:StoragePool"]
    assert "deleteStorageOnDestroy" in pool["inputProperties"] and "targetPath" in pool["properties"]
    assert "initiatorIqn" in schema["types"]["libvirt-storage:index:StoragePoolSource"]["properties"]
    root = pathlib.Path(__file__).resolve().parents[2]
    assert schema == json.loads((root / "sdk" / "schema.json").read_text()), "one schema: the plugin's is sdk/schema.json"


def test_configure_accepts_secrets_and_supports_previews(plugin: PluginProcess) -> None:
    assert plugin.configure_response.acceptSecrets and plugin.configure_response.supportsPreview


def test_check_failures_name_the_property_as_the_schema_spells_it(plugin: PluginProcess) -> None:
    resp = check(plugin, "StoragePool", "bad", {"type": "iscsi", "source": {"initiatorIqn": "no pe"}})
    assert {f.property for f in resp.failures} == {"source.initiatorIqn"}
    resp = check(plugin, "StoragePool", "bad", {"type": "rbd", "source": {"name": "x"}})
    assert {f.property for f in resp.failures} == {"source.hosts"}
    resp = check(plugin, "StoragePool", "bad", {"type": "rbd", "deleteStorageOnDestroy": True,
                                                "source": {"name": "x", "hosts": [{"name": "mon"}]}})
    assert {f.property for f in resp.failures} == {"deleteStorageOnDestroy"}


def test_a_pool_through_check_preview_create_read_diff_update_and_delete(plugin: PluginProcess, conn,
                                                                        tmp_path: pathlib.Path) -> None:
    name = unique("plug")
    news = {"name": name, "type": "dir", "target": {"path": str(tmp_path / "p")}, "deleteStorageOnDestroy": False}
    checked = check(plugin, "StoragePool", "p", news)
    assert not checked.failures
    inputs = from_struct(checked.inputs)
    assert inputs["deleteStorageOnDestroy"] is False and inputs["uuid"]  # chosen from the URN
    assert from_struct(check(plugin, "StoragePool", "p", news).inputs)["uuid"] == inputs["uuid"]

    preview = from_struct(plugin.stub.Create(provider_pb2.CreateRequest(
        urn=urn("StoragePool", "p"), properties=checked.inputs, preview=True)).properties)
    assert preview["targetPath"] == str(tmp_path / "p") and preview["active"] is True
    assert unknown(preview["capacity"]) and unknown(preview["xml"])
    assert name not in {p.name() for p in conn.listAllStoragePools()}, "a preview makes nothing"

    created = plugin.stub.Create(provider_pb2.CreateRequest(urn=urn("StoragePool", "p"), properties=checked.inputs))
    try:
        outs = from_struct(created.properties)
        assert created.id == inputs["uuid"] == conn.storagePoolLookupByName(name).UUIDString()
        assert outs["targetPath"] == str(tmp_path / "p") and outs["uri"] == "qemu:///system"

        new_inputs = check(plugin, "StoragePool", "p", {**news, "autostart": False}, olds=inputs).inputs
        diff = plugin.stub.Diff(provider_pb2.DiffRequest(id=created.id, urn=urn("StoragePool", "p"),
                                                         olds=created.properties, news=new_inputs,
                                                         old_inputs=checked.inputs))
        assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME and list(diff.replaces) == []
        assert diff.hasDetailedDiff and diff.detailedDiff["autostart"].kind == provider_pb2.PropertyDiff.UPDATE
        moved = check(plugin, "StoragePool", "p", {**news, "target": {"path": str(tmp_path / "q")}}, olds=inputs)
        diff = plugin.stub.Diff(provider_pb2.DiffRequest(id=created.id, urn=urn("StoragePool", "p"),
                                                         olds=created.properties, news=moved.inputs,
                                                         old_inputs=checked.inputs))
        assert list(diff.replaces) == ["target"] and diff.deleteBeforeReplace
        assert diff.detailedDiff["target.path"].kind == provider_pb2.PropertyDiff.UPDATE_REPLACE

        preview = from_struct(plugin.stub.Update(provider_pb2.UpdateRequest(
            id=created.id, urn=urn("StoragePool", "p"), olds=created.properties, news=new_inputs,
            preview=True)).properties)
        assert preview["autostart"] is False and preview["targetPath"] == outs["targetPath"]
        assert preview["uuid"] == created.id, "what the update does not change stays known"
        updated = from_struct(plugin.stub.Update(provider_pb2.UpdateRequest(
            id=created.id, urn=urn("StoragePool", "p"), olds=created.properties, news=new_inputs)).properties)
        assert updated["autostart"] is False and not conn.storagePoolLookupByName(name).autostart()

        read = plugin.stub.Read(provider_pb2.ReadRequest(id=created.id, urn=urn("StoragePool", "p"),
                                                         properties=to_struct(updated)))
        assert read.id == created.id and from_struct(read.properties)["active"] is True
    finally:
        plugin.stub.Delete(provider_pb2.DeleteRequest(id=created.id, urn=urn("StoragePool", "p"),
                                                      properties=created.properties))
    assert name not in {p.name() for p in conn.listAllStoragePools()}


def test_import_reads_with_only_an_id_and_returns_inputs_that_declare_the_object(plugin: PluginProcess, conn,
                                                                                  tmp_path: pathlib.Path) -> None:
    name = unique("plugimp")
    path = tmp_path / "imp"
    path.mkdir()
    pool = conn.storagePoolDefineXML(f"<pool type='dir'><name>{name}</name><target><path>{path}</path>"
                                     "<permissions><mode>0711</mode></permissions></target></pool>", 0)
    try:
        pool.create(0)
        vol = pool.createXML("<volume><name>d.qcow2</name><capacity unit='MiB'>64</capacity>"
                             "<target><format type='qcow2'/></target></volume>", 0)
        read = plugin.stub.Read(provider_pb2.ReadRequest(id=pool.UUIDString(), urn=urn("StoragePool", "imp")))
        args = from_struct(read.inputs)
        assert read.id == pool.UUIDString()
        assert args["name"] == name and args["type"] == "dir" and args["target"]["path"] == str(path)
        # what the host has: libvirt reports the directory's real mode once the pool runs
        assert args["target"]["permissions"]["mode"] == f"{path.stat().st_mode & 0o7777:04o}"
        assert args["autostart"] is False
        # the inputs check and diff as "no change" against what was read
        checked = check(plugin, "StoragePool", "imp", args, olds=args)
        assert not checked.failures
        diff = plugin.stub.Diff(provider_pb2.DiffRequest(id=read.id, urn=urn("StoragePool", "imp"),
                                                         olds=read.properties, news=checked.inputs,
                                                         old_inputs=read.inputs))
        assert diff.changes == provider_pb2.DiffResponse.DIFF_NONE, dict(diff.detailedDiff)

        read = plugin.stub.Read(provider_pb2.ReadRequest(id=vol.key(), urn=urn("StorageVolume", "imp")))
        args = from_struct(read.inputs)
        assert {k: args[k] for k in ("pool", "poolType", "name", "capacity", "format")} == {
            "pool": name, "poolType": "dir", "name": "d.qcow2", "capacity": 64 * MiB, "format": "qcow2"}
        assert from_struct(read.properties)["path"] == str(path / "d.qcow2")
        missing = plugin.stub.Read(provider_pb2.ReadRequest(id="/nowhere/x", urn=urn("StorageVolume", "nope")))
        assert missing.id == ""
    finally:
        for v in pool.listAllVolumes():
            v.delete(0)
        pool.destroy()
        pool.undefine()


def test_a_secret_stays_secret_and_is_never_in_an_output(plugin: PluginProcess, conn) -> None:
    key = base64.b64encode(os.urandom(16)).decode()
    usage = unique("plugkey")
    checked = check(plugin, "CephSecret", "k", {"usageName": usage, "value": secret(key)})
    wire_inputs = json_format.MessageToDict(checked.inputs)
    assert wire_inputs["value"][SIG] == SECRET_SIG, "a secret input goes back to the engine as a secret"
    created = plugin.stub.Create(provider_pb2.CreateRequest(urn=urn("CephSecret", "k"), properties=checked.inputs))
    try:
        outs = from_struct(created.properties)
        assert "value" not in outs and key not in json.dumps(outs)
        assert conn.secretLookupByUUIDString(created.id).usageID() == usage
    finally:
        plugin.stub.Delete(provider_pb2.DeleteRequest(id=created.id, urn=urn("CephSecret", "k"),
                                                      properties=created.properties))
    assert key not in plugin.stderr_text()


def test_errors_are_one_message_with_libvirts_code_and_no_traceback(plugin: PluginProcess, conn) -> None:
    name = unique("plugerr")
    news = {"name": name, "type": "dir", "target": {"path": "/proc/plstest-cannot-build-here"}}
    checked = check(plugin, "StoragePool", "e", news)
    with pytest.raises(grpc.RpcError) as raised:
        plugin.stub.Create(provider_pb2.CreateRequest(urn=urn("StoragePool", "e"), properties=checked.inputs))
    message = raised.value.details()
    assert "building pool" in message and "libvirt error code" in message
    assert "Traceback" not in message and "File \"" not in message
    assert name not in {p.name() for p in conn.listAllStoragePools()}, "a failed create leaves nothing behind"


@pytest.mark.parametrize("stored_by", ["this version", "an older version"])
def test_the_dependent_replacement_probe_does_not_replace_a_volume_for_an_unknown_pool(plugin: PluginProcess,
                                                                                       tmp_path, stored_by) -> None:
    """When a pool is replaced, the engine first asks each volume whether it must be replaced too,
    sending the volume's stored inputs with `pool` set to unknown. That is no reason to replace.
    (Inputs stored by an older version carry the mark of the process that checked them.)"""
    stored = from_struct(check(plugin, "StorageVolume", "v", {"pool": "p", "name": "v.raw", "capacity": "1MiB"}
                               ).inputs)
    if stored_by == "an older version":
        stored["__checked_by"] = "the provider process of an earlier deployment"
    olds = {**stored, "key": "/x/v.raw", "path": "/x/v.raw", "uri": "qemu:///system"}
    probe = plugin.stub.Diff(provider_pb2.DiffRequest(id="/x/v.raw", urn=urn("StorageVolume", "v"),
                                                      olds=to_struct(olds), news=to_struct({**stored, "pool": UNKNOWN}),
                                                      old_inputs=to_struct(stored)))
    assert list(probe.replaces) == []
    # a real preview with the pool's name unknown is a replacement
    fresh = check(plugin, "StorageVolume", "v", {"pool": UNKNOWN, "name": "v.raw", "capacity": "1MiB"},
                  olds=stored).inputs
    real = plugin.stub.Diff(provider_pb2.DiffRequest(id="/x/v.raw", urn=urn("StorageVolume", "v"),
                                                     olds=to_struct(olds), news=fresh,
                                                     old_inputs=to_struct(stored)))
    assert list(real.replaces) == ["pool"]


def test_an_unchanged_program_checks_to_the_stored_inputs_in_another_process(plugin: PluginProcess) -> None:
    """The engine writes the whole state again for every unchanged resource whose checked inputs
    differ from the stored ones, in every preview, refresh and up: a no-change preview of N volumes
    then costs O(N^2) (12 s instead of 5 s at N = 500). So the inputs Check returns for the same
    program must be the same in every process: nothing in them may name the process."""
    news = {"pool": "p", "name": "v.raw", "capacity": "1MiB"}
    stored = from_struct(check(plugin, "StorageVolume", "v", news).inputs)
    other = PluginProcess()  # the provider process of the next run
    try:
        again = from_struct(check(other, "StorageVolume", "v", news, olds=stored).inputs)
    finally:
        other.close()
    assert again == stored
    pool_news = {"name": "p", "type": "dir", "target": {"path": "/var/tmp/p"}}
    pool_stored = from_struct(check(plugin, "StoragePool", "p", pool_news).inputs)
    assert from_struct(check(plugin, "StoragePool", "p", pool_news, olds=pool_stored).inputs) == pool_stored
