"""Out-of-band changes (fault 6 of issue 11): someone changes, on the host, every field libvirt
reports of a deployed stack. `pulumi refresh` must report each change in the state, and the next
`pulumi up` must repair it, or refuse with a message that says why, as the field policy table in the
README says. Nothing is replaced to repair a drift: a replacement would delete the volume's data."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import stat
import subprocess
import time

import libvirt
import pytest

from tests.conftest import unique

pytestmark = [pytest.mark.engine, pytest.mark.both_frontends]
MiB = 1024**2

PROGRAM = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume, CephSecret

cfg = pulumi.Config()
pool = StoragePool("pool", name=cfg.require("pool"), type="dir", autostart=True,
                   target={"path": cfg.require("path"), "permissions": {"mode": "0751"}})
StorageVolume("data", pool=pool, name="data.qcow2", format="qcow2", capacity="64MiB",
              permissions={"mode": "0640"})
StorageVolume("scratch", pool=pool, name="scratch.raw", format="raw", capacity="8MiB")
CephSecret("public", usage_name=cfg.require("usage") + "-public", value=cfg.require_secret("key"), private=False,
           description="managed")
CephSecret("private", usage_name=cfg.require("usage") + "-private", value=cfg.require_secret("key"))
'''


def virsh(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(["virsh", "-c", "qemu:///system", *args], check=True, capture_output=True, text=True,
                          input=stdin).stdout


def by_name(p) -> dict[str, dict]:
    return {r["urn"].rsplit("::", 1)[-1]: r for r in p.resources() if "libvirt-storage:" in r["type"]}


def changed(p, name: str) -> dict[str, object]:
    """The outputs of resource `name` as the state holds them."""
    return by_name(p)[name]["outputs"]


def test_out_of_band_changes_are_reported_by_refresh_and_repaired_or_refused_by_up(
        project, conn, tmp_path: pathlib.Path) -> None:
    name, usage = unique("oob"), unique("client.oob")
    key = base64.b64encode(os.urandom(16)).decode()
    path = tmp_path / "pool"
    p = project(PROGRAM, config={"pool": name, "path": str(path), "usage": usage}, secrets={"key": key})
    p.up()
    pool = conn.storagePoolLookupByName(name)
    data = pool.storageVolLookupByName("data.qcow2")
    pub = conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_CEPH, usage + "-public")
    priv = conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_CEPH, usage + "-private")
    assert changed(p, "data")["current_permissions"]["mode"] == "0640"
    written = os.urandom(64 * 1024)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P 0x5a 0 {len(written)}", str(path / "data.qcow2")],
                   check=True, capture_output=True)

    # Out of band: every field libvirt reports that someone can change on the host.
    started = time.monotonic()
    data.resize(128 * MiB, 0)
    os.chmod(path / "data.qcow2", 0o600)
    pool.storageVolLookupByName("scratch.raw").delete(0)
    pool.setAutostart(0)
    pub.setValue(b"changed on the host")
    priv.setValue(b"changed on the host")
    virsh("secret-define", "/dev/stdin", stdin=pub.XMLDesc(0).replace(">managed<", ">edited<"))

    refreshed = p.run("refresh", "--yes", "--skip-preview", "--diff")
    out = refreshed.stdout
    data_out, pool_out, pub_out = changed(p, "data"), changed(p, "pool"), changed(p, "public")
    assert data_out["current_capacity"] == 128 * MiB and data_out["capacity"] == 128 * MiB, "refresh reports a resize"
    assert data_out["current_permissions"]["mode"] == "0600", "refresh reports the volume's permissions"
    assert "scratch" not in by_name(p), "refresh reports the deleted volume gone"
    assert pool_out["autostart"] is False, "refresh reports autostart"
    assert pub_out["description"] == "edited", "refresh reports a description"
    assert "value_fingerprint" in out or "[secret]" in out, out

    # `up` repairs what libvirt can change in place and refuses, naming the property and the way out,
    # what only destroying data would undo. The preview shows it as an update, never a replacement.
    steps = p.preview_steps()
    assert steps == {"data": "update", "scratch": "create", "pool": "update", "public": "update"}, steps
    refused = p.up(check=False)
    text = refused.stdout + refused.stderr
    assert refused.returncode != 0, text
    assert "capacity: volume data.qcow2 is 134217728 bytes on the host" in text and "allow_shrink" in text, text
    assert "permissions: volume data.qcow2 has mode 0600 on the host" in text and "chmod 0640" in text, text
    assert pool.autostart() == 1, "up sets autostart back"
    assert [v.name() for v in pool.listAllVolumes()].count("scratch.raw") == 1, "up creates the deleted volume again"
    assert pub.value() == base64.b64decode(key), "up sets a readable secret's value back"
    assert "edited" not in pub.XMLDesc(0), "and its description"
    assert data.info()[1] == 128 * MiB and stat.S_IMODE(os.stat(path / "data.qcow2").st_mode) == 0o600

    # The user takes the host's figures for those two: an update, no replacement, and the stack converges.
    p.write_program(PROGRAM.replace('capacity="64MiB"', 'capacity="128MiB"').replace('"0640"', '"0600"'))
    steps = p.preview_steps()
    assert steps == {"data": "update"}, f"declaring what the host has is no replacement: {steps}"
    assert {k: v for k, v in p.up_steps().items() if v != "same"} == steps, "up does what the preview showed"
    repaired = time.monotonic() - started
    assert data.info()[1] == 128 * MiB and stat.S_IMODE(os.stat(path / "data.qcow2").st_mode) == 0o600
    read_back = subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"read -P 0x5a 0 {len(written)}",
                                str(path / "data.qcow2")], capture_output=True, text=True)
    assert "Pattern verification failed" not in read_back.stdout and read_back.returncode == 0, \
        "the data written before the drift is still there"

    # A private secret's value cannot be read back (libvirt refuses): its change is invisible to refresh.
    with pytest.raises(libvirt.libvirtError):
        priv.value()

    # A stopped pool: refresh reports it, up starts it again; its volumes are kept.
    pool.destroy()
    p.refresh()
    assert changed(p, "pool")["active"] is False
    assert p.preview_steps().get("pool") == "update"
    p.up()
    assert pool.isActive() == 1 and len(pool.listAllVolumes()) == 2
    p.refresh()
    p.preview("--expect-no-changes")
    print(f"\nout-of-band changes: 8 made on the host; 7 reported by refresh (not a private secret's value, which "
          f"libvirt never gives back); 2 refused by up naming the way out (shrink, permissions), 5 repaired; "
          f"{repaired:.1f} s from the changes to a converged stack")
    p.destroy()
