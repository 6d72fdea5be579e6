"""The file state backend that most users of a KVM host start with (`pulumi login --local` or
`file://`), after a CLI was killed mid-write: what breaks, and the README's recovery."""

from __future__ import annotations

import pytest

from tests.support.engine import recover_a_cut_sidecar

pytestmark = [pytest.mark.engine]
EMPTY_PROGRAM = "import pulumi\npulumi.export('n', 1)\n"


def test_a_sidecar_emptied_by_a_kill_is_recovered_as_the_readme_says(project) -> None:
    """A CLI killed while the file backend writes a checkpoint can leave the state file's `.attrs`
    sidecar empty: gocloud's fileblob renames the state file into place atomically, but creates its
    sidecar in place. Every later command then fails with "failed to load checkpoint: EOF" (seen once
    in CI after a SIGKILL). The README's recovery removes the empty sidecar; the state is whole. A
    backend URL with `?metadata=skip` writes no sidecar at all."""
    p = project(EMPTY_PROGRAM)
    p.up()
    sidecars = sorted(p.state.rglob("stacks/*/*.json.attrs"))
    assert sidecars, "the pinned CLI's file backend writes a sidecar beside the state file"
    sidecars[0].write_bytes(b"")  # what a kill between fileblob's create and write leaves
    broken = p.run("stack", "export", check=False)
    assert broken.returncode != 0 and "failed to load checkpoint: EOF" in broken.stderr, (
        "the pinned CLI now reads a state with an empty sidecar: the README's note on it can go\n"
        f"{broken.stdout}{broken.stderr}")
    assert recover_a_cut_sidecar(p)
    assert p.outputs() == {"n": 1}
    p.preview("--expect-no-changes")
    q = project(EMPTY_PROGRAM, backend_query="?metadata=skip")
    q.up()
    q.preview("--expect-no-changes")
    assert q.outputs() == {"n": 1}
    assert not list(q.state.rglob("*.attrs")), "with ?metadata=skip the file backend writes no sidecar"
