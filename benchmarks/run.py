"""`make bench`: what a deployment costs, against the libvirt floor. See benchmarks/__init__.py.

    .venv/bin/python -m benchmarks.run                 N = 100 and 500, every part but the peer
    .venv/bin/python -m benchmarks.run --parts floor,protocol,engine,peer,pulumi-libvirt
                                                       ... and OpenTofu + terraform-provider-libvirt, and
                                                       pulumi-libvirt's Volume through the same engine
    .venv/bin/python -m benchmarks.run --quick         N = 10, in a few minutes
    .venv/bin/python -m benchmarks.run --n 200 --parts floor,protocol
    .venv/bin/python -m benchmarks.run --profile       also profile the provider process (pyinstrument)
    .venv/bin/python -m benchmarks.run --rbd           also a stack on an rbd pool (one-node Ceph)
    .venv/bin/python -m benchmarks.run --parts scale --frontends plugin
                                                       one stack of 100 and of 1000 volumes: time and
                                                       the provider's peak memory, and their growth
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import shutil
import signal
import sys
import tempfile
import time
from typing import Any, Mapping

from . import floor, hosts, protocol
from .floor import MiB, Phases

ROOT = pathlib.Path(__file__).resolve().parents[1]
PARTS = ("floor", "virsh", "protocol", "engine", "peer", "pulumi-libvirt", "scale")
# the peers are opt-in: the OpenTofu peer's first build takes minutes, and both double a run's time
DEFAULT_PARTS = ("floor", "virsh", "protocol", "engine")
FRONTENDS = ("dynamic", "plugin", "plugin-skip-checkpoints")
PHASES = ("create", "read", "grow", "delete")
# engine step -> the floor phase it does on the host
ENGINE_FLOOR: dict[str, str | None] = {"up": "create", "preview": None, "refresh": "read", "grow": "grow", "destroy": "delete"}
ENGINE_LABEL = {"up": "up (create)", "preview": "preview (no change)", "refresh": "refresh",
                "grow": "up (grow)", "destroy": "destroy"}
CAPACITY, GROWN = 64 * MiB, 128 * MiB


@dataclasses.dataclass
class Scenario:
    label: str
    n: int
    fmt: str | None = "qcow2"
    pool_factory: str = "dir"  # "dir" or "rbd"


def _ms(seconds: float | None, n: int) -> str:
    return "-" if seconds is None else f"{seconds / n * 1000:.2f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b <= 0 else f"{a / b:.2f}x"


def _s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f}"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.pools = hosts.Pools()
        self.out_dir = pathlib.Path(args.out)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.work = pathlib.Path(tempfile.mkdtemp(prefix=hosts.PREFIX + "work-"))
        self.results: dict[str, Any] = {}
        self.ceph_dir: str | None = None

    # -- pools -------------------------------------------------------------------------
    def pool(self, scenario: Scenario, what: str) -> str:
        if scenario.pool_factory == "rbd":
            from . import rbd
            assert self.ceph_dir is not None
            return rbd.pool(self.pools, self.ceph_dir, what)
        return self.pools.dir_pool(what)[0]

    # -- one scenario ------------------------------------------------------------------
    def scenario(self, sc: Scenario) -> dict[str, Any]:
        parts, n, uri, fmt = self.args.parts, sc.n, self.pools.uri, sc.fmt
        res: dict[str, Any] = {"n": n, "label": sc.label}
        tag = f"{sc.pool_factory}{n}"
        if "floor" in parts:
            log(f"[{sc.label}] floor: libvirt-python, {n} volumes")
            res["floor"] = floor.python_floor(uri, self.pool(sc, f"{tag}-py"), n, fmt=fmt, capacity=CAPACITY,
                                              grown=GROWN).seconds
        if "virsh" in parts:
            log(f"[{sc.label}] floor: one virsh process per operation, {n} volumes")
            res["virsh"] = floor.virsh_floor(uri, self.pool(sc, f"{tag}-virsh"), n, fmt=fmt, capacity=CAPACITY,
                                             grown=GROWN).seconds
        if "protocol" in parts:
            from pulumi_libvirt_storage_provider.dynamic import StorageVolumeProvider

            from .trivial import TrivialVolumeProvider
            log(f"[{sc.label}] provider protocol: ours, {n} volumes")
            ours = protocol.run(StorageVolumeProvider(), "StorageVolume", self.pool(sc, f"{tag}-proto"), n, uri,
                                fmt=fmt, capacity=CAPACITY, grown=GROWN)
            log(f"[{sc.label}] provider protocol: trivial provider")
            triv = protocol.run(TrivialVolumeProvider(), "TrivialVolume", "trivial", n, uri, fmt=fmt,
                                capacity=CAPACITY, grown=GROWN)
            res["protocol"] = {"ours": ours.phases.seconds, "trivial": triv.phases.seconds,
                               "ours_report": ours.report, "trivial_report": triv.report}
        if "engine" in parts:
            res["engine"] = {fe: self.engine(sc, f"{tag}-{fe}", fe) for fe in self.args.frontends}
        if "peer" in parts and sc.pool_factory == "dir":
            res["peer"] = self.peer(sc)
        if "pulumi-libvirt" in parts and sc.pool_factory == "dir":
            res["pulumi-libvirt"] = self.pulumi_libvirt(sc)
            from .pulumi_libvirt_peer import startup
            res["provider_startup"] = startup()
        return res

    def peer(self, sc: Scenario) -> dict[str, float]:
        from . import peer
        tofu, provider_dir = peer.build()
        name = f"{peer.PREFIX}{os.urandom(3).hex()}"
        root = pathlib.Path(tempfile.mkdtemp(prefix=peer.PREFIX, dir="/var/tmp"))
        os.chmod(root, 0o755)
        log(f"[{sc.label}] peer: OpenTofu + terraform-provider-libvirt 0.8.3, {sc.n} volumes")
        try:
            times = peer.run_peer(sc.n, self.work / f"peer{sc.n}", tofu, provider_dir, name, str(root / name))
        finally:
            shutil.rmtree(root, ignore_errors=True)
        for step, seconds in times.items():
            log(f"    {step:8s} {seconds:6.2f} s")
        return times

    def pulumi_libvirt(self, sc: Scenario) -> dict[str, dict[str, Any]]:
        """pulumi-libvirt's Volume through the engine, under each engine setting our front ends run
        with: the default, and PULUMI_SKIP_CHECKPOINTS when plugin-skip-checkpoints is measured."""
        from . import pulumi_libvirt_peer as plp
        settings = ["default"] + (["skip-checkpoints"] if "plugin-skip-checkpoints" in self.args.frontends else [])
        out: dict[str, dict[str, Any]] = {}
        for setting in settings:
            name = f"{plp.PREFIX}{hosts.RUN_ID}-{sc.n}-{setting}"
            self.pools.track(name)  # removed at the end whatever happens to the stack
            log(f"[{sc.label}] pulumi-libvirt {plp.sdk_plugin_version()} (terraform-provider-libvirt 0.8.3 bridged) "
                f"through the engine, {setting}, {sc.n} volumes")
            run = plp.run(sc.n, self.work / f"pulumi-libvirt{sc.n}-{setting}", name,
                          os.path.join(self.pools.root, name), self.pools.uri, plp.SETTINGS[setting], log)
            out[setting] = dataclasses.asdict(run)
        return out

    def engine(self, sc: Scenario, tag: str, frontend: str) -> dict[str, Any]:
        from .engine import STEPS, Stack
        out: dict[str, Any] = {}
        for kind in ("ours", "trivial"):
            trivial = kind == "trivial"
            pool = "trivial" if trivial else self.pool(sc, f"{tag}-engine")
            log(f"[{sc.label}] engine, {frontend} front end: {kind}, a stack of {sc.n} volumes")
            stack = Stack(self.work / f"{tag}-{kind}", trivial=trivial, pool=pool, n=sc.n, fmt=sc.fmt,
                          capacity=f"{CAPACITY}", uri=self.pools.uri, frontend=frontend)
            steps: dict[str, Any] = {}
            try:
                for step in STEPS:
                    r = stack.step(step, grown=f"{GROWN}")
                    steps[step] = {"seconds": r.seconds, "opened": r.opened, "peak_kib": r.peak_kib,
                                   "clients_peak": r.libvirtd_clients_peak, "cpu": r.cpu,
                                   "provider_calls": [p.get("calls") for p in r.probes]}
                    log(f"    {step:8s} {r.seconds:6.2f} s  connections opened {r.opened}")
                    if step == "up":
                        out.setdefault("state_bytes", {})[kind] = stack.state_bytes()
            finally:
                stack.close()
            out[kind] = steps
        return out

    # -- profiling ---------------------------------------------------------------------
    def profile(self, sc: Scenario) -> dict[str, Any]:
        from pulumi_libvirt_storage_provider.dynamic import StorageVolumeProvider

        from . import profile as prof
        from .engine import Stack
        n, uri = sc.n, self.pools.uri
        out: dict[str, Any] = {}
        log(f"[profile] provider protocol, {n} volumes, pyinstrument in the provider process")
        run = protocol.run(StorageVolumeProvider(), "StorageVolume", self.pool(sc, f"prof{n}-proto"), n, uri,
                           fmt=sc.fmt, capacity=CAPACITY, grown=GROWN, profile=True)
        if run.report.get("profile"):
            prof.render_text(run.report["profile"], str(self.out_dir / f"profile-protocol-{n}.txt"))
            out["protocol"] = prof.analyse(run.report["profile"])
        log(f"[profile] engine: no-change preview of {n} volumes, pyinstrument in the provider process")
        stack = Stack(self.work / f"prof{n}", trivial=False, pool=self.pool(sc, f"prof{n}-engine"), n=n,
                      fmt=sc.fmt, capacity=f"{CAPACITY}", uri=uri)
        try:
            stack.step("up")
            stack.set_profile(True)
            step = stack.step("preview")
            out["preview_seconds"] = step.seconds
            if step.profiles:
                prof.render_text(step.profiles[0], str(self.out_dir / f"profile-preview-{n}.txt"))
                out["preview"] = prof.analyse(step.profiles[0])
            stack.set_profile(False)
            stack.step("destroy")
        finally:
            stack.close()
        return out

    def close(self) -> None:
        removed = self.pools.remove_all()
        if self.ceph_dir is not None:
            from . import rbd
            rbd.stop(self.ceph_dir)
        self.pools.close()
        shutil.rmtree(self.work, ignore_errors=True)
        hosts.remove_scratch()
        if removed:
            log(f"removed pools: {', '.join(removed)}")


# -- report ----------------------------------------------------------------------------
def report(res: dict[str, Any]) -> str:
    n = res["n"]
    lines = [f"== {res['label']}: N = {n} volumes =="]
    fl, vi, pr = res.get("floor"), res.get("virsh"), res.get("protocol")
    if fl or vi or pr:
        rows = []
        for ph in PHASES:
            f = fl.get(ph) if fl else None
            ours = pr["ours"].get(ph) if pr else None
            triv = pr["trivial"].get(ph) if pr else None
            own = None if ours is None or triv is None else ours - triv
            rows.append([ph, _ms(f, n), _ms(vi.get(ph) if vi else None, n), _ms(triv, n), _ms(ours, n), _ms(own, n),
                         _ratio(ours, f), _ratio(own, f), _ratio(vi.get(ph) if vi else None, f)])
        lines.append("per volume, ms (protocol: one call at a time over gRPC, numbers as floats)")
        lines.append(_table(rows, ["operation", "floor", "virsh", "trivial", "ours", "ours-triv", "ours/floor",
                                   "(ours-triv)/floor", "virsh/floor"]))
        if pr:
            calls = []
            for method in ("Check", "Create", "Read", "Diff", "Update", "Delete"):
                o = pr["ours_report"].get("calls", {}).get(method)
                t = pr["trivial_report"].get("calls", {}).get(method)
                if o and t:
                    calls.append(f"{method} {o['seconds'] / o['count'] * 1000:.2f}/{t['seconds'] / t['count'] * 1000:.2f}")
            lines.append("server side, ms per call (ours/trivial): " + ", ".join(calls))
            rep = pr["ours_report"]
            lines.append(f"protocol run: libvirt connections opened {sum(rep.get('libvirt_opens', {}).values())}, "
                         f"provider peak memory {rep.get('vm_hwm_kib', 0) / 1024:.0f} MiB "
                         f"(trivial {pr['trivial_report'].get('vm_hwm_kib', 0) / 1024:.0f} MiB)")
    for frontend, eng in (res.get("engine") or {}).items():
        rows = []
        for step, floor_phase in ENGINE_FLOOR.items():
            o, t = eng["ours"].get(step), eng["trivial"].get(step)
            if not o or not t:
                continue
            f = fl.get(floor_phase) if fl and floor_phase else None
            own = o["seconds"] - t["seconds"]
            rows.append([ENGINE_LABEL[step], _s(f), _s(t["seconds"]), _s(o["seconds"]), _s(own),
                         _ratio(o["seconds"], f), _ratio(own, f) if own > 0 else "-",
                         f"{own / o['seconds']:.0%}", str(o["opened"]),
                         "-" if o["clients_peak"] is None else str(o["clients_peak"]),
                         "-" if not o["peak_kib"] else f"{o['peak_kib'] / 1024:.0f}"])
        lines.append("")
        lines.append(f"whole stack through the engine, {frontend} front end, s (ours-triv = our provider's cost; "
                     "share = of the run)")
        lines.append(_table(rows, ["command", "floor", "trivial", "ours", "ours-triv", "ours/floor",
                                   "(ours-triv)/floor", "share", "conns opened", "libvirtd clients",
                                   "peak MiB"]))
    if res.get("engine") or res.get("peer") or res.get("pulumi-libvirt"):
        lines.append("")
        lines += summary(res)
    return "\n".join(lines)


# the floor phase that stands for each engine step (a preview reads nothing on the host: the floor
# of the peer's plan, which refreshes every volume, is a read)
SUMMARY_FLOOR = {"up": "create", "preview": "read", "refresh": "read", "grow": "grow", "destroy": "delete"}


def _setting(frontend: str) -> str:
    """The engine setting a front end of the engine part runs with (benchmarks.pulumi_libvirt_peer.SETTINGS)."""
    return "skip-checkpoints" if frontend.endswith("-skip-checkpoints") else "default"


PULUMI_LIBVIRT_LABEL = {"default": "pulumi-libvirt 0.5.4 Volume, same engine",
                        "skip-checkpoints": "pulumi-libvirt 0.5.4 Volume, PULUMI_SKIP_CHECKPOINTS=true"}


def summary(res: dict[str, Any]) -> list[str]:
    """The issue-13 table: floor, both peers (OpenTofu, and pulumi-libvirt through the same engine),
    each front end and its no-work floor, totals, ratios to the peers; whether our best front end is
    at or below pulumi-libvirt (issue 21); then the budget of each step: ours <= trivial (the
    engine's floor) + 1.2 x libvirt's floor."""
    steps = list(SUMMARY_FLOOR)
    fl, peer = res.get("floor") or {}, res.get("peer")
    pl: dict[str, dict[str, float]] = {setting: run["seconds"] for setting, run in
                                       (res.get("pulumi-libvirt") or {}).items()}
    engine: dict[str, Any] = res.get("engine") or {}

    def ours(frontend: str, kind: str = "ours") -> dict[str, float | None]:
        return {s: (engine[frontend][kind].get(s) or {}).get("seconds") for s in steps}

    def total(t: Mapping[str, float | None]) -> float | None:
        known = [t.get(s) for s in steps]
        return None if None in known else sum(v for v in known if v is not None)

    # (label, seconds per step, engine setting: None outside the Pulumi engine)
    rows: list[tuple[str, dict[str, float | None], str | None]] = []
    if fl:
        rows.append(("libvirt-python, one process (floor)", {s: fl.get(SUMMARY_FLOOR[s]) for s in steps}, None))
    if peer:
        rows.append(("OpenTofu + terraform-provider-libvirt 0.8.3", dict(peer), None))
    for setting, times in pl.items():
        rows.append((PULUMI_LIBVIRT_LABEL[setting], dict(times), setting))
    for frontend in engine:
        rows.append((f"this project, {frontend} front end", ours(frontend), _setting(frontend)))
    for frontend in engine:
        rows.append((f"  no-work provider, {frontend} front end", ours(frontend, "trivial"), _setting(frontend)))
    peer_total = sum(peer.values()) if peer else None
    table = []
    for label, t, row_setting in rows:
        pl_total = total(pl[row_setting]) if row_setting in pl else None
        table.append([label, *(_s(t.get(s)) for s in steps), _s(total(t)), _ratio(total(t), peer_total),
                      _ratio(total(t), pl_total)])
    out = [f"N = {res['n']}: the whole run, s (one run; grow is a replacement for both peers: size is ForceNew in "
           "terraform-provider-libvirt 0.8.3; vs pulumi-libvirt: against its run with the same engine setting)",
           _table(table, ["", *steps, "total", "vs OpenTofu", "vs pulumi-libvirt"])]
    for setting, times in pl.items():
        theirs = total(times)
        candidates = [(mine, fe) for fe in engine if _setting(fe) == setting and (mine := total(ours(fe))) is not None]
        if theirs is None or not candidates:
            continue
        best_total, best = min(candidates)
        above = [f"{s} {ours(best)[s]:.2f} > {times[s]:.2f}" for s in steps if (ours(best)[s] or 0.0) > times[s]]
        out.append(f"goal ({setting}: our best front end at or below pulumi-libvirt): {best} {best_total:.2f} s "
                   f"vs {theirs:.2f} s, {'met' if best_total <= theirs else 'NOT met'}"
                   + (f"; steps above it: {', '.join(above)}" if above else ""))
    for frontend in engine:
        verdicts = []
        for s in steps:
            o, nowork, f = ours(frontend)[s], ours(frontend, "trivial")[s], fl.get(SUMMARY_FLOOR[s]) if fl else None
            if o is None or nowork is None or f is None:
                continue
            budget = nowork + 1.2 * f
            verdicts.append(f"{s} {o:.2f} {'<=' if o <= budget else '>'} {budget:.2f}")
        if verdicts:
            out.append(f"budget ({frontend}: ours vs no-work + 1.2 x floor): " + ", ".join(verdicts))
    out += cpu_table(res)
    if res.get("provider_startup"):
        out.append("provider process start-up, paid once by every engine command (s to its port, median of 5): "
                   + ", ".join(f"{label} {seconds:.3f}" for label, seconds in res["provider_startup"].items()))
    return out


def cpu_table(res: dict[str, Any]) -> list[str]:
    """Where a command's time goes by process, pulumi-libvirt beside our front ends: CPU seconds of
    the engine (the pulumi CLI), the Python program and the provider process (benchmarks/cpu.py),
    and the state's size per volume, which every checkpoint of the engine writes whole."""
    n, steps = res["n"], list(SUMMARY_FLOOR)
    rows: list[tuple[str, dict[str, dict[str, float]], int | None]] = []
    for setting, run in (res.get("pulumi-libvirt") or {}).items():
        rows.append((PULUMI_LIBVIRT_LABEL[setting], run.get("cpu") or {}, run.get("state_bytes")))
    for kind, label in (("ours", "this project, {} front end"), ("trivial", "  no-work provider, {} front end")):
        for frontend, eng in (res.get("engine") or {}).items():
            rows.append((label.format(frontend), {s: (eng[kind].get(s) or {}).get("cpu") or {} for s in steps},
                         (eng.get("state_bytes") or {}).get(kind)))
    if not rows or not any(cpu for _, by_step, _ in rows for cpu in by_step.values()):
        return []
    table = []
    for label, by_step, state in rows:
        cells = []
        for s in steps:
            cpu = by_step.get(s) or {}
            cells.append("/".join(f"{cpu.get(role, 0.0):.1f}" for role in ("engine", "program", "provider"))
                         if cpu else "-")
        table.append([label, *cells, "-" if state is None else f"{state / n / 1024:.1f}"])
    return [f"N = {n}: CPU seconds by process, engine/program/provider (the pulumi CLI, the Python program, the "
            "provider process; sampled from /proc), and the state after up, KiB per volume",
            _table(table, ["", *steps, "state KiB/vol"])]


def profile_report(n: int, prof: dict[str, Any]) -> str:
    lines = [f"== profile (pyinstrument, provider process), N = {n} =="]
    if "protocol" in prof:
        lines.append("-- protocol benchmark (create, read, grow, delete) --")
        lines += prof["protocol"].lines()
    if "preview" in prof:
        b = prof["preview"]
        wall = prof["preview_seconds"]
        lines.append(f"-- no-change preview: {wall:.2f} s wall; our code {b.buckets['ours']:.3f} s "
                     f"= {b.buckets['ours'] / wall:.1%} of the preview (profiled) --")
        lines += b.lines()
    return "\n".join(lines)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, nargs="+", default=None, help="stack sizes (default: 100 500)")
    ap.add_argument("--quick", action="store_true", help="N = 10 (a few minutes)")
    ap.add_argument("--parts", default=",".join(DEFAULT_PARTS),
                    help=f"comma-separated, of {', '.join(PARTS)} (default: {', '.join(DEFAULT_PARTS)}; opt-in: "
                         "peer, OpenTofu + terraform-provider-libvirt, built from the Go module proxy the first time "
                         "by scripts/peer.sh; pulumi-libvirt, pulumi-libvirt's Volume through the same engine, with "
                         "the plugin make setup builds; scale)")
    ap.add_argument("--frontends", default=",".join(FRONTENDS),
                    help="front ends of the engine part: dynamic, plugin, and plugin-skip-checkpoints (the plugin "
                         "with PULUMI_SKIP_CHECKPOINTS=true: the engine's floor without its per-step state "
                         "writes) (default: all three)")
    ap.add_argument("--profile", action="store_true",
                    help="also profile the provider process (protocol run and a no-change preview, largest N)")
    ap.add_argument("--rbd", action="store_true",
                    help="also run on an rbd pool of a one-node Ceph (scripts/ceph-test-cluster.sh), N = --rbd-n")
    ap.add_argument("--rbd-n", type=int, default=None, help="volumes on the rbd pool (default 200, 10 with --quick)")
    ap.add_argument("--scale-n", type=int, nargs="+", default=None,
                    help="sizes of the scale part (default 100 1000; 10 100 with --quick)")
    ap.add_argument("--out", default=str(ROOT / "build" / "bench"),
                    help="where results.json and the profile trees go (default build/bench)")
    args = ap.parse_args(argv)
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    args.frontends = [f.strip() for f in args.frontends.split(",") if f.strip()]
    if set(args.frontends) - set(FRONTENDS):
        ap.error(f"unknown front ends: {', '.join(sorted(set(args.frontends) - set(FRONTENDS)))}")
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        ap.error(f"unknown parts: {', '.join(sorted(unknown))}")
    ns = args.n or ([10] if args.quick else [100, 500])
    rbd_n = args.rbd_n or (10 if args.quick else 200)

    if "pulumi-libvirt" in args.parts:
        from . import pulumi_libvirt_peer
        problem = pulumi_libvirt_peer.unavailable()
        if problem:
            print(f"--parts pulumi-libvirt: {problem}", file=sys.stderr)
            return 2
    if args.rbd:
        from . import rbd
        problem = rbd.unavailable()
        if problem:
            print(f"--rbd: {problem}", file=sys.stderr)
            return 2

    # Ctrl-C or a kill still removes what was made (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bench = Bench(args)
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    profiles: dict[int, Any] = {}
    scaled: dict[str, Any] | None = None
    try:
        for n in ns:
            if set(args.parts) - {"scale"}:
                results.append(bench.scenario(Scenario(f"dir pool, qcow2 {CAPACITY // MiB} MiB sparse", n)))
        if "scale" in args.parts:
            from . import scale
            scale_ns = args.scale_n or ([10, 100] if args.quick else [100, 1000])
            scaled = scale.run(bench.work, scale_ns, args.frontends, lambda what: bench.pool(Scenario("scale", 0), what),
                               bench.pools.uri, f"{CAPACITY}", log)
        if args.rbd:
            from . import rbd
            bench.ceph_dir = rbd.start(bench.work)
            results.append(bench.scenario(Scenario(f"rbd pool (one-node Ceph), raw {CAPACITY // MiB} MiB", rbd_n,
                                                   fmt=None, pool_factory="rbd")))
        if args.profile:
            profiles[max(ns)] = bench.profile(Scenario("profile", max(ns)))
    finally:
        bench.close()
    print()
    print(f"pulumi-libvirt-storage benchmarks, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, "
          f"libvirt at {hosts.URI}; floor = libvirt-python in one process")
    for res in results:
        print()
        print(report(res))
    if scaled:
        from . import scale
        print()
        print(scale.report(scaled))
        results.append({"scale": scaled})
    for n, prof in profiles.items():
        print()
        print(profile_report(n, prof))
        print(f"(full call trees: {bench.out_dir}/profile-*-{n}.txt)")
    (bench.out_dir / "results.json").write_text(json.dumps(results, indent=1, default=str))
    print(f"\n{time.perf_counter() - started:.0f} s in all; raw numbers in {bench.out_dir / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
