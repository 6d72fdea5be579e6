"""Intent files (resources/intents.py) as stored on the machine that runs Pulumi (issue 20, item 8):
0600 files in a 0700 directory, named so that nobody can tell from public data (a stack, a resource
name, a pool, a volume name) which file is whose, never read or written through a symlink, refused in a
directory another user can write to, and expired: an old intent is never returned, and is removed.

Measured before the fix: files 0644 in a 0755 directory, named by a SHA-256 of what they record
(anyone could compute the name and plant one), read through a planted symlink, a world-writable
directory used as it was, and intents kept for ever."""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import stat
import time

import pytest

from pulumi_libvirt_storage_provider.resources import intents

WHAT = {"seed": "urn:pulumi:test::proj::libvirt-storage:index:StorageVolume::disk", "uri": "qemu:///system",
        "kind": "volume", "pool": "images", "name": "disk.qcow2"}
DAY_S = 24 * 3600


@pytest.fixture
def home(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def directory(home: pathlib.Path) -> pathlib.Path:
    return home / "libvirt-storage" / "intents"


def intent_files(home: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in directory(home).glob("*.json"))


def mode(path: pathlib.Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_intent_files_are_0600_in_a_0700_directory(home: pathlib.Path) -> None:
    intents.begin(WHAT)
    files = intent_files(home)
    assert len(files) == 1
    assert f"{mode(directory(home)):04o}" == "0700"
    assert [f"{mode(p):04o}" for p in directory(home).iterdir()] == ["0600"] * len(list(directory(home).iterdir()))
    intents.end(WHAT)
    assert intent_files(home) == []


def test_intent_names_are_not_a_hash_of_what_they_record(home: pathlib.Path, tmp_path: pathlib.Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The name is keyed by a random secret of this machine: the same intent gets another name in
    another PULUMI_HOME, and none of the hashes of its public content."""
    intents.begin(WHAT)
    (name,) = [p.name for p in intent_files(home)]
    text = json.dumps(WHAT, sort_keys=True).encode()
    public = {h(text).hexdigest()[:n] for h in (hashlib.sha256, hashlib.sha1, hashlib.md5) for n in (32, 40, 64)}
    assert name.removesuffix(".json") not in public
    monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "other-home"))
    intents.begin(WHAT)
    (other,) = [p.name for p in intent_files(tmp_path / "other-home")]
    assert other != name, "the same intent has the same name on every machine: it can be planted"


def test_a_symlink_planted_under_an_intent_name_is_not_followed(home: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """An intent (found by its name, as if it could be guessed) replaced by a symlink to a file of the
    attacker's that says "this volume was left by an interrupted create": never read, never written."""
    intents.begin(WHAT)
    (path,) = intent_files(home)
    planted = tmp_path / "planted.json"
    record = json.dumps({**WHAT, "since": time.time(), "pid": 1})
    planted.write_text(record)
    path.unlink()
    path.symlink_to(planted)
    assert intents.recorded(WHAT) is None, "the planted intent was read through the symlink"
    intents.begin(WHAT)
    assert planted.read_text() == record, "the intent was written through the symlink"
    assert not path.is_symlink() and json.loads(path.read_text())["pid"] == os.getpid()


def test_a_key_planted_as_a_symlink_is_refused(home: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """The secret that names intents, replaced by a symlink to a key the attacker knows, is not used."""
    directory(home).mkdir(mode=0o700, parents=True)
    known = tmp_path / "known.key"
    known.write_bytes(b"k" * 32)
    (directory(home) / ".key").symlink_to(known)
    with pytest.raises(Exception, match="Too many levels of symbolic links|not a regular file"):
        intents.begin(WHAT)
    assert intent_files(home) == []


@pytest.mark.parametrize("how", ["writable-by-others", "writable-by-group", "owned-by-another-user"])
def test_an_intents_directory_another_user_can_write_to_is_refused(home: pathlib.Path, how: str) -> None:
    path = directory(home)
    path.mkdir(parents=True)
    if how == "owned-by-another-user":
        os.chmod(path, 0o700)
        os.chown(path, 65534, 65534)
    else:
        os.chmod(path, 0o777 if how == "writable-by-others" else 0o770)
    with pytest.raises(Exception, match="no one else can write to"):
        intents.begin(WHAT)
    with pytest.raises(Exception, match="no one else can write to"):
        intents.recorded(WHAT)
    assert intent_files(home) == [], "an intent was written where another user can replace it"


def age(home: pathlib.Path, seconds: float) -> None:
    """Make the one intent on record `seconds` old (its `since`), as if written then."""
    (path,) = intent_files(home)
    record = json.loads(path.read_text())
    record["since"] = time.time() - seconds
    path.write_text(json.dumps(record))


@pytest.mark.parametrize("made", [False, True], ids=["interrupted", "made"])
def test_an_intent_older_than_its_lifetime_is_never_returned_and_is_removed(home: pathlib.Path, made: bool) -> None:
    intents.begin(WHAT)
    if made:
        intents.made(WHAT, key="/var/lib/libvirt/images/disk.qcow2")
    age(home, DAY_S + 3600)
    assert intents.recorded(WHAT) is None, "an intent a day old was acted on"
    assert intent_files(home) == [], "the expired intent is removed"
    assert intents.INTENT_TTL_S <= DAY_S


def test_an_intent_within_its_lifetime_is_returned(home: pathlib.Path) -> None:
    intents.begin(WHAT)
    age(home, 3600)
    found = intents.recorded(WHAT)
    assert found is not None and found["name"] == WHAT["name"]
