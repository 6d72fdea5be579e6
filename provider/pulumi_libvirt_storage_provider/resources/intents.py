"""Creates in flight, recorded on the machine that runs Pulumi, so that an object an interrupted
run left behind is recognised as this resource's own by the next run.

A create whose connection dies after libvirt made the object (libvirtd killed, the link cut)
cannot tell the engine about it: pulumi.dynamic has no way to record a partial create. The object
is then on the host but not in the state, and the next `pulumi up` would find its name taken.
Before a volume is made, an intent (the resource's seed, the host, the pool and the name) is
written here; it is removed once the create has returned or has been undone. An object found under
an intent of the same resource is the leftover of an interrupted create: it is removed and made
again (it never held anything but what that create put there).

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


def begin(what: dict[str, Any]) -> pathlib.Path:
    """Record that the object `what` (seed, uri, kind, pool, name) is about to be made."""
    path = _path(what)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**what, "pid": os.getpid(), "since": time.time()}))
    tmp.replace(path)
    return path


def end(what: dict[str, Any]) -> None:
    _path(what).unlink(missing_ok=True)


def pending(what: dict[str, Any]) -> bool:
    """Whether an earlier create of exactly this object was interrupted."""
    return _path(what).exists()
