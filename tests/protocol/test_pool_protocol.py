"""StoragePool over the real gRPC protocol of `python -m pulumi.dynamic`, against the real libvirtd:
the life cycle the engine drives (Check, Create, Read, Diff, Update, Diff-to-replace, Delete), Read
with only an id, and Read of a pool removed behind Pulumi's back."""

from __future__ import annotations

import pathlib

import grpc
import libvirt
import pytest
from lxml import etree
from pulumi.runtime.proto import provider_pb2

from pulumi_libvirt_storage_provider.spec.pool import POOL_SCHEMA
from tests.conftest import unique
from tests.protocol.helpers import Client, Leftovers
from tests.support.protocol import UNKNOWN

pytestmark = pytest.mark.libvirtd

DIFF_NONE, DIFF_SOME = provider_pb2.DiffResponse.DIFF_NONE, provider_pb2.DiffResponse.DIFF_SOME
COMPUTED = {f.name for f in POOL_SCHEMA.outputs}


def pool_by_uuid(conn: libvirt.virConnect, uuid: str) -> libvirt.virStoragePool | None:
    try:
        return conn.storagePoolLookupByUUIDString(uuid)
    except libvirt.libvirtError as e:
        assert e.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL
        return None


def test_dir_pool_life_cycle_over_grpc_matches_libvirt_after_each_step(
        pools: Client, conn: libvirt.virConnect, leftovers: Leftovers, tmp_path: pathlib.Path) -> None:
    name = leftovers.pool(unique("proto-pool"))
    path = tmp_path / "pool"
    news = pools.props(name=name, type="dir",
                       target={"path": f"{path}/", "permissions": {"mode": "750", "owner": 0, "group": 0}})

    # Check: integers arrive as floats (owner/group 0.0), paths and modes come back canonical
    inputs = pools.check_ok(news)
    assert inputs["target"] == {"path": str(path), "permissions": {"mode": "0750", "owner": 0.0, "group": 0.0}}
    assert inputs["start"] is True and inputs["autostart"] is True and inputs["build"] is True
    assert inputs["__provider"] == pools.provider_str
    assert pool_by_uuid(conn, "00000000-0000-0000-0000-000000000000") is None  # nothing defined by Check
    assert name not in {p.name() for p in conn.listAllStoragePools()}

    # Create: defined, built with the mode, started, autostarted; the id is libvirt's uuid
    id_, outs, _ = pools.create(inputs)
    pool = conn.storagePoolLookupByName(name)
    assert id_ == pool.UUIDString() == outs["uuid"]
    assert pool.isActive() and pool.autostart() and pool.isPersistent()
    assert path.is_dir() and oct(path.stat().st_mode & 0o7777) == "0o750"
    xml = etree.fromstring(pool.XMLDesc(0).encode())
    assert xml.findtext("target/path") == str(path) and xml.findtext("target/permissions/mode") == "0750"
    assert COMPUTED <= set(outs), f"missing outputs: {COMPUTED - set(outs)}"
    assert outs["active"] is True and outs["adopted"] is False and outs["target_path"] == str(path)
    assert outs["__provider"] == pools.provider_str

    # Read (refresh): same id, the inputs as they are on the host: no drift
    read_id, read_outs, _ = pools.read(id_, outs, inputs)
    assert read_id == id_
    assert {k: read_outs[k] for k in inputs} == inputs
    assert set(read_outs) == set(outs)

    # Diff against the stored outputs: nothing to do
    diff = pools.diff(id_, outs, inputs)
    assert diff.changes == DIFF_NONE and list(diff.replaces) == []

    # autostart flipped: an in-place change
    news_off = pools.props(**{**{k: v for k, v in news.items() if k != "__provider"}, "autostart": False})
    inputs_off = pools.check_ok(news_off, olds=inputs)
    assert inputs_off["autostart"] is False
    diff = pools.diff(id_, outs, inputs_off)
    assert diff.changes == DIFF_SOME and list(diff.replaces) == []
    assert pool.autostart() == 1  # Diff changes nothing on the host

    # Update: same pool (uuid), autostart off on the host, still running; every output returned
    upd_outs, _ = pools.update(id_, outs, inputs_off)
    assert upd_outs["uuid"] == id_ == conn.storagePoolLookupByName(name).UUIDString()
    assert set(upd_outs) == set(outs), f"outputs lost by Update: {set(outs) - set(upd_outs)}"
    assert upd_outs["autostart"] is False and upd_outs["active"] is True
    assert pool.autostart() == 0 and pool.isActive() == 1
    assert pools.diff(id_, upd_outs, inputs_off).changes == DIFF_NONE  # converged

    # target.path changed: a replacement, deleted before the new one is created
    news_moved = pools.props(**{**{k: v for k, v in news_off.items() if k != "__provider"},
                                "target": {"path": str(tmp_path / "moved")}})
    inputs_moved = pools.check_ok(news_moved, olds=inputs_off)
    diff = pools.diff(id_, upd_outs, inputs_moved)
    assert diff.changes == DIFF_SOME
    assert "target" in diff.replaces
    assert diff.deleteBeforeReplace is True
    assert etree.fromstring(pool.XMLDesc(0).encode()).findtext("target/path") == str(path)

    # Delete (with the last outputs): stopped and undefined, the directory and its data kept
    pools.delete(id_, upd_outs)
    assert pool_by_uuid(conn, id_) is None
    assert name not in {p.name() for p in conn.listAllStoragePools()}
    assert path.is_dir()


