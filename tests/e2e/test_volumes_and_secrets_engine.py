"""StorageVolume and CephSecret through the real engine: in-place growth, replacement, key
rotation without the key ever reaching state or output, and bad input stopped at preview."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import subprocess

import libvirt
import pytest

from tests.conftest import unique

pytestmark = [pytest.mark.engine, pytest.mark.both_frontends]

VOLUMES = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume

cfg = pulumi.Config()
pool = StoragePool("pool", name=cfg.require("pool"), type="dir", target={"path": cfg.require("path")})
vol = StorageVolume("vol", pool=pool, name=cfg.require("vol"), format=cfg.require("format"),
                    capacity=cfg.require("capacity"))
pulumi.export("key", vol.key)
pulumi.export("path", vol.path)
pulumi.export("capacity", vol.current_capacity)
pulumi.export("disk", vol.disk)
'''


def qemu_img_info(path: str) -> dict:
    return json.loads(subprocess.run(["qemu-img", "info", "--output=json", path], check=True,
                                     capture_output=True, text=True).stdout)


def test_volume_grows_in_place_and_format_change_replaces(project, conn, tmp_path: pathlib.Path) -> None:
    pool, vol = unique("volpool"), "disk0"
    p = project(VOLUMES, config={"pool": pool, "path": str(tmp_path / "pool"), "vol": vol, "format": "qcow2",
                                 "capacity": "64MiB"})
    p.up()
    first = p.outputs()
    assert qemu_img_info(first["path"])["virtual-size"] == 64 * 1024**2
    assert first["disk"]["type"] == "file" and first["disk"]["driver_type"] == "qcow2"
    p.preview("--expect-no-changes")

    # grow: an in-place resize, the same volume (same key), data kept
    with open(first["path"], "r+b") as f:
        f.seek(0, os.SEEK_END)
    p.run("config", "set", "capacity", "128MiB")
    out = p.preview("--diff").stdout
    assert "replace" not in out.split("Resources:")[-1], out
    p.up()
    second = p.outputs()
    assert second["key"] == first["key"]
    assert qemu_img_info(second["path"])["virtual-size"] == 128 * 1024**2
    p.preview("--expect-no-changes")

    # shrink: refused at preview, naming the property and the way out; nothing changes
    p.run("config", "set", "capacity", "32MiB")
    proc = p.preview(check=False)
    assert proc.returncode != 0
    assert "capacity" in proc.stdout and "allow_shrink" in proc.stdout
    assert qemu_img_info(second["path"])["virtual-size"] == 128 * 1024**2
    p.run("config", "set", "capacity", "128MiB")

    # format change: a replacement (delete before create: the name is taken)
    p.run("config", "set", "format", "raw")
    assert "replace" in p.preview().stdout
    p.up()
    third = p.outputs()
    assert qemu_img_info(third["path"])["format"] == "raw"
    p.destroy()
    with pytest.raises(libvirt.libvirtError):
        conn.storageVolLookupByPath(third["path"])


BAD_POOL = '''
import pulumi
from pulumi_libvirt_storage import StoragePool
StoragePool("bad", name=pulumi.Config().require("name"), type="rbd", source={"name": "rbd"})
'''

BAD_VOLUME = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume
cfg = pulumi.Config()
pool = StoragePool("pool", name=cfg.require("name"), type="dir", target={"path": cfg.require("path")})
StorageVolume("vol", pool=pool, format="qcow2", capacity="12XB")
'''


def test_bad_input_fails_preview_naming_the_property_and_defines_nothing(project, conn,
                                                                         tmp_path: pathlib.Path) -> None:
    name = unique("bad")
    p = project(BAD_POOL, config={"name": name})
    proc = p.preview(check=False)
    assert proc.returncode != 0
    assert "source.hosts" in proc.stdout and "is required for a rbd pool" in proc.stdout
    proc = p.up(check=False)
    assert proc.returncode != 0
    assert name not in [x.name() for x in conn.listAllStoragePools()]

    name2 = unique("badvol")
    p2 = project(BAD_VOLUME, config={"name": name2, "path": str(tmp_path / "p")})
    proc = p2.preview(check=False)
    assert proc.returncode != 0 and "capacity" in proc.stdout and "20GiB" in proc.stdout
    assert name2 not in [x.name() for x in conn.listAllStoragePools()]


SECRET = '''
import pulumi
from pulumi_libvirt_storage import CephSecret

cfg = pulumi.Config()
secret = CephSecret("ceph", usage_name=cfg.require("usage"), value=cfg.require_secret("cephKey"),
                    description="test key")
pulumi.export("uuid", secret.uuid)
pulumi.export("fingerprint", secret.value_fingerprint)
'''


def test_ceph_key_rotation_in_place_and_key_never_in_state_or_output(project, conn) -> None:
    key1 = base64.b64encode(os.urandom(16)).decode()
    key2 = base64.b64encode(os.urandom(16)).decode()
    usage = unique("client.libvirt")
    p = project(SECRET, config={"usage": usage}, secrets={"cephKey": key1})
    p.up()
    first = p.outputs()
    secret = conn.secretLookupByUUIDString(first["uuid"])
    assert secret.usageID() == usage
    with pytest.raises(libvirt.libvirtError):
        secret.value()  # private: libvirt never gives it back
    p.preview("--expect-no-changes")

    p.run("config", "set", "--secret", "cephKey", stdin=key2)
    out = p.preview("--diff").stdout
    assert "replace" not in out.split("Resources:")[-1]
    p.up()
    second = p.outputs()
    assert second["uuid"] == first["uuid"], "rotation must keep the secret (pools refer to its uuid)"
    assert second["fingerprint"] != first["fingerprint"]
    p.refresh()
    p.preview("--expect-no-changes")

    # a new usage name replaces the secret; the replacement keeps the uuid derived from the resource's
    # identity (stack, name), so pools that refer to it by uuid need no change
    p.run("config", "set", "usage", usage + "-new")
    assert "replace" in p.preview().stdout
    p.up()
    third = p.outputs()
    assert third["uuid"] == first["uuid"]
    assert conn.secretLookupByUUIDString(third["uuid"]).usageID() == usage + "-new"
    with pytest.raises(libvirt.libvirtError):
        conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_CEPH, usage)
    p.destroy()

    everything = p.state_text() + "\n".join(p.log)
    for key in (key1, key2):
        assert key not in everything
        assert base64.b64decode(key).hex() not in everything
    with pytest.raises(libvirt.libvirtError):
        conn.secretLookupByUUIDString(third["uuid"])
