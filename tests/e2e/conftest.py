from __future__ import annotations

import pathlib
from typing import Callable, Iterator

import pytest

from tests.support.engine import Project


@pytest.fixture
def project(tmp_path: pathlib.Path) -> Iterator[Callable[..., Project]]:
    """Make Projects; each is destroyed and its stack removed at the end of the test."""
    made: list[Project] = []

    def make(program: str, **kw: object) -> Project:
        p = Project(tmp_path / f"project{len(made)}", program, **kw)  # type: ignore[arg-type]
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()
