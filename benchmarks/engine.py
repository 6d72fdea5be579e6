"""The real engine: `pulumi up / preview / refresh / up (grow) / destroy` of a stack of N volumes,
with the CLI from .venv/bin and a temporary file backend (tests/support/engine.py).

The provider process is `benchmarks.probe` (see there), started by the engine through a
`pulumi-resource-pulumi-python` shim (dynamic front end) or a `pulumi-resource-libvirt-storage`
shim (plugin front end) put first on PATH; each command's probe report gives the
libvirt connections that process opened, its peak memory and, with profiling, where its time
went. A thread also watches libvirtd's own list of clients (virt-admin) for that process, and
another the CPU time of the command's engine, program and provider processes (benchmarks/cpu.py).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.support.engine import BIN, Project

from .cpu import CpuWatch
from .hosts import scratch

ROOT = pathlib.Path(__file__).resolve().parents[1]
STEPS = ("up", "preview", "refresh", "grow", "destroy")

PROGRAM = '''
import pulumi
from {module} import {cls}

cfg = pulumi.Config()
fmt = cfg.get("format") or None
for i in range(int(cfg.require("count"))):
    {cls}(f"vol{{i}}", pool=cfg.require("pool"), name=f"vol{{i}}.{{fmt}}" if fmt else f"vol{{i}}",
          capacity=cfg.require("capacity"), **({{"format": fmt}} if fmt else {{}}))
'''

SHIM = '''#!/bin/sh
# benchmarks/engine.py: the provider process, observed (benchmarks/probe.py).
exec "{python}" -u -m benchmarks.probe {target}"$@"
'''

# front end -> (the plugin executable the engine launches, probe target, the SDK: (module, class) for
# ours and for the trivial provider, and the config key of the libvirt URI)
FRONTENDS: dict[str, dict[str, Any]] = {
    "dynamic": {"shim": "pulumi-resource-pulumi-python", "ours": "", "trivial": "",
                "sdk": ("pulumi_libvirt_storage", "StorageVolume"), "trivial_sdk": ("benchmarks.trivial", "TrivialVolume"),
                "uri_key": "libvirt:uri"},
    "plugin": {"shim": "pulumi-resource-libvirt-storage",
               "ours": "--target pulumi_libvirt_storage_provider.plugin ",
               "trivial": "--target benchmarks.trivial_plugin ",
               "sdk": ("pulumi_libvirt_storage_native", "StorageVolume"),
               "trivial_sdk": ("pulumi_libvirt_storage_native", "StorageVolume"),
               "uri_key": "libvirt-storage:uri"},
}
# The engine's own floor for large stacks is the state file: the file backend rewrites the whole
# checkpoint after every step, so up, grow and destroy cost O(N^2). PULUMI_SKIP_CHECKPOINTS writes it
# once at the end instead; measured beside the default, never the project's default (a run killed
# midway then records nothing of what it made).
FRONTENDS["plugin-skip-checkpoints"] = {**FRONTENDS["plugin"], "env": {"PULUMI_SKIP_CHECKPOINTS": "true"}}


@dataclass
class Step:
    seconds: float
    probes: list[dict[str, Any]] = field(default_factory=list)
    libvirtd_clients_peak: int | None = None  # per virt-admin, of the provider process
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by role (benchmarks/cpu.py)

    @property
    def opened(self) -> int:
        return sum(sum(p.get("libvirt_opens", {}).values()) for p in self.probes)

    @property
    def peak_kib(self) -> int | None:
        values = [int(p["vm_hwm_kib"]) for p in self.probes if p.get("vm_hwm_kib")]
        return max(values) if values else None

    @property
    def profiles(self) -> list[str]:
        return [p["profile"] for p in self.probes if p.get("profile")]


class _ClientWatch:
    """Peak number of libvirtd clients whose unix_process_id is a provider process (virt-admin)."""

    def __init__(self, probe_dir: str, interval: float = 0.2) -> None:
        self.probe_dir = probe_dir
        self.interval = interval
        self.peak: int | None = None
        self._pids_of: dict[str, str] = {}  # client id -> pid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "_ClientWatch":
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _virt_admin(self, *args: str) -> str | None:
        try:
            proc = subprocess.run(["virt-admin", "-c", "libvirtd:///system", *args], capture_output=True,
                                  text=True, timeout=10)
        except (FileNotFoundError, subprocess.TimeoutExpired):
            return None
        return proc.stdout if proc.returncode == 0 else None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            providers = {p.name.split(".")[0] for p in pathlib.Path(self.probe_dir).glob("*.started")}
            if not providers:
                continue
            listing = self._virt_admin("srv-clients-list", "libvirtd")
            if listing is None:
                return
            ids = [line.split()[0] for line in listing.splitlines() if line.split()[:1] and line.split()[0].isdigit()]
            for cid in ids:
                if cid not in self._pids_of:
                    info = self._virt_admin("client-info", "libvirtd", cid) or ""
                    pid = ""
                    for row in info.splitlines():
                        key, _, value = row.partition(":")
                        if key.strip() == "unix_process_id":
                            pid = value.strip()
                    self._pids_of[cid] = pid
            count = sum(1 for cid in ids if self._pids_of.get(cid) in providers)
            self.peak = max(self.peak or 0, count)


class Stack:
    """A temporary project of N volumes (ours or trivial) with its own state backend."""

    def __init__(self, workdir: pathlib.Path, *, trivial: bool, pool: str, n: int, fmt: str | None,
                 capacity: str, uri: str, profile: bool = False, frontend: str = "dynamic") -> None:
        fe = FRONTENDS[frontend]
        module, cls = fe["trivial_sdk"] if trivial else fe["sdk"]
        config = {"count": str(n), "pool": pool, "capacity": capacity, fe["uri_key"]: uri}
        if fmt:
            config["format"] = fmt
        self.shim_dir = tempfile.mkdtemp(prefix="shim-", dir=scratch())
        shim = pathlib.Path(self.shim_dir) / fe["shim"]
        shim.write_text(SHIM.format(python=BIN / "python", target=fe["trivial" if trivial else "ours"]))
        shim.chmod(0o755)
        self.probe_dir = tempfile.mkdtemp(prefix="probe-", dir=scratch())
        self.project = Project(workdir, PROGRAM.format(module=module, cls=cls), name="plsbench", stack="bench",
                               config=config)
        self.project.env.update({
            "PATH": f"{self.shim_dir}:{self.project.env['PATH']}",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "PLS_BENCH_PROBE_DIR": self.probe_dir,
            "PLS_BENCH_PROFILE": "1" if profile else "0",
            **fe.get("env", {}),
        })

    def set_profile(self, on: bool) -> None:
        self.project.env["PLS_BENCH_PROFILE"] = "1" if on else "0"

    def step(self, name: str, *, grown: str | None = None) -> Step:
        for f in pathlib.Path(self.probe_dir).iterdir():
            if f.suffix in (".json", ".started"):
                f.unlink()
        if name == "grow":
            assert grown is not None
            self.project.run("config", "set", "capacity", grown)
        args = {"up": ("up", "--yes", "--skip-preview"), "grow": ("up", "--yes", "--skip-preview"),
                "preview": ("preview", "--expect-no-changes"), "refresh": ("refresh", "--yes", "--skip-preview"),
                "destroy": ("destroy", "--yes", "--skip-preview")}[name]
        with _ClientWatch(self.probe_dir) as watch, CpuWatch() as cpu:
            started = time.perf_counter()
            self.project.run(*args)
            seconds = time.perf_counter() - started
        if name == "destroy":
            self.project.destroyed = True
        probes = []
        deadline = time.monotonic() + 10  # the engine stops the provider (SIGINT) as it exits
        while True:
            probes = [json.loads(p.read_text()) for p in pathlib.Path(self.probe_dir).glob("*.json")]
            started_count = len(list(pathlib.Path(self.probe_dir).glob("*.started")))
            if len(probes) >= started_count or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        return Step(seconds, probes, watch.peak, cpu.seconds)

    def state_bytes(self) -> int:
        """Size of the stack's state as `pulumi stack export` writes it."""
        return len(self.project.run("stack", "export").stdout)

    def close(self) -> None:
        self.project.close()
