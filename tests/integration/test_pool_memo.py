"""Volume calls keep their pool (the handle and its definition) for pool_ops.POOL_MEMO_S: a refresh of
N volumes of one pool looks it up and reads its XML once, not N times (two of the four round trips
of a volume read). What must not change: a pool stopped, undefined or redefined meanwhile is looked
up again, a change this process makes to a pool is seen at once, and one made elsewhere within
POOL_MEMO_S. Against the real libvirtd."""

from __future__ import annotations

import collections
import time
from typing import Any, Iterator

import libvirt
import pytest

from pulumi_libvirt_storage_provider.ops import pools as pool_ops
from pulumi_libvirt_storage_provider.ops.errors import LibvirtOpError

from .conftest import checked, virsh

pytestmark = pytest.mark.libvirtd


@pytest.fixture
def calls(monkeypatch) -> Iterator[collections.Counter[str]]:
    """Counts of the pool lookups and pool XML reads libvirt-python is asked for, from a clean memo."""
    counted: collections.Counter[str] = collections.Counter()

    def counting(cls: Any, method: str) -> None:
        real = getattr(cls, method)

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            counted[method] += 1
            return real(self, *args, **kwargs)

        monkeypatch.setattr(cls, method, wrapper)

    counting(libvirt.virConnect, "storagePoolLookupByName")
    counting(libvirt.virStoragePool, "XMLDesc")
    pool_ops.forget()
    yield counted
    pool_ops.forget()


def test_reads_of_the_volumes_of_one_pool_look_it_up_and_read_its_definition_once(volumes, dir_pool, calls) -> None:
    made = [volumes.create(dir_pool.name, format="qcow2", capacity="1MiB") for _ in range(3)]
    pool_ops.forget()
    calls.clear()

    reads = [volumes.provider.read(m.id, m.outs) for m in made]

    assert [r.id for r in reads] == [m.id for m in made]
    assert [r.outs["disk_xml"] for r in reads] == [m.outs["disk_xml"] for m in made]
    assert calls == {"storagePoolLookupByName": 1, "XMLDesc": 1}


def test_a_definition_older_than_the_memo_is_read_again(volumes, dir_pool, calls, monkeypatch) -> None:
    monkeypatch.setattr(pool_ops, "POOL_MEMO_S", 0.2)
    made = volumes.create(dir_pool.name, capacity="1MiB")
    volumes.provider.read(made.id, made.outs)
    calls.clear()

    time.sleep(0.3)
    volumes.provider.read(made.id, made.outs)

    assert calls == {"storagePoolLookupByName": 1, "XMLDesc": 1}


def test_a_pool_undefined_and_defined_again_meanwhile_is_looked_up_again(volumes, dir_pool, calls) -> None:
    made = volumes.create(dir_pool.name, format="qcow2", capacity="1MiB")
    before = volumes.provider.read(made.id, made.outs)
    kept_uuid = dir_pool.pool.UUIDString()

    # Elsewhere, within the memo: the same pool (name, directory) under a new uuid.
    xml = dir_pool.pool.XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE)
    virsh("pool-destroy", dir_pool.name)
    virsh("pool-undefine", dir_pool.name)
    conn = dir_pool.pool.connect()
    again = conn.storagePoolDefineXML(xml.replace(f"<uuid>{kept_uuid}</uuid>", ""), 0)
    again.create(0)
    assert again.UUIDString() != kept_uuid

    after = volumes.provider.read(made.id, made.outs)

    assert after.id == made.id and after.outs["path"] == before.outs["path"]
    assert after.outs["current_capacity"] == 1024 * 1024


def test_a_pool_stopped_meanwhile_reads_as_stopped_not_as_gone(volumes, dir_pool, calls) -> None:
    made = volumes.create(dir_pool.name, capacity="1MiB")
    volumes.provider.read(made.id, made.outs)

    dir_pool.pool.destroy()  # elsewhere, within the memo
    read = volumes.provider.read(made.id, made.outs)

    assert read.id == made.id, "a volume of a stopped pool is not deleted"
    with pytest.raises(LibvirtOpError, match="not active"):
        volumes.create(dir_pool.name, capacity="1MiB")
    dir_pool.pool.create(0)


def test_a_pool_change_by_this_process_is_seen_at_once(pools, volumes, calls) -> None:
    pool = pools.create()
    made = volumes.create(pool.inputs["name"], capacity="1MiB")
    volumes.provider.read(made.id, made.outs)  # the pool is kept
    assert pool_ops._handles and pool_ops._definitions

    news = checked(pools.provider, {**pools.raw(name=pool.inputs["name"],
                                                              path=pool.inputs["target"]["path"]), "start": False},
                   pool.inputs)
    pools.provider.update(pool.id, pool.outs, news)

    assert not pool_ops._handles and not pool_ops._definitions
    calls.clear()
    read = volumes.provider.read(made.id, made.outs)
    assert read.id == made.id and calls["storagePoolLookupByName"] >= 1
