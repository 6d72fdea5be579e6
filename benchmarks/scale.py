"""`--parts scale`: one stack of N volumes through the engine (up, a no-change preview, refresh,
destroy) at several sizes, default 100 and 1000; the time of each command and the provider process's
peak memory (VmHWM, from benchmarks/probe.py), and how each grows from the smallest N to the largest.
(The memory is the provider's: the engine's own, a Go process, is not included.)"""

from __future__ import annotations

import pathlib
from typing import Any, Callable

STEPS = ("up", "preview", "refresh", "destroy")


def run(work: pathlib.Path, ns: list[int], frontends: list[str], pool_for: Callable[[str], str], uri: str,
        capacity: str, log: Callable[[str], None]) -> dict[str, Any]:
    from .engine import Stack
    out: dict[str, Any] = {"ns": ns, "frontends": {}}
    for frontend in frontends:
        by_n: dict[int, dict[str, Any]] = {}
        for n in ns:
            log(f"[scale] {frontend} front end: a stack of {n} volumes")
            stack = Stack(work / f"scale-{frontend}-{n}", trivial=False, pool=pool_for(f"scale-{frontend}-{n}"), n=n,
                          fmt="qcow2", capacity=capacity, uri=uri, frontend=frontend)
            steps: dict[str, Any] = {}
            try:
                for step in STEPS:
                    r = stack.step(step)
                    steps[step] = {"seconds": r.seconds, "peak_kib": r.peak_kib, "opened": r.opened}
                    log(f"    {step:8s} {r.seconds:7.2f} s  provider peak "
                        f"{(r.peak_kib or 0) / 1024:5.0f} MiB  connections opened {r.opened}")
            finally:
                stack.close()
            by_n[n] = steps
        out["frontends"][frontend] = by_n
    return out


def report(res: dict[str, Any]) -> str:
    ns = res["ns"]
    small, large = min(ns), max(ns)
    lines = [f"== one stack of N volumes through the engine: time (s) and provider peak memory (MiB); growth "
             f"from N = {small} to {large} =="]
    for frontend, by_n in res["frontends"].items():
        header = ["command"] + [f"N={n} s" for n in ns] + [f"N={n} MiB" for n in ns] + \
                 [f"time x{large // small}N", f"memory x{large // small}N"]
        rows = []
        for step in STEPS:
            secs = [by_n[n][step]["seconds"] for n in ns]
            mibs = [(by_n[n][step]["peak_kib"] or 0) / 1024 for n in ns]
            t_growth = secs[-1] / secs[0] if secs[0] else 0
            m_growth = mibs[-1] / mibs[0] if mibs[0] else 0
            rows.append([step] + [f"{s:.2f}" for s in secs] + [f"{m:.0f}" for m in mibs] +
                        [f"{t_growth:.1f}x", f"{m_growth:.2f}x"])
        widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
        lines.append(f"{frontend} front end")
        lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
        lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for r in rows:
            lines.append("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")
        lines.append("")
    return "\n".join(lines).rstrip()
