"""The reconnect window is one per outage of a URI: calls waiting for a lost host share it, and once
the host answered again, the next outage gets a window of its own (no call is left failing at once
because of an outage that is over). libvirt's connect is replaced by a fake host here."""

from __future__ import annotations

import threading
import time

import pytest

from pulumi_libvirt_storage_provider.ops import connection
from pulumi_libvirt_storage_provider.ops.errors import ConnectionLost, LibvirtOpError


class FakeConn:
    def isAlive(self) -> int:  # noqa: N802 - libvirt's name
        return 1

    def close(self) -> None:
        pass


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch):
    state = {"up": True}

    def fake_connection(uri: str):
        if not state["up"]:
            raise LibvirtOpError("cannot connect")
        return FakeConn()  # (an open connection shared by the calls: nothing is opened here)

    monkeypatch.setattr(connection, "connection", fake_connection)
    monkeypatch.setattr(connection, "RECONNECT_WINDOW_S", 0.6)
    monkeypatch.setattr(connection, "_OUTAGES", {})
    return state


def test_waiting_calls_share_one_window(host) -> None:
    host["up"] = False
    ended: list[float] = []
    started = time.monotonic()

    def wait() -> None:
        with pytest.raises(ConnectionLost):
            connection._reconnect("fake:///a")
        ended.append(time.monotonic() - started)

    first = threading.Thread(target=wait)
    first.start()
    time.sleep(0.3)
    second = threading.Thread(target=wait)  # comes in half way: it gets what is left, not a new window
    second.start()
    first.join()
    second.join()
    assert all(0.55 <= t <= 0.85 for t in ended), ended


def test_after_the_host_answered_a_new_outage_gets_a_whole_window(host) -> None:
    host["up"] = False
    threading.Timer(0.2, lambda: host.update(up=True)).start()
    connection._reconnect("fake:///b")  # the host is back within the window
    # a call that saw the same outage after another call had already reconnected
    connection._reconnect("fake:///b")
    assert "fake:///b" not in connection._OUTAGES, "the outage is over"
    host["up"] = False
    started = time.monotonic()
    with pytest.raises(ConnectionLost):
        connection._reconnect("fake:///b")
    assert time.monotonic() - started >= 0.55, "the next outage waited a whole window"
