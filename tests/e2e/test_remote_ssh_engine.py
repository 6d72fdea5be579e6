"""`pulumi up` over qemu+ssh:// through the real engine, again and again: every run starts new provider
processes, each of which connects over ssh (libvirt forks the ssh client). In pulumi.dynamic's host
that fork used to meet gRPC's fork handlers and fail about 1 connect in 20 (tests/integration/
test_remote_uri.py measures the cause); 20 runs in a row per front end, each changing the volume, must
all succeed."""

from __future__ import annotations

import pytest

from tests.conftest import unique
from tests.support.sshd import sshd  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.engine, pytest.mark.both_frontends]

PROGRAM = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume

cfg = pulumi.Config()
uri = cfg.require("uri")
pool = StoragePool("pool", name=cfg.require("pool"), type="dir", target={"path": cfg.require("path")}, uri=uri)
volume = StorageVolume("data", pool=pool, name="data.qcow2", format="qcow2", capacity=cfg.require("size"), uri=uri)
pulumi.export("capacity", volume.capacity)
'''

RUNS = 20


def test_twenty_ups_over_qemu_ssh_in_a_row(sshd, project, conn, tmp_path) -> None:  # noqa: F811
    name = unique("ssh20")
    p = project(PROGRAM, config={"pool": name, "path": str(tmp_path / "pool"), "uri": sshd.uri, "size": "1MiB"})
    for run in range(1, RUNS + 1):
        p.run("config", "set", "size", f"{run}MiB")
        result = p.up(check=False)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"run {run} of {RUNS} over qemu+ssh failed:\n{output[-3000:]}"
        assert "fork() handlers" not in output, "gRPC's fork handlers ran where libvirt forked ssh"
        assert p.outputs()["capacity"] == run * 2**20
        assert conn.storagePoolLookupByName(name).storageVolLookupByName("data.qcow2").info()[1] == run * 2**20
    print(f"\n{RUNS} `pulumi up` runs over {sshd.uri.split('?')[0]} in a row, each a new provider process "
          "connecting over ssh: all succeeded")
    p.destroy()
