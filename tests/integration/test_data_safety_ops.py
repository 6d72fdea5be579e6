"""Data safety against the real libvirtd (README, "What this provider never does"): volumes of a
stopped pool, sparse uploads, wipes that would fill the pool, refreshes refused while a job runs."""

from __future__ import annotations

import os
import threading
from typing import Any

import libvirt
import pytest

from pulumi_libvirt_storage_provider.ops import pools as pool_ops
from pulumi_libvirt_storage_provider.ops import volumes as volume_ops
from pulumi_libvirt_storage_provider.ops.errors import LibvirtOpError
from pulumi_libvirt_storage_provider.resources import VOLUMES, Context

from .conftest import MiB, unique

pytestmark = pytest.mark.libvirtd
CTX = Context()


def volume(pool: str, name: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    result = VOLUMES.check({}, {"pool": pool, "pool_type": "dir", "name": name, **extra}, CTX)
    assert not result.failures, result.failures
    return VOLUMES.create(result.inputs, CTX)


def test_a_volume_of_a_stopped_pool_is_not_taken_for_gone_on_delete(make_dir_pool) -> None:
    """Measured before: delete found no volume (libvirt lists none in a stopped pool), reported
    success, and the engine dropped it from the state: data kept, not wiped as asked, forgotten."""
    pool = make_dir_pool("stopped")
    vol_id, outs = volume(pool.name, "disk.raw", format="raw", capacity="4MiB", wipe_on_destroy="zero")
    pool.pool.destroy()
    with pytest.raises(LibvirtOpError, match="pool .* is stopped.*pool-start"):
        VOLUMES.delete(vol_id, outs, CTX)
    assert (pool.path / "disk.raw").exists()
    pool.pool.create(0)
    VOLUMES.delete(vol_id, outs, CTX)
    assert not (pool.path / "disk.raw").exists()


@pytest.mark.parametrize("taken", ["stopped", "undefined"])
def test_a_pool_taken_away_while_its_volume_is_deleted(make_dir_pool, monkeypatch, taken: str) -> None:
    """Measured before (CI, `pulumi destroy` right after `pulumi import`: the state records no
    dependency, so the pool's delete ran beside its volume's): libvirt's bare "storage pool is not
    active", and the volume stuck in the state. Now the same decision as when the pool was so from
    the start: a stopped pool is the clear error, an undefined one leaves the storage where it is."""
    pool = make_dir_pool(taken)
    vol_id, outs = volume(pool.name, "disk.raw", format="raw", capacity="4MiB")
    found = volume_ops.by_key
    raced: list[bool] = []

    def racing(*args: Any) -> Any:
        result = found(*args)
        if not raced:  # the pool's own step, between this one's lookup and its delete
            raced.append(True)
            pool.pool.destroy()
            if taken == "undefined":  # stopped now, undefined a moment later: a pool's delete
                threading.Timer(0.3, pool.pool.undefine).start()
        return result

    monkeypatch.setattr(volume_ops, "by_key", racing)
    if taken == "stopped":
        with pytest.raises(LibvirtOpError, match="pool .* is stopped.*pool-start"):
            VOLUMES.delete(vol_id, outs, CTX)
        pool.pool.create(0)
        monkeypatch.setattr(volume_ops, "by_key", found)
        VOLUMES.delete(vol_id, outs, CTX)
        assert not (pool.path / "disk.raw").exists()
    else:
        VOLUMES.delete(vol_id, outs, CTX)
        assert raced and (pool.path / "disk.raw").exists()  # the data is never deleted behind libvirt


def test_a_sparse_upload_ending_in_a_hole_keeps_the_declared_capacity(make_dir_pool, tmp_path) -> None:
    """Measured before: libvirt's sparse upload ends the file at its last data, so a source ending
    in a hole left a 64 MiB volume 4 MiB long."""
    pool = make_dir_pool("upload")
    source = tmp_path / "image.raw"
    with open(source, "wb") as f:
        f.write(os.urandom(MiB))
        f.truncate(4 * MiB)  # 3 MiB of trailing hole
    vol_id, outs = volume(pool.name, "up.raw", format="raw", capacity="64MiB", upload_from=str(source))
    assert outs["current_capacity"] == 64 * MiB
    with open(pool.path / "up.raw", "rb") as f:
        assert f.read(MiB) == source.read_bytes()[:MiB]
    VOLUMES.delete(vol_id, outs, CTX)


def test_a_scrub_wipe_that_would_fill_the_pool_is_refused_and_deletes_nothing(make_dir_pool, conn,
                                                                              small_file_system) -> None:
    """scrub writes every block: a sparse 64 MiB volume in a 16 MiB file system would fill it under
    every VM on it. The wipe is refused with the shortfall, nothing is wiped or deleted."""
    name = unique("scrubfull")
    pool = conn.storagePoolCreateXML(f"<pool type='dir'><name>{name}</name><target><path>{small_file_system}"
                                     "</path></target></pool>", 0)
    try:
        vol_id, outs = volume(name, "big.raw", format="raw", capacity="64MiB", wipe_on_destroy="nnsa")
        with pytest.raises(LibvirtOpError, match=r"needs \d+ more bytes in pool .* which has \d+ free"):
            VOLUMES.delete(vol_id, outs, CTX)
        assert (small_file_system / "big.raw").exists()
        VOLUMES.delete(vol_id, {**outs, "wipe_on_destroy": "zero"}, CTX)  # zero truncates: no fill
        assert not (small_file_system / "big.raw").exists()
    finally:
        pool.destroy()


def test_a_refresh_refused_while_a_job_runs_on_the_pool_waits_for_it(make_dir_pool) -> None:
    """libvirt refuses a pool refresh while a build, clone, wipe or upload runs ("asynchronous jobs
    running"); the provider's refresh waits for the job instead of failing (or, before, reading the
    refusal as "gone")."""
    pool = make_dir_pool("jobs")
    vol = pool.pool.createXML("<volume><name>busy.raw</name><capacity unit='MiB'>512</capacity>"
                              "<allocation unit='MiB'>512</allocation><target><format type='raw'/></target></volume>", 0)
    wiping = threading.Thread(target=lambda: vol.wipePattern(libvirt.VIR_STORAGE_VOL_WIPE_ALG_ZERO, 0))
    wiping.start()
    try:
        refused = None
        for _ in range(200):
            try:
                pool.pool.refresh(0)
            except libvirt.libvirtError as e:
                refused = e
                break
        assert refused is not None and "asynchronous jobs running" in refused.get_error_message(), \
            "the wipe should have held the pool's job while refreshing"
        pool_ops.refresh(pool.pool)  # waits for the wipe, then refreshes
        assert not wiping.is_alive()
    finally:
        wiping.join()
        vol.delete(0)


def test_a_create_the_engine_never_recorded_is_taken_over_only_while_it_is_that_volume(
        make_dir_pool, monkeypatch, tmp_path) -> None:
    """A CLI killed after a create returned and before the engine wrote it down leaves a whole volume
    the state does not know (measured: the rerun failed on 'already exists'). The create's intent,
    kept until a call shows the engine holds the resource, lets the rerun take that very volume over;
    anything else with the name (another volume, other capacity, a file changed since the create
    returned, or once the state holds it) is still refused, never deleted."""
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "home"))
    pool = make_dir_pool("made")
    raw = {"pool": pool.name, "pool_type": "dir", "name": "disk.raw", "format": "raw", "capacity": "4MiB",
           "__seed": "stack/urn-of-disk"}
    inputs = VOLUMES.check({}, raw, CTX).inputs
    key, outs = VOLUMES.create(inputs, CTX)
    made = os.stat(pool.path / "disk.raw")
    again, _ = VOLUMES.create(inputs, CTX)  # the rerun: the engine never recorded the first create
    assert again == key and os.stat(pool.path / "disk.raw").st_ino == made.st_ino, "that very file, taken over"
    bigger = VOLUMES.check({}, {**raw, "capacity": "8MiB"}, CTX).inputs
    with pytest.raises(LibvirtOpError, match="already exists"):
        VOLUMES.create(bigger, CTX)  # not the volume as declared: refused, kept
    with open(pool.path / "disk.raw", "r+b") as f:
        f.write(b"written since")  # not the volume that create returned any more (or another file there)
    with pytest.raises(LibvirtOpError, match="already exists"):
        VOLUMES.create(inputs, CTX)
    VOLUMES.diff(key, outs, inputs, CTX)  # the engine holds it: the intent has served
    assert not list((tmp_path / "home").rglob("*.json")), "the intent is gone with it"
    with pytest.raises(LibvirtOpError, match="already exists"):
        VOLUMES.create(inputs, CTX)  # e.g. after `pulumi state delete`: adopt=true, never a silent take
    assert (pool.path / "disk.raw").read_bytes().startswith(b"written since")
    VOLUMES.delete(key, outs, CTX)
