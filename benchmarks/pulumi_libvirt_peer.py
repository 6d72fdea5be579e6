"""The same-engine peer: pulumi-libvirt's own `libvirt.Volume` (the unmodified PyPI SDK
`pulumi-libvirt`, through the provider plugin scripts/setup.sh bridges from terraform-provider-libvirt
v0.8.3) through the same Pulumi CLI and file backend as the engine part, with the OpenTofu peer's
workload (benchmarks/peer.py): a `libvirt.Pool` (dir) and N sparse 64 MiB qcow2 volumes in it,
`pulumi up`, a no-change `pulumi preview`, `pulumi refresh`, `pulumi up` after growing every volume
to 128 MiB, `pulumi destroy`.

    .venv/bin/python -m benchmarks.pulumi_libvirt_peer --n 10   # runs once, prints the timings

The program is the OpenTofu peer's configuration in Python, so that the two peers run the same
provider code and differ only in the engine; against this project's front ends it differs only in
the provider. What is the provider's own, not the harness's:
- the stack also holds the pool, so "up" and "destroy" include one pool define/build/start and
  destroy/delete/undefine (our engine stacks use a pool made beforehand: a few ms);
- `size` is ForceNew in v0.8.3: "grow" deletes and re-creates every volume. The bridge does not
  mark Volume delete-before-replace, and a volume's name is unique in its pool, so the program sets
  `delete_before_replace=True` as a user must (the engine's default, create first, fails on the name);
- the provider creates and deletes the volumes of one pool one at a time (a per-pool mutex, and a
  pool refresh before each create and each delete), however many calls the engine sends at once.

Every pool made here is named plstest-bench-pulumi-libvirt-* and is removed at the end, even on
failure (`pulumi destroy`, then libvirt-python for whatever is left).
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable

import libvirt

from tests.support.engine import BIN, Project

from . import hosts
from .cpu import CpuWatch

PREFIX = f"{hosts.PREFIX}pulumi-libvirt-"
PLUGIN = BIN / "pulumi-resource-libvirt"
MiB = 1024 * 1024
CAPACITY, GROWN = 64 * MiB, 128 * MiB
STEPS = ("up", "preview", "refresh", "grow", "destroy")
#: engine settings it runs under: the default, and the state written once at the end (the engine
#: part's plugin-skip-checkpoints front end), so that each of our rows has a like-for-like peer
SETTINGS: dict[str, dict[str, str]] = {"default": {}, "skip-checkpoints": {"PULUMI_SKIP_CHECKPOINTS": "true"}}

PROGRAM = '''
import pulumi
import pulumi_libvirt as libvirt

cfg = pulumi.Config()
pool = libvirt.Pool("bench", name=cfg.require("pool"), type="dir", target={"path": cfg.require("path")})
for i in range(cfg.require_int("count")):
    libvirt.Volume(f"vol{i}", name=f"vol{i}.qcow2", pool=pool.name, format="qcow2", size=cfg.require_int("size"),
                   opts=pulumi.ResourceOptions(delete_before_replace=True))
'''


@dataclass
class Run:
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each step
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)  # step -> CPU seconds by role (benchmarks/cpu.py)
    state_bytes: int | None = None  # `pulumi stack export` after up


class PulumiLibvirtError(RuntimeError):
    """The plugin is missing or a step did not do what the workload says."""


def sdk_plugin_version() -> str:
    """The plugin version the installed pulumi-libvirt SDK asks the engine for."""
    plugin = json.loads(importlib.resources.files("pulumi_libvirt").joinpath("pulumi-plugin.json").read_text())
    return str(plugin["version"])


def unavailable() -> str | None:
    """Why this part cannot run (the plugin or the SDK missing, or of another version), or None."""
    try:
        wanted = sdk_plugin_version()
    except (ImportError, OSError, ValueError, KeyError) as e:
        return f"the pulumi-libvirt SDK is not installed in .venv ({e}): run make setup"
    if not PLUGIN.exists():
        return (f"{PLUGIN} is missing: run make setup (scripts/setup.sh builds pulumi-libvirt's provider "
                "plugin from terraform-provider-libvirt v0.8.3)")
    try:
        reported = subprocess.run([str(PLUGIN), "-version"], capture_output=True, text=True, timeout=60,
                                  check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"{PLUGIN} does not run ({e}): run make setup"
    if reported != wanted:
        return f"{PLUGIN} reports version {reported}, the pulumi-libvirt SDK asks for {wanted}: run make setup"
    return None


#: provider processes the engine starts once per command (the first line on stdout is the port the
#: engine connects to): pulumi-libvirt's Go binary, and this project's two front ends
PLUGINS: dict[str, list[str]] = {
    "pulumi-libvirt (Go)": [str(PLUGIN)],
    "this project, plugin": [str(BIN / "pulumi-resource-libvirt-storage")],
    "this project, dynamic (pulumi.dynamic)": [str(BIN / "pulumi-resource-pulumi-python")],
}


def startup(repeat: int = 5) -> dict[str, float]:
    """Median seconds from launching each provider process to its port on stdout: what every engine
    command pays once before its first provider call, whatever N is. The dynamic host loads our code
    only at its first call (the provider is unpickled there), so its figure leaves that out."""
    out: dict[str, float] = {}
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}  # as the engine part runs them
    for label, cmd in PLUGINS.items():
        seconds = []
        for _ in range(repeat):
            started = time.perf_counter()
            # (a session of its own: the dynamic host is a python under an `sh` script that does not pass
            # SIGTERM on, and it watches no engine before its first call, so only its group can be stopped)
            proc = subprocess.Popen([*cmd, "127.0.0.1:1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    stdin=subprocess.DEVNULL, cwd=tempfile.gettempdir(), env=env,
                                    start_new_session=True)
            try:
                port = proc.stdout.readline().strip() if proc.stdout else b""
                elapsed = time.perf_counter() - started
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            if not port.isdigit():
                raise PulumiLibvirtError(f"{' '.join(cmd)} printed no port: {port!r}")
            seconds.append(elapsed)
        out[label] = sorted(seconds)[len(seconds) // 2]
    return out


def run(n: int, work: pathlib.Path, pool_name: str, pool_path: str, uri: str, env: dict[str, str] | None = None,
        log: Callable[[str], None] = lambda _msg: None) -> Run:
    """Time up / preview / refresh / grow / destroy of a pool and `n` volumes through the engine with
    pulumi-libvirt (wall and CPU seconds), and the size of its state. `pool_path` (the pool's target directory) is made by the pool build;
    its parent must exist. The pool and its volumes are gone when this returns or raises."""
    if not pool_name.startswith(PREFIX):
        raise ValueError(f"the pool name must start with {PREFIX}: {pool_name}")
    problem = unavailable()
    if problem:
        raise PulumiLibvirtError(problem)
    result = Run()
    times = result.seconds
    project: Project | None = None
    conn = libvirt.open(uri)
    try:
        project = Project(work, PROGRAM, name="plsbench-pulumi-libvirt", stack="bench", config={
            "libvirt:uri": uri, "pool": pool_name, "path": pool_path, "count": str(n), "size": str(CAPACITY)})
        project.env.update(env or {})

        def step(name: str, *args: str) -> str:
            with CpuWatch() as cpu:
                started = time.perf_counter()
                proc = project.run(*args)
                times[name] = time.perf_counter() - started
            result.cpu[name] = cpu.seconds
            log(f"    {name:8s} {times[name]:6.2f} s")
            (work / f"{name}.log").write_text(proc.stdout + proc.stderr)
            return proc.stdout

        out = step("up", "up", "--yes", "--skip-preview")
        if f"using pulumi-resource-libvirt from $PATH at {PLUGIN}" not in out:
            raise PulumiLibvirtError(f"up did not run {PLUGIN}:\n{out}")
        result.state_bytes = len(project.run("stack", "export").stdout)
        made = sorted(conn.storagePoolLookupByName(pool_name).listVolumes())
        if len(made) != n:
            raise PulumiLibvirtError(f"after up, pool {pool_name} holds {len(made)} volumes, not {n}: {made}")
        step("preview", "preview", "--expect-no-changes")
        step("refresh", "refresh", "--yes", "--skip-preview")
        project.run("config", "set", "size", str(GROWN))
        out = step("grow", "up", "--yes", "--skip-preview")
        replaced = re.search(r"^\s*\+-(\d+) replaced\s*$", out, re.MULTILINE)  # the summary line
        if not replaced or int(replaced.group(1)) != n:  # size is ForceNew in v0.8.3
            raise PulumiLibvirtError(f"grow: expected {n} replacements\n{out}")
        capacity = conn.storagePoolLookupByName(pool_name).storageVolLookupByName("vol0.qcow2").info()[1]
        if capacity != GROWN:
            raise PulumiLibvirtError(f"after grow, vol0.qcow2 is {capacity} bytes, not {GROWN}")
        step("destroy", "destroy", "--yes", "--skip-preview")
        project.destroyed = True
        if pool_name in (p.name() for p in conn.listAllStoragePools()):
            raise PulumiLibvirtError(f"after destroy, pool {pool_name} is still defined")
    finally:
        try:
            if project is not None:
                project.close()  # pulumi destroy when the stack still holds something, then stack rm
        finally:
            hosts.remove_pool(conn, pool_name)
            conn.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pulumi_libvirt_peer",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10, help="number of volumes (default 10)")
    parser.add_argument("--skip-checkpoints", action="store_true", help="with PULUMI_SKIP_CHECKPOINTS=true")
    args = parser.parse_args(argv)
    problem = unavailable()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    pool_name = f"{PREFIX}{uuid.uuid4().hex[:6]}"
    work = pathlib.Path(tempfile.mkdtemp(prefix=f"{PREFIX}work-"))
    root = pathlib.Path(tempfile.mkdtemp(prefix=PREFIX, dir="/var/tmp"))  # the pool's parent
    os.chmod(root, 0o755)
    try:
        result = run(args.n, work, pool_name, str(root / pool_name), hosts.URI,
                     SETTINGS["skip-checkpoints" if args.skip_checkpoints else "default"])
    finally:
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    print(f"N = {args.n} qcow2 volumes, 64 -> 128 MiB, pulumi-libvirt {sdk_plugin_version()} through the Pulumi engine")
    for name in STEPS:
        cpu = ", ".join(f"{role} {seconds:.2f}" for role, seconds in result.cpu[name].items())
        print(f"{name:8s} {result.seconds[name]:7.2f} s  {result.seconds[name] / args.n * 1000:7.1f} ms/volume  "
              f"CPU s: {cpu}")
    print(f"state after up: {result.state_bytes} bytes, {(result.state_bytes or 0) / args.n:.0f} per volume")
    print("provider start-up, s (median of 5): "
          + ", ".join(f"{label} {seconds:.3f}" for label, seconds in startup().items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
