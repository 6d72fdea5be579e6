"""Load through the real engine and the real daemon (issue 11): many creates at once in one pool, and
two stacks applying to the same pool at the same time. Each test prints what it cost."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import time
from typing import Iterator

import libvirt
import pytest

from tests.conftest import unique
from tests.support.engine import pulumi_binary

pytestmark = [pytest.mark.engine, pytest.mark.both_frontends]

LOAD = '''
import pulumi
from pulumi_libvirt_storage import StorageVolume

cfg = pulumi.Config()
for i in range(int(cfg.require("n"))):
    StorageVolume(f"v{i}", pool=cfg.require("pool"), pool_type="dir", name=f"{cfg.require('prefix')}-{i}.qcow2",
                  format="qcow2", capacity="64MiB")
'''


@pytest.fixture
def shared_pool(conn: libvirt.virConnect, tmp_path: pathlib.Path) -> Iterator[str]:
    """A dir pool that no stack manages (made with plain libvirt calls), removed at the end."""
    name, path = unique("load"), tmp_path / "shared"
    pool = conn.storagePoolDefineXML(f"<pool type='dir'><name>{name}</name><target><path>{path}</path></target>"
                                     "</pool>", 0)
    pool.build(0)
    pool.create(0)
    try:
        yield name
    finally:
        for vol in pool.listAllVolumes() if pool.isActive() else []:
            vol.delete(0)
        pool.destroy()
        pool.undefine()
        shutil.rmtree(path, ignore_errors=True)


def on_host(conn: libvirt.virConnect, pool: str) -> dict[str, str]:
    p = conn.storagePoolLookupByName(pool)
    p.refresh(0)
    return {v.name(): v.key() for v in p.listAllVolumes()}


def in_state(p) -> set[str]:
    return {r["outputs"]["name"] for r in p.resources() if r["type"].endswith(":StorageVolume") and r.get("outputs")}


def test_200_volumes_in_one_pool_at_parallel_32_all_succeed(shared_pool, project, conn) -> None:
    """libvirt refuses some calls while a pool has asynchronous jobs running (the race others hit
    with many creates at once): every one of 200 creates at `--parallel 32` must succeed."""
    n = 200
    p = project(LOAD, config={"n": str(n), "pool": shared_pool, "prefix": "a"})
    started = time.monotonic()
    p.run("up", "--yes", "--skip-preview", "--parallel", "32")
    created = time.monotonic() - started
    host = on_host(conn, shared_pool)
    assert set(host) == in_state(p) == {f"a-{i}.qcow2" for i in range(n)}
    p.preview("--expect-no-changes")
    started = time.monotonic()
    p.run("destroy", "--yes", "--skip-preview", "--parallel", "32")
    p.destroyed = True
    destroyed = time.monotonic() - started
    assert on_host(conn, shared_pool) == {}
    print(f"\n{n} volumes in one pool at --parallel 32: created in {created:.1f} s, destroyed in {destroyed:.1f} s, "
          "every call succeeded")


def test_two_stacks_applying_to_one_pool_at_once_touch_only_their_own(shared_pool, project, conn, tmp_path) -> None:
    n = 100
    stacks = {prefix: project(LOAD, config={"n": str(n), "pool": shared_pool, "prefix": prefix}) for prefix in "ab"}
    started = time.monotonic()
    runs = {}
    for prefix, p in stacks.items():
        log = open(tmp_path / f"up-{prefix}.log", "w")
        runs[prefix] = (subprocess.Popen([str(pulumi_binary()), "up", "--yes", "--skip-preview", "--parallel", "32",
                                          "--non-interactive"], cwd=p.workdir, env=p.env, stdout=log,
                                         stderr=subprocess.STDOUT), log)
    for prefix, (proc, log) in runs.items():
        proc.wait(timeout=600)
        log.close()
        assert proc.returncode == 0, (tmp_path / f"up-{prefix}.log").read_text()[-4000:]
    both = time.monotonic() - started
    host = on_host(conn, shared_pool)
    for prefix, p in stacks.items():
        assert in_state(p) == {f"{prefix}-{i}.qcow2" for i in range(n)}
    assert len(host) == 2 * n
    stacks["a"].destroy()
    after = on_host(conn, shared_pool)
    assert after == {k: v for k, v in host.items() if k.startswith("b-")}, "b's volumes untouched by a's destroy"
    stacks["b"].preview("--expect-no-changes")
    stacks["b"].destroy()
    print(f"\ntwo stacks of {n} volumes each applied to one pool at once: both succeeded in {both:.1f} s; "
          "destroying one left the other's volumes as they were")
