"""CPU seconds (user + system) that one engine command's processes spent, by role, read from /proc:

- engine: the `pulumi` CLI (the engine, its state writes, the file backend);
- program: the Python program (`pulumi-language-python-exec`) that registers the resources;
- provider: the provider process(es), `pulumi-resource-*` or benchmarks.probe around ours.

On 2 cores the three compete with each other and with libvirtd, so a command's wall time follows
their sum more than any one of them: this is what says where a difference between two providers
through the same engine comes from. Only descendants of this process count (other work on the
machine does not), each process is read every `interval` seconds while it lives, and what it spends
in its last interval before exiting is missed (the engine stops its plugins as it exits).
"""

from __future__ import annotations

import os
import threading
from typing import Any

ROLES = ("engine", "program", "provider")
_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of a live process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def _role(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return None
    names = [os.path.basename(a) for a in argv[:3]]
    if names[:1] == ["pulumi"]:
        return "engine"
    if "pulumi-language-python-exec" in names:
        return "program"
    if any(n.startswith("pulumi-resource-") for n in names) or "benchmarks.probe" in argv[:4]:
        return "provider"
    return None


class CpuWatch:
    """`with CpuWatch() as cpu: run a command`; then `cpu.seconds` = {role: CPU seconds}."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.seconds: dict[str, float] = {r: 0.0 for r in ROLES}
        self._me = os.getpid()
        self._parent: dict[int, int] = {}
        self._role: dict[int, str | None] = {}
        self._last: dict[int, float] = {}  # pid -> CPU seconds last read, for processes with a role
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "CpuWatch":
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._sample()
        for pid, seconds in self._last.items():
            role = self._role.get(pid)
            if role:
                self.seconds[role] += seconds

    def _ours(self, pid: int) -> bool:
        seen = set()
        while pid > 1 and pid not in seen:
            if pid == self._me:
                return True
            seen.add(pid)
            pid = self._parent.get(pid, 0)
        return False

    def _sample(self) -> None:
        try:
            pids = [int(d) for d in os.listdir("/proc") if d.isdigit()]
        except OSError:
            return
        for pid in pids:
            if pid in self._role and self._role[pid] is None:
                continue  # not ours, or no role: read once
            st = _stat(pid)
            if st is None:
                continue
            parent, seconds = st
            if pid not in self._role:
                self._parent[pid] = parent
                # a process is classified once, on first sight (a shim's exec keeps the pid: retry
                # while it has no role and is ours)
                role = _role(pid) if self._ours(pid) else None
                if role is None and self._ours(pid):
                    continue
                self._role[pid] = role
                if role is None:
                    continue
            self._last[pid] = seconds

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()
