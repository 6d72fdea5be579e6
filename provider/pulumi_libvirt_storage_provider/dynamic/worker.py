"""Where the dynamic front end's libvirt connections over a forking transport live: a child process
without gRPC's fork handlers.

libvirt opens `qemu+ssh://` (and `+ext`) by forking the ssh client (or the user's command) in the
process that calls virConnectOpen. pulumi.dynamic's provider host serves gRPC with gRPC's fork support
on (grpcio's default), which registers pthread_atfork handlers when gRPC starts, long before our code
is loaded, and there is no way to take them back. They run in libvirt's child between fork and exec
and, measured, break about 1 connect in 20 when other threads are in gRPC at that moment ("Cannot recv
data: ... ev_epoll1_linux.cc ... epoll_wait error", "Connection reset by peer"); when they block
instead, the connect hangs. A retry cannot cover a hang.

So the host does not connect over such a transport at all. A call of a resource whose URI forks (its
own uri, the stack config's, or LIBVIRT_DEFAULT_URI) is run by a worker: a python running `main` here,
started once per host process with GRPC_ENABLE_FORK_SUPPORT=false (as the provider plugin starts
itself), so that libvirt's fork runs no handler. The worker runs the same ResourceLogic method with the
same arguments and keeps its own connections, caches and reconnect windows, which stay coherent because
every call about such a resource goes there. Python's subprocess starts the worker with vfork + exec,
which runs no fork handler either.

The protocol: length-prefixed pickles over the worker's stdin/stdout (a pipe of our own: nothing but
this process reads it, and secrets in arguments never appear in process arguments), one request per
call, any number in flight (each runs in a thread of the worker). The worker exits when its stdin
closes, i.e. when the host is gone.
"""

from __future__ import annotations

import importlib
import os
import pickle
import struct
import subprocess
import sys
import threading
import traceback
from concurrent.futures import Future
from typing import IO, Any

from ..ops import connection
from . import plain_errors

_HEADER = struct.Struct("!Q")
#: The worker's command (not `-m`: this module is imported by its package before it would run).
_ENTRY = f"from {__name__} import main; main()"
#: Who may be called: `module:attribute` within this package only.
_PACKAGE = (__package__ or "").split(".", 1)[0] + "."


def forks(*uris: object) -> bool:
    """Whether any of these URIs (or LIBVIRT_DEFAULT_URI, libvirt's fallback) would fork in libvirt."""
    candidates = [*uris, os.environ.get("LIBVIRT_DEFAULT_URI")]
    return any(isinstance(u, str) and connection.forks(u) for u in candidates)


def _write(stream: IO[bytes], lock: threading.Lock, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    with lock:
        stream.write(_HEADER.pack(len(data)) + data)
        stream.flush()


def _read(stream: IO[bytes]) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    size, = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def _resolve(target: str) -> Any:
    module, _, path = target.partition(":")
    if not module.startswith(_PACKAGE):
        raise ValueError(f"not callable in the worker: {target}")
    obj: Any = importlib.import_module(module)
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


class WorkerGone(connection.LibvirtOpError):
    """The worker process ended while calls were in flight."""


class Worker:
    """The host's side: `call("module:attr.method", *args)` runs it in the worker and returns its
    result or raises its exception."""

    def __init__(self) -> None:
        env = dict(os.environ, GRPC_ENABLE_FORK_SUPPORT="false")
        self.proc = subprocess.Popen([sys.executable, "-c", _ENTRY], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, close_fds=True)
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._pending: dict[int, Future[Any]] = {}
        self._next = 0
        self._gone: str | None = None
        threading.Thread(target=self._answers, name="libvirt-storage-worker", daemon=True).start()

    def call(self, target: str, *args: Any) -> Any:
        future: Future[Any] = Future()
        with self._lock:
            if self._gone is not None:
                raise WorkerGone(self._gone)
            self._next += 1
            request_id = self._next
            self._pending[request_id] = future
        assert self.proc.stdin is not None
        try:
            _write(self.proc.stdin, self._write_lock, (request_id, target, args))
        except (OSError, ValueError) as e:
            with self._lock:
                self._pending.pop(request_id, None)
            raise WorkerGone(f"the provider's worker process for forking libvirt transports is gone ({e})") from e
        return future.result()

    def _answers(self) -> None:
        assert self.proc.stdout is not None
        try:
            while True:
                request_id, ok, payload = _read(self.proc.stdout)  # (ints and bytes: always readable)
                try:
                    value = pickle.loads(payload)
                except Exception as e:  # noqa: BLE001 - this one answer is unreadable, not the pipe
                    ok, value = False, RuntimeError(f"the provider's worker process answered with a value that "
                                                    f"cannot be read back here: {e!r}")
                with self._lock:
                    future = self._pending.pop(request_id)
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
        except Exception:  # noqa: BLE001 - the pipe is broken or the worker ended: fail what is in flight
            self.proc.kill()
        code = self.proc.wait()
        with self._lock:
            self._gone = (f"the provider's worker process for forking libvirt transports (qemu+ssh) ended "
                          f"(exit status {code}); what its calls in flight did is unknown. Run `pulumi up` again.")
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(WorkerGone(self._gone))


_WORKER: Worker | None = None
_WORKER_LOCK = threading.Lock()


def worker() -> Worker:
    """This process's worker, started on first use (and again if it ended)."""
    global _WORKER
    with _WORKER_LOCK:
        if _WORKER is None or _WORKER.proc.poll() is not None:
            _WORKER = Worker()
        return _WORKER


def _portable(error: BaseException) -> BaseException:
    """The exception as it crosses the pipe: ours (a message for the user, plain_errors.OURS) as itself;
    anything else, a bug, as a RuntimeError that carries its whole traceback from the worker (the host's
    own would only show this pipe)."""
    if isinstance(error, plain_errors.OURS):
        return error
    text = "".join(traceback.format_exception(error))
    return RuntimeError(f"in the provider's worker process:\n{text}")


def _answer(target: str, ok: bool, value: Any) -> tuple[bool, bytes]:
    """The pickled answer, checked to read back: what would not is sent as an error that does (ours as
    its message, so that the user still reads it alone)."""
    try:
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(payload)
        return ok, payload
    except Exception as e:  # noqa: BLE001 - any failure to pickle means: send the text
        if not ok and isinstance(value, plain_errors.OURS):
            return False, pickle.dumps(connection.LibvirtOpError(str(value)))
        return False, pickle.dumps(RuntimeError(
            f"in the provider's worker process: the answer to {target} cannot cross to the host: {e!r}"))


def _serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    lock = threading.Lock()

    def run(request_id: int, target: str, args: tuple[Any, ...]) -> None:
        try:
            ok, value = True, _resolve(target)(*args)
        except BaseException as e:  # noqa: BLE001 - every failure goes back to the caller
            ok, value = False, _portable(e)
        try:
            _write(answers, lock, (request_id, *_answer(target, ok, value)))
        except (OSError, ValueError):
            os._exit(0)  # the host is gone

    while True:
        try:
            request_id, target, args = _read(requests)
        except EOFError:
            os._exit(0)  # the host closed our stdin: it is gone (calls in flight end with us)
        threading.Thread(target=run, args=(request_id, target, args), daemon=True).start()


def main() -> None:
    # The protocol owns the real stdout; anything printed goes to stderr (the host's log).
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _serve(sys.stdin.buffer, answers)


