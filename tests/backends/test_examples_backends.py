"""examples/ceph-rbd and examples/gluster, run for real through the engine against the one-node
Ceph and the one-brick glusterd that this tier starts on 127.0.0.1."""

from __future__ import annotations

import base64
import pathlib

import pytest

from tests.backends.fixtures_net import gluster  # noqa: F401  (session fixture)
from tests.conftest import unique
from tests.support.engine import Project

pytestmark = pytest.mark.engine
EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


def example(name: str, workdir: pathlib.Path, config: dict[str, str], secrets: dict[str, str] | None = None
            ) -> Project:
    return Project(workdir, (EXAMPLES / name / "__main__.py").read_text(), name=name, config=config,
                   secrets=secrets)


def test_ceph_rbd_example(ceph, conn, tmp_path: pathlib.Path) -> None:
    image = unique("exdisk")
    p = example("ceph-rbd", tmp_path / "p", {
        "monitors": f"{ceph.mon_host}:{ceph.mon_port}", "cephPool": ceph.pool, "cephClient": ceph.client,
        "secretUsage": unique("client.example"), "poolName": unique("exrbd"), "volumeName": image,
        "capacity": "64MiB"}, secrets={"cephKey": ceph.key})
    try:
        p.up()
        out = p.outputs()
        assert image in ceph.rbd("ls", ceph.pool).split()
        assert f"name=\"{ceph.pool}/{image}\"" in out["disk_xml"] and out["secret_uuid"] in out["disk_xml"]
        p.preview("--expect-no-changes")
        p.destroy()
        assert image not in ceph.rbd("ls", ceph.pool).split()
        everything = p.state_text() + "\n".join(p.log)
        assert ceph.key not in everything and base64.b64decode(ceph.key).hex() not in everything
    finally:
        p.close()


def test_gluster_example(gluster, conn, tmp_path: pathlib.Path) -> None:  # noqa: F811
    prefix = unique("exgl")
    p = example("gluster", tmp_path / "p", {"host": gluster.host, "volume": gluster.volume, "prefix": prefix,
                                            "mountPoint": str(tmp_path / "mnt")})
    try:
        p.up()
        assert (gluster.brick / "vm1.qcow2").exists(), "the mounted pool's volume is a file in the volume"
        p.preview("--expect-no-changes")
        p.destroy()
        assert not (gluster.brick / "vm1.qcow2").exists()
    finally:
        p.close()
