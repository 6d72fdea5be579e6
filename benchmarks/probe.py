"""The provider process as the benchmarks run it: `python -u -m benchmarks.probe` instead of
`python -u -m pulumi.dynamic`, same server, observed from the outside of the product code.

What it adds around the unchanged `pulumi.dynamic` server:
- counts `libvirt.open*` calls (connections this process opened, per URI);
- times each gRPC call server-side (Check, Diff, Create, Read, Update, Delete);
- with PLS_BENCH_PROFILE=1, profiles each call with pyinstrument (the server runs calls on
  four threads; pyinstrument profiles one thread, so each call gets its own profiler and the
  sessions are combined at exit);
- at exit (the engine stops plugins with SIGINT, pulumi.dynamic then returns normally) writes
  PLS_BENCH_PROBE_DIR/<pid>.json with the counts, times, peak memory (VmHWM) and the profile.

The engine starts it through the `pulumi-resource-pulumi-python` shim that benchmarks/engine.py
puts first on PATH (or, for the plugin front end, a `pulumi-resource-libvirt-storage` shim running
`--target pulumi_libvirt_storage_provider.plugin`); the protocol benchmark starts it directly.
"""

from __future__ import annotations

import atexit
import collections
import functools
import json
import os
import resource
import runpy
import sys
import threading
import time
from typing import Any, Callable

if "--target" in sys.argv[1:2]:
    # As plugin/__main__.py does, before gRPC is loaded (libvirt forks ssh for qemu+ssh://).
    os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import libvirt  # noqa: E402

PROBE_DIR = os.environ.get("PLS_BENCH_PROBE_DIR")
PROFILE = os.environ.get("PLS_BENCH_PROFILE") == "1"
CALLS = ("Configure", "Check", "Diff", "Create", "Read", "Update", "Delete")

_lock = threading.Lock()
_opened: collections.Counter[str] = collections.Counter()
_calls: dict[str, list[float]] = {}
_sessions: list[Any] = []


def _count_opens(name: str) -> None:
    real = getattr(libvirt, name)

    @functools.wraps(real)
    def counted(uri: str | None = None, *args: Any, **kwargs: Any) -> Any:
        conn = real(uri, *args, **kwargs)
        with _lock:
            _opened[uri or ""] += 1
        return conn

    setattr(libvirt, name, counted)


for _name in ("open", "openReadOnly", "openAuth"):
    _count_opens(_name)


def _timed(method: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(request: Any, context: Any) -> Any:
        profiler = None
        if PROFILE and method != "Configure":
            from pyinstrument import Profiler
            profiler = Profiler(interval=0.0002, async_mode="disabled")
            profiler.start()
        started = time.perf_counter()
        try:
            return fn(request, context)
        finally:
            elapsed = time.perf_counter() - started
            session = profiler.stop() if profiler is not None else None
            with _lock:
                entry = _calls.setdefault(method, [0, 0.0])
                entry[0] += 1
                entry[1] += elapsed
                if session is not None:
                    _sessions.append(session)

    return call


def _install_servicer_wrapper() -> None:
    from pulumi.runtime.proto import provider_pb2_grpc

    register = provider_pb2_grpc.add_ResourceProviderServicer_to_server

    def add(servicer: Any, server: Any) -> Any:
        for method in CALLS:
            setattr(servicer, method, _timed(method, getattr(servicer, method)))
        return register(servicer, server)

    provider_pb2_grpc.add_ResourceProviderServicer_to_server = add


def _vm_hwm_kib() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _report() -> None:
    if not PROBE_DIR:
        return
    ops_opened: dict[str, int] | None = None
    module = sys.modules.get("pulumi_libvirt_storage_provider.ops.connection")
    if module is not None:
        ops_opened = dict(module.OPENED)
    with _lock:
        report: dict[str, Any] = {
            "pid": os.getpid(),
            "libvirt_opens": dict(_opened),
            "ops_connection_opened": ops_opened,
            "vm_hwm_kib": _vm_hwm_kib(),
            "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "calls": {k: {"count": v[0], "seconds": v[1]} for k, v in _calls.items()},
            "profile": None,
        }
        sessions = list(_sessions)
    if sessions:
        from pyinstrument.session import Session
        combined = functools.reduce(Session.combine, sessions)
        path = os.path.join(PROBE_DIR, f"{os.getpid()}.pyisession")
        combined.save(path)
        report["profile"] = path
    tmp = os.path.join(PROBE_DIR, f".{os.getpid()}.json.tmp")
    with open(tmp, "w") as f:
        json.dump(report, f)
    os.replace(tmp, os.path.join(PROBE_DIR, f"{os.getpid()}.json"))


def main() -> None:
    """`--target MODULE` runs that module as the server instead of pulumi.dynamic: the provider plugin
    (pulumi_libvirt_storage_provider.plugin) or the trivial one (benchmarks.trivial_plugin)."""
    args = sys.argv[1:]
    target = "pulumi.dynamic"
    if args[:1] == ["--target"]:
        target, args = args[1], args[2:]
    if PROBE_DIR:  # tells benchmarks/engine.py which process to watch in libvirtd's client list
        open(os.path.join(PROBE_DIR, f"{os.getpid()}.started"), "w").close()
    _install_servicer_wrapper()
    atexit.register(_report)
    sys.argv = [target, *args]
    runpy.run_module(target, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
