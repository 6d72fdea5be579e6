"""StorageVolume over the real gRPC protocol of `python -m pulumi.dynamic`, against the real libvirtd:
create with a float capacity, grow in place, shrink refused at Check, preview unknowns, and eight
creates at once on the server's four worker threads."""

from __future__ import annotations

import concurrent.futures

import libvirt
import pytest
from lxml import etree
from pulumi.runtime.proto import provider_pb2

from tests.conftest import unique
from tests.protocol.helpers import Client, libvirtd_clients_of
from tests.support.protocol import UNKNOWN, DynamicProviderProcess, from_struct

pytestmark = pytest.mark.libvirtd

GiB = 1024**3
DIFF_SOME = provider_pb2.DiffResponse.DIFF_SOME


def test_qcow2_volume_created_with_float_capacity_grows_in_place_and_shrink_is_refused_at_check(
        volumes: Client, dir_pool: libvirt.virStoragePool) -> None:
    name = unique("vol")
    news = volumes.props(pool=dir_pool.name(), name=name, format="qcow2", capacity=1073741824.0)

    inputs = volumes.check_ok(news)
    assert inputs["capacity"] == 1073741824.0 and inputs["format"] == "qcow2"

    id_, outs, _ = volumes.create(inputs)
    vol = dir_pool.storageVolLookupByName(name)
    assert id_ == vol.key() == outs["key"]
    assert vol.info()[1] == GiB
    assert etree.fromstring(vol.XMLDesc(0).encode()).find("target/format").get("type") == "qcow2"
    assert outs["current_capacity"] == float(GiB) and outs["current_format"] == "qcow2"
    assert outs["pool_type"] == "dir" and outs["path"] == vol.path()

    # grow: Check, Diff (in place), Update: same volume (key), new capacity on the host
    grown = volumes.check_ok(volumes.props(pool=dir_pool.name(), name=name, format="qcow2", capacity="2GiB"),
                             olds=inputs)
    assert grown["capacity"] == float(2 * GiB)
    diff = volumes.diff(id_, outs, grown)
    assert diff.changes == DIFF_SOME and list(diff.replaces) == []
    upd_outs, _ = volumes.update(id_, outs, grown)
    assert upd_outs["key"] == id_ == dir_pool.storageVolLookupByName(name).key()
    assert dir_pool.storageVolLookupByName(name).info()[1] == 2 * GiB
    assert upd_outs["current_capacity"] == float(2 * GiB) and upd_outs["capacity"] == float(2 * GiB)
    assert set(upd_outs) == set(outs)
    read_id, read_outs, _ = volumes.read(id_, upd_outs, grown)
    assert read_id == id_ and read_outs["capacity"] == float(2 * GiB)
    assert volumes.diff(id_, read_outs, grown).changes == provider_pb2.DiffResponse.DIFF_NONE

    # shrink back to 1 GiB: refused by Check, on "capacity", before anything touches the volume
    checked = volumes.check(volumes.props(pool=dir_pool.name(), name=name, format="qcow2", capacity=1073741824.0),
                            olds=grown)
    assert [p for p, _ in checked.failures] == ["capacity"], checked.failures
    assert "allow_shrink" in dict(checked.failures)["capacity"]
    assert dir_pool.storageVolLookupByName(name).info()[1] == 2 * GiB

    volumes.delete(id_, upd_outs)
    assert name not in dir_pool.listVolumes()


def test_check_keeps_an_unknown_pool_of_a_volume_unknown_and_diff_reports_an_unknown_capacity(
        volumes: Client) -> None:
    """A preview: the pool is another resource's output; later, the new capacity is not known yet."""
    checked = volumes.check(volumes.props(pool=UNKNOWN, name="v1", format="qcow2", capacity=1073741824.0))
    assert checked.failures == []
    assert checked.inputs["pool"] == UNKNOWN
    assert type(from_struct(checked.response.inputs)["pool"]).__name__ == "Unknown"
    assert checked.inputs["capacity"] == 1073741824.0

    olds = {**volumes.check_ok(volumes.props(pool="p", name="v1", format="qcow2", capacity=GiB)),
            "key": "/nowhere/v1", "pool_type": "dir", "current_capacity": float(GiB)}
    diff = volumes.diff(olds["key"], olds, {**olds, "capacity": UNKNOWN})
    assert diff.changes == DIFF_SOME and list(diff.replaces) == []
    diff = volumes.diff(olds["key"], olds, {**olds, "pool": UNKNOWN})
    assert diff.changes == DIFF_SOME and list(diff.replaces) == ["pool"]


def test_check_failure_of_a_bad_capacity_names_capacity_and_creates_nothing(
        volumes: Client, dir_pool: libvirt.virStoragePool) -> None:
    name = unique("badvol")
    checked = volumes.check(volumes.props(pool=dir_pool.name(), name=name, capacity="12XB"))
    assert [p for p, _ in checked.failures] == ["capacity"], checked.failures
    assert "12XB" in dict(checked.failures)["capacity"]
    assert checked.inputs["capacity"] == "12XB"  # a failed Check hands back what it got
    dir_pool.refresh(0)
    assert dir_pool.listVolumes() == []


def test_eight_concurrent_creates_on_four_server_threads_all_succeed_over_one_libvirt_connection(
        server: DynamicProviderProcess, volumes: Client, dir_pool: libvirt.virStoragePool) -> None:
    clients_before = libvirtd_clients_of(server.proc.pid)
    names = [unique(f"cvol{i}") for i in range(8)]
    inputs = [volumes.check_ok(volumes.props(pool=dir_pool.name(), name=n, format="qcow2", capacity=64 * 1024**2))
              for n in names]

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        created = list(pool.map(lambda args: volumes.create(args[1], name=args[0]), zip(names, inputs)))

    dir_pool.refresh(0)
    assert sorted(dir_pool.listVolumes()) == sorted(names)
    for n, (id_, outs, _) in zip(names, created):
        assert id_ == dir_pool.storageVolLookupByName(n).key() and outs["name"] == n

    clients_during = libvirtd_clients_of(server.proc.pid)
    if clients_before is not None:  # virt-admin present
        assert clients_before == 0  # nothing connects before the first call that needs libvirt
        assert clients_during == 1, f"the provider process holds {clients_during} libvirtd connections"

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda c: volumes.delete(c[0], c[1]), created))
    dir_pool.refresh(0)
    assert dir_pool.listVolumes() == []
    assert "Traceback" not in server.stderr_text()
