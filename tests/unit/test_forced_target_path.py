"""logical and zfs pools: libvirt forces their target path (/dev/<volume group>, /dev/zvol/<zpool>)
whatever is written (issue 20, item 5). Check refuses a path libvirt would replace, naming
target.path and the fix; the diff treats libvirt's own path and no path as the same target.

At the unit level only: this machine has no device-mapper and no ZFS, so these pools cannot run here.
The refresh is the real PoolLogic.read over the definition libvirt gives back (pools.read and the
connection replaced, nothing opened). Measured before the fix: check accepted any path, and a refresh
copied libvirt's path into the state, so that every later `up` replaced the pool."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_libvirt_storage_provider.dynamic import StoragePoolProvider
from pulumi_libvirt_storage_provider.ops import connection
from pulumi_libvirt_storage_provider.ops import pools as pool_ops
from pulumi_libvirt_storage_provider.resources import POOLS, Context
from pulumi_libvirt_storage_provider.xml.pool import parse_pool

CTX = Context()
URI = "qemu:///system"  # given, so that nothing asks a host for libvirt's default
UUID = "5f2a0d7e-0000-4000-8000-00000000005a"

# (pool inputs without target, the target path libvirt uses)
LOGICAL = ({"name": "vg0", "type": "logical", "source": {"name": "vg0"}}, "/dev/vg0")
LOGICAL_OTHER_VG = ({"name": "images", "type": "logical", "source": {"name": "vg-data"}}, "/dev/vg-data")
ZFS = ({"name": "tank", "type": "zfs", "source": {"name": "tank"}}, "/dev/zvol/tank")
POOL_TYPES = [pytest.param(*LOGICAL, id="logical"), pytest.param(*LOGICAL_OTHER_VG, id="logical-vg-named-apart"),
              pytest.param(*ZFS, id="zfs")]


pytestmark = pytest.mark.usefixtures("no_connection")  # (tests/unit/conftest.py)


def raw(pool: dict[str, Any], target_path: str | None) -> dict[str, Any]:
    """The program's inputs, as a front end gives them to the core (seed and resource name included)."""
    out = {**pool, "uri": URI, "__seed": "stack::urn::pool", "__name_prefix": "pool"}
    if target_path is not None:
        out["target"] = {"path": target_path}
    return out


def failures(raw_inputs: dict[str, Any], olds: dict[str, Any] | None = None) -> dict[str, str]:
    return {f.prop: f.reason for f in POOLS.check(olds or {}, raw_inputs, CTX).failures}


def checked(raw_inputs: dict[str, Any], olds: dict[str, Any] | None = None) -> dict[str, Any]:
    result = POOLS.check(olds or {}, raw_inputs, CTX)
    assert not result.failures, [(f.prop, f.reason) for f in result.failures]
    return result.inputs


@pytest.mark.parametrize("pool, forced", POOL_TYPES)
@pytest.mark.parametrize("written", ["/srv/pool", "/dev/somewhere-else"])
def test_check_refuses_a_target_path_libvirt_would_replace_naming_the_field_and_the_fix(
        pool: dict[str, Any], forced: str, written: str) -> None:
    found = failures(raw(pool, written))
    assert set(found) == {"target.path"}, found
    assert forced in found["target.path"], found
    assert "remove target.path" in found["target.path"] and f"set it to {forced}" in found["target.path"]


@pytest.mark.parametrize("pool, forced", POOL_TYPES)
def test_the_dynamic_provider_reports_the_refusal_on_target_path(pool: dict[str, Any], forced: str) -> None:
    result = StoragePoolProvider().check({}, {**pool, "uri": URI, "target": {"path": "/srv/pool"}})
    assert [(f.property, forced in f.reason) for f in result.failures] == [("target.path", True)]


@pytest.mark.parametrize("pool, forced", POOL_TYPES)
@pytest.mark.parametrize("written", [None, "own"], ids=["omitted", "libvirts-own"])
def test_check_accepts_no_target_path_or_the_one_libvirt_uses(pool: dict[str, Any], forced: str,
                                                                written: str | None) -> None:
    inputs = checked(raw(pool, forced if written == "own" else written))
    assert POOLS.preview_create(POOLS.canonical(inputs), CTX)["target_path"] == forced


