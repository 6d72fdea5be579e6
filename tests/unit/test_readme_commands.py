"""Every command the README shows is run by a test or by .ci/run, so the docs stay true."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]

# command -> where it runs
RUN_BY = {
    "make demo": ".ci/run",
    "make test": ".ci/run",
    "make sdk": ".ci/run",
    'make bench ARGS="--quick --parts floor,protocol,engine,peer,pulumi-libvirt,scale"': ".ci/run",
    ".venv/bin/pulumi-libvirt-storage import-program --uri qemu:///system": "tests/unit/test_readme_commands.py",
    ".venv/bin/pulumi-libvirt-storage import-args --xml tests/unit/golden/pool-rbd-auth-config.xml":
        "tests/unit/test_readme_commands.py",
    ".venv/bin/python -m tests.unit.corpus.measure --width 100": "tests/unit/test_readme_commands.py",
    # the recovery after a killed CLI
    "pulumi cancel --yes": "tests/e2e/test_faults.py",
    "pulumi refresh --clear-pending-creates --yes --skip-preview": "tests/e2e/test_faults.py",
    "pulumi up --yes --skip-preview": "tests/e2e/test_faults.py",
    # a sidecar of the file backend emptied by the kill (SIDECAR_RECOVERY, with --local's directory)
    "find ~/.pulumi -name '*.attrs' -empty -delete": "tests/support/engine.py",
}


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                commands.append(line)
    return commands


def test_every_readme_command_is_run_somewhere() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    commands = readme_commands()
    assert "make demo" in commands and "make test" in commands
    for command in commands:
        assert command in RUN_BY, f"README shows {command!r}, which no test or CI step runs"
        where = RUN_BY[command]
        if where == ".ci/run":
            assert command in ci, f"{command!r} is said to run in .ci/run but is not there"
        elif command.startswith("find "):
            from tests.support.engine import SIDECAR_RECOVERY
            assert command == SIDECAR_RECOVERY.format(state="~"), f"{command!r} is not what the tests run"
        elif command.startswith("pulumi "):  # run through tests.support.engine.Project: p.run("cancel", "--yes")
            args = ", ".join(f'"{a}"' for a in command.split()[1:])
            test = (ROOT / where).read_text()
            assert f"p.run({args})" in test or (command == "pulumi up --yes --skip-preview" and "p.up()" in test), \
                f"{command!r} is said to run in {where} but is not there"


def test_readme_import_commands_work(capsys, tmp_path) -> None:
    import json

    from pulumi_libvirt_storage_provider import cli
    assert cli.main(["import-args", "--xml", str(ROOT / "tests/unit/golden/pool-rbd-auth-config.xml")]) == 0
    args = json.loads(capsys.readouterr().out)
    assert args["type"] == "rbd" and args["source"]["auth"]["type"] == "ceph"
    assert cli.main(["import-program", "--uri", "test:///default"]) == 0
    program = capsys.readouterr().out
    compile(program, "program.py", "exec")
    assert "StoragePool(" in program and "adopt=True" in program


def test_readme_fidelity_measure_runs_and_its_figures_are_the_measured_ones(capsys) -> None:
    from tests.unit.corpus import measure
    assert measure.main(["--width", "100"]) == 0
    table = capsys.readouterr().out
    all_row = next(line for line in table.splitlines() if line.startswith("all "))
    identical, *_, total = (int(n) for n in all_row.split()[1:])
    text = " ".join((ROOT / "README.md").read_text().split())
    assert f"holds {total} definitions" in text
    assert f"{identical} are identical; the {['no', 'one', 'two', 'three', 'four', 'five'][total - identical]} " \
        "that are not" in text
