"""Run real Pulumi CLI commands on a program in a temporary project with a file backend."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
PASSPHRASE = "test-passphrase"

#: The stack name of the running test's projects (tests/conftest.py sets a new one for every test).
#: Pool and secret uuids derive from the project, stack and resource name: with one stack name for
#: every test, a single leftover of a failed test (a pool or secret under a derived uuid) failed every
#: later test that declared the same resource name (27 of them in one CI run). Two projects of one
#: test share it, as a second checkout or a recreated stack must.
TEST_STACK = ["test"]


def pulumi_binary() -> pathlib.Path:
    path = BIN / "pulumi"
    if not path.exists():
        raise AssertionError(f"{path} is missing: run `make setup` (scripts/setup.sh); engine tests never skip")
    return path


class Project:
    """A Pulumi project in `workdir` with its own file state backend."""

    def __init__(self, workdir: pathlib.Path, program: str, name: str = "plstest", stack: str | None = None,
                 config: dict[str, str] | None = None, secrets: dict[str, str] | None = None,
                 frontend: str = "dynamic", program_file: pathlib.Path | None = None, backend_query: str = "") -> None:
        """`program_file`: a whole Pulumi.yaml (a YAML program) instead of a Python `program`;
        `backend_query`: options of the file backend, e.g. "?metadata=skip"."""
        self.frontend = frontend
        self.workdir = workdir
        self.state = workdir / "state"
        self.state.mkdir(parents=True, exist_ok=True)
        stack = stack or TEST_STACK[0]
        self.stack = stack
        self.log: list[str] = []  # every command's output, for secret-leak checks
        if program_file is not None:
            (workdir / "Pulumi.yaml").write_text(program_file.read_text())
        else:
            (workdir / "Pulumi.yaml").write_text(f"name: {name}\nruntime: python\n")
            self.write_program(program)
        self.env = {
            **os.environ,
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
            "PULUMI_BACKEND_URL": f"file://{self.state}{backend_query}",
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_HOME": str(workdir / "pulumi-home"),
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        }
        self.run("stack", "init", stack)
        for key, value in (config or {}).items():
            # --plaintext: the CLI refuses values it guesses are secrets (random-looking test names)
            self.run("config", "set", "--plaintext", key, value)
        for key, value in (secrets or {}).items():
            # Through stdin, so the value never appears in process arguments.
            self.run("config", "set", "--secret", key, stdin=value)
        self.destroyed = False

    def write_program(self, program: str) -> None:
        (self.workdir / "__main__.py").write_text(for_frontend(program, self.frontend))

    def run(self, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(pulumi_binary()), *args, "--non-interactive"], cwd=self.workdir, env=self.env,
                              input=stdin, capture_output=True, text=True, timeout=600)
        self.log.append(proc.stdout + proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"pulumi {' '.join(args)} failed ({proc.returncode}):\n{readable(proc.stdout)}\n"
                                 f"{proc.stderr}")
        return proc

    def up(self, **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.run("up", "--yes", "--skip-preview", **kw)

    def preview(self, *extra: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.run("preview", *extra, **kw)

    def refresh(self, **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.run("refresh", "--yes", "--skip-preview", **kw)

    def destroy(self, **kw: Any) -> subprocess.CompletedProcess[str]:
        proc = self.run("destroy", "--yes", "--skip-preview", **kw)
        self.destroyed = proc.returncode == 0
        return proc

    def preview_steps(self, *extra: str) -> dict[str, str]:
        """What `pulumi preview --json` plans: {resource name: op}."""
        proc = self.run("preview", "--json", *extra)
        return fold_steps((s["urn"], s["op"]) for s in json.loads(proc.stdout).get("steps", []))

    def up_steps(self, *extra: str) -> dict[str, str]:
        """What `pulumi up` did, from its engine events (`--json`): {resource name: op}."""
        proc = self.run("up", "--yes", "--skip-preview", "--json", *extra)
        return fold_steps(steps_of_events(proc.stdout))

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.run("stack", "output", "--json", "--show-secrets").stdout)

    def state_text(self) -> str:
        """Everything the file backend holds, as stored."""
        return "\n".join(p.read_text(errors="replace") for p in self.state.rglob("*") if p.is_file())

    def resources(self) -> list[dict[str, Any]]:
        """The stack's resources as the state holds them; the plugin's property names (camelCase)
        given as the dynamic provider's (snake_case), so that tests read both alike."""
        from pulumi_libvirt_storage_provider.resources import LOGIC
        from pulumi_libvirt_storage_provider.spec.names import from_wire
        exported = json.loads(self.run("stack", "export").stdout)
        resources = exported["deployment"].get("resources", [])
        for r in resources:
            kind = r.get("type", "").rsplit(":", 1)[-1]
            if r.get("type", "").startswith("libvirt-storage:index:") and kind in LOGIC:
                for key in ("inputs", "outputs"):
                    r[key] = from_wire(LOGIC[kind].schema, r.get(key) or {})
        return resources

    def close(self) -> None:
        if not self.destroyed:
            self.run("destroy", "--yes", "--skip-preview", check=False)
        self.run("stack", "rm", "--yes", "--force", check=False)
        shutil.rmtree(self.workdir / "pulumi-home", ignore_errors=True)