def definition_on_the_host(pool: dict[str, Any], forced: str) -> str:
    """The pool's XML as libvirt gives it back: its own target path, whatever was written."""
    source = f"<source><name>{pool['source']['name']}</name>" + (
        "<format type='lvm2'/>" if pool["type"] == "logical" else "") + "</source>"
    return (f"<pool type='{pool['type']}'><name>{pool['name']}</name><uuid>{UUID}</uuid>"
            f"<capacity unit='bytes'>0</capacity><allocation unit='bytes'>0</allocation>"
            f"<available unit='bytes'>0</available>{source}<target><path>{forced}</path></target></pool>")


def refreshed(monkeypatch: pytest.MonkeyPatch, stored: dict[str, Any], pool: dict[str, Any], forced: str
              ) -> dict[str, Any]:
    """The outputs `pulumi refresh` stores: PoolLogic.read of the pool as libvirt reports it."""
    xml = definition_on_the_host(pool, forced)
    state = pool_ops.PoolState(name=pool["name"], uuid=UUID, active=True, autostart=True, capacity=0,
                               allocation=0, available=0, xml=xml, observed=parse_pool(xml))
    monkeypatch.setattr(pool_ops, "read", lambda conn, uuid: state)
    monkeypatch.setattr(connection, "call", lambda uri, fn, on_reconnect=None: fn(None))
    found = POOLS.read(UUID, stored, CTX)
    assert found.id == UUID
    return found.outputs


def stored_outputs(inputs: dict[str, Any], forced: str) -> dict[str, Any]:
    """What the state holds after a create: the checked inputs and what libvirt reported."""
    return {**inputs, "uuid": UUID, "active": True, "capacity": 0, "allocation": 0, "available": 0,
            "target_path": forced, "xml": "<pool/>", "adopted": False}


@pytest.mark.parametrize("pool, forced", POOL_TYPES)
def test_a_refreshed_libvirt_path_against_a_program_without_target_path_is_no_change(
        monkeypatch: pytest.MonkeyPatch, pool: dict[str, Any], forced: str) -> None:
    """A stack made before the fix with a path libvirt replaced (`/srv/pool`); refresh reads back
    libvirt's; the program then drops target.path, as check now asks."""
    stored = stored_outputs({**checked(raw(pool, None)), "target": {"path": "/srv/pool"}}, forced)
    outs = refreshed(monkeypatch, stored, pool, forced)
    assert outs["target"] == {"path": forced}, "refresh copies the host's target path"
    news = checked(raw(pool, None), olds=POOLS.inputs_only(outs))
    d = POOLS.diff(UUID, outs, news, CTX)
    assert (d.changes, d.replaces) == (False, []), d


@pytest.mark.parametrize("pool, forced", POOL_TYPES)
def test_a_path_stored_before_the_fix_against_libvirts_own_path_is_no_change(
        pool: dict[str, Any], forced: str) -> None:
    """State written before the fix holds the path that was written (`/srv/pool`, never refreshed); the
    program sets target.path to libvirt's, as check now asks: the same target, no replacement."""
    stored = stored_outputs({**checked(raw(pool, None)), "target": {"path": "/srv/pool"}}, forced)
    news = checked(raw(pool, forced), olds=POOLS.inputs_only(stored))
    d = POOLS.diff(UUID, stored, news, CTX)
    assert (d.changes, d.replaces) == (False, []), d
    assert POOLS.preview_update(UUID, stored, POOLS.canonical(news), CTX)["target_path"] == forced


@pytest.mark.parametrize("pool, forced", POOL_TYPES)
def test_libvirts_own_path_refreshed_against_the_same_path_is_no_change(
        monkeypatch: pytest.MonkeyPatch, pool: dict[str, Any], forced: str) -> None:
    stored = stored_outputs(checked(raw(pool, forced)), forced)
    outs = refreshed(monkeypatch, stored, pool, forced)
    d = POOLS.diff(UUID, outs, checked(raw(pool, forced), olds=POOLS.inputs_only(outs)), CTX)
    assert (d.changes, d.replaces) == (False, []), d
