"""A connect over a transport for which libvirt forks (qemu+ssh://) is tried again when it failed
fast: in the dynamic provider host gRPC's fork handlers can break libvirt's child (the real race is
reproduced in tests/integration/test_remote_uri.py). A slow failure, and every other transport, is
reported at once. libvirt.open is replaced by a fake here."""

from __future__ import annotations

import libvirt
import pytest

from pulumi_libvirt_storage_provider.ops import connection

SSH = "qemu+ssh://root@kvm1/system"


def fake_open(monkeypatch: pytest.MonkeyPatch, outcomes: list[object], clock: list[float] | None = None) -> list[str]:
    tried: list[str] = []

    def open_(uri: str | None):
        tried.append(uri or "")
        if clock is not None:
            clock[0] += 10.0  # each attempt takes 10 s: a host that does not answer
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(libvirt, "open", open_)
    if clock is not None:
        monkeypatch.setattr(connection.time, "monotonic", lambda: clock[0])
    return tried


def broken() -> libvirt.libvirtError:
    return libvirt.libvirtError("Cannot recv data: E1204 ev_epoll1_linux.cc:373] epoll_wait error")


def test_a_fast_failure_over_ssh_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = object()
    tried = fake_open(monkeypatch, [broken(), broken(), conn])
    before = connection.FORK_RETRIES[SSH]
    assert connection._open_forking(SSH) is conn
    assert len(tried) == 3 and connection.FORK_RETRIES[SSH] - before == 2


def test_it_gives_up_after_three_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    tried = fake_open(monkeypatch, [broken(), broken(), broken(), object()])
    with pytest.raises(libvirt.libvirtError):
        connection._open_forking(SSH)
    assert len(tried) == connection.FORK_ATTEMPTS == 3


def test_a_slow_failure_is_not_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    tried = fake_open(monkeypatch, [broken(), object()], clock=[0.0])
    with pytest.raises(libvirt.libvirtError):
        connection._open_forking(SSH)
    assert len(tried) == 1


@pytest.mark.parametrize("uri, forks", [(SSH, True), ("qemu+ext:///system?command=/bin/x", True),
                                         ("qemu:///system", False), ("qemu+unix:///system", False),
                                         ("qemu+tls://kvm1/system", False), ("qemu+libssh2://kvm1/system", False),
                                         ("qemu+libssh://kvm1/system", False), ("", False)])
def test_which_transports_fork(uri: str, forks: bool) -> None:
    assert connection._forks(uri) is forks
