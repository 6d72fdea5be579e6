"""iscsi-direct pools against a real tgtd on 127.0.0.1 (scripts/iscsi-test-target.sh): libvirt
logs in with libiscsi, the target's LUNs are the pool's volumes, adopted by name (never created)
and wiped on request; CHAP takes its password from a libvirt secret of usage type iscsi."""

from __future__ import annotations

import os
import pathlib
from typing import Any

import libvirt
import pytest
from lxml import etree

from pulumi_libvirt_storage_provider.dynamic import StoragePoolProvider, StorageVolumeProvider
from pulumi_libvirt_storage_provider.ops.errors import LibvirtOpError
from tests.backends.fixtures_net import gluster, iscsi_target  # noqa: F401
from tests.backends.fixtures_net import (URI, IscsiTarget, NetCleanup, check_failures, checked,  # noqa: F401
                                         domain_schema_errors, net_cleanup, net_project, nothing_left_behind,
                                         qemu_opens, unique)

pytestmark = pytest.mark.libvirtd

POOLS = StoragePoolProvider()
VOLUMES = StorageVolumeProvider()
MiB = 1024**2


def pool_raw(target: IscsiTarget, name: str, iqn: str, auth: dict[str, Any] | None = None) -> dict[str, Any]:
    source: dict[str, Any] = {"hosts": [{"name": target.host, "port": target.port}], "devices": [{"path": iqn}],
                              "initiator_iqn": target.initiator_iqn}
    if auth is not None:
        source["auth"] = auth
    return {"name": name, "type": "iscsi-direct", "uri": URI, "source": source}


