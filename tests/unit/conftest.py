"""Fixtures of the unit tier."""

from __future__ import annotations

from typing import Any, Iterator

import libvirt
import pytest


@pytest.fixture
def no_connection(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Offline: fails the test if anything tried to open a libvirt connection (even where the caller
    swallows the error, as predictions do)."""
    opened: list[Any] = []

    def refuse(*args: Any) -> None:
        opened.append(args)
        raise AssertionError(f"libvirt.open{args} was called")
    monkeypatch.setattr(libvirt, "open", refuse)
    yield
    assert opened == [], f"libvirt.open was called: {opened}"
