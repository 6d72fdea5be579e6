"""The benchmark peer: OpenTofu v1.10.6 driving terraform-provider-libvirt v0.8.3 through the same
workload as the engine part (benchmarks/engine.py): create N sparse 64 MiB qcow2 volumes in a dir
pool, a no-change plan, a refresh, a grow to 128 MiB, a destroy.

    bash scripts/peer.sh                        # builds and caches both binaries (cold: ~5 min)
    .venv/bin/python -m benchmarks.peer --n 10  # builds if needed, runs, prints the timings

Differences from the engine part that are the peer's own, not the harness's:
- the stack also holds the pool (`libvirt_pool`), so "up" and "destroy" include one pool
  define/build/start and destroy/delete/undefine;
- `tofu plan` refreshes every resource before diffing (a `pulumi preview` does not);
- `libvirt_volume.size` is ForceNew in v0.8.3: "grow" deletes and re-creates every volume;
- the provider creates and deletes the volumes of one pool one at a time (a per-pool mutex,
  and a pool refresh before each create and each delete), whatever -parallelism says;
- `tofu apply` and `tofu destroy` refresh every resource first, so "grow" and "destroy" include
  a read of each volume.

Every pool made here is named plstest-bench-peer-* and is removed at the end, even on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[1]
URI = "qemu:///system"
PREFIX = "plstest-bench-peer-"
MiB = 1024 * 1024
CAPACITY, GROWN = 64 * MiB, 128 * MiB
PARALLELISM = 10  # Terraform's and OpenTofu's default
TIMEOUT = 3600.0  # seconds, per tofu command
STEPS = ("up", "preview", "refresh", "grow", "destroy")

MAIN_TF = """\
terraform {
  required_providers {
    libvirt = {
      source = "dmacvicar/libvirt"
    }
  }
}

provider "libvirt" {
  uri = "%(uri)s"
}

variable "n" {
  type = number
}

variable "size" {
  type = number
}

resource "libvirt_pool" "bench" {
  name = "%(pool_name)s"
  type = "dir"
  target {
    path = "%(pool_path)s"
  }
}

