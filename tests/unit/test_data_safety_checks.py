"""Data-safety rules that check enforces at preview (README, "What this provider never does"):
each one names the property and the way out, and nothing reaches the host."""

from __future__ import annotations

from typing import Any

from pulumi_libvirt_storage_provider.resources import POOLS, VOLUMES, Context

CTX = Context()
VOL = {"pool": "p", "name": "v", "capacity": "1GiB"}


def failures(logic: Any, raw: dict[str, Any], olds: dict[str, Any] | None = None) -> dict[str, str]:
    return {f.prop: f.reason for f in logic.check(olds or {}, raw, CTX).failures}


def test_an_lvm_allocation_below_capacity_is_refused_it_would_make_a_snapshot_volume() -> None:
    found = failures(VOLUMES, {**VOL, "pool_type": "logical", "allocation": "512MiB"})
    assert "snapshot" in found["allocation"] and "remove allocation" in found["allocation"]
    assert failures(VOLUMES, {**VOL, "pool_type": "logical"}) == {}
    assert failures(VOLUMES, {**VOL, "pool_type": "dir", "allocation": "512MiB"}) == {}


def test_wipe_algorithms_are_what_each_backend_implements() -> None:
    assert "'zero' or 'trim'" in failures(VOLUMES, {**VOL, "pool_type": "rbd", "wipe_on_destroy": "nnsa"})[
        "wipe_on_destroy"]
    assert "trim" in failures(VOLUMES, {**VOL, "pool_type": "dir", "wipe_on_destroy": "trim"})["wipe_on_destroy"]
    assert "'zero' only" in failures(VOLUMES, {**VOL, "pool_type": "iscsi-direct", "adopt": True,
                                               "wipe_on_destroy": "dod"})["wipe_on_destroy"]
    assert "cannot wipe" in failures(VOLUMES, {**VOL, "pool_type": "zfs", "wipe_on_destroy": "zero"})[
        "wipe_on_destroy"]
    assert failures(VOLUMES, {**VOL, "pool_type": "dir", "wipe_on_destroy": "nnsa"}) == {}


def test_an_rbd_clone_from_another_pool_is_refused() -> None:
    found = failures(VOLUMES, {"pool": "rbd-a", "pool_type": "rbd", "name": "c",
                               "clone_from": {"pool": "rbd-b", "name": "base"}})
    assert "image of the same name" in found["clone_from.pool"]
    assert failures(VOLUMES, {"pool": "rbd-a", "pool_type": "rbd", "name": "c",
                              "clone_from": {"pool": "rbd-a", "name": "base"}}) == {}


def test_a_grow_where_libvirt_cannot_resize_fails_check_naming_capacity_not_diff() -> None:
    olds = VOLUMES.check({}, {**VOL, "pool_type": "disk", "name": "sdb1", "format": "linux"}, CTX).inputs
    news = {**VOL, "pool_type": "disk", "name": "sdb1", "format": "linux", "capacity": "2GiB"}
    found = failures(VOLUMES, news, olds)
    assert "cannot be resized" in found["capacity"] and "another name" in found["capacity"]
    # and diff answers (a preview never crashes with a traceback)
    assert VOLUMES.diff("k", {**olds, "key": "k"}, {**olds, "capacity": 2 * 1024**3}, CTX).changes is True


def test_disk_target_chooses_where_disk_xml_attaches_the_volume() -> None:
    raw = {**VOL, "format": "qcow2", "disk_target": {"dev": "vdb", "bus": "scsi"},
           "__pool": {"type": "dir", "name": "p", "target": {"path": "/srv/p"}}}
    inputs = VOLUMES.check({}, raw, CTX).inputs
    predicted = VOLUMES.predict(inputs, {}, CTX)
    assert "<target dev=\"vdb\" bus=\"scsi\"/>" in predicted["disk_xml"]
    assert "dev" in failures(VOLUMES, {**VOL, "disk_target": {"dev": "/dev/vdb"}})["disk_target.dev"]


def test_fc_host_parent_names_come_in_pairs() -> None:
    pool = {"name": "fc", "type": "scsi", "source": {"adapter": {
        "type": "fc_host", "wwnn": "20000000c9831b4b", "wwpn": "10000000c9831b4b", "parent_wwnn": "20000000c9831b4c"}}}
    assert "parent_wwnn" in failures(POOLS, pool)["source.adapter.parent_wwpn"]
