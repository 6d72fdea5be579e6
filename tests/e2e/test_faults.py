"""Faults in the middle of a real `pulumi up`, through the real engine and the real daemon: after each
one, a rerun converges, state and host agree, nothing is stranded and no data is lost. Each test
prints what the fault cost (README, "Reliability")."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import threading
import time

import pytest

from tests.conftest import unique
from tests.support.daemons import libvirtd_running, start_libvirtd
from tests.support.engine import recover_a_cut_sidecar
from tests.support.sshd import sshd  # noqa: F401  (the fixture)

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


def converged_whole(p, conn, name: str, n: int, pool_dir: pathlib.Path, image: pathlib.Path) -> dict[str, int]:
    """After the rerun: refresh and a no-change preview pass, state and host hold the same volumes,
    all `n` of them, each holding the whole image. The volumes on the host, by name."""
    p.refresh()
    p.preview("--expect-no-changes")
    on_host, in_state = host_volumes(conn, name), state_volumes(p)
    assert on_host == in_state, "state and host agree: no stranded and no phantom volume"
    assert len(on_host) == n and set(on_host.values()) == {8 * MiB}, "every volume exists in full"
    assert all((pool_dir / f"v{i}.img").read_bytes() == image.read_bytes() for i in range(n)), \
        "every volume holds the whole image"
    return on_host


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
    on_host = converged_whole(p, conn, name, n, pool_dir, image)
    outcome = "succeeded" if first.returncode == 0 else "failed"
    print(f"\nlibvirtd SIGKILLed at volume ~12 of {n}, back {down_s} s later: the interrupted `pulumi up` "
          f"{outcome} after {first_done - started:.1f} s ({first_done - timeline['killed']:.1f} s after the kill); "
          f"the rerun converged in {converged:.1f} s; {len(on_host)} volumes on the host, all in the state")
    if reconnect_s == "1":
        assert first.returncode != 0, "libvirtd stayed down longer than the reconnect window: the run fails"
    p.destroy()


SMALL = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume

cfg = pulumi.Config()
pool = StoragePool("pool", name=cfg.require("pool"), type="dir", target={"path": cfg.require("path")})
StorageVolume("sparse", pool=pool, name="sparse.raw", format="raw", capacity="64MiB")
StorageVolume("full", pool=pool, name="full.raw", format="raw", capacity=cfg.require("full"),
              allocation=cfg.require("full"))
'''


def test_the_disk_fills_a_clear_error_nothing_left_behind_and_sparse_over_commit(small_file_system, project,
                                                                                 conn) -> None:
    """A fully allocated volume larger than the pool's free space: `pulumi up` fails naming the pool
    and the shortfall, creates nothing of that volume, keeps what it made; a sparse volume larger
    than the whole file system is created (over-commit, as the README says); with a volume that
    fits, the rerun converges."""
    name = unique("full")
    p = project(SMALL, config={"pool": name, "path": str(small_file_system), "full": "64MiB"})
    started = time.monotonic()
    first = p.up(check=False)
    failed_after = time.monotonic() - started
    output = first.stdout + first.stderr
    assert first.returncode != 0
    assert f"creating volume full.raw in pool {name}" in output and "short by" in output, output
    assert "leave out allocation" in output, "the error says the way out"
    assert host_volumes(conn, name) == {"sparse.raw": 64 * MiB}, "nothing of the failed volume on the host"
    assert not (small_file_system / "full.raw").exists()
    assert state_volumes(p) == {"sparse.raw": 64 * MiB}, "the state holds what was made, and only that"
    assert os.stat(small_file_system / "sparse.raw").st_blocks == 0, "a sparse volume takes no room until written"

    p.run("config", "set", "full", "8MiB")
    started = time.monotonic()
    p.up()
    converged = time.monotonic() - started
    p.refresh()
    p.preview("--expect-no-changes")
    assert host_volumes(conn, name) == state_volumes(p) == {"sparse.raw": 64 * MiB, "full.raw": 8 * MiB}
    assert os.stat(small_file_system / "full.raw").st_blocks * 512 >= 8 * MiB, "allocated up front, as declared"
    print(f"\nthe disk fills: a 64 MiB fully allocated volume on a 16 MiB file system failed the run after "
          f"{failed_after:.1f} s naming the pool and the shortfall; nothing left behind; with 8 MiB the rerun "
          f"converged in {converged:.1f} s; a 64 MiB sparse volume on the same 16 MiB was created")
    p.destroy()


def launched_by(workdir: pathlib.Path, within_s: float) -> list[str]:
    """The processes of a run in `workdir` (by their PULUMI_HOME) still alive `within_s` from now;
    any left then are killed (tests leave no process behind)."""
    marker = f"PULUMI_HOME={workdir / 'pulumi-home'}".encode()

    def alive() -> dict[int, str]:
        found = {}
        for entry in pathlib.Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and marker in (entry / "environ").read_bytes().split(b"\0") \
                        and (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
            except OSError:
                continue
        return found

    deadline = time.monotonic() + within_s
    while (found := alive()) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return sorted(found.values())


def pending_operations(p) -> list[dict]:
    return json.loads(p.run("stack", "export").stdout)["deployment"].get("pending_operations") or []


@pytest.mark.parametrize("signals", [("SIGINT",), ("SIGINT", "SIGKILL"), ("SIGKILL",)],
                         ids=["sigint", "sigint-then-sigkill", "sigkill"])
def test_pulumi_up_interrupted_mid_run_recovers_as_the_readme_says(signals: tuple[str, ...], project, conn,
                                                                   tmp_path) -> None:
    """`pulumi up` of 30 volumes interrupted once a few exist. SIGINT: the engine lets the creates in
    flight finish, records them and stops; a rerun converges. SIGINT then SIGKILL: the CLI dies with
    creates in flight, which the state keeps as pending operations; the README's recovery, `pulumi
    cancel` (the lock), `pulumi refresh --clear-pending-creates` then `pulumi up`, converges, and a volume the killed run made is
    this resource's own (made again if half made, taken over if whole), never a name conflict."""
    name, n = unique("intr"), 30
    pool_dir = tmp_path / "pool"
    image = tmp_path / "image.raw"
    image.write_bytes(os.urandom(8 * MiB))
    p = project(MANY, config={"pool": name, "path": str(pool_dir), "n": str(n), "image": str(image)})
    from tests.support.engine import pulumi_binary
    started = time.monotonic()
    log = tmp_path / "interrupted.log"
    with open(log, "w") as out:  # (a file, not a pipe: processes the CLI left would hold a pipe open)
        proc = subprocess.Popen([str(pulumi_binary()), "up", "--yes", "--skip-preview", "--non-interactive"],
                                cwd=p.workdir, env=p.env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not (pool_dir.exists()
                                                                       and len(list(pool_dir.iterdir())) >= 8):
        time.sleep(0.01)
    for sig in signals:  # (a second signal before the graceful cancel is done)
        proc.send_signal(getattr(signal, sig))
        time.sleep(0.05)
    proc.wait(timeout=300)
    stopped = time.monotonic() - started
    assert proc.returncode != 0, f"the interrupted run must not report success:\n{log.read_text()}"
    left = launched_by(p.workdir, within_s=5)
    assert not left, f"processes the killed CLI launched outlived it: {left}"
    sidecar_cut = signals != ("SIGINT",) and recover_a_cut_sidecar(p)
    pending = pending_operations(p)
    if signals == ("SIGINT",):
        assert not pending, "a graceful cancel records every create it let finish"
    else:
        if signals == ("SIGKILL",):
            assert pending, "killed with creates in flight: the state keeps them as pending operations"
        # The README's recovery: the killed CLI left its lock on the stack, and its pending creates.
        p.run("cancel", "--yes")
        p.run("refresh", "--clear-pending-creates", "--yes", "--skip-preview")
        assert not pending_operations(p)
    rerun_started = time.monotonic()
    p.up()
    converged = time.monotonic() - rerun_started
    p.refresh()
    p.preview("--expect-no-changes")
    on_host, in_state = host_volumes(conn, name), state_volumes(p)
    assert on_host == in_state, "state and host agree: no stranded and no phantom volume"
    assert len(on_host) == n and all((pool_dir / f"v{i}.img").read_bytes() == image.read_bytes() for i in range(n))
    print(f"\n`pulumi up` of {n} volumes interrupted by {' then '.join(signals)} after ~8 volumes: stopped after "
          f"{stopped:.1f} s with {len(pending)} pending operation(s) in the state; the recovery converged in "
          f"{converged:.1f} s; {len(on_host)} volumes on the host, all in the state, all whole"
          + ("; the kill had emptied a metadata sidecar of the file backend, removed as the README says"
             if sidecar_cut else ""))
    p.destroy()


REMOTE = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume

cfg = pulumi.Config()
uri = cfg.require("uri")
pool = StoragePool("pool", name=cfg.require("pool"), type="dir", target={"path": cfg.require("path")}, uri=uri)
for i in range(int(cfg.require("n"))):
    StorageVolume(f"v{i}", pool=pool, name=f"v{i}.img", format="raw", upload_from=cfg.require("image"), uri=uri)
'''


def cut_when(pool_dir: pathlib.Path, files: int, sshd, down_s: float, timeline: dict[str, float],
             run_over: threading.Event) -> None:
    """Take the remote host away (its sshd and every session of it killed) once `files` volumes exist,
    and bring it back `down_s` later; never, if the run is over before that."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if pool_dir.exists() and len(list(pool_dir.iterdir())) >= files:
            break
        if run_over.is_set():
            return
        time.sleep(0.01)
    sshd.stop()
    timeline["cut"] = time.monotonic()
    time.sleep(down_s)
    sshd.start()
    timeline["back"] = time.monotonic()


@pytest.mark.parametrize("down_s, reconnect_s", [(2, "30"), (8, "3")], ids=["back-within-the-window",
                                                                          "back-after-the-run-failed"])
def test_remote_host_gone_mid_up_then_back_converges(down_s: float, reconnect_s: str, sshd, project, conn,
                                                     tmp_path) -> None:
    """A qemu+ssh:// host goes away in the middle of `pulumi up` of 30 uploads (its sshd and every
    session killed: what the client sees of a crashed host or a cut link that resets), and comes back
    `down_s` later. Within the reconnect window the run carries on; past it the run fails naming the
    host, and the next run converges with nothing stranded and nothing half made."""
    name, n = unique("remote"), 30
    pool_dir = tmp_path / "pool"
    image = tmp_path / "image.raw"
    image.write_bytes(os.urandom(8 * MiB))
    p = project(REMOTE, config={"pool": name, "path": str(pool_dir), "n": str(n), "image": str(image),
                                "uri": sshd.uri})
    p.env["PULUMI_LIBVIRT_RECONNECT_SECONDS"] = reconnect_s
    timeline: dict[str, float] = {}
    run_over = threading.Event()
    cutter = threading.Thread(target=cut_when, args=(pool_dir, 8, sshd, down_s, timeline, run_over))
    cutter.start()
    started = time.monotonic()
    first = p.up(check=False)
    first_done = time.monotonic()
    run_over.set()
    cutter.join()
    output = first.stdout + first.stderr
    assert timeline.get("cut", first_done) < first_done, \
        f"the host went away while the run was going; the run:\n{output[-3000:]}"
    if reconnect_s == "3":
        assert first.returncode != 0, "the host stayed away longer than the reconnect window: the run fails"
        assert f"the connection to libvirt at {sshd.uri} was lost" in output, output[-3000:]
        assert "did not answer again within 3 s" in output, output[-3000:]
    else:
        assert first.returncode == 0, output[-3000:]
    del p.env["PULUMI_LIBVIRT_RECONNECT_SECONDS"]

    second_started = time.monotonic()
    p.up()
    converged = time.monotonic() - second_started
    on_host = converged_whole(p, conn, name, n, pool_dir, image)
    error_line = next((line.strip() for line in output.splitlines() if "within 3 s" in line), "")
    outcome = "succeeded" if first.returncode == 0 else "failed"
    print(f"\nremote host (qemu+ssh) gone at volume ~8 of {n}, back {down_s} s later, reconnect window "
          f"{reconnect_s} s: the run {outcome} {first_done - timeline['cut']:.1f} s after the cut "
          f"({first_done - started:.1f} s in all); the rerun converged in {converged:.1f} s"
          + (f"; the error: {error_line[:300]}" if error_line else ""))
    p.destroy()
