"""Creates in flight, recorded on the machine that runs Pulumi, so that an object an interrupted
run left behind is recognised as this resource's own by the next run, and nothing else is.

A create whose connection dies after libvirt made the object (libvirtd killed, the link cut)
cannot tell the engine about it: pulumi.dynamic has no way to record a partial create. The object
is then on the host but not in the state, and the next `pulumi up` would find its name taken.
Before a volume or a secret is made, an intent (the resource's seed, the host, what is made and
where) is written here, with what identifies the object the create is about to make: the pool it
goes into (its uuid), the uuid a secret is given. As soon as libvirt returns the volume, its key
is added. An object found under an intent of the same resource *and* matching it (the same pool
object, the same key or uuid, and for file volumes a change time inside the create's own window)
is the leftover of an interrupted create: it is removed and made again (it never held anything
but what that create put there). Anything else of that name is refused, as any name conflict is.

A create that returned is not yet in the state: the engine records it after, and a CLI killed in
between (SIGKILL, a closed terminal) leaves a whole object the state does not know, under a pending
operation. So a returned create marks its intent "made", with the object's creation identity (a
volume's key and, for files, the change time libvirt reports; a secret's uuid), and the intent goes
only once a call shows the engine holds the resource (diff, read, update or delete of it). A create
that finds a "made" intent and that very object, unchanged, takes it over: nothing is made twice,
nothing is lost, and the name is not taken from the run that made it.

Intents expire after INTENT_TTL_S: an older one is removed and never acted on, so that a resource
since removed from the program cannot, months later, delete or take over an object of the same name.

Pools need no intent: a pool found under this resource's name and uuid whose definition is the one
the program declares is taken over as it is (resources/pool.py); one that differs is refused.

Intents live under $PULUMI_HOME/libvirt-storage/intents (~/.pulumi by default): a directory of the
user running Pulumi (0700, refused when another user owns it or can write to it), one file each
(0600, never followed through a symlink), named by an HMAC of what it records under a random key
kept beside them, so that nobody can guess, plant or replace the intent of a resource.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pathlib
import secrets
import stat
import time
from typing import Any

#: How long an intent is acted on (seconds). A rerun after an interrupted run comes within minutes.
INTENT_TTL_S = 24 * 3600
#: Clock slack between this machine and the host when a change time is compared with an intent.
CLOCK_SLACK_S = 5.0

_KEY_FILE = ".key"


class IntentsUnsafe(Exception):
    """The intents directory is not this user's alone: intents there cannot be trusted."""


def _directory() -> pathlib.Path:
    home = os.environ.get("PULUMI_HOME") or os.path.join(os.path.expanduser("~"), ".pulumi")
    path = pathlib.Path(home) / "libvirt-storage" / "intents"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise IntentsUnsafe(f"{path} must be a directory of user {os.geteuid()} that no one else can write to "
                            f"(mode {stat.S_IMODE(st.st_mode):04o}, owner {st.st_uid}); fix or remove it")
    return path


def _open_own(path: pathlib.Path, flags: int, mode: int = 0o600) -> int:
    """A file of this user's, never reached through a symlink."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
        os.close(fd)
        raise IntentsUnsafe(f"{path} is not a regular file of user {os.geteuid()}")
    return fd


def _key(directory: pathlib.Path) -> bytes:
    path = directory / _KEY_FILE
    if not path.exists():
        # Written whole under another name, then linked into place: a call running beside this one
        # never reads a key half written (the link fails when another call's key is there first).
        tmp = directory / f".{secrets.token_hex(8)}.key"
        fd = _open_own(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    fd = _open_own(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as f:
        key = f.read()
    if len(key) != 32:
        raise IntentsUnsafe(f"{path} is damaged; remove it (the intents it named are then forgotten)")
    return key


def _path(what: dict[str, Any]) -> pathlib.Path:
    directory = _directory()
    digest = hmac.new(_key(directory), json.dumps(what, sort_keys=True).encode(), hashlib.sha256).hexdigest()
    return directory / f"{digest[:40]}.json"


def _write(path: pathlib.Path, record: dict[str, Any]) -> None:
    tmp = path.with_name(f".{secrets.token_hex(8)}.tmp")
    fd = _open_own(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(record))
    tmp.replace(path)


def _read(path: pathlib.Path) -> dict[str, Any] | None:
    try:
        fd = _open_own(path, os.O_RDONLY)
    except (FileNotFoundError, IntentsUnsafe, OSError):
        return None
    with os.fdopen(fd) as f:
        try:
            record = json.loads(f.read())
        except ValueError:
            return None
    return record if isinstance(record, dict) else None


def begin(what: dict[str, Any], **identity: Any) -> None:
    """Record that the object `what` (seed, uri, kind, and where and what) is about to be made, with
    what will identify it (e.g. pool_uuid, uuid)."""
    _write(_path(what), {**what, **identity, "since": time.time(), "pid": os.getpid()})


def note(what: dict[str, Any], **facts: Any) -> None:
    """Add what the create learned on the way (a volume's key once libvirt returned it; when the
    connection was found lost) to its intent."""
    path = _path(what)
    record = _read(path)
    if record is not None:
        _write(path, {**record, **facts})


def made(what: dict[str, Any], **identity: Any) -> None:
    """Record that the create returned the object with this creation identity, not yet known to be in
    the state."""
    path = _path(what)
    record = _read(path) or {**what, "since": time.time()}
    _write(path, {**record, **identity, "made": True, "made_at": time.time()})


def end(what: dict[str, Any]) -> None:
    try:
        _path(what).unlink(missing_ok=True)
    except IntentsUnsafe:
        pass  # nothing of ours can be there


def recorded(what: dict[str, Any]) -> dict[str, Any] | None:
    """The intent of an earlier create of exactly this object, unless it has expired (an expired one
    is removed). "made" is set when that create returned; without it, the create was interrupted."""
    path = _path(what)
    record = _read(path)
    if record is None:
        return None
    since = record.get("since")
    if not isinstance(since, (int, float)) or time.time() - since > INTENT_TTL_S:
        path.unlink(missing_ok=True)
        return None
    return record


def changed_within(record: dict[str, Any], ctime: Any) -> bool:
    """Whether a file's change time (libvirt's `<ctime>`, seconds) falls inside the window of the
    interrupted create this intent records: not before it began, and not after it was found lost
    (when that is known). A file changed outside it is someone else's."""
    try:
        changed = float(ctime)
    except (TypeError, ValueError):
        return False
    since = record.get("since")
    lost = record.get("lost_at")
    if not isinstance(since, (int, float)) or changed < since - CLOCK_SLACK_S:
        return False
    return not isinstance(lost, (int, float)) or changed <= lost + CLOCK_SLACK_S
