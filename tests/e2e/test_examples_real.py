"""The examples whose backends run on this machine, for real through the engine. (ceph-rbd and
gluster run against their servers in tests/backends, vm-composition with its VM in
tests/e2e/test_vm_composition.py; all examples also run under mocks in tests/unit/test_examples_mocked.py.)"""

from __future__ import annotations

import pathlib
import subprocess

import libvirt
import pytest

from tests.conftest import unique
from tests.support.engine import Project
from tests.support.loopdev import loop_device

pytestmark = pytest.mark.engine
EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def example(name: str, workdir: pathlib.Path, config: dict[str, str]) -> Project:
    return Project(workdir, (EXAMPLES / name / "__main__.py").read_text(), name=name, config=config)


def test_quickstart_example(conn, tmp_path: pathlib.Path) -> None:
    prefix = unique("qs")
    p = example("quickstart", tmp_path / "p", {"prefix": prefix, "poolPath": str(tmp_path / "pool")})
    try:
        p.up()
        out = p.outputs()
        info = subprocess.run(["qemu-img", "info", out["disk_path"]], capture_output=True, text=True).stdout
        assert "backing file: " + out["base_path"] in info
        p.preview("--expect-no-changes")
        p.destroy()
    finally:
        p.close()


def test_fs_on_device_example(conn, tmp_path: pathlib.Path) -> None:
    with loop_device(tmp_path / "dev.img", 512 * 1024**2) as dev:
        p = example("fs-on-device", tmp_path / "p", {"name": unique("fsdev"), "device": dev,
                                                     "mountPoint": str(tmp_path / "mnt")})
        try:
            p.up()
            assert (tmp_path / "mnt" / "disk0.qcow2").exists()
            p.preview("--expect-no-changes")
            p.destroy()
        finally:
            p.close()


def test_encrypted_volume_example(conn, tmp_path: pathlib.Path) -> None:
    passphrase = "example " + unique("pp")
    p = Project(tmp_path / "p", (EXAMPLES / "encrypted-volume" / "__main__.py").read_text(), name="encrypted-volume",
                config={"prefix": unique("enc"), "poolPath": str(tmp_path / "pool")},
                secrets={"passphrase": passphrase})
    try:
        p.up()
        out = p.outputs()
        info = subprocess.run(["qemu-img", "info", out["disk_path"]], capture_output=True, text=True).stdout
        assert "encrypted: yes" in info and "format: luks" in info, info
        assert f"uuid='{out['secret_uuid']}'" in out["disk_xml"].replace('"', "'")
        assert conn.secretLookupByUUIDString(out["secret_uuid"]).usageType() == libvirt.VIR_SECRET_USAGE_TYPE_VOLUME
        p.preview("--expect-no-changes")
        assert passphrase not in p.state_text() + "\n".join(p.log)
        p.destroy()
    finally:
        p.close()
