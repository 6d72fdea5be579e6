"""Faults in the middle of a real `pulumi up`, through the real engine and the real daemon: after each
one, a rerun converges, state and host agree, nothing is stranded and no data is lost. Each test
prints what the fault cost (README, "Reliability")."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import threading
import time

import pytest

from tests.conftest import unique
from tests.support.daemons import libvirtd_running, start_libvirtd

pytestmark = [pytest.mark.engine, pytest.mark.both_frontends]
MiB = 1024**2

MANY = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume

cfg = pulumi.Config()
pool = StoragePool("pool", name=cfg.require("pool"), type="dir", target={"path": cfg.require("path")})
for i in range(int(cfg.require("n"))):
    # an upload: a create that takes a while after libvirt made the volume, as a real image does
    StorageVolume(f"v{i}", pool=pool, name=f"v{i}.img", format="raw", upload_from=cfg.require("image"))
'''


def kill_libvirtd_when(pool_dir: pathlib.Path, files: int, down_s: float, timeline: dict[str, float]) -> None:
    """SIGKILL libvirtd once `files` volumes exist in `pool_dir`, start it again `down_s` later."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if pool_dir.exists() and len(list(pool_dir.iterdir())) >= files:
            break
        time.sleep(0.01)
    subprocess.run(["pkill", "-KILL", "-x", "libvirtd"], check=False)
    timeline["killed"] = time.monotonic()
    while libvirtd_running():
        time.sleep(0.05)
    time.sleep(down_s)
    start_libvirtd()
    timeline["back"] = time.monotonic()


def host_volumes(conn, pool: str) -> dict[str, int]:
    p = conn.storagePoolLookupByName(pool)
    p.refresh(0)
    return {v.name(): v.info()[1] for v in p.listAllVolumes()}


def state_volumes(p) -> dict[str, int]:
    return {r["outputs"]["name"]: int(r["outputs"]["current_capacity"]) for r in p.resources()
            if r["type"].endswith(":StorageVolume") and r.get("outputs")}


@pytest.mark.parametrize("down_s, reconnect_s", [(2, "30"), (6, "1")], ids=["back-within-the-window",
                                                                          "back-after-the-run-failed"])
def test_libvirtd_killed_mid_up_then_restarted_converges_with_nothing_stranded(
        down_s: float, reconnect_s: str, project, conn, tmp_path) -> None:
    """SIGKILL of libvirtd while `pulumi up` creates 50 volumes (4 at a time), restarted `down_s`
    later. Within the provider's reconnect window the interrupted calls clean up what they had half
    made and carry on; past it the run fails, and the next run removes what the interrupted creates
    left (their intents) and converges. Either way no volume is stranded and none is half made."""
    name, n = unique("kill"), 50
    pool_dir = tmp_path / "pool"
    image = tmp_path / "image.raw"
    image.write_bytes(os.urandom(8 * MiB))
    p = project(MANY, config={"pool": name, "path": str(pool_dir), "n": str(n), "image": str(image)})
    p.env["PULUMI_LIBVIRT_RECONNECT_SECONDS"] = reconnect_s
    timeline: dict[str, float] = {}
    killer = threading.Thread(target=kill_libvirtd_when, args=(pool_dir, 12, down_s, timeline))
    killer.start()
    started = time.monotonic()
    first = p.up(check=False)
    first_done = time.monotonic()
    killer.join()
    if not libvirtd_running():
        start_libvirtd()
    del p.env["PULUMI_LIBVIRT_RECONNECT_SECONDS"]

    second_started = time.monotonic()
    rerun = p.up(check=False)
    intents_dir = p.workdir / "pulumi-home" / "libvirt-storage" / "intents"
    if rerun.returncode != 0:
        dump = pathlib.Path("/tmp") / f"plstest-fault-{name}.log"
        dump.write_text(f"RERUN\n{rerun.stdout}\n{rerun.stderr}\nFIRST\n{first.stdout}\n{first.stderr}\nINTENTS "
                        f"{sorted(x.name for x in intents_dir.glob('*'))}\n")
        raise AssertionError(f"the rerun failed: see {dump}")
    converged = time.monotonic() - second_started
    p.refresh()
    p.preview("--expect-no-changes")
    on_host, in_state = host_volumes(conn, name), state_volumes(p)
    assert on_host == in_state, "state and host must agree: no stranded and no phantom volume"
    assert len(on_host) == n and set(on_host.values()) == {8 * MiB}, "every volume exists in full"
    assert all((pool_dir / f"v{i}.img").read_bytes() == image.read_bytes() for i in range(n)), \
        "every volume holds the whole image"
    outcome = "succeeded" if first.returncode == 0 else "failed"
    print(f"\nlibvirtd SIGKILLed at volume ~12 of {n}, back {down_s} s later: the interrupted `pulumi up` "
          f"{outcome} after {first_done - started:.1f} s ({first_done - timeline['killed']:.1f} s after the kill); "
          f"the rerun converged in {converged:.1f} s; {len(on_host)} volumes on the host, all in the state")
    if reconnect_s == "1":
        assert first.returncode != 0, "libvirtd stayed down longer than the reconnect window: the run fails"
    p.destroy()
