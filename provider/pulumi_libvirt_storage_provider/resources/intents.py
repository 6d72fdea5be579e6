"""Creates in flight, recorded on the machine that runs Pulumi, so that an object an interrupted
run left behind is recognised as this resource's own by the next run.

A create whose connection dies after libvirt made the object (libvirtd killed, the link cut)
cannot tell the engine about it: pulumi.dynamic has no way to record a partial create. The object
is then on the host but not in the state, and the next `pulumi up` would find its name taken.
Before a volume is made, an intent (the resource's seed, the host, the pool and the name) is
written here. An object found under an intent of the same resource is the leftover of an
interrupted create: it is removed and made again (it never held anything but what that create put
there). A create that libvirt undid removes its intent.

A create that returned is not yet in the state: the engine records it after, and a CLI killed in
between (SIGKILL, a closed terminal) leaves a whole volume the state does not know, under a pending
operation. So a returned create marks its intent "made" with the volume's key, and the intent goes
only once a call shows the engine holds the resource (diff, read, update or delete of it). A create
that finds a "made" intent and that very volume, as declared, takes it over: nothing is made twice,
nothing is lost, and the name is not taken from the run that made it.

Pools and secrets need no intent: their uuid derives from the resource's seed, so a pool or
secret with this name *and* that uuid is this resource's own.

Intents live under $PULUMI_HOME/libvirt-storage/intents (~/.pulumi by default), one file each.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import time
from typing import Any


def _directory() -> pathlib.Path:
    home = os.environ.get("PULUMI_HOME") or os.path.join(os.path.expanduser("~"), ".pulumi")
    return pathlib.Path(home) / "libvirt-storage" / "intents"


def _path(what: dict[str, Any]) -> pathlib.Path:
    digest = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:32]
    return _directory() / f"{digest}.json"


def _record(what: dict[str, Any], **extra: Any) -> pathlib.Path:
    path = _path(what)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**what, **extra, "since": time.time()}))
    tmp.replace(path)
    return path


def begin(what: dict[str, Any]) -> pathlib.Path:
    """Record that the object `what` (seed, uri, kind, pool, name) is about to be made."""
    return _record(what, pid=os.getpid())


def made(what: dict[str, Any], key: str) -> None:
    """Record that the create returned the volume `key`, not yet known to be in the state."""
    _record(what, made=key)


def end(what: dict[str, Any]) -> None:
    _path(what).unlink(missing_ok=True)


def recorded(what: dict[str, Any]) -> dict[str, Any] | None:
    """The intent of an earlier create of exactly this object: "made" holds the key of the volume it
    returned; without it, the create was interrupted."""
    try:
        record = json.loads(_path(what).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None
