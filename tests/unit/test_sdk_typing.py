"""The generated SDK type-checks strictly, and so do the examples; typos are caught by mypy
before any `pulumi preview`."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_sdk_and_examples_pass_mypy_strict() -> None:
    examples = sorted(str(p) for p in (ROOT / "examples").glob("*/__main__.py"))
    assert examples
    proc = mypy("-p", "pulumi_libvirt_storage")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for example in examples:  # one at a time: they are all called __main__
        proc = mypy(example)
        assert proc.returncode == 0, example + "\n" + proc.stdout + proc.stderr


def test_misspelt_argument_and_wrong_enum_value_are_type_errors(tmp_path: pathlib.Path) -> None:
    program = tmp_path / "bad.py"
    program.write_text(
        "from pulumi_libvirt_storage import StoragePool, StorageVolume\n"
        "p = StoragePool('x', type='dri', target={'path': '/x'})\n"
        "v = StorageVolume('v', pool=p, capacity='1GiB', formt='qcow2')\n"
        "w = StorageVolume('w', pool=p, capacity='1GiB', wipe_on_destroy='shred')\n")
    proc = mypy(str(program))
    assert proc.returncode == 1
    assert 'Argument "type" to "StoragePool" has incompatible type "Literal[\'dri\']"' in proc.stdout
    assert 'Unexpected keyword argument "formt"' in proc.stdout
    assert "Literal['shred']" in proc.stdout
