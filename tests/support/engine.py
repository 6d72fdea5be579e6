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


def pulumi_binary() -> pathlib.Path:
    path = BIN / "pulumi"
    if not path.exists():
        raise AssertionError(f"{path} is missing: run `make setup` (scripts/setup.sh); engine tests never skip")
    return path


class Project:
    """A Pulumi project in `workdir` with its own file state backend."""

    def __init__(self, workdir: pathlib.Path, program: str, name: str = "plstest", stack: str = "test",
                 config: dict[str, str] | None = None, secrets: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.state = workdir / "state"
        self.state.mkdir(parents=True, exist_ok=True)
        self.stack = stack
        self.log: list[str] = []  # every command's output, for secret-leak checks
        (workdir / "Pulumi.yaml").write_text(f"name: {name}\nruntime: python\n")
        self.write_program(program)
        self.env = {
            **os.environ,
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
            "PULUMI_BACKEND_URL": f"file://{self.state}",
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
        (self.workdir / "__main__.py").write_text(program)

    def run(self, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(pulumi_binary()), *args, "--non-interactive"], cwd=self.workdir, env=self.env,
                              input=stdin, capture_output=True, text=True, timeout=600)
        self.log.append(proc.stdout + proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"pulumi {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
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

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.run("stack", "output", "--json", "--show-secrets").stdout)

    def state_text(self) -> str:
        """Everything the file backend holds, as stored."""
        return "\n".join(p.read_text(errors="replace") for p in self.state.rglob("*") if p.is_file())

    def resources(self) -> list[dict[str, Any]]:
        exported = json.loads(self.run("stack", "export").stdout)
        return exported["deployment"].get("resources", [])

    def close(self) -> None:
        if not self.destroyed:
            self.run("destroy", "--yes", "--skip-preview", check=False)
        self.run("stack", "rm", "--yes", "--force", check=False)
        shutil.rmtree(self.workdir / "pulumi-home", ignore_errors=True)
