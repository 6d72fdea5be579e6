"""Data safety through the real engine: the ways a run used to destroy data, each proven closed
(README, "What this provider never does")."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import libvirt
import pytest
from lxml import etree

from tests.conftest import unique

pytestmark = [pytest.mark.engine, pytest.mark.both_frontends]

MiB = 1024**2
PATTERN = b"guest data that must survive \x5a" * 1024


def write_pattern(path: str, offset: int = 4 * MiB) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(PATTERN)


def has_pattern(path: str, offset: int = 4 * MiB) -> bool:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(len(PATTERN)) == PATTERN


POOL_AND_DISK = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume

cfg = pulumi.Config()
pool = StoragePool("pool", name=cfg.require("pool"), type="dir", uri=cfg.get("uri"), uuid=cfg.get("poolUuid"),
                   target={"path": cfg.require("path")})
disk = StorageVolume("disk", pool=pool, name="disk.img", format=cfg.get("format") or "raw", capacity="16MiB")
pulumi.export("path", disk.path)
pulumi.export("disk_xml", disk.disk_xml)
pulumi.export("current_format", disk.current_format)
'''


def all_same(steps: dict[str, str]) -> bool:
    return all(op == "same" for op in steps.values())


def with_same(steps: dict[str, str], *names: str) -> dict[str, str]:
    """(pulumi preview --json leaves some unchanged resources out: missing means "same")"""
    return {**{n: "same" for n in names}, **steps}


def test_an_explicit_uri_equal_to_the_default_changes_nothing_and_keeps_the_data(project, conn, tmp_path) -> None:
    """Measured before: uri=None -> "qemu:///system" replaced the pool and the volume (which inherits
    the pool's uri) and the volume's data was gone."""
    p = project(POOL_AND_DISK, config={"pool": unique("uri"), "path": str(tmp_path / "pool")})
    p.up()
    path = p.outputs()["path"]
    write_pattern(path)
    for spelling in ("qemu:///system", "qemu+unix:///system"):
        p.run("config", "set", "uri", spelling)
        planned, done = p.preview_steps(), p.up_steps()
        assert all_same(planned) and all_same(done), (spelling, planned, done)
        assert has_pattern(path)
    p.destroy()


def test_a_pool_replaced_over_the_same_storage_does_not_take_its_volumes(project, conn, tmp_path) -> None:
    """Measured before: when a pool is replaced (delete before replace), the engine first asks every
    volume that took an output of the pool whether it must be replaced too, with those outputs
    unknown; the volume said yes and was deleted first, data and all."""
    name = unique("repl")
    p = project(POOL_AND_DISK, config={"pool": name, "path": str(tmp_path / "pool")})
    p.up()
    path = p.outputs()["path"]
    write_pattern(path)
    p.run("config", "set", "poolUuid", "1c2b3a49-5d6e-4f70-8a9b-0c1d2e3f4a5b")
    planned, done = with_same(p.preview_steps(), "pool", "disk"), with_same(p.up_steps(), "pool", "disk")
    assert planned == done == {"pool": "replace", "disk": "same"}
    assert conn.storagePoolLookupByName(name).UUIDString() == "1c2b3a49-5d6e-4f70-8a9b-0c1d2e3f4a5b"
    assert has_pattern(path)
    assert conn.storageVolLookupByPath(path).name() == "disk.img"  # still a volume of the new pool
    p.preview("--expect-no-changes")
    p.destroy()


POOL_URI_TO_DISK = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume

cfg = pulumi.Config()
pool = StoragePool("pool", name=cfg.require("pool"), type="dir", uuid=cfg.get("poolUuid"),
                   target={"path": cfg.require("path")})
disk = StorageVolume("disk", pool=pool.name, name="disk.img", format="raw", capacity="16MiB", uri=pool.uri)
pulumi.export("path", disk.path)
'''


def test_a_volume_given_its_pools_uri_previews_what_up_does_when_the_pool_is_replaced(project, conn, tmp_path) -> None:
    """Measured before: the pool's `uri` output was unknown in the preview of its replacement, so a
    volume declared with `uri=pool.uri` previewed a replacement (its uri "changing") that `up`, with
    the uri known and the same, did not do. The uri a create reports is predicted now."""
    name = unique("pooluri")
    p = project(POOL_URI_TO_DISK, config={"pool": name, "path": str(tmp_path / "pool")})
    p.up()
    path = p.outputs()["path"]
    write_pattern(path)
    p.run("config", "set", "poolUuid", "6a1c9e0b-2f3d-4e5a-8b7c-9d0e1f2a3b4c")
    planned, done = with_same(p.preview_steps(), "pool", "disk"), with_same(p.up_steps(), "pool", "disk")
    assert planned == done == {"pool": "replace", "disk": "same"}, (planned, done)
    assert has_pattern(path)
    p.preview("--expect-no-changes")
    p.destroy()


PERMISSIONS = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume

cfg = pulumi.Config()
pool = StoragePool("pool", name=cfg.require("pool"), type="dir", target={"path": cfg.require("path")})
declared = {k: v for k, v in {"mode": cfg.get("mode"), "owner": cfg.get_int("owner")}.items() if v is not None}
disk = StorageVolume("disk", pool=pool, name="disk.img", format="raw", capacity="16MiB",
                     permissions=declared or None)
pulumi.export("path", disk.path)
'''


def test_permissions_no_longer_declared_change_nothing_and_keep_the_data(project, conn, tmp_path) -> None:
    """Measured before: dropping a volume's `permissions` (or one of its fields) from the program
    replaced the volume, deleting its data, for a change that leaves the file as it is. Now each drop
    previews and runs as an update of the state, and the file keeps its data and its mode."""
    p = project(PERMISSIONS, config={"pool": unique("perm"), "path": str(tmp_path / "pool"), "mode": "0640",
                                     "owner": "0"})
    p.up()
    path = p.outputs()["path"]
    write_pattern(path)
    for dropped in ("owner", "mode"):
        p.run("config", "rm", dropped)
        planned, done = with_same(p.preview_steps(), "pool", "disk"), with_same(p.up_steps(), "pool", "disk")
        assert planned == done == {"pool": "same", "disk": "update"}, (dropped, planned, done)
        assert has_pattern(path), f"the data survives dropping {dropped}"
        assert os.stat(path).st_mode & 0o7777 == 0o640, "the file keeps the mode it had"
    p.preview("--expect-no-changes")
    p.destroy()


def test_a_guest_writing_a_qcow2_header_into_its_raw_disk_changes_nothing(project, conn, tmp_path) -> None:
    """Measured before: libvirt probes a file's format from its content on refresh; a raw disk whose
    guest wrote a qcow2 header read back as qcow2, format differed, and the next up replaced the
    volume. And the probed format reached disk_xml: a qcow2 header naming a backing file lets a
    guest read host files."""
    name = unique("probe")
    p = project(POOL_AND_DISK, config={"pool": name, "path": str(tmp_path / "pool")})
    p.up()
    path = p.outputs()["path"]
    # What a guest can do to its own disk: write a qcow2 header that names a host file as backing.
    header = tmp_path / "header.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/etc/passwd", str(header), "16M"],
                   check=True)
    with open(path, "r+b") as f:
        f.write(header.read_bytes())
    write_pattern(path)
    conn.storagePoolLookupByName(name).refresh(0)  # libvirt now believes the file is qcow2
    assert "qcow2" in conn.storageVolLookupByPath(path).XMLDesc(0)

    p.refresh()
    out = next(r["outputs"] for r in p.resources() if r["type"].endswith(":StorageVolume"))
    assert out["current_format"] == "qcow2"  # reported, as libvirt sees it
    assert out["format"] == "raw"  # the declared format stays the truth
    disk = etree.fromstring(out["disk_xml"].encode())
    assert disk.find("driver").get("type") == "raw" and disk.find("backingStore") is None
    planned, done = p.preview_steps(), p.up_steps()
    assert all_same(planned) and all_same(done), (planned, done)
    assert has_pattern(path)
    p.destroy()


AUTONAMED = '''
import pulumi
from pulumi_libvirt_storage import CephSecret, StoragePool, StorageVolume

cfg = pulumi.Config()
key = CephSecret("key", usage_name=cfg.require("usage"), value=cfg.require_secret("cephKey"))
pool = StoragePool("autopool", type="dir", target={"path": cfg.require("path")})
disk = StorageVolume("autodisk", pool=pool, format="raw", capacity="1MiB")
pulumi.export("pool", pool.name)
pulumi.export("pool_uuid", pool.uuid)
pulumi.export("disk", disk.name)
pulumi.export("key_uuid", key.uuid)
'''


def test_auto_names_and_uuids_are_the_same_in_the_preview_and_the_run_and_a_saved_plan_holds(
        project, conn, tmp_path) -> None:
    """Measured before: auto-names and a CephSecret's uuid were random per check, so the preview
    showed names up did not use, and `pulumi up --plan` could not hold."""
    import base64
    usage = unique("autokey")
    p = project(AUTONAMED, config={"usage": usage, "path": str(tmp_path / "auto")},
                secrets={"cephKey": base64.b64encode(os.urandom(16)).decode()})
    preview = json.loads(p.run("preview", "--json").stdout)
    planned = {s["urn"].split("::")[-1]: s["newState"]["inputs"] for s in preview["steps"]
               if s["op"] == "create" and s["urn"].split("::")[-1] in ("autopool", "autodisk", "key")}
    p.run("preview", "--save-plan", str(tmp_path / "plan.json"))
    p.run("up", "--yes", "--plan", str(tmp_path / "plan.json"))
    out = p.outputs()
    assert out["pool"] == planned["autopool"]["name"] and out["pool"].startswith("autopool-")
    assert out["pool_uuid"] == planned["autopool"]["uuid"]
    assert out["disk"] == planned["autodisk"]["name"]
    assert out["key_uuid"] == planned["key"]["uuid"]
    NAMED = out["pool"]
    from tests.conftest import NAMED_BY_THIS_TEST
    NAMED_BY_THIS_TEST.add(NAMED)
    assert conn.storagePoolLookupByName(NAMED).UUIDString() == out["pool_uuid"]
    p.destroy()
    with pytest.raises(libvirt.libvirtError):
        conn.storagePoolLookupByName(NAMED)
