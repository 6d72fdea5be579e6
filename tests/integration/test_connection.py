"""The per-process connection cache of ops.connection against the real libvirtd: one connection
per URI, the URI resolution order, the stack config through configure, and reconnection when
the connection is lost (simulated in this process; libvirtd itself is never restarted)."""

from __future__ import annotations

import os
import socket
import stat
from typing import Iterator

import libvirt
import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from pulumi_libvirt_storage_provider.dynamic import StoragePoolProvider
from pulumi_libvirt_storage_provider.ops import connection

from .conftest import URI, pool_names

pytestmark = pytest.mark.libvirtd


@pytest.fixture
def no_cached_connections() -> Iterator[None]:
    connection.close_all()
    yield
    connection.close_all()


def socket_fds() -> set[int]:
    fds = set()
    for entry in os.listdir("/proc/self/fd"):
        try:
            if stat.S_ISSOCK(os.stat(f"/proc/self/fd/{entry}").st_mode):
                fds.add(int(entry))
        except OSError:
            pass  # the fd of the listing itself, already closed
    return fds


@pytest.fixture
def daemon_hangs_up(no_cached_connections) -> Iterator:
    """Opens the cached connection and returns a function that makes it look as if libvirtd
    closed it (as a daemon restart does): the socket is shut down under the client. (The client's
    event loop may notice at once, or only when the next RPC fails: both must work.)"""
    before = socket_fds()
    cached = connection.connection(URI)
    opened = socket_fds() - before
    assert len(opened) == 1, f"expected one new socket for the libvirt connection, got {opened}"
    (fd,) = opened

    def hang_up() -> libvirt.virConnect:
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
        return cached

    yield hang_up


def checked_without_uri(provider: StoragePoolProvider, raw: dict, expected: str) -> dict:
    """Check of a resource without a uri: the uri it predicts (for previews, which take the dynamic
    provider's checked inputs as the outputs) is the default the provider was configured with."""
    result = provider.check({}, raw)
    assert not result.failures and result.inputs["uri"] == expected
    return result.inputs


def test_call_reuses_one_connection_per_uri(conn, no_cached_connections) -> None:
    opened_before = connection.OPENED[URI]

    versions = {connection.call(URI, lambda c: c.getLibVersion()) for _ in range(25)}
    first = connection.connection(URI)
    assert all(connection.connection(URI) is first for _ in range(5))

    assert versions == {conn.getLibVersion()}
    assert connection.OPENED[URI] == opened_before + 1


def test_resolve_uri_prefers_the_resource_then_the_config_then_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", "qemu:///from-environment")
    assert connection.resolve_uri("qemu:///from-resource", "qemu:///from-config") == "qemu:///from-resource"
    assert connection.resolve_uri(None, "qemu:///from-config") == "qemu:///from-config"
    assert connection.resolve_uri("", "qemu:///from-config") == "qemu:///from-config"
    assert connection.resolve_uri(None, None) == "qemu:///from-environment"
    monkeypatch.delenv("LIBVIRT_DEFAULT_URI")
    assert connection.resolve_uri(None, None) == ""


def test_configured_libvirt_uri_is_used_when_the_resource_has_none(pools, conn, monkeypatch) -> None:
    # Were the config ignored, the pool would land in the in-process test driver, not on the host.
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", "test:///default")
    configured = StoragePoolProvider()
    configured.configure(ConfigureRequest(Config({"libvirt:uri": URI, "proj:other": "x"}, "proj")))
    raw = pools.raw()
    del raw["uri"]
    inputs = checked_without_uri(configured, raw, URI)
    pools.track(inputs)

    made = configured.create(inputs)
    assert inputs["name"] in pool_names(conn)
    assert conn.storagePoolLookupByName(inputs["name"]).UUIDString() == made.id
    assert configured.read(made.id, made.outs).id == made.id
    # The state records the URI the pool was reached through: a provider configured otherwise later
    # (here: LIBVIRT_DEFAULT_URI only) still reads, updates and deletes it where it is.
    assert made.outs["uri"] == URI
    assert StoragePoolProvider().read(made.id, made.outs).id == made.id

    configured.delete(made.id, made.outs)
    assert inputs["name"] not in pool_names(conn)


def test_a_connection_closed_behind_the_cache_is_reopened_on_the_next_call(pools, conn,
                                                                           no_cached_connections) -> None:
    made = pools.create()
    stale = connection._CONNECTIONS[URI]
    opened_before = connection.OPENED[URI]
    stale.close()

    result = pools.provider.read(made.id, made.outs)
    assert result.id == made.id and result.outs["active"] is True
    assert connection.OPENED[URI] == opened_before + 1
    assert connection._CONNECTIONS[URI] is not stale


def test_call_reruns_on_a_fresh_connection_when_the_daemon_hung_up(conn, daemon_hangs_up) -> None:
    stale = daemon_hangs_up()
    opened_before = connection.OPENED[URI]

    assert connection.call(URI, lambda c: c.getLibVersion()) == conn.getLibVersion()
    assert connection.OPENED[URI] == opened_before + 1
    assert connection._CONNECTIONS[URI] is not stale


def test_provider_read_survives_the_daemon_hanging_up(pools, daemon_hangs_up) -> None:
    made = pools.create()
    daemon_hangs_up()

    result = pools.provider.read(made.id, made.outs)
    assert result.id == made.id
