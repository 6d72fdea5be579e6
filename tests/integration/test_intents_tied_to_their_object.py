"""Intents (resources/intents.py) act only on the very object their create made, and only for a while
(issue 20, item 8), against the real libvirtd with dir pools.

A create of a volume whose reply was lost (it ran on the host, then ConnectionLost) leaves the volume
and its intent; a rerun removes that leftover and makes it again. Any other volume of that name is
refused as a name conflict and kept: an intent that has expired (a resource since removed from the
program), or one about another pool object, another key, or a file changed outside the interrupted
create's window. Measured before the fix: an intent was acted on by name whenever one was on record,
however old, and the volume found was deleted (or, after a create that returned, taken over).
"""

from __future__ import annotations

import json
import os
import pathlib
import time
from typing import Any

import pytest

from pulumi_libvirt_storage_provider.ops.errors import ConnectionLost, LibvirtOpError
from pulumi_libvirt_storage_provider.resources import VOLUMES, Context, intents
from tests.support.lost_reply import lose_the_next_reply

from .conftest import URI, DirPool

pytestmark = pytest.mark.libvirtd
CTX = Context()
DAY_S = 24 * 3600


@pytest.fixture
def home(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """Intents of this test only."""
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def intent_files(home: pathlib.Path) -> list[pathlib.Path]:
    return sorted((home / "libvirt-storage" / "intents").glob("*.json"))


def edit_intent(home: pathlib.Path, **changes: Any) -> None:
    """Rewrite the one intent on record (as if it had been written so)."""
    (path,) = intent_files(home)
    record = json.loads(path.read_text())
    record.update({k: (v(record) if callable(v) else v) for k, v in changes.items()})
    path.write_text(json.dumps(record))


def disk_inputs(pool: DirPool) -> dict[str, Any]:
    raw = {"pool": pool.name, "pool_type": "dir", "name": "disk.raw", "format": "raw", "capacity": "4MiB",
           "uri": URI, "__seed": f"urn:pulumi:test::proj::libvirt-storage:index:StorageVolume::{pool.name}-disk",
           "__name_prefix": "disk"}
    result = VOLUMES.check({}, raw, CTX)
    assert not result.failures, result.failures
    return result.inputs


def interrupted_create(pool: DirPool, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A create of disk.raw whose reply was lost: the volume is on the host, its intent on record."""
    inputs = disk_inputs(pool)
    lose_the_next_reply(monkeypatch)
    with pytest.raises(ConnectionLost):
        VOLUMES.create(inputs, CTX)
    assert (pool.path / "disk.raw").exists(), "the lost create made the volume"
    return inputs


def identity(path: pathlib.Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_ino, st.st_ctime_ns


def refused_and_kept(inputs: dict[str, Any], path: pathlib.Path, content: bytes | None = None) -> None:
    """The rerun is refused as a name conflict, and the volume found stays as it was."""
    before = identity(path)
    try:
        VOLUMES.create(inputs, CTX)
    except LibvirtOpError as e:
        assert "already exists" in str(e), e
    else:
        pytest.fail("the rerun acted on the intent: the volume found was "
                    + ("taken over" if identity(path) == before else "deleted and made again"))
    assert identity(path) == before, "the volume found was deleted and made again"
    if content is not None:
        assert path.read_bytes().startswith(content)


def test_the_leftover_of_an_interrupted_create_is_removed_and_made_again(
        make_dir_pool, home: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The case intents are for (held before the fix too): the intent matches the volume found."""
    pool = make_dir_pool("left")
    inputs = interrupted_create(pool, monkeypatch)
    key, outs = VOLUMES.create(inputs, CTX)  # the rerun
    assert key == str(pool.path / "disk.raw") and outs["adopted"] is False
    VOLUMES.diff(key, outs, inputs, CTX)  # the engine holds it: the intent has served
    assert intent_files(home) == []
    VOLUMES.delete(key, outs, CTX)


@pytest.mark.parametrize("left_by", ["interrupted", "made"])
def test_an_expired_intent_is_never_acted_on_and_is_removed(
        left_by: str, make_dir_pool, home: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A day and an hour later (a resource removed from the program meanwhile, then a volume of the
    same name): the volume found is neither deleted (interrupted) nor taken over (made, a create the
    engine never recorded)."""
    pool = make_dir_pool("expired")
    if left_by == "interrupted":
        inputs = interrupted_create(pool, monkeypatch)
    else:
        inputs = disk_inputs(pool)
        VOLUMES.create(inputs, CTX)  # returned; the engine never recorded it
    assert len(intent_files(home)) == 1
    edit_intent(home, since=lambda r: r["since"] - DAY_S - 3600)
    refused_and_kept(inputs, pool.path / "disk.raw")
    assert intent_files(home) == [], "the expired intent is removed"
    assert intents.INTENT_TTL_S <= DAY_S


@pytest.mark.parametrize("mismatch", ["pool-redefined", "another-key", "changed-after-the-window"])
def test_an_intent_about_another_object_is_not_acted_on(
        mismatch: str, make_dir_pool, conn, home: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The intent is recent and names this resource, pool and volume name, but the volume found is not
    the one its create made: in a pool defined again meanwhile over the same directory (another pool
    object), under another key, or a file changed outside the create's window (someone's since)."""
    pool = make_dir_pool("other")
    inputs = interrupted_create(pool, monkeypatch)
    path = pool.path / "disk.raw"
    path.write_bytes(b"someone's data")
    if mismatch == "pool-redefined":
        xml = pool.pool.XMLDesc(0)
        old_uuid = pool.pool.UUIDString()
        pool.pool.destroy()
        pool.pool.undefine()
        xml = xml.replace(f"<uuid>{old_uuid}</uuid>", "")
        again = conn.storagePoolDefineXML(xml, 0)
        again.create(0)
        assert again.UUIDString() != old_uuid
    elif mismatch == "another-key":
        edit_intent(home, key=str(pool.path / "another.raw"))
    else:
        # The create ran an hour ago; the file changed now.
        edit_intent(home, since=lambda r: r["since"] - 3600, lost_at=lambda r: (r.get("lost_at") or r["since"]) - 3600)
    refused_and_kept(inputs, path, b"someone's data")
    assert time.time() - json.loads(intent_files(home)[0].read_text())["since"] < DAY_S
