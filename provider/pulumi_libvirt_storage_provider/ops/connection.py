"""libvirt connections: one per URI per process, shared by threads, reopened when lost.

The provider process serves up to four calls at once and lives for a whole deployment, so
a connection is opened once per URI and reused. When libvirtd restarts, the next call on
the old connection fails; `call` then opens a new connection and runs the call once more.
"""

from __future__ import annotations

import collections
import os
import threading
from typing import Callable, TypeVar

import libvirt

from .errors import LibvirtOpError

T = TypeVar("T")

_LOCK = threading.Lock()
_CONNECTIONS: dict[str, libvirt.virConnect] = {}
_CANONICAL: dict[str, str] = {}  # uri as given -> uri libvirt reports
#: How many connections this process opened, per URI (read by tests and benchmarks).
OPENED: collections.Counter[str] = collections.Counter()


def _quiet(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr unless a handler is set; errors reach the user as
    exceptions with their code instead."""


libvirt.registerErrorHandler(_quiet, None)


def resolve_uri(resource_uri: str | None, config_uri: str | None = None) -> str:
    """The resource's uri, else the stack config libvirt:uri, else LIBVIRT_DEFAULT_URI, else ""
    (libvirt's own default)."""
    return resource_uri or config_uri or os.environ.get("LIBVIRT_DEFAULT_URI") or ""


def _open(uri: str) -> libvirt.virConnect:
    try:
        conn = libvirt.open(uri or None)
    except libvirt.libvirtError as e:
        raise LibvirtOpError(f"cannot connect to libvirt at {uri or 'the default URI'}: {e.get_error_message()}. "
                             "Check that libvirtd runs there and that the URI (resource uri, stack config "
                             "libvirt:uri or LIBVIRT_DEFAULT_URI) is right.", e) from e
    OPENED[uri] += 1
    return conn


def connection(uri: str) -> libvirt.virConnect:
    with _LOCK:
        conn = _CONNECTIONS.get(uri)
        if conn is None or not _alive(conn):
            conn = _CONNECTIONS[uri] = _open(uri)
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


def call(uri: str, fn: Callable[[libvirt.virConnect], T]) -> T:
    """Run fn(connection); when the connection turns out to be closed, reopen it and run fn again
    once. fn must be safe to repeat after a failure that lost the connection."""
    conn = connection(uri)
    try:
        return fn(conn)
    except (libvirt.libvirtError, LibvirtOpError):
        if _alive(conn):
            raise
    _drop(uri, conn)
    return fn(connection(uri))


def canonical_uri(uri: str) -> str:
    """The URI libvirt reports for a connection opened with `uri` (libvirt's default filled in)."""
    conn = connection(uri)
    with _LOCK:
        known = _CANONICAL.get(uri)
    if known is None:
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
