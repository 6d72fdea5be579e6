"""The first vertical slice through the real engine: a dir StoragePool taken through
`pulumi up`, a no-change preview, refresh, an in-place change, and destroy, checking after
each step what libvirt really holds."""

from __future__ import annotations

import os
import pathlib
import subprocess

import pytest
from lxml import etree

from tests.conftest import unique

pytestmark = [pytest.mark.engine, pytest.mark.both_frontends]

PROGRAM = '''
import pulumi
from pulumi_libvirt_storage import StoragePool

cfg = pulumi.Config()
pool = StoragePool("pool", name=cfg.require("name"), type="dir",
                   autostart=cfg.require_bool("autostart"),
                   target={"path": cfg.require("path"), "permissions": {"mode": cfg.require("mode")}})
pulumi.export("uuid", pool.uuid)
pulumi.export("target_path", pool.target_path)
pulumi.export("active", pool.active)
'''


def virsh(*args: str) -> str:
    return subprocess.run(["virsh", "-c", "qemu:///system", *args], check=True, capture_output=True,
                          text=True).stdout


def pool_info(name: str) -> dict[str, str]:
    lines = [line.split(":", 1) for line in virsh("pool-info", name).splitlines() if ":" in line]
    return {k.strip(): v.strip() for k, v in lines}


def test_dir_pool_life_cycle_through_the_engine(project, conn, tmp_path: pathlib.Path) -> None:
    name = unique("dirpool")
    path = tmp_path / "pool-dir"
    p = project(PROGRAM, config={"name": name, "path": str(path), "mode": "0750", "autostart": "true"})

    # up: defined, built (directory made with the mode), started, autostarted
    p.up()
    info = pool_info(name)
    assert info["State"] == "running" and info["Autostart"] == "yes" and info["Persistent"] == "yes"
    xml = etree.fromstring(virsh("pool-dumpxml", name).encode())
    assert xml.findtext("target/path") == str(path)
    assert xml.findtext("target/permissions/mode") == "0750"
    assert path.is_dir() and oct(path.stat().st_mode & 0o7777) == "0o750"
    outputs = p.outputs()
    assert outputs["uuid"] == info["UUID"] and outputs["active"] is True
    assert outputs["target_path"] == str(path)

    # a second preview promises nothing
    p.preview("--expect-no-changes")

    # refresh after nothing changed keeps the state as it was
    p.refresh()
    p.preview("--expect-no-changes")

    # in-place change: autostart off and a new mode, same pool (same uuid)
    p.run("config", "set", "autostart", "false")
    p.run("config", "set", "mode", "0700")
    preview = p.preview("--diff").stdout
    assert "replace" not in preview.split("Resources:")[-1], preview
    p.up()
    info2 = pool_info(name)
    assert info2["UUID"] == info["UUID"], "an in-place change must not replace the pool"
    assert info2["Autostart"] == "no" and info2["State"] == "running"
    assert oct(path.stat().st_mode & 0o7777) == "0o700"
    p.preview("--expect-no-changes")

    # destroy: stopped and undefined; the directory (the data) is kept by default
    (path / "keep-me").write_text("data")
    p.destroy()
    assert name not in virsh("pool-list", "--all", "--name").split()
    assert (path / "keep-me").read_text() == "data"


def test_refresh_shows_autostart_changed_with_virsh(project, conn, tmp_path: pathlib.Path) -> None:
    name = unique("drift")
    p = project(PROGRAM, config={"name": name, "path": str(tmp_path / "d"), "mode": "0755",
                                 "autostart": "true"})
    p.up()
    virsh("pool-autostart", name, "--disable")
    p.refresh()
    # the program still says autostart=true: the next preview must plan an in-place update
    proc = p.preview("--expect-no-changes", check=False)
    assert proc.returncode != 0 and "update" in proc.stdout
    p.up()
    assert pool_info(name)["Autostart"] == "yes"
    p.preview("--expect-no-changes")
    p.destroy()


def test_pool_deleted_out_of_band_is_created_again_after_refresh(project, conn, tmp_path: pathlib.Path) -> None:
    name = unique("gone")
    p = project(PROGRAM, config={"name": name, "path": str(tmp_path / "g"), "mode": "0755",
                                 "autostart": "true"})
    p.up()
    virsh("pool-destroy", name)
    virsh("pool-undefine", name)
    p.refresh()
    assert "create" in p.preview().stdout
    p.up()
    assert pool_info(name)["State"] == "running"
    p.destroy()
