"""The CI guard (examples/ci-guard/ci.sh) through the real engine: a grow passes, a replacement of a
volume is refused until it is allowed by name."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

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