resource "libvirt_volume" "vol" {
  count  = var.n
  name   = "%(prefix)s${count.index}.qcow2"
  pool   = libvirt_pool.bench.name
  format = "qcow2"
  size   = var.size
}
"""

CLI_CONFIG = """\
provider_installation {
  dev_overrides {
    "dmacvicar/libvirt" = "%(provider_dir)s"
  }
  direct {}
}
"""


class PeerError(RuntimeError):
    """A tofu (or virsh) command failed; the message carries its output."""


def _hcl_string(value: str) -> str:
    return json.dumps(value)[1:-1]  # HCL string escapes are JSON's for what we put there


def _env(work: pathlib.Path) -> dict[str, str]:
    # Nothing inherited may steer tofu (this host sets TF_CLI_CONFIG_FILE to a missing file).
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env.update(
        TF_CLI_CONFIG_FILE=str(work / "tofu.rc"),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        TF_DATA_DIR=str(work / ".terraform"),
        CHECKPOINT_DISABLE="1",
    )
    return env


def _run(cmd: list[str], cwd: pathlib.Path, env: dict[str, str] | None = None,
         ok: tuple[int, ...] = (0,), timeout: float = TIMEOUT) -> tuple[float, str]:
    """Run a command, return (seconds, combined output); raise PeerError unless its code is in `ok`."""
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        raise PeerError(f"{' '.join(cmd)}: timed out after {timeout:.0f} s\n{out}") from e
    seconds = time.perf_counter() - started
    if proc.returncode not in ok:
        raise PeerError(f"{' '.join(cmd)}: exit code {proc.returncode}\n{proc.stdout}")
    return seconds, proc.stdout


def _virsh(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["virsh", "-c", URI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=120)
    if check and proc.returncode != 0:
        raise PeerError(f"virsh {' '.join(args)}: exit code {proc.returncode}\n{proc.stdout}{proc.stderr}")
    return proc


def pools(prefix: str = PREFIX) -> list[str]:
    """Pools (active or not) whose name starts with `prefix`."""
    out = _virsh("pool-list", "--all", "--name", check=True).stdout
    return [name for name in (line.strip() for line in out.splitlines()) if name.startswith(prefix)]


def volumes(pool_name: str) -> list[str]:
    out = _virsh("vol-list", "--pool", pool_name, check=True).stdout
    # " Name   Path" header, a dashed rule, then "name  path" rows (our names have no spaces)
    return [line.split()[0] for line in out.splitlines()[2:] if line.strip()]


def remove_pools(prefix: str = PREFIX, exact: bool = False) -> list[str]:
    """Last resort: remove every pool named `prefix`* (or exactly `prefix`) with its volumes and
    its target directory, with virsh; errors of the single steps are ignored."""
    if not prefix.startswith(PREFIX):
        raise ValueError(f"only pools named {PREFIX}* are ours to remove, not {prefix}*")
    removed = []
    for name in pools(prefix):
        if exact and name != prefix:
            continue
        _virsh("pool-start", name)  # fails when running already; a stopped pool lists no volumes
        if _virsh("pool-refresh", name).returncode == 0:
            for vol in volumes(name):
                _virsh("vol-delete", "--pool", name, vol)
        _virsh("pool-destroy", name)
        _virsh("pool-delete", name)  # a dir pool's delete is an rmdir of its (now empty) directory
        _virsh("pool-undefine", name)
        removed.append(name)
    return removed


def run_peer(n: int, work: pathlib.Path, tofu: str, provider_dir: str, pool_name: str,
             pool_path: str) -> dict[str, float]:
    """Time up / preview / refresh / grow / destroy of a pool and `n` volumes with OpenTofu and
    terraform-provider-libvirt, in seconds. `work` holds the configuration and the local state;
    `pool_path` (the pool's target directory) is made by the pool build and removed by its delete.
    The pool and its volumes are gone when this returns or raises."""
    if not pool_name.startswith(PREFIX):
        raise ValueError(f"the pool name must start with {PREFIX}: {pool_name}")
    work.mkdir(parents=True, exist_ok=True)
    (work / "tofu.rc").write_text(CLI_CONFIG % {"provider_dir": _hcl_string(provider_dir)})
    (work / "main.tf").write_text(MAIN_TF % {
        "uri": URI, "pool_name": _hcl_string(pool_name), "pool_path": _hcl_string(pool_path),
        "prefix": PREFIX,
    })
    env = _env(work)
    common = ["-input=false", "-no-color", f"-parallelism={PARALLELISM}", "-var", f"n={n}"]

    def tofu_cmd(*args: str, size: int) -> list[str]:
        return [tofu, *args, *common, "-var", f"size={size}"]

    times: dict[str, float] = {}

    def step(name: str, cmd: list[str]) -> str:
        times[name], out = _run(cmd, work, env)
        (work / f"{name}.log").write_text(out)  # each step's output, next to the state
        return out

    failure: BaseException | None = None
    try:
        step("up", tofu_cmd("apply", "-auto-approve", size=CAPACITY))
        made = volumes(pool_name)
        if len(made) != n:
            raise PeerError(f"after up, pool {pool_name} holds {len(made)} volumes, not {n}: {made}")
        # -detailed-exitcode: 0 no changes, 2 changes, 1 error; a change here is a failure.
        step("preview", tofu_cmd("plan", "-detailed-exitcode", size=CAPACITY))
        step("refresh", tofu_cmd("apply", "-refresh-only", "-auto-approve", size=CAPACITY))
        out = step("grow", tofu_cmd("apply", "-auto-approve", size=GROWN))
        if f"{n} added, 0 changed, {n} destroyed" not in out:  # size is ForceNew in v0.8.3
            raise PeerError(f"grow: expected {n} replacements\n{out}")
        info = _virsh("vol-info", "--pool", pool_name, f"{PREFIX}0.qcow2", "--bytes", check=True).stdout
        if str(GROWN) not in info:
            raise PeerError(f"after grow, {PREFIX}0.qcow2 is not {GROWN} bytes:\n{info}")
        step("destroy", tofu_cmd("destroy", "-auto-approve", size=GROWN))
    except BaseException as e:
        failure = e
        raise
    finally:
        _cleanup(work, env, tofu_cmd("destroy", "-auto-approve", size=GROWN), pool_name, failure)
    return times


def _cleanup(work: pathlib.Path, env: dict[str, str], destroy: list[str], pool_name: str,
             failure: BaseException | None) -> None:
    """Make sure the pool and volumes are gone: tofu destroy when the state still holds
    something, then virsh for whatever is left of the pool."""
    problems = []
    state = work / "terraform.tfstate"
    try:
        if state.exists() and json.loads(state.read_text() or "{}").get("resources"):
            _run(destroy, work, env, timeout=TIMEOUT)
    except (PeerError, ValueError, OSError) as e:
        problems.append(f"cleanup: tofu destroy failed: {e}")
    try:
        if remove_pools(pool_name, exact=True):
            problems.append(f"cleanup: removed pool {pool_name} with virsh")
    except (PeerError, OSError, subprocess.SubprocessError) as e:
        problems.append(f"cleanup: virsh failed: {e}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        if failure is None and any("failed" in p for p in problems):
            raise PeerError("\n".join(problems))


def build() -> tuple[str, str]:
    """Build (or find cached) tofu and the provider with scripts/peer.sh: (tofu, provider_dir)."""
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "peer.sh")], stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise PeerError(f"scripts/peer.sh: exit code {proc.returncode}\n{proc.stdout}")
    last = proc.stdout.strip().splitlines()[-1]
    fields = dict(part.split("=", 1) for part in last.split())
    return fields["TOFU"], fields["PROVIDER_DIR"]


def _table(n: int, times: dict[str, float]) -> str:
    rows = [(step, f"{times[step]:.2f}", f"{times[step] / n * 1000:.1f}") for step in STEPS]
    header = ("tofu + libvirt v0.8.3", "s", "ms/volume")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(3)]
    lines = [f"{header[0]:<{widths[0]}}  {header[1]:>{widths[1]}}  {header[2]:>{widths[2]}}",
             "  ".join("-" * w for w in widths)]
    lines += [f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}" for a, b, c in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10, help="number of volumes (default 10)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (config, state)")
    args = parser.parse_args(argv)

    tofu, provider_dir = build()
    run_id = uuid.uuid4().hex[:6]
    pool_name = f"{PREFIX}{run_id}"
    work = pathlib.Path(tempfile.mkdtemp(prefix=f"{PREFIX}work-"))
    root = pathlib.Path(tempfile.mkdtemp(prefix=PREFIX, dir="/var/tmp"))  # the pool's parent
    os.chmod(root, 0o755)
    try:
        times = run_peer(args.n, work, tofu, provider_dir, pool_name, str(root / pool_name))
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if args.keep:
            print(f"work directory kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
        left = pools(pool_name)
        if left:
            print(f"left behind: {left}", file=sys.stderr)
    print(f"N = {args.n} qcow2 volumes, 64 -> 128 MiB, -parallelism={PARALLELISM}")
    print(_table(args.n, times))
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
