"""The dynamic front end's worker process (dynamic/worker.py): which URIs send a call there, and that a
call crosses the pipe whole (result, our error with its code and type, a bug with its traceback, a
worker that dies mid-call). The worker here is the real one (a child process); the 1000 connects over
qemu+ssh beside a busy gRPC server are in tests/integration/test_remote_uri.py."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from pulumi_libvirt_storage_provider.dynamic import StoragePoolProvider, worker
from pulumi_libvirt_storage_provider.ops import connection
from pulumi_libvirt_storage_provider.resources.base import Context

SSH = "qemu+ssh://root@kvm1/system"
CONNECTION = "pulumi_libvirt_storage_provider.ops.connection"


@pytest.mark.parametrize("uri, forks", [(SSH, True), ("qemu+ext:///system?command=/bin/x", True),
                                         ("qemu:///system", False), ("qemu+unix:///system", False),
                                         ("qemu+tls://kvm1/system", False), ("qemu+libssh2://kvm1/system", False),
                                         ("qemu+libssh://kvm1/system", False), ("", False)])
def test_which_transports_fork(uri: str, forks: bool) -> None:
    assert connection.forks(uri) is forks


def test_a_uri_from_anywhere_that_forks_sends_the_call_to_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, tuple[Any, ...]]] = []

    class Fake:
        def call(self, target: str, *args: Any) -> Any:
            sent.append((target, args))
            return {"sent": True}

    monkeypatch.setattr(worker, "worker", Fake)
    monkeypatch.delenv("LIBVIRT_DEFAULT_URI", raising=False)
    provider = StoragePoolProvider()
    ran_here: list[str] = []
    monkeypatch.setattr(type(provider.logic), "read", lambda *_a: ran_here.append("read") or {"sent": False})
    local, ssh = Context(default_uri="qemu:///system"), Context(default_uri=SSH)
    assert provider._logic("read", ("qemu:///system",), "id", {}, local) == {"sent": False}
    assert provider._logic("read", (SSH,), "id", {}, local) == {"sent": True}  # the resource's own uri
    assert provider._logic("read", (None,), "id", {}, ssh) == {"sent": True}  # the stack config's
    assert provider._logic("read", ("qemu:///system", SSH), "id", {}, local) == {"sent": True}  # old or new
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", SSH)
    assert provider._logic("read", (None,), "id", {}, Context()) == {"sent": True}  # libvirt's fallback
    assert ran_here == ["read"]
    assert sent[0][0] == "pulumi_libvirt_storage_provider.dynamic.pool:StoragePoolProvider.logic.read"


def test_a_result_and_our_error_cross_whole() -> None:
    w = worker.worker()
    assert w.call(f"{CONNECTION}:resolve_uri", None, "qemu:///system") == "qemu:///system"
    with pytest.raises(connection.UriNotKnown) as e:  # our error: its type (for plain messages) and text
        w.call(f"{CONNECTION}:connection", connection.NOT_KNOWN)
    assert "not known yet" in str(e.value)
    with pytest.raises(connection.LibvirtOpError) as e:  # a libvirt failure keeps libvirt's code
        w.call(f"{CONNECTION}:probe", "test:///no/such/file.xml")
    assert e.value.code is not None


def test_a_bug_in_the_worker_comes_back_with_its_traceback_and_only_our_code_is_callable() -> None:
    w = worker.worker()
    with pytest.raises(RuntimeError, match=r"(?s)in the provider's worker process:.*Traceback.*TypeError"):
        w.call(f"{CONNECTION}:resolve_uri", 1, 2, 3, 4)
    with pytest.raises(RuntimeError, match="not callable in the worker: os:system"):
        w.call("os:system", "true")


def test_a_worker_that_dies_fails_the_calls_in_flight_and_the_next_call_starts_another() -> None:
    w = worker.worker()
    outcome: list[BaseException] = []

    def slow() -> None:
        try:
            w.call(f"{CONNECTION}:time.sleep", 30)
        except BaseException as e:  # noqa: BLE001
            outcome.append(e)

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.5)
    w.proc.kill()
    t.join(10)
    assert outcome and isinstance(outcome[0], worker.WorkerGone), outcome
    assert "Run `pulumi up` again" in str(outcome[0])
    again = worker.worker()
    assert again is not w and again.call(f"{CONNECTION}:resolve_uri", "qemu:///x") == "qemu:///x"


def test_results_holding_our_errors_cross_and_one_that_cannot_fails_alone() -> None:
    """A check's result carries SpecErrors (its failures): they must read back in the host (they did not:
    the host's reader died on the TypeError and `pulumi preview` of an ext:// URI hung). What cannot
    cross fails that call with a message; the worker goes on serving."""
    w = worker.worker()
    back = w.call("pulumi_libvirt_storage_provider.spec.units:SpecError", "uri", "refused")
    assert (type(back).__name__, back.prop, back.reason, str(back)) == ("SpecError", "uri", "refused", "uri: refused")
    failures = w.call("pulumi_libvirt_storage_provider.spec.fields:Failures", [back])
    assert [f.prop for f in failures.failures] == ["uri"] and str(failures) == "uri: refused"
    with pytest.raises(RuntimeError, match="cannot cross to the host"):
        w.call(f"{CONNECTION}:threading.Lock")
    assert w.call(f"{CONNECTION}:resolve_uri", "qemu:///y") == "qemu:///y"