def test_read_with_only_an_id_reports_computed_outputs_and_never_breaks_the_server(
        pools: Client, conn: libvirt.virConnect, leftovers: Leftovers, tmp_path: pathlib.Path) -> None:
    """What `pulumi import` / StoragePool.get would send if they could carry `__provider`: an id and no
    other property. Actual behaviour, documented here:
    - the uuid of an existing pool: that id, with the computed outputs (uuid, active, sizes, target_path,
      xml, adopted=False) and the live start/autostart; no name, type or target (only fields the caller
      gave are reported);
    - a well-formed uuid nobody has: id "" (not found);
    - an id that is not a uuid (a pool name): an error (gRPC UNKNOWN) saying it must be a valid UUID.
    The server keeps serving after each."""
    name = leftovers.pool(unique("proto-get"))
    path = tmp_path / "get"
    pool = conn.storagePoolDefineXML(
        f"<pool type='dir'><name>{name}</name><target><path>{path}</path></target></pool>", 0)
    pool.build(0)
    pool.create(0)
    only_provider = {"__provider": pools.provider_str}

    id_, outs, _ = pools.read(pool.UUIDString(), only_provider)
    assert id_ == pool.UUIDString() == outs["uuid"]
    assert outs["target_path"] == str(path) and outs["active"] is True and outs["adopted"] is False
    assert outs["start"] is True and outs["autostart"] is False
    assert name in outs["xml"]
    assert COMPUTED <= set(outs)
    assert not {"name", "type", "target"} & set(outs)  # not reported: the caller gave none of them

    # The engine's Get form (properties empty, inputs with __provider) reads the same.
    get_id, get_outs, _ = pools.read(pool.UUIDString(), {}, inputs=only_provider)
    assert get_id == id_ and set(get_outs) == set(outs)

    missing_id, missing_outs, _ = pools.read("00000000-0000-4000-8000-000000000000", only_provider)
    assert missing_id == "" and missing_outs == only_provider

    with pytest.raises(grpc.RpcError) as err:
        pools.read(name, only_provider)
    assert err.value.code() == grpc.StatusCode.UNKNOWN
    assert f"looking up pool {name}" in err.value.details() and "valid UUID" in err.value.details()

    # the server still answers, with the same (cached) provider
    assert pools.check(pools.props(type="dir", target={"path": str(path)}, name=name)).failures == []
    assert pools.read(pool.UUIDString(), only_provider)[0] == id_
    assert pool.isActive()  # Read changed nothing

    pool.destroy()
    pool.undefine()


def test_read_of_a_pool_deleted_out_of_band_returns_an_empty_id(
        pools: Client, conn: libvirt.virConnect, leftovers: Leftovers, tmp_path: pathlib.Path) -> None:
    name = leftovers.pool(unique("proto-gone"))
    inputs = pools.check_ok(pools.props(name=name, type="dir", target={"path": str(tmp_path / "gone")}))
    id_, outs, _ = pools.create(inputs)

    pool = conn.storagePoolLookupByUUIDString(id_)
    pool.destroy()
    pool.undefine()

    read_id, read_outs, _ = pools.read(id_, outs, inputs)
    assert read_id == ""
    assert read_outs == {"__provider": pools.provider_str}

    # and a Delete of what is already gone succeeds (destroy after an out-of-band removal)
    pools.delete(id_, outs)
    assert pool_by_uuid(conn, id_) is None


def test_check_keeps_unknown_pool_values_unknown_and_diff_reports_them_as_changes(
        pools: Client, conn: libvirt.virConnect, tmp_path: pathlib.Path) -> None:
    """A preview: target.path is another resource's output, not known yet."""
    name = unique("proto-preview")
    olds = pools.check_ok(pools.props(name=name, type="dir", target={"path": str(tmp_path / "p")}))
    checked = pools.check(pools.props(name=name, type="dir", target={"path": UNKNOWN}), olds=olds)
    assert checked.failures == []
    assert checked.inputs["target"]["path"] == UNKNOWN  # sent back as the unknown sentinel
    assert checked.inputs["name"] == name and checked.inputs["type"] == "dir"

    # Diff of a known old pool against a new unknown path: a change, and a replacement (target)
    olds = {**olds, "active": True}
    diff = pools.diff(olds["uuid"], olds, checked.inputs)
    assert diff.changes == DIFF_SOME
    assert list(diff.replaces) == ["target"]

    # an unknown in-place field (autostart) is a change without replacement
    diff = pools.diff(olds["uuid"], olds, {**olds, "autostart": UNKNOWN})
    assert diff.changes == DIFF_SOME and list(diff.replaces) == []
    assert name not in {p.name() for p in conn.listAllStoragePools()}  # nothing defined by a preview


@pytest.mark.parametrize("prop", ["target", "source"])
def test_check_accepts_a_whole_unknown_object_in_a_preview(pools: Client, prop: str) -> None:
    props = {"name": unique("proto-preview"), "type": "dir", "target": {"path": "/var/lib/libvirt/x"}}
    props[prop] = UNKNOWN
    checked = pools.check(pools.props(**props))
    assert checked.failures == []
    assert checked.inputs[prop] == UNKNOWN


def test_check_failure_of_an_rbd_pool_without_hosts_names_source_hosts(
        pools: Client, conn: libvirt.virConnect) -> None:
    name = unique("proto-rbd")
    checked = pools.check(pools.props(name=name, type="rbd", source={"name": "rbd"}))
    props = [p for p, _ in checked.failures]
    assert props == ["source.hosts"], checked.failures
    reason = dict(checked.failures)["source.hosts"]
    assert "rbd" in reason and "required" in reason
    # a failed Check returns the inputs it was given
    assert checked.inputs["type"] == "rbd" and checked.inputs["source"] == {"name": "rbd"}
    assert name not in {p.name() for p in conn.listAllStoragePools()}  # Check defines nothing
