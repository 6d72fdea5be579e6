"""libvirt connections: one per URI per process, shared by threads, reopened when lost.

The provider process serves several calls at once and lives for a whole deployment, so a
connection is opened once per URI and reused. Connections send keepalives, so that a host that
vanishes (a cut link, a killed ssh) fails a call within about KEEPALIVE_INTERVAL_S *
(KEEPALIVE_COUNT + 1) seconds instead of hanging it. When a connection is lost during a call
(libvirtd restarted or killed), `call` waits up to RECONNECT_WINDOW_S for the host to answer
again, lets the caller clean up what the interrupted attempt may have left, and runs it again.

Which URI a resource connects to is decided in one place, `resolve_uri_from` (through the resources'
Context.resolve): there a URI that would run a program or weaken the host check is refused unless
the stack allows it (`refuse_unsafe`, uri_safety.py), and a URI that is not known yet becomes
NOT_KNOWN, to which no connection is ever opened.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from typing import Callable, TypeVar

import libvirt

from . import uri_safety
from .errors import ConnectionLost, LibvirtOpError

T = TypeVar("T")

KEEPALIVE_INTERVAL_S = 5
KEEPALIVE_COUNT = 3
#: How long a call whose connection was lost waits for the host to answer again (seconds);
#: PULUMI_LIBVIRT_RECONNECT_SECONDS overrides it.
RECONNECT_WINDOW_S = float(os.environ.get("PULUMI_LIBVIRT_RECONNECT_SECONDS", "30"))

_LOCK = threading.Lock()
_URI_LOCKS: dict[str, threading.Lock] = {}
_CONNECTIONS: dict[str, libvirt.virConnect] = {}
_CANONICAL: dict[str, str] = {}  # uri as given -> uri libvirt reports
_OUTAGES: dict[str, float] = {}  # uri -> when waiting for it to answer again ends (see _reconnect)
#: How many connections this process opened, per URI (read by tests and benchmarks).
OPENED: collections.Counter[str] = collections.Counter()
_EVENT_LOOP: threading.Thread | None = None


def _quiet(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr unless a handler is set; errors reach the user as
    exceptions with their code instead."""


libvirt.registerErrorHandler(_quiet, None)


def resolve_uri(resource_uri: str | None, config_uri: str | None = None) -> str:
    """The resource's uri, else the stack config libvirt:uri, else LIBVIRT_DEFAULT_URI, else ""
    (libvirt's own default)."""
    return resolve_uri_from(resource_uri, config_uri)[0]


RESOURCE_SOURCE = "this resource's uri"
ENV_SOURCE = "LIBVIRT_DEFAULT_URI"


def resolve_uri_from(resource_uri: str | None, config_uri: str | None = None,
                     config_source: str = "the stack config libvirt:uri") -> tuple[str, str]:
    """resolve_uri, and where the URI came from (for messages that say what to change)."""
    if resource_uri:
        return resource_uri, RESOURCE_SOURCE
    if config_uri:
        return config_uri, config_source
    env = os.environ.get("LIBVIRT_DEFAULT_URI")
    if env:
        return env, ENV_SOURCE
    return "", "libvirt's default URI"  # libvirt.conf's uri_default: the machine's own choice


class UnsafeUri(LibvirtOpError):
    """A URI that would run a program or weaken the host check, and the stack does not allow such URIs."""


def refuse_unsafe(uri: str, source: str, how_to_allow: str | None = None) -> None:
    """Raise UnsafeUri when `uri` (from `source`) would run a program or weaken the host check: before
    libvirt.open, so that nothing it names runs, in a preview or otherwise. `how_to_allow` ends the
    message (by default: the stack config key)."""
    reason = uri_safety.refusal(uri, source, how_to_allow or uri_safety.HOW_TO_ALLOW)
    if reason is not None:
        raise UnsafeUri(reason)


#: The URI a resource resolves to while the provider's uri is not known yet (it depends on another
#: resource's output). Not a URI libvirt could open, and never given to it: every connection to it
#: fails at once with UriNotKnown, so a preview's predictions stay unknown and anything else says why.
NOT_KNOWN = "<the provider's uri, not known yet>"


class UriNotKnown(LibvirtOpError):
    """The provider's uri is not known yet: nothing was connected."""


def _refuse_not_known(uri: str) -> None:
    if uri == NOT_KNOWN:
        raise UriNotKnown("the provider's uri is not known yet (it depends on a value computed during the "
                          "deployment): nothing was connected, and the local host is not taken for it. Run "
                          "`pulumi up` once the value it depends on exists, or give the provider a known uri.")


def _start_event_loop() -> None:
    """libvirt's default event loop, which keepalives (and event callbacks) need, in a daemon thread.
    It must be registered before the first connection is opened."""
    global _EVENT_LOOP
    with _LOCK:
        if _EVENT_LOOP is not None:
            return
        libvirt.virEventRegisterDefaultImpl()

        def run() -> None:
            while True:
                libvirt.virEventRunDefaultImpl()

        _EVENT_LOOP = threading.Thread(target=run, name="libvirt-events", daemon=True)
        _EVENT_LOOP.start()


#: Transports for which libvirt forks a helper (ssh, or the user's command) in the calling process.
_FORKING_TRANSPORTS = ("+ssh", "+ext")


def forks(uri: str) -> bool:
    """Whether libvirt forks a helper process to open `uri`. In a process with gRPC's fork handlers
    (pulumi.dynamic's host) such a connect must not happen: see dynamic/worker.py."""
    return uri.split(":", 1)[0].endswith(_FORKING_TRANSPORTS)


