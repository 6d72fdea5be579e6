"""Stop when the Pulumi engine that launched this process is gone.

The engine starts its provider processes and, when it ends normally, stops them. Killed (SIGKILL,
the out-of-memory killer, a closed terminal that takes only the CLI), it leaves them running:
measured, the dynamic provider's host and the language host stayed alive with no engine, and the
provider went on with the creates in flight. Those creates can reach nobody: their results are
lost, and a rerun working beside them on the same names could see a volume half made by a process
that no longer belongs to any run. So a provider process watches the engine and exits once it is
gone; what a create cut short leaves is this resource's own by its intent (resources/intents.py)
and the next run removes it.

The engine is the first ancestor that is not a shell: pulumi.dynamic's host runs under the `sh`
script `pulumi-resource-pulumi-python`. Linux only (/proc); elsewhere nothing is watched.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Callable

SHELLS = frozenset({"sh", "dash", "bash", "busybox"})
_started = False


def _stat(pid: int) -> tuple[str, str, int, str] | None:
    """(command, state, parent pid, start time) of a process, or None when there is none."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    comm = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    return comm, fields[0], int(fields[1]), fields[19]


def engine() -> tuple[int, str] | None:
    """The pid and start time of the process that launched this one through any shells."""
    pid = os.getppid()
    for _ in range(4):
        found = _stat(pid) if pid > 1 else None
        if found is None:
            return None
        _, _, parent, start = found
        try:  # (a script run by its #! line is named after the script: ask what it executes)
            program = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        except OSError:
            return None
        if program not in SHELLS:
            return pid, start
        pid = parent
    return None


def alive(pid: int, start: str) -> bool:
    found = _stat(pid)
    return found is not None and found[1] not in ("Z", "X") and found[3] == start


def _gone(pid: int) -> None:
    try:  # (stderr is a pipe to the engine that is gone: writing to it may fail)
        sys.stderr.write(f"pulumi-libvirt-storage: the Pulumi engine (pid {pid}) is gone; stopping. What a create "
                         "cut short here leaves is removed by the next run.\n")
        sys.stderr.flush()
    finally:
        os._exit(1)


def watch(interval: float = 0.5, on_gone: Callable[[int], None] = _gone) -> bool:
    """Start the watch (once per process); False when there is nothing to watch."""
    global _started
    if _started:
        return True
    target = engine()
    if target is None:
        return False
    _started = True
    pid, start = target

    def loop() -> None:
        while alive(pid, start):
            time.sleep(interval)
        on_gone(pid)

    threading.Thread(target=loop, name="engine-lifeline", daemon=True).start()
    return True
