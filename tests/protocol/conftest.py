"""Fixtures of the protocol tier: the real `python -m pulumi.dynamic` server, driven over gRPC with
pulumi's own stubs the way the engine drives it (see helpers.py), against the real libvirtd."""

from __future__ import annotations

import pathlib
from typing import Iterator

import libvirt
import pytest

from pulumi_libvirt_storage_provider.dynamic import CephSecretProvider, StoragePoolProvider, StorageVolumeProvider
from tests.conftest import URI, unique
from tests.protocol.helpers import Client, Leftovers
from tests.support.protocol import DynamicProviderProcess


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[DynamicProviderProcess]:
    """One `python -u -m pulumi.dynamic` per test, configured with the stack config libvirt:uri. Its
    stderr is collected (tests may call close() themselves to inspect it) and printed on teardown."""
    proc = DynamicProviderProcess({"libvirt:uri": URI})
    yield proc
    stderr = proc.close()
    if stderr.strip():
        print(f"--- pulumi.dynamic stderr ({request.node.name}) ---\n{stderr}")


@pytest.fixture
def pools(server: DynamicProviderProcess) -> Client:
    return Client(server, StoragePoolProvider(), "StoragePool")


@pytest.fixture
def volumes(server: DynamicProviderProcess) -> Client:
    return Client(server, StorageVolumeProvider(), "StorageVolume")


@pytest.fixture
def secrets(server: DynamicProviderProcess) -> Client:
    return Client(server, CephSecretProvider(), "CephSecret")


@pytest.fixture
def leftovers(conn: libvirt.virConnect) -> Iterator[Leftovers]:
    """Finalizer: removes through `conn` whatever the test registered and did not delete over gRPC
    (a test that fails half-way). Runs before the autouse guard of tests/conftest.py checks the host."""
    tracker = Leftovers(conn)
    yield tracker
    removed = tracker.remove()
    if removed:
        print(f"removed leftovers through conn: {removed}")


@pytest.fixture
def dir_pool(conn: libvirt.virConnect, leftovers: Leftovers, tmp_path: pathlib.Path) -> libvirt.virStoragePool:
    """An active dir pool made directly through libvirt (not through the provider), for volume tests."""
    name = leftovers.pool(unique("volpool"))
    path = tmp_path / "volpool"
    xml = f"<pool type='dir'><name>{name}</name><target><path>{path}</path></target></pool>"
    pool = conn.storagePoolDefineXML(xml, 0)
    pool.build(0)
    pool.create(0)
    return pool
