"""Errors only the host can reveal (issue 11): a name taken outside the stack, a target path that is
a file, a read-only file system, a volume in use by a running domain. Each reaches the user, through
the real engine on both front ends, as one clear message that names the object and the way out:
no Python traceback (pulumi.dynamic's host prints our errors' messages alone, see
dynamic/plain_errors.py), and nothing of the failed step is left on the host."""

from __future__ import annotations

import pathlib
import subprocess

import libvirt
import pytest

from tests.conftest import unique

pytestmark = [pytest.mark.engine, pytest.mark.both_frontends]

POOL = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume

cfg = pulumi.Config()
pool = StoragePool("pool", name=cfg.require("pool"), type="dir", target={"path": cfg.require("path")})
if cfg.get("volume"):
    StorageVolume("vol", pool=pool, name=cfg.require("volume"), format="raw", capacity="4MiB")
'''


def failed(p) -> str:
    proc = p.up(check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text
    assert "Traceback" not in text and 'File "' not in text, f"a traceback reached the user:\n{text}"
    return text


def pool_names(conn) -> set[str]:
    return {x.name() for x in conn.listAllStoragePools()}


def test_a_pool_name_taken_outside_the_stack(project, conn, tmp_path: pathlib.Path, request) -> None:
    name = unique("taken")
    outside = conn.storagePoolDefineXML(f"<pool type='dir'><name>{name}</name><target><path>{tmp_path / 'theirs'}"
                                        "</path></target></pool>", 0)
    request.addfinalizer(outside.undefine)
    p = project(POOL, config={"pool": name, "path": str(tmp_path / "ours")})
    text = failed(p)
    assert name in text and "adopt" in text, text
    assert outside.XMLDesc(0).count("theirs") == 1, "the pool outside the stack is untouched"
    assert not (tmp_path / "ours").exists()
    p.destroyed = True


def test_a_target_path_that_is_a_file(project, conn, tmp_path: pathlib.Path) -> None:
    name = unique("file")
    target = tmp_path / "a-file"
    target.write_bytes(b"keep me")
    p = project(POOL, config={"pool": name, "path": str(target)})
    text = failed(p)
    assert str(target) in text and name in text, text
    assert target.read_bytes() == b"keep me" and name not in pool_names(conn), "nothing made, nothing touched"
    p.destroyed = True


def test_a_target_on_a_read_only_file_system(project, conn, tmp_path: pathlib.Path, request) -> None:
    name = unique("ro")
    mount = tmp_path / "ro"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount)], check=True)
    request.addfinalizer(lambda: subprocess.run(["umount", str(mount)], check=False))
    p = project(POOL, config={"pool": name, "path": str(mount / "images")})
    text = failed(p)
    assert "Read-only file system" in text and name in text, text
    assert name not in pool_names(conn), "a failed create leaves no pool behind"
    p.destroyed = True


def test_a_volume_name_taken_outside_the_stack(project, conn, tmp_path: pathlib.Path) -> None:
    name = unique("voltaken")
    p = project(POOL, config={"pool": name, "path": str(tmp_path / "pool")})
    p.up()
    (tmp_path / "pool" / "theirs.img").write_bytes(b"their data")
    p.run("config", "set", "volume", "theirs.img")
    text = failed(p)
    assert "theirs.img" in text and "adopt" in text, text
    assert (tmp_path / "pool" / "theirs.img").read_bytes() == b"their data", "their volume is untouched"
    p.run("config", "rm", "volume")
    p.destroy()


def test_a_volume_in_use_by_a_running_domain_is_not_deleted(project, conn, tmp_path: pathlib.Path,
                                                             request) -> None:
    name = unique("inuse")
    # QEMU runs as libvirt-qemu: the pool must be where it can reach the file
    path = pathlib.Path(f"/var/lib/libvirt/{name}")
    request.addfinalizer(lambda: subprocess.run(["rm", "-rf", str(path)], check=False))
    p = project(POOL, config={"pool": name, "path": str(path), "volume": "disk.img"})
    p.up()
    disk = pathlib.Path(conn.storagePoolLookupByName(name).storageVolLookupByName("disk.img").path())
    xml = (f"<domain type='qemu'><name>{name}-vm</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>"
           "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices><disk type='file' device='disk'>"
           f"<driver name='qemu' type='raw'/><source file='{disk}'/><target dev='vdb' bus='virtio'/>"
           "</disk></devices></domain>")
    dom = conn.createXML(xml, libvirt.VIR_DOMAIN_START_PAUSED)  # transient: gone when destroyed

    def gone() -> None:
        try:
            dom.destroy()
        except libvirt.libvirtError:
            pass  # destroyed by the test: a transient domain is then undefined too
    request.addfinalizer(gone)
    p.run("config", "rm", "volume")
    text = failed(p)
    assert f"in use by running domain {name}-vm (vdb)" in text and "shut the domain down" in text, text
    assert disk.exists(), "the volume under the running guest is not deleted"
    dom.destroy()
    p.up()
    assert not disk.exists(), "once the domain is gone, the volume goes as the program says"
    p.destroy()