def _open(uri: str) -> libvirt.virConnect:
    _start_event_loop()
    try:
        conn = libvirt.open(uri or None)
    except libvirt.libvirtError as e:
        raise LibvirtOpError(f"cannot connect to libvirt at {uri or 'the default URI'}: {e.get_error_message()}. "
                             "Check that libvirtd runs there and that the URI (resource uri, stack config "
                             "libvirt:uri or LIBVIRT_DEFAULT_URI) is right.", e) from e
    try:
        conn.setKeepAlive(KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT)
    except libvirt.libvirtError:
        pass  # drivers without a remote peer (test:///) have nothing to keep alive
    if uri not in _CANONICAL:
        try:  # known from now on without a call, even when the host is gone
            _CANONICAL[uri] = conn.getURI()
        except libvirt.libvirtError:
            pass
    OPENED[uri] += 1
    return conn


def probe(uri: str) -> None:
    """Open a new connection to `uri` (not the cached one) and close it: one connect, counted in OPENED."""
    _open(uri).close()


def _uri_lock(uri: str) -> threading.Lock:
    with _LOCK:
        return _URI_LOCKS.setdefault(uri, threading.Lock())


def connection(uri: str) -> libvirt.virConnect:
    """The open connection to `uri`, opened now if there is none (one host that does not answer
    holds up only the calls for that host)."""
    _refuse_not_known(uri)
    with _uri_lock(uri):
        conn = _CONNECTIONS.get(uri)
        if conn is None or not _alive(conn):
            conn = _open(uri)
            with _LOCK:
                _CONNECTIONS[uri] = conn
                _OUTAGES.pop(uri, None)  # the host answers: a later loss gets a window of its own
        return conn


def _alive(conn: libvirt.virConnect) -> bool:
    try:
        return bool(conn.isAlive())
    except libvirt.libvirtError:
        return False


def _drop(uri: str, conn: libvirt.virConnect) -> None:
    with _LOCK:
        if _CONNECTIONS.get(uri) is conn:
            del _CONNECTIONS[uri]
    try:
        conn.close()
    except libvirt.libvirtError:
        pass


def _reconnect(uri: str) -> libvirt.virConnect:
    """A new connection, waiting for the host to answer again until RECONNECT_WINDOW_S after the
    connection was first found lost. The window is one per outage of a URI, shared by every call
    that waits for it: however many calls were under way on a host that vanished, the run hears of
    it once the window is over, and a call that comes later tries once and fails at once."""
    with _LOCK:
        deadline = _OUTAGES.setdefault(uri, time.monotonic() + RECONNECT_WINDOW_S)
    delay = 0.2
    while True:
        try:
            conn = connection(uri)
        except LibvirtOpError as e:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConnectionLost(f"the connection to libvirt at {uri or 'the default URI'} was lost during the "
                                     f"operation and libvirtd did not answer again within {RECONNECT_WINDOW_S:.0f} s "
                                     f"({e}). Run again once it is back: nothing this operation left half made is "
                                     "kept.") from e
            time.sleep(min(delay, left))
            delay = min(delay * 2, 2.0)
            continue
        with _LOCK:
            if _OUTAGES.get(uri) == deadline:
                del _OUTAGES[uri]  # over (another call may have reopened the connection first)
        return conn


def call(uri: str, fn: Callable[[libvirt.virConnect], T],
         on_reconnect: Callable[[libvirt.virConnect], object] | None = None) -> T:
    """Run fn(connection). When the connection is lost during the call, reconnect (waiting for the
    host), run `on_reconnect` on the new connection to clean up what the interrupted attempt may
    have left (its own clean-up ran on the dead connection), and run fn once more. Without
    `on_reconnect`, fn must be safe to repeat."""
    try:
        conn = connection(uri)
    except LibvirtOpError:
        if uri not in OPENED:
            raise  # never reached from this process: a wrong URI fails at once
        conn = _reconnect(uri)  # reached before: the host is restarting, wait for it
    try:
        return fn(conn)
    except (libvirt.libvirtError, LibvirtOpError):
        if _alive(conn):
            raise
    _drop(uri, conn)
    conn = _reconnect(uri)
    if on_reconnect is not None:
        on_reconnect(conn)
    return fn(conn)


def canonical_uri(uri: str) -> str:
    """The URI libvirt reports for a connection opened with `uri` (libvirt's default filled in);
    remembered from the first connection, so that it is known without a call afterwards."""
    with _LOCK:
        known = _CANONICAL.get(uri)
    if known is None:
        conn = connection(uri)
        try:
            known = conn.getURI()
        except libvirt.libvirtError as e:
            raise LibvirtOpError(f"cannot read the URI of the connection to {uri or 'the default URI'}: "
                                 f"{e.get_error_message()}", e) from e
        with _LOCK:
            _CANONICAL[uri] = known
    return known


def effective_uri(uri: str) -> str:
    """`uri` as written, or for libvirt's default ("") the URI that default reached."""
    _refuse_not_known(uri)
    return uri or canonical_uri(uri)


def same_host(old_uri: str, new_uri: str, identity: Callable[[libvirt.virConnect], object]) -> bool:
    """Whether two URIs reach the same libvirt host: the same text, the same URI as libvirt
    reports it, or `identity` (something naming one object, e.g. a pool's uuid) seen equal and
    not None through both. A host that cannot be reached is not the same."""
    if old_uri == new_uri:
        return True
    try:
        if canonical_uri(old_uri) == canonical_uri(new_uri):
            return True
        old_id, new_id = identity(connection(old_uri)), identity(connection(new_uri))
    except (LibvirtOpError, libvirt.libvirtError):
        return False
    return old_id is not None and old_id == new_id


def close_all() -> None:
    with _LOCK:
        conns = list(_CONNECTIONS.values())
        _CONNECTIONS.clear()
    for conn in conns:
        try:
            conn.close()
        except libvirt.libvirtError:
            pass
