"""A call whose reply is lost: it runs on the host to the end, then the connection is found dead and
the host does not answer again in time (ConnectionLost), as when libvirtd is killed or the link cut
right after it made an object. What the provider then does is what a rerun after such a run meets."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from pulumi_libvirt_storage_provider.ops import connection
from pulumi_libvirt_storage_provider.ops.errors import ConnectionLost


def lose_the_next_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next connection.call (every libvirt call of a resource goes through it) runs, and its reply
    is lost; later calls are left alone."""
    real = connection.call

    def call(uri: str, fn: Callable[[Any], Any], on_reconnect: Callable[[Any], object] | None = None) -> Any:
        monkeypatch.setattr(connection, "call", real)
        real(uri, fn, on_reconnect)
        raise ConnectionLost(f"the connection to {uri or 'the default URI'} was lost and did not come back "
                             "(a test: the call had run on the host)")

    monkeypatch.setattr(connection, "call", call)
