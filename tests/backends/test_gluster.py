"""Gluster on a real one-brick volume on 127.0.0.1 (scripts/gluster-test-server.sh), both ways
libvirt reaches it: a netfs pool of format glusterfs (libvirt FUSE-mounts the volume on start and
unmounts it on stop; volumes are files in it) and a native gluster pool (libgfapi; libvirt 9.0
lists, refreshes and deletes its files, never creates them). Every libgfapi connection takes about
10 s to close, so the native pool tests are few and each does a lot."""

from __future__ import annotations

import json
import pathlib
import subprocess
from typing import Any

import libvirt
import pytest
from lxml import etree

from pulumi_libvirt_storage_provider.dynamic import StoragePoolProvider, StorageVolumeProvider
from pulumi_libvirt_storage_provider.ops import volumes as volume_ops
from tests.backends.fixtures_net import gluster, iscsi_target  # noqa: F401
from tests.backends.fixtures_net import (URI, GlusterServer, NetCleanup, check_failures, checked,  # noqa: F401
                                         domain_schema_errors, mounts, net_cleanup, net_project,
                                         nothing_left_behind, qemu_opens, unique, unmount)

pytestmark = pytest.mark.libvirtd

POOLS = StoragePoolProvider()
VOLUMES = StorageVolumeProvider()
MiB = 1024**2


def qemu_img_info(path: pathlib.Path | str) -> dict[str, Any]:
    return json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", str(path)], check=True,
                                     capture_output=True, text=True).stdout)


def pool_names(conn: libvirt.virConnect) -> set[str]:
    return {p.name() for p in conn.listAllStoragePools()}