_REPLACE_OPS = {"replace", "create-replacement", "delete-replaced", "discard-replaced", "import-replacement"}


def steps_of_events(text: str) -> list[tuple[str, str]]:
    """(urn, op) of every step in the engine events that `pulumi up --json` prints, one per line."""
    steps = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        meta = (event.get("resourcePreEvent") or {}).get("metadata")
        if meta:
            steps.append((meta["urn"], meta["op"]))
    return steps


def fold_steps(steps: Any) -> dict[str, str]:
    """{resource name: op} for the custom resources of a deployment, the several steps of one
    replacement folded into "replace". The stack and provider resources are left out."""
    ops: dict[str, set[str]] = {}
    for urn, op in steps:
        type_ = urn.split("::")[-2]
        if type_ == "pulumi:pulumi:Stack" or type_.startswith("pulumi:providers:"):
            continue
        ops.setdefault(urn.split("::")[-1], set()).add(op)
    return {name: "replace" if found & _REPLACE_OPS else sorted(found)[0] for name, found in ops.items()}


def readable(stdout: str) -> str:
    """The engine events of a `--json` run reduced to their error and warning messages; other output
    as it is."""
    lines = stdout.splitlines()
    if not any(line.startswith('{"sequence"') for line in lines):
        return stdout
    messages = []
    for line in lines:
        try:
            diag = json.loads(line).get("diagnosticEvent") or {}
        except ValueError:
            continue
        if diag.get("severity") in ("error", "warning"):
            messages.append(f"{diag['severity']}: {diag.get('urn', '')} {diag['message'].strip()}")
    return "\n".join(messages)


# The same programs for both front ends: with the plugin, the SDK is pulumi_libvirt_storage_native
# (generated by Pulumi's code generator), whose StorageVolume takes a pool's name: the shim passes a
# StoragePool's name where a program passes the pool, as the dynamic SDK accepts.
_PLUGIN_SHIM = """
import pulumi_libvirt_storage_native as _native
_volume_init = _native.StorageVolume.__init__


def _init(self, resource_name, *args, **kwargs):
    if isinstance(kwargs.get("pool"), _native.StoragePool):
        kwargs["pool"] = kwargs["pool"].name
    _volume_init(self, resource_name, *args, **kwargs)


_native.StorageVolume.__init__ = _init
"""


def for_frontend(program: str, frontend: str) -> str:
    if frontend == "dynamic":
        return program
    assert frontend == "plugin", frontend
    return _PLUGIN_SHIM + program.replace("from pulumi_libvirt_storage import", "from pulumi_libvirt_storage_native import")


#: The README's recovery when a killed CLI cut a write of the file backend's metadata sidecar short
#: ("failed to load checkpoint: EOF"), run as the README writes it, with the backend's directory.
SIDECAR_RECOVERY = "find {state}/.pulumi -name '*.attrs' -empty -delete"


def recover_a_cut_sidecar(p) -> bool:
    """If the state cannot be read because a kill emptied a `.attrs` sidecar of the file backend
    (gocloud's fileblob writes the state file atomically but its sidecar in place), apply the
    README's recovery and say so; the state file itself is whole."""
    export = p.run("stack", "export", check=False)
    if export.returncode == 0:
        return False
    assert "failed to load checkpoint: EOF" in export.stderr, export.stderr
    empty = [f for f in p.state.rglob("*.attrs") if f.stat().st_size == 0]
    assert empty, f"the state cannot be read, and not because of an empty sidecar:\n{export.stderr}"
    subprocess.run(SIDECAR_RECOVERY.format(state=p.state), shell=True, check=True)
    return True
