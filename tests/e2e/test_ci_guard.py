"""The CI guard (examples/ci-guard/ci.sh) through the real engine: a grow passes, a replacement of a
volume is refused until it is allowed by name; so are deleted secrets and a pool create that would
format its device."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import libvirt
import pytest

from tests.conftest import unique
from tests.support.engine import Project

pytestmark = [pytest.mark.engine, pytest.mark.both_frontends]
EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "ci-guard"


def ci(p: Project, allow: str = "") -> subprocess.CompletedProcess[str]:
    env = {**p.env, "ALLOW_STORAGE_CHANGES": allow}
    return subprocess.run(["bash", str(p.workdir / "ci.sh")], env=env, capture_output=True, text=True, timeout=600)


def test_ci_guard_passes_a_grow_and_refuses_a_replacement_until_allowed(project, conn, tmp_path) -> None:
    prefix = unique("guard")
    p = project((EXAMPLE / "__main__.py").read_text(),
                config={"prefix": prefix, "poolPath": str(tmp_path / "pool"), "diskCapacity": "64MiB"})
    shutil.copy(EXAMPLE / "ci.sh", p.workdir / "ci.sh")
    p.up()

    p.run("config", "set", "diskCapacity", "128MiB")
    grow = ci(p)
    assert grow.returncode == 0, grow.stdout + grow.stderr
    assert "no libvirt pool, volume or secret is deleted or replaced" in grow.stdout

    p.run("config", "set", "diskFormat", "qcow2")
    refused = ci(p)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "REFUSED  REPLACE StorageVolume vm1-disk" in refused.stdout
    assert "its data is lost" in refused.stdout and "format" in refused.stdout
    assert "--allow vm1-disk" in refused.stdout

    allowed = ci(p, allow="vm1-disk")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "allowed  REPLACE StorageVolume vm1-disk" in allowed.stdout

    # Resources removed from the program: the volume's data goes, the pool's stays; both need the allow.
    p.write_program("import pulumi\n")
    dropped = ci(p, allow="vm1-disk")
    assert dropped.returncode == 1
    assert "REFUSED  DELETE  StoragePool images: pool " in dropped.stdout and "are kept" in dropped.stdout
    assert "allowed  DELETE  StorageVolume vm1-disk" in dropped.stdout
    assert ci(p, allow="vm1-disk images").returncode == 0
    p.write_program((EXAMPLE / "__main__.py").read_text())
    p.destroy()


SECRETS = """import pulumi

from pulumi_libvirt_storage import IscsiSecret, VolumeSecret

config = pulumi.Config()
prefix = config.require("prefix")
VolumeSecret("luks", usage_name=f"{prefix}-luks", value=config.require_secret("passphrase"))
IscsiSecret("chap", usage_name=f"{prefix}-chap", value=config.require_secret("chapPassword"))
"""


def test_ci_guard_refuses_deleting_a_volume_secret_and_an_iscsi_secret_until_allowed(project, conn) -> None:
    """Issue 20: this preview passed the guard ("no libvirt pool, volume or secret is deleted or
    replaced") when its list of resources named 3 of the 7."""
    prefix = unique("guard")
    p = project(SECRETS, config={"prefix": prefix},
                secrets={"passphrase": "correct horse battery", "chapPassword": "chap-secret-1"})
    shutil.copy(EXAMPLE / "ci.sh", p.workdir / "ci.sh")
    p.up()
    assert conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_VOLUME, f"{prefix}-luks")

    p.write_program("import pulumi\n")
    refused = ci(p)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert (f"REFUSED  DELETE  VolumeSecret luks: secret {prefix}-luks is undefined: the volumes encrypted with its "
            "passphrase cannot be opened through libvirt") in refused.stdout
    assert f"REFUSED  DELETE  IscsiSecret chap: secret {prefix}-chap is undefined: pools that log in" in refused.stdout
    assert "--allow luks --allow chap" in refused.stdout
    allowed = ci(p, allow="luks chap")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    p.write_program(SECRETS)
    p.destroy()


OVERWRITE = """import pulumi

from pulumi_libvirt_storage import StoragePool

config = pulumi.Config()
StoragePool("data", name=config.require("prefix"), type="fs", build=True, build_mode="overwrite",
            source={"devices": [{"path": config.require("device")}], "format": "ext4"},
            target={"path": config.require("mount")})
"""


def test_ci_guard_refuses_a_pool_create_that_formats_its_device(project, conn, tmp_path) -> None:
    """Only previewed: the guard reads the planned inputs of the create (snake_case from the dynamic
    provider, camelCase from the plugin); nothing is made, the device is never touched."""
    prefix = unique("guard")
    device = "/dev/plstest-guard-no-such-device"
    p = project(OVERWRITE, config={"prefix": prefix, "device": device, "mount": str(tmp_path / "mnt")})
    shutil.copy(EXAMPLE / "ci.sh", p.workdir / "ci.sh")
    refused = ci(p)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert (f"REFUSED  CREATE  StoragePool data: device reformatted: {device} is formatted anew (build_mode "
            "overwrite, fs pool): whatever it holds is lost") in refused.stdout
    assert ci(p, allow="data").returncode == 0
    with pytest.raises(libvirt.libvirtError):
        conn.storagePoolLookupByName(prefix)