def create_pool(cleanup: NetCleanup, raw: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """check -> create, as the engine does; (id, outputs = the state the engine keeps)."""
    inputs = checked(POOLS, raw)
    cleanup.pools.append(inputs["name"])
    made = POOLS.create(inputs)
    return made.id, made.outs


def lun_raw(pool: str, lun: int, **extra: Any) -> dict[str, Any]:
    return {"pool": pool, "pool_type": "iscsi-direct", "name": f"unit:0:0:{lun}", "adopt": True, "uri": URI,
            **extra}


def lun_names(conn: libvirt.virConnect, pool: str) -> set[str]:
    p = conn.storagePoolLookupByName(pool)
    p.refresh(0)
    return set(p.listVolumes())


def define_iscsi_secret(conn: libvirt.virConnect, cleanup: NetCleanup, password: str) -> tuple[str, str]:
    """A private libvirt secret of usage type iscsi holding the CHAP password: (uuid, usage). Made with
    libvirt directly, the way an operator would: the product's CephSecret is for ceph keys only."""
    usage = unique("chap")
    secret = conn.secretDefineXML(f"<secret ephemeral='no' private='yes'><usage type='iscsi'><target>{usage}"
                                  "</target></usage></secret>", 0)
    cleanup.secrets.append(secret.UUIDString())
    secret.setValue(password.encode())
    return secret.UUIDString(), usage


# -- pools --------------------------------------------------------------------------------------

def test_luns_of_the_target_are_the_volumes_of_an_iscsi_direct_pool(conn, iscsi_target, net_cleanup) -> None:
    name = unique("iscsid")
    id_, outs = create_pool(net_cleanup, pool_raw(iscsi_target, name, iscsi_target.open_iqn))

    pool = conn.storagePoolLookupByName(name)
    assert pool.isActive() and pool.autostart() and outs["uuid"] == id_ == pool.UUIDString()
    xml = etree.fromstring(pool.XMLDesc(0).encode())
    assert xml.find("source/device").get("path") == iscsi_target.open_iqn
    assert xml.find("source/initiator/iqn").get("name") == iscsi_target.initiator_iqn
    luns = {f"unit:0:0:{n}" for n in range(1, iscsi_target.open_luns + 1)}
    assert luns <= lun_names(conn, name)  # unit:0:0:0 is tgt's controller LUN, of capacity 0
    for lun in luns:
        capacity = pool.storageVolLookupByName(lun).info()[1]
        assert iscsi_target.lun_bytes - 4096 <= capacity <= iscsi_target.lun_bytes

    # read: the engine's refresh sees the same pool, its capacity the LUNs' together
    read = POOLS.read(id_, outs)
    assert read.id == id_ and read.outs["active"] is True
    assert read.outs["capacity"] == sum(pool.storageVolLookupByName(lun).info()[1] for lun in luns)

    # update in place: autostart off, same pool
    news = checked(POOLS, {**pool_raw(iscsi_target, name, iscsi_target.open_iqn), "autostart": False}, read.outs)
    assert POOLS.diff(id_, read.outs, news).replaces == []
    updated = POOLS.update(id_, read.outs, news).outs
    assert updated["uuid"] == id_ and not pool.autostart() and pool.isActive()

    # delete: logged out and undefined; the target's LUNs are untouched
    POOLS.delete(id_, updated)
    assert name not in {p.name() for p in conn.listAllStoragePools()}
    assert all(iscsi_target.backing_file(iscsi_target.open_iqn, n).stat().st_size == iscsi_target.lun_bytes
               for n in range(1, iscsi_target.open_luns + 1))


def test_chap_target_is_reached_with_the_password_from_an_iscsi_secret(conn, iscsi_target, net_cleanup) -> None:
    secret_uuid, usage = define_iscsi_secret(conn, net_cleanup, iscsi_target.chap_password)
    name = unique("iscsichap")
    by_usage = {"type": "chap", "username": iscsi_target.chap_user, "secret_usage": usage}
    id_, outs = create_pool(net_cleanup, pool_raw(iscsi_target, name, iscsi_target.chap_iqn, by_usage))

    assert "unit:0:0:1" in lun_names(conn, name)
    auth = etree.fromstring(conn.storagePoolLookupByName(name).XMLDesc(0).encode()).find("source/auth")
    assert auth.get("type") == "chap" and auth.get("username") == iscsi_target.chap_user
    assert auth.find("secret").get("usage") == usage

    # the same secret by uuid: redefined and restarted in place (a new login), not replaced
    by_uuid = {"type": "chap", "username": iscsi_target.chap_user, "secret_uuid": secret_uuid}
    news = checked(POOLS, pool_raw(iscsi_target, name, iscsi_target.chap_iqn, by_uuid), outs)
    diff = POOLS.diff(id_, outs, news)
    assert diff.changes and diff.replaces == []
    outs = POOLS.update(id_, outs, news).outs
    pool = conn.storagePoolLookupByName(name)
    assert outs["uuid"] == id_ == pool.UUIDString() and pool.isActive()
    assert etree.fromstring(pool.XMLDesc(0).encode()).find("source/auth/secret").get("uuid") == secret_uuid
    assert "unit:0:0:1" in lun_names(conn, name)

    # an adopted LUN's disk logs in the same way: the secret's usage type is iscsi
    vol = VOLUMES.create(checked(VOLUMES, lun_raw(name, 1)))
    disk = etree.fromstring(vol.outs["disk_xml"].encode())
    assert disk.find("auth").get("username") == iscsi_target.chap_user
    assert disk.find("auth/secret").get("type") == "iscsi" and disk.find("auth/secret").get("uuid") == secret_uuid
    assert domain_schema_errors(vol.outs["disk_xml"]) == []
    VOLUMES.delete(vol.id, vol.outs)

    POOLS.delete(id_, outs)
    assert name not in {p.name() for p in conn.listAllStoragePools()}


def test_chap_target_refuses_a_pool_without_the_password_and_nothing_stays_defined(conn, iscsi_target,
                                                                                   net_cleanup) -> None:
    name = unique("iscsinoauth")
    inputs = checked(POOLS, pool_raw(iscsi_target, name, iscsi_target.chap_iqn))
    net_cleanup.pools.append(name)

    with pytest.raises(LibvirtOpError) as failed:
        POOLS.create(inputs)
    assert f"starting pool {name}" in str(failed.value) and "Authentication failure" in str(failed.value)
    assert name not in {p.name() for p in conn.listAllStoragePools()}


# -- LUNs as volumes ----------------------------------------------------------------------------

def test_lun_is_adopted_by_name_as_a_network_iscsi_disk_with_the_initiator(conn, iscsi_target,
                                                                           net_cleanup) -> None:
    name = unique("iscsilun")
    pool_id, pool_outs = create_pool(net_cleanup, pool_raw(iscsi_target, name, iscsi_target.open_iqn))
    inputs = checked(VOLUMES, lun_raw(name, 1))
    made = VOLUMES.create(inputs)
    outs = made.outs

    key = f"ip-{iscsi_target.host}:{iscsi_target.port}-iscsi-{iscsi_target.open_iqn}-lun-1"
    assert made.id == outs["key"] == key and outs["adopted"] is True and outs["type"] == "network"
    assert iscsi_target.lun_bytes - 4096 <= outs["current_capacity"] <= iscsi_target.lun_bytes
    assert outs["disk"] == {"type": "network", "driver_type": "raw", "protocol": "iscsi",
                            "name": f"{iscsi_target.open_iqn}/1",
                            "hosts": [{"name": iscsi_target.host, "port": iscsi_target.port}],
                            "initiator_iqn": iscsi_target.initiator_iqn}
    disk = etree.fromstring(outs["disk_xml"].encode())
    source = disk.find("source")
    assert disk.get("type") == "network" and disk.find("driver").get("type") == "raw"
    assert source.get("protocol") == "iscsi" and source.get("name") == f"{iscsi_target.open_iqn}/1"
    assert (source.find("host").get("name"), source.find("host").get("port")) == (iscsi_target.host,
                                                                                  str(iscsi_target.port))
    assert source.find("initiator/iqn").get("name") == iscsi_target.initiator_iqn
    assert disk.find("auth") is None  # the open target needs none
    assert domain_schema_errors(outs["disk_xml"]) == []
    assert qemu_opens(outs["disk"])["virtual-size"] == iscsi_target.lun_bytes  # QEMU reaches the LUN

    # read: found by its key, still adopted
    read = VOLUMES.read(made.id, outs)
    assert read.id == made.id and read.outs["adopted"] is True and read.outs["disk"] == outs["disk"]

    # update of a setting: in place, nothing asked of the target
    news = checked(VOLUMES, lun_raw(name, 1, allow_shrink=True), read.outs)
    assert VOLUMES.diff(made.id, read.outs, news).replaces == []
    updated = VOLUMES.update(made.id, read.outs, news).outs
    assert updated["key"] == key and updated["adopted"] is True

    # delete: released, the LUN is still there
    VOLUMES.delete(made.id, updated)
    assert "unit:0:0:1" in lun_names(conn, name)
    POOLS.delete(pool_id, pool_outs)


def test_adopted_lun_with_wipe_on_destroy_is_zeroed_and_kept(conn, iscsi_target, net_cleanup) -> None:
    backing = iscsi_target.backing_file(iscsi_target.open_iqn, 2)
    net_cleanup.callbacks.append(lambda: _make_sparse_again(backing, iscsi_target.lun_bytes))
    marks = (0, 4 * MiB, iscsi_target.lun_bytes - 2 * MiB)
    pattern = b"plstest-data" * 4096
    with open(backing, "r+b") as f:  # tgtd reads the file through the same page cache
        for offset in marks:
            f.seek(offset)
            f.write(pattern)
        f.flush()
        os.fsync(f.fileno())

    name = unique("iscsiwipe")
    pool_id, pool_outs = create_pool(net_cleanup, pool_raw(iscsi_target, name, iscsi_target.open_iqn))
    made = VOLUMES.create(checked(VOLUMES, lun_raw(name, 2, wipe_on_destroy="zero")))
    assert made.outs["adopted"] is True and made.outs["wipe_on_destroy"] == "zero"

    VOLUMES.delete(made.id, made.outs)

    with open(backing, "rb") as f:
        for offset in marks:
            f.seek(offset)
            assert f.read(len(pattern)) == bytes(len(pattern)), f"data left at offset {offset}"
    assert "unit:0:0:2" in lun_names(conn, name), "a wiped LUN is kept: libvirt cannot delete LUNs"
    POOLS.delete(pool_id, pool_outs)


def _make_sparse_again(backing: pathlib.Path, size: int) -> None:
    """A zero wipe allocated the whole backing file; give the space back (the LUN reads zeros)."""
    os.truncate(backing, 0)
    os.truncate(backing, size)


def test_new_volume_in_an_iscsi_direct_pool_is_refused_at_check_naming_pool() -> None:
    failures = check_failures(VOLUMES, {"pool": "p", "pool_type": "iscsi-direct", "name": "lun9",
                                        "capacity": "1GiB", "format": "raw"})

    assert set(failures) == {"pool"}
    assert "cannot be created in iscsi-direct pools" in failures["pool"] and "LUNs" in failures["pool"]
    assert "adopt=true" in failures["pool"]
    assert check_failures(VOLUMES, {"pool": "p", "pool_type": "iscsi-direct", "name": "unit:0:0:1",
                                    "adopt": True}) == {}


# -- through the real engine ----------------------------------------------------------------------

PROGRAM = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume

cfg = pulumi.Config()
pool = StoragePool("target", name=cfg.require("pool"), type="iscsi-direct",
                   source={"hosts": [{"name": cfg.require("host"), "port": cfg.require_int("port")}],
                           "devices": [{"path": cfg.require("iqn")}],
                           "initiator_iqn": cfg.require("initiator")})
lun = StorageVolume("lun", pool=pool, name="unit:0:0:1", adopt=cfg.require_bool("adopt"))
pulumi.export("pool_uuid", pool.uuid)
pulumi.export("key", lun.key)
pulumi.export("adopted", lun.adopted)
pulumi.export("disk_xml", lun.disk_xml)
'''


@pytest.mark.engine
def test_iscsi_direct_pool_and_adopted_lun_through_the_engine(net_project, conn, iscsi_target) -> None:
    name = unique("iscsieng")
    p = net_project(PROGRAM, config={"pool": name, "host": iscsi_target.host, "port": str(iscsi_target.port),
                                     "iqn": iscsi_target.open_iqn, "initiator": iscsi_target.initiator_iqn,
                                     "adopt": "true"})
    p.up()
    out = p.outputs()
    pool = conn.storagePoolLookupByName(name)
    assert out["pool_uuid"] == pool.UUIDString() and pool.isActive()
    assert out["adopted"] is True and out["key"].endswith(f"{iscsi_target.open_iqn}-lun-1")
    source = etree.fromstring(out["disk_xml"].encode()).find("source")
    assert source.get("protocol") == "iscsi" and source.get("name") == f"{iscsi_target.open_iqn}/1"
    assert source.find("initiator/iqn").get("name") == iscsi_target.initiator_iqn
    p.preview("--expect-no-changes")
    p.refresh()
    p.preview("--expect-no-changes")

    # without adopt the LUN would have to be created: refused at preview, naming the property
    p.run("config", "set", "adopt", "false")
    proc = p.preview(check=False)
    assert proc.returncode != 0
    assert "pool" in proc.stdout and "cannot be created in iscsi-direct pools" in proc.stdout, proc.stdout
    p.run("config", "set", "adopt", "true")

    p.destroy()
    assert name not in {x.name() for x in conn.listAllStoragePools()}
    assert iscsi_target.backing_file(iscsi_target.open_iqn, 1).exists()


CHAP_PROGRAM = '''
import pulumi
from pulumi_libvirt_storage import IscsiSecret, StoragePool, StorageVolume

cfg = pulumi.Config()
chap = IscsiSecret("chap", usage_name=cfg.require("usage"), value=cfg.require_secret("chapPassword"))
pool = StoragePool("pool", name=cfg.require("pool"), type="iscsi-direct", source={
    "hosts": [{"name": cfg.require("host"), "port": int(cfg.require("port"))}],
    "devices": [{"path": cfg.require("iqn")}], "initiator_iqn": cfg.require("initiator"),
    "auth": {"type": "chap", "username": cfg.require("user"), "secret_uuid": chap.uuid}})
lun = StorageVolume("lun", pool=pool, name="unit:0:0:1", adopt=True)
pulumi.export("pool_uuid", pool.uuid)
pulumi.export("disk_xml", lun.disk_xml)
'''


@pytest.mark.engine
@pytest.mark.both_frontends
def test_chap_pool_with_the_secret_made_by_the_same_stack(net_project, conn, iscsi_target) -> None:
    """An iscsi-direct pool that logs in to tgt with CHAP, its password in an IscsiSecret of the same
    stack: rotated in place, never in the state or the output."""
    name, usage = unique("chapeng"), unique("chapusage")
    p = net_project(CHAP_PROGRAM, config={
        "pool": name, "usage": usage, "host": iscsi_target.host, "port": str(iscsi_target.port),
        "iqn": iscsi_target.chap_iqn, "initiator": iscsi_target.initiator_iqn, "user": iscsi_target.chap_user},
        secrets={"chapPassword": iscsi_target.chap_password})
    p.up()
    out = p.outputs()
    pool = conn.storagePoolLookupByName(name)
    assert pool.isActive() and out["pool_uuid"] == pool.UUIDString(), "logged in with the CHAP password"
    disk = etree.fromstring(out["disk_xml"].encode())
    assert disk.find("auth").get("username") == iscsi_target.chap_user
    p.preview("--expect-no-changes")
    p.refresh()
    p.preview("--expect-no-changes")
    # a rotation previews as one update of the secret, nothing else
    p.run("config", "set", "--secret", "chapPassword", stdin=iscsi_target.chap_password + "-next")
    steps = p.preview_steps()
    assert {k: v for k, v in steps.items() if v != "same"} == {"chap": "update"}
    p.run("config", "set", "--secret", "chapPassword", stdin=iscsi_target.chap_password)
    everything = p.state_text() + "\n".join(p.log)
    assert iscsi_target.chap_password not in everything
    p.destroy()
    assert name not in {x.name() for x in conn.listAllStoragePools()}
