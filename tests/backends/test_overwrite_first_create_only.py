"""build_mode overwrite formats an fs pool's device on the resource's first create only (issue 20,
item 1), through the real engine on both front ends, on a loop device.

Measured before the fix: overwrite applied on every create, so a replacement of the pool (any
replace-only field: here target.path) and the re-create of a pool found again under its own name and
uuid (a recreated stack) formatted the device again, and the file the pool held was gone.
"""

from __future__ import annotations

import pathlib
import subprocess
from typing import Iterator

import libvirt
import pytest

from tests.conftest import unique
from tests.e2e.test_workflow_identity import recreate_stack
from tests.support.engine import Project
from tests.support.loopdev import loop_device

pytestmark = [pytest.mark.libvirtd, pytest.mark.engine, pytest.mark.both_frontends]
MiB = 1024**2

PROGRAM = '''
import pulumi
from pulumi_libvirt_storage import StoragePool

cfg = pulumi.Config()
pool = StoragePool("fs", name=cfg.require("name"), type="fs", target={"path": cfg.require("mnt")},
                   source={"devices": [{"path": cfg.require("device")}], "format": cfg.require("format")},
                   build_mode="overwrite")
pulumi.export("uuid", pool.uuid)
'''


def blkid(device: str) -> str:
    return subprocess.run(["blkid", "-o", "value", "-s", "TYPE", device], capture_output=True, text=True).stdout.strip()


def mounted_at(path: pathlib.Path) -> str:
    return subprocess.run(["findmnt", "-n", "-o", "SOURCE", str(path)], capture_output=True, text=True).stdout.strip()


def read_from_device(device: str, staging: pathlib.Path, name: str) -> str | None:
    """The file `name` at the root of the device's file system (mounted read-only for the look), or None."""
    staging.mkdir(exist_ok=True)
    subprocess.run(["mount", "-o", "ro", device, str(staging)], check=True)
    try:
        path = staging / name
        return path.read_text() if path.exists() else None
    finally:
        subprocess.run(["umount", str(staging)], check=True)


@pytest.fixture
def device(tmp_path: pathlib.Path) -> Iterator[str]:
    # sparse; xfs wants more than 300 MB
    with loop_device(tmp_path / "disk.img", 512 * MiB) as dev:
        yield dev


def kept(path: pathlib.Path) -> str | None:
    return path.read_text() if path.exists() else None


def first_up(project, device: str, tmp_path: pathlib.Path) -> tuple[Project, dict[str, str]]:
    """The pool's first create on a device holding xfs: formatted as ext4, as overwrite asks; a file
    written into it."""
    subprocess.run(["mkfs.xfs", "-q", "-f", device], check=True)
    config = {"name": unique("fsow"), "mnt": str(tmp_path / "mnt"), "device": device, "format": "ext4"}
    p = project(PROGRAM, config=config)
    p.up()
    assert blkid(device) == "ext4", "overwrite formats the device on the pool's first create"
    assert mounted_at(tmp_path / "mnt") == device
    (tmp_path / "mnt" / "precious.txt").write_text("keep me")
    return p, config


def test_a_replacement_of_a_pool_with_build_mode_overwrite_keeps_the_device_s_data(
        device: str, project, conn, tmp_path: pathlib.Path) -> None:
    """Measured before: the replacement (target.path is replace-only) formatted the device again."""
    p, _ = first_up(project, device, tmp_path)
    moved = tmp_path / "moved"
    p.run("config", "set", "--plaintext", "mnt", str(moved))
    assert p.up_steps() == {"fs": "replace"}
    assert mounted_at(moved) == device and mounted_at(tmp_path / "mnt") == ""
    assert kept(moved / "precious.txt") == "keep me", "the replacement reformatted the device"
    assert blkid(device) == "ext4"
    p.destroy()
    assert mounted_at(moved) == "" and blkid(device) == "ext4"


def test_a_pool_found_again_under_its_own_name_and_uuid_is_taken_over_not_formatted(
        device: str, project, conn, tmp_path: pathlib.Path) -> None:
    """A recreated stack (`pulumi stack rm --force`, `stack init`, `up`) finds the pool under its own
    name and derived uuid, stopped meanwhile so that it must be built again to start. Measured
    before: it was undefined and created again, and overwrite formatted the device."""
    p, config = first_up(project, device, tmp_path)
    mnt = tmp_path / "mnt"
    uuid = p.outputs()["uuid"]
    conn.storagePoolLookupByName(config["name"]).destroy()
    assert mounted_at(mnt) == ""
    recreate_stack(p, config, {})
    p.up()
    assert p.outputs()["uuid"] == uuid, "the pool found again is taken over, not made anew"
    assert mounted_at(mnt) == device
    assert kept(mnt / "precious.txt") == "keep me", "the pool found again was formatted"
    assert blkid(device) == "ext4"
    p.preview("--expect-no-changes")
    p.destroy()
    assert mounted_at(mnt) == "" and blkid(device) == "ext4"


def test_a_replacement_declaring_another_format_fails_and_formats_nothing(
        device: str, project, conn, tmp_path: pathlib.Path) -> None:
    """A replacement whose source.format is not what the device holds fails, saying that overwrite
    formats on the first create only; the device keeps its file system and data. Measured before: the
    replacement formatted the device as xfs. Then, the format put back, the next `up` makes the pool
    again over its data (the engine keeps the resource, pending replacement: not a first create)."""
    p, config = first_up(project, device, tmp_path)
    mnt = tmp_path / "mnt"
    p.run("config", "set", "--plaintext", "format", "xfs")
    failed = p.up(check=False)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0, f"the replacement formatted the device as {blkid(device)}:\n{output}"
    assert "first create" in output and "nothing was changed" in output, output
    assert blkid(device) == "ext4", "the device was formatted"
    with pytest.raises(libvirt.libvirtError):
        conn.storagePoolLookupByName(config["name"])  # the new definition undone; the engine deleted the old one
    assert read_from_device(device, tmp_path / "staging", "precious.txt") == "keep me"

    p.run("config", "set", "--plaintext", "format", "ext4")
    p.up()
    assert mounted_at(mnt) == device
    assert kept(mnt / "precious.txt") == "keep me", "the create after the failed replacement formatted"
    p.destroy()
    assert mounted_at(mnt) == "" and blkid(device) == "ext4"