def create_pool(cleanup: NetCleanup, raw: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """check -> create, as the engine does; (id, outputs = the state the engine keeps)."""
    inputs = checked(POOLS, raw)
    cleanup.pools.append(inputs["name"])
    made = POOLS.create(inputs)
    return made.id, made.outs


# -- netfs, format glusterfs: a FUSE mount made by libvirt ------------------------------------------

def netfs_raw(server: GlusterServer, name: str, target: pathlib.Path, **extra: Any) -> dict[str, Any]:
    """A netfs pool of the whole Gluster volume. Its FUSE client logs under the server's directory:
    mount_options reach mount.glusterfs."""
    return {"name": name, "type": "netfs", "uri": URI, "target": {"path": str(target)},
            "source": {"hosts": [{"name": server.host}], "dir": f"/{server.volume}", "format": "glusterfs"},
            "mount_options": [f"log-file={server.client_log(name)}"], **extra}


def netfs_pool(server: GlusterServer, cleanup: NetCleanup, tmp_path: pathlib.Path, what: str
               ) -> tuple[str, str, dict[str, Any], pathlib.Path]:
    name = unique(what)
    target = tmp_path / name
    cleanup.callbacks.append(lambda: unmount(target))  # should libvirt not have unmounted it
    id_, outs = create_pool(cleanup, netfs_raw(server, name, target))
    return name, id_, outs, target


def test_netfs_glusterfs_pool_is_a_fuse_mount_of_the_volume_while_started(conn, gluster, net_cleanup,
                                                                          tmp_path) -> None:
    name, id_, outs, target = netfs_pool(gluster, net_cleanup, tmp_path, "glnetfs")
    volume_source = f"{gluster.host}:/{gluster.volume}"

    assert mounts().get(str(target)) == (volume_source, "fuse.glusterfs")
    assert gluster.client_log(name).is_file(), "mount_options reach mount.glusterfs"
    assert outs["active"] is True and outs["target_path"] == str(target)
    assert outs["capacity"] > 0  # the brick's file system, as Gluster reports it
    read = POOLS.read(id_, outs)
    assert read.id == id_ and read.outs["active"] is True

    # stop: unmounted; start: mounted again (in place, same pool)
    raw = netfs_raw(gluster, name, target)
    stopped = POOLS.update(id_, read.outs, checked(POOLS, {**raw, "start": False}, read.outs)).outs
    assert stopped["active"] is False and str(target) not in mounts()
    started = POOLS.update(id_, stopped, checked(POOLS, {**raw, "start": True}, stopped)).outs
    assert started["active"] is True and mounts().get(str(target)) == (volume_source, "fuse.glusterfs")
    assert started["uuid"] == id_

    # destroy: unmounted and undefined; the mount point (and the volume's data) kept
    POOLS.delete(id_, started)
    assert str(target) not in mounts() and name not in pool_names(conn)
    assert target.is_dir()


def test_qcow2_volume_of_a_netfs_glusterfs_pool_is_a_file_in_the_gluster_volume(conn, gluster, net_cleanup,
                                                                                tmp_path) -> None:
    name, pool_id, pool_outs, target = netfs_pool(gluster, net_cleanup, tmp_path, "glnetfsvol")
    vol_name = unique("vol") + ".qcow2"
    on_brick = gluster.brick / vol_name
    raw = {"pool": name, "pool_type": "netfs", "name": vol_name, "uri": URI, "format": "qcow2",
           "capacity": "16MiB"}

    made = VOLUMES.create(checked(VOLUMES, raw))
    path = target / vol_name
    assert made.outs["path"] == str(path) and made.outs["current_format"] == "qcow2"
    assert qemu_img_info(path)["virtual-size"] == 16 * MiB
    assert on_brick.is_file(), "the file is written into the Gluster volume, i.e. onto its brick"
    assert made.outs["disk"] == {"type": "file", "driver_type": "qcow2", "file": str(path)}

    read = VOLUMES.read(made.id, made.outs)
    assert read.id == made.id and read.outs["current_capacity"] == 16 * MiB

    # grow in place: the same file, resized through the mount
    news = checked(VOLUMES, {**raw, "capacity": "32MiB"}, read.outs)
    assert VOLUMES.diff(made.id, read.outs, news).replaces == []
    grown = VOLUMES.update(made.id, read.outs, news).outs
    assert grown["key"] == made.id and grown["current_capacity"] == 32 * MiB
    assert qemu_img_info(path)["virtual-size"] == 32 * MiB

    # the data survives a stop (unmount) and start (mount) of the pool
    pool_raw = netfs_raw(gluster, name, target)
    pool_outs = POOLS.update(pool_id, pool_outs, checked(POOLS, {**pool_raw, "start": False}, pool_outs)).outs
    assert not path.exists() and on_brick.is_file()
    pool_outs = POOLS.update(pool_id, pool_outs, checked(POOLS, {**pool_raw, "start": True}, pool_outs)).outs
    again = VOLUMES.read(made.id, grown)
    assert again.id == made.id and again.outs["current_capacity"] == 32 * MiB

    VOLUMES.delete(made.id, again.outs)
    assert not path.exists() and not on_brick.exists()
    POOLS.delete(pool_id, pool_outs)
    assert str(target) not in mounts() and name not in pool_names(conn)


# -- native gluster pools: libgfapi ------------------------------------------------------------------

def gluster_raw(server: GlusterServer, name: str, sub_dir: str) -> dict[str, Any]:
    return {"name": name, "type": "gluster", "uri": URI,
            "source": {"hosts": [{"name": server.host}], "name": server.volume, "dir": f"/{sub_dir}"}}


def adopt_raw(pool: str, file_name: str, **extra: Any) -> dict[str, Any]:
    return {"pool": pool, "pool_type": "gluster", "name": file_name, "adopt": True, "uri": URI, **extra}


def test_gluster_pool_lists_a_file_of_the_volume_which_is_adopted_as_a_network_gluster_disk(
        conn, gluster, net_cleanup, tmp_path) -> None:
    sub_dir, file_name = unique("gldir"), "disk.qcow2"
    with gluster.mounted(tmp_path / "mnt") as mnt:
        net_cleanup.callbacks.append(lambda: _remove_through_a_mount(gluster, tmp_path / "cleanup-mnt", sub_dir))
        (mnt / sub_dir).mkdir()
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(mnt / sub_dir / file_name), "16M"],
                       check=True)

        name = unique("glpool")
        pool_id, pool_outs = create_pool(net_cleanup, gluster_raw(gluster, name, sub_dir))
        pool = conn.storagePoolLookupByName(name)
        assert pool.isActive() and pool_outs["active"] is True and pool_outs["uuid"] == pool_id
        assert pool.listVolumes() == [file_name]

        read = POOLS.read(pool_id, pool_outs)  # refreshes: the file is still the pool's only volume
        assert read.id == pool_id and read.outs["active"] is True and pool.listVolumes() == [file_name]

        # The format is declared: what libvirt probes from the file's content is reported
        # (current_format) but never used to open it.
        made = VOLUMES.create(checked(VOLUMES, adopt_raw(name, file_name, format="qcow2")))
        outs = made.outs
        key = f"gluster://{gluster.host}/{gluster.volume}/{sub_dir}/{file_name}"
        assert made.id == outs["key"] == key and outs["adopted"] is True and outs["type"] == "network"
        assert outs["current_format"] == "qcow2" and outs["current_capacity"] == 16 * MiB
        assert outs["disk"] == {"type": "network", "driver_type": "qcow2", "protocol": "gluster",
                                "name": f"{gluster.volume}/{sub_dir}/{file_name}",
                                "hosts": [{"name": gluster.host}]}
        disk = etree.fromstring(outs["disk_xml"].encode())
        source = disk.find("source")
        assert disk.get("type") == "network" and disk.find("driver").get("type") == "qcow2"
        assert source.get("protocol") == "gluster"
        assert source.get("name") == f"{gluster.volume}/{sub_dir}/{file_name}"
        assert source.find("host").get("name") == gluster.host
        assert domain_schema_errors(outs["disk_xml"]) == []

        vol_read = VOLUMES.read(made.id, outs)
        assert vol_read.id == made.id and vol_read.outs["disk"] == outs["disk"]
        news = checked(VOLUMES, adopt_raw(name, file_name, format="qcow2", allow_shrink=True), vol_read.outs)
        updated = VOLUMES.update(made.id, vol_read.outs, news).outs
        assert updated["key"] == key and updated["adopted"] is True

        # destroy of the adopted volume releases it: the file stays
        VOLUMES.delete(made.id, updated)
        assert (mnt / sub_dir / file_name).is_file()

        # libvirt's gluster backend can delete a file: through ops, as a non-adopted volume's destroy would
        volume_ops.delete(conn, key, wipe=None)
        assert not (mnt / sub_dir / file_name).exists() and pool.listVolumes() == []

        # the pool in place: autostart off, no new libgfapi connection
        news = checked(POOLS, {**gluster_raw(gluster, name, sub_dir), "autostart": False}, read.outs)
        assert POOLS.diff(pool_id, read.outs, news).replaces == []
        pool_outs = POOLS.update(pool_id, read.outs, news).outs
        assert pool_outs["uuid"] == pool_id and not pool.autostart() and pool.isActive()

        POOLS.delete(pool_id, pool_outs)
        assert name not in pool_names(conn)
        (mnt / sub_dir).rmdir()


def _remove_through_a_mount(server: GlusterServer, mountpoint: pathlib.Path, sub_dir: str) -> None:
    """A failed test's files, removed through the volume (never from the brick behind Gluster's back)."""
    if not (server.brick / sub_dir).exists():
        return  # the test removed them
    with server.mounted(mountpoint) as mnt:
        for path in sorted((mnt / sub_dir).glob("*"), reverse=True):
            path.unlink()
        if (mnt / sub_dir).exists():
            (mnt / sub_dir).rmdir()


def test_new_volume_in_a_gluster_pool_is_refused_at_check_naming_pool_and_why() -> None:
    failures = check_failures(VOLUMES, {"pool": "p", "pool_type": "gluster", "name": "new.img",
                                        "capacity": "1GiB"})

    assert set(failures) == {"pool"}
    reason = failures["pool"]
    assert "cannot be created in gluster pools" in reason and "gluster backend" in reason
    assert "netfs" in reason and "glusterfs" in reason  # the way to create files in a Gluster volume
    assert "adopt=true" in reason
    assert check_failures(VOLUMES, adopt_raw("p", "new.img")) == {}


# -- through the real engine ----------------------------------------------------------------------

PROGRAM = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume

cfg = pulumi.Config()
pool = StoragePool("gluster", name=cfg.require("pool"), type="gluster",
                   source={"hosts": [{"name": cfg.require("host")}], "name": cfg.require("volume"),
                           "dir": cfg.require("dir")})
image = StorageVolume("image", pool=pool, name=cfg.require("file"), adopt=cfg.require_bool("adopt"))
pulumi.export("pool_uuid", pool.uuid)
pulumi.export("adopted", image.adopted)
pulumi.export("disk", image.disk)
pulumi.export("disk_xml", image.disk_xml)
'''


@pytest.mark.engine
def test_gluster_pool_and_adopted_file_through_the_engine(net_project, conn, gluster, net_cleanup,
                                                          tmp_path) -> None:
    sub_dir, file_name = unique("gleng"), "base.raw"
    with gluster.mounted(tmp_path / "mnt") as mnt:
        net_cleanup.callbacks.append(lambda: _remove_through_a_mount(gluster, tmp_path / "cleanup-mnt", sub_dir))
        (mnt / sub_dir).mkdir()
        with open(mnt / sub_dir / file_name, "wb") as f:
            f.truncate(8 * MiB)

        name = unique("gleng")
        net_cleanup.pools.append(name)
        p = net_project(PROGRAM, config={"pool": name, "host": gluster.host, "volume": gluster.volume,
                                         "dir": f"/{sub_dir}", "file": file_name, "adopt": "true"})
        p.up()
        out = p.outputs()
        assert out["pool_uuid"] == conn.storagePoolLookupByName(name).UUIDString()
        assert out["adopted"] is True
        assert out["disk"]["protocol"] == "gluster" and out["disk"]["driver_type"] == "raw"
        source = etree.fromstring(out["disk_xml"].encode()).find("source")
        assert source.get("name") == f"{gluster.volume}/{sub_dir}/{file_name}"
        assert source.find("host").get("name") == gluster.host
        assert qemu_opens(out["disk"])["virtual-size"] == 8 * MiB  # QEMU reaches the file through libgfapi
        p.preview("--expect-no-changes")

        # without adopt the file would have to be created: refused at preview, naming the property and why
        p.run("config", "set", "adopt", "false")
        proc = p.preview(check=False)
        assert proc.returncode != 0
        assert "cannot be created in gluster pools" in proc.stdout and "gluster backend" in proc.stdout, \
            proc.stdout
        p.run("config", "set", "adopt", "true")

        # destroy: the pool is undefined, the adopted file released as it is
        p.destroy()
        assert name not in pool_names(conn)
        assert (mnt / sub_dir / file_name).stat().st_size == 8 * MiB
        (mnt / sub_dir / file_name).unlink()
        (mnt / sub_dir).rmdir()
