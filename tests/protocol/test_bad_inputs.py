"""A corpus of bad inputs over every resource (issue 11): each one is refused by Check, which is what
`pulumi preview` runs, with a failure that names the property and says what to write instead; and
the host is the same after the whole corpus as before it. Through the protocol tier (the real
pulumi.dynamic server over gRPC, the real libvirtd); a sample also runs through the real engine on
both front ends (tests/e2e/test_bad_inputs_engine.py)."""

from __future__ import annotations

from typing import Any

import libvirt
import pytest

from pulumi_libvirt_storage_provider.dynamic import (CephSecretProvider, IscsiSecretProvider, StoragePoolProvider,
                                                     StorageVolumeProvider, VolumeSecretProvider)
from tests.protocol.helpers import Client

pytestmark = pytest.mark.libvirtd

UUID = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f"
KEY = "AQBzd2ZkAAAAABAA1ZzqJfB4tI7w9pB0ZoUKxA=="
IQN = "iqn.2024-01.org.example:target1"
DROP = object()  # remove the key from the valid base

#: A valid input of each resource; each case below spoils it in one way.
BASE: dict[str, dict[str, Any]] = {
    "StoragePool": {"name": "plstest-corpus", "type": "dir", "target": {"path": "/var/lib/libvirt/plstest-corpus"}},
    "StorageVolume": {"pool": "plstest-corpus", "pool_type": "dir", "name": "disk.qcow2", "format": "qcow2",
                      "capacity": "1GiB"},
    "CephSecret": {"usage_name": "client.plstest-corpus", "value": KEY},
    "IscsiSecret": {"usage_name": "plstest-corpus-chap", "value": "chap-password"},
    "VolumeSecret": {"usage_name": "/var/lib/libvirt/plstest-corpus/enc.qcow2", "value": "passphrase"},
}

# (resource, what changes in BASE, the property the failure names, a word of the way out)
P, V, C, I, S = "StoragePool", "StorageVolume", "CephSecret", "IscsiSecret", "VolumeSecret"
NETFS = {"type": "netfs", "target": {"path": "/mnt/n"}}
RBD = {"type": "rbd", "target": DROP}
ISCSI = {"type": "iscsi", "target": DROP}
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    # -- StoragePool: identity and life cycle
    (P, {"name": ""}, "name", "non-empty"),
    (P, {"name": "a/b"}, "name", "no '/'"),
    (P, {"name": "x" * 300}, "name", "at most"),
    (P, {"type": "nosuch"}, "type", "one of 'dir'"),
    (P, {"type": DROP}, "type", "required"),
    (P, {"uuid": "not-a-uuid"}, "uuid", "such as"),
    (P, {"uri": 5}, "uri", "string"),
    (P, {"start": "yes"}, "start", "true or false"),
    (P, {"autostart": 3}, "autostart", "true or false"),
    (P, {"build": "sometimes"}, "build", "true or false"),
    (P, {"build_mode": "sometimes"}, "build_mode", "one of 'normal'"),
    (P, {"delete_storage_on_destroy": "maybe"}, "delete_storage_on_destroy", "true or false"),
    (P, {"adopt": "please"}, "adopt", "true or false"),
    # -- StoragePool: target
    (P, {"target": {"path": "relative"}}, "target.path", "absolute path"),
    (P, {"target": {}}, "target.path", "absolute path"),
    (P, {"target": {"path": "/x", "permissions": {"mode": "999"}}}, "target.permissions.mode", "octal mode"),
    (P, {"target": {"path": "/x", "permissions": {"mode": "abc"}}}, "target.permissions.mode", "octal mode"),
    (P, {"target": {"path": "/x", "permissions": {"owner": -5}}}, "target.permissions.owner", "uid"),
    (P, {"target": {"path": "/x", "permissions": {"group": "wheel"}}}, "target.permissions.group", "gid"),
    (P, {"target": {"path": "/x", "permisions": {"mode": "0755"}}}, "target.permisions", "known ones are"),
    # -- StoragePool: source, per type
    (P, {"source": {"name": "x"}}, "source.name", "remove it"),
    (P, {"rbd_config_options": {"a": "b"}}, "rbd_config_options", "rbd pools only"),
    (P, {**NETFS, "source": {"hosts": [{"name": "h"}]}}, "source.dir", "exported directory"),
    (P, {**NETFS, "source": {"dir": "/e"}}, "source.hosts", "name"),
    (P, {**NETFS, "source": {"hosts": [{"name": "h"}], "dir": "/e", "format": "ext4"}}, "source.format", "nfs"),
    (P, {**NETFS, "source": {"hosts": [{"name": "h", "port": 0}], "dir": "/e"}}, "source.hosts[0].port",
     "1..65535"),
    (P, {**NETFS, "source": {"hosts": [{"name": "h", "port": 70000}], "dir": "/e"}}, "source.hosts[0].port",
     "1..65535"),
    (P, {**RBD, "source": {"hosts": [{"name": "m"}]}}, "source.name", "name"),
    (P, {**RBD, "source": {"name": "p"}}, "source.hosts", "name"),
    (P, {**RBD, "source": {"hosts": [{"name": "m"}], "name": "p", "auth": {"type": "chap", "username": "u",
                                                                             "secret_uuid": UUID}}},
     "source.auth.type", "ceph"),
    (P, {**RBD, "source": {"hosts": [{"name": "m"}], "name": "p", "auth": {"type": "ceph", "username": "u"}}},
     "source.auth", "secret"),
    (P, {**ISCSI, "source": {"hosts": [{"name": "h"}], "devices": []}}, "source.devices", "IQN"),
    (P, {**ISCSI, "source": {"devices": [{"path": IQN}]}}, "source.hosts", "name"),
    (P, {"type": "iscsi-direct", "target": DROP, "source": {"hosts": [{"name": "h"}], "devices": [{"path": IQN}]}},
     "source.initiator_iqn", "IQN"),
    (P, {"type": "disk", "target": DROP, "source": {"devices": [{"path": "/dev/sdc"}], "format": "ntfs"}},
     "source.format", "gpt"),
    (P, {"type": "disk", "target": DROP, "source": {}}, "source.devices", "path"),
    (P, {"type": "fs", "target": {"path": "/mnt/f"}, "source": {"devices": [{"path": "/dev/sdb1"}],
                                                               "format": "bogusfs"}}, "source.format", "ext4"),
    (P, {"type": "fs", "target": {"path": "/mnt/f"}, "source": {}}, "source.devices", "path"),
    (P, {"type": "scsi", "target": DROP, "source": {"adapter": {"type": "fc_host"}}}, "source.adapter", "wwnn"),
    (P, {"type": "scsi", "target": DROP, "source": {}}, "source.adapter", "scsi_host"),
    (P, {"type": "zfs", "target": DROP, "source": {"name": ""}}, "source.name", "name"),
    (P, {"type": "gluster", "target": DROP, "source": {"hosts": [], "name": "gv"}}, "source.hosts", "name"),
    (P, {"type": "vstorage", "source": {"name": "c"}, "target": {}}, "target.path", "absolute path"),
    (P, {"type": "sheepdog", "target": DROP, "source": {"name": "s"}}, "source.hosts", "name"),
    # -- StorageVolume
    (V, {"name": ""}, "name", "non-empty"),
    (V, {"name": "a/b"}, "name", "no '/'"),
    (V, {"pool": ""}, "pool", "non-empty"),
    (V, {"pool_type": "nosuch"}, "pool_type", "one of 'dir'"),
    (V, {"capacity": "lots"}, "capacity", "512MiB"),
    (V, {"capacity": "-1GiB"}, "capacity", "512MiB"),
    (V, {"capacity": "1XB"}, "capacity", "512MiB"),
    (V, {"capacity": "1.5"}, "capacity", "whole number"),
    (V, {"capacity": 0}, "capacity", "adopt=true"),
    (V, {"capacity": DROP}, "capacity", "capacity=\"20GiB\""),
    (V, {"format": "nosuch"}, "format", "qcow2"),
    (V, {"allocation": "2GiB"}, "allocation", "cannot exceed capacity"),
    (V, {"allocation": "x"}, "allocation", "512MiB"),
    (V, {"pool_type": "logical", "format": DROP, "allocation": "1MiB"}, "allocation", "remove allocation"),
    (V, {"permissions": {"mode": "8888"}}, "permissions.mode", "octal mode"),
    (V, {"permissions": {"mdoe": "0600"}}, "permissions.mdoe", "known ones are"),
    (V, {"wipe_on_destroy": "shred"}, "wipe_on_destroy", "one of 'zero'"),
    (V, {"allow_shrink": "no"}, "allow_shrink", "true or false"),
    (V, {"adopt": "sure"}, "adopt", "true or false"),
    (V, {"backing_store": {"format": "qcow2"}}, "backing_store.path", "required"),
    (V, {"clone_from": {"pool": "default"}}, "clone_from.name", "required"),
    (V, {"upload_from": "relative/file"}, "upload_from", "absolute path"),
    (V, {"clone_from": {"pool": "default", "name": "a"}, "upload_from": "/x"}, "upload_from", "not both"),
    (V, {"backing_store": {"path": "/b.qcow2"}, "upload_from": "/x"}, "backing_store", "remove it"),
    (V, {"qcow2": {"cluster_size": 3}}, "qcow2.cluster_size", "power of two"),
    (V, {"qcow2": {"clustersize": 65536}}, "qcow2.clustersize", "known ones are"),
    (V, {"format": "raw", "qcow2": {"compat": "1.1"}}, "qcow2", "format=\"qcow2\""),
    (V, {"qcow2": {"compat": "9.9"}}, "qcow2.compat", "one of '0.10'"),
    (V, {"qcow2": {"preallocation": "full-ish"}}, "qcow2.preallocation", "one of 'off'"),
    (V, {"disk_target": {"dev": "sda1!", "bus": "virtio"}}, "disk_target.dev", "vda"),
    (V, {"disk_target": {"dev": "vdb", "bus": "floppyx"}}, "disk_target.bus", "one of 'virtio'"),
    (V, {"encryption": {"format": "luks"}}, "encryption", "secret_uuid"),
    (V, {"encryption": {"format": "aes", "secret_uuid": UUID}}, "encryption.format", "one of 'luks'"),
    (V, {"format": "vmdk", "encryption": {"format": "luks", "secret_uuid": UUID}}, "encryption.format", "qcow2"),
    # -- secrets
    (C, {"usage_name": ""}, "usage_name", "empty"),
    (C, {"usage_name": DROP}, "usage_name", "required"),
    (C, {"value": "not base64!!"}, "value", "ceph auth get-key"),
    (C, {"value": DROP}, "value", "pulumi config set --secret"),
    (C, {"uuid": "zzz"}, "uuid", "such as"),
    (C, {"ephemeral": "x"}, "ephemeral", "true or false"),
    (C, {"private": 7}, "private", "true or false"),
    (I, {"value": DROP}, "value", "pulumi config set --secret"),
    (I, {"usage_name": ""}, "usage_name", "empty"),
    (S, {"value": DROP}, "value", "pulumi config set --secret"),
    (S, {"uuid": "no"}, "uuid", "such as"),
]
PROVIDERS = {P: StoragePoolProvider, V: StorageVolumeProvider, C: CephSecretProvider, I: IscsiSecretProvider,
             S: VolumeSecretProvider}


def spoiled(kind: str, change: dict[str, Any]) -> dict[str, Any]:
    inputs = {**BASE[kind], **change}
    return {k: v for k, v in inputs.items() if v is not DROP}


def host_snapshot(conn: libvirt.virConnect) -> tuple:
    pools = sorted((p.name(), p.isActive(), p.XMLDesc(0)) for p in conn.listAllStoragePools())
    volumes = sorted((p.name(), v.name()) for p in conn.listAllStoragePools() if p.isActive()
                     for v in p.listAllVolumes())
    secrets = sorted((s.UUIDString(), s.usageID() or "") for s in conn.listAllSecrets())
    return pools, volumes, secrets


def test_the_corpus_is_large_and_covers_every_resource() -> None:
    assert len(CASES) >= 80
    assert {kind for kind, *_ in CASES} == set(PROVIDERS)


def test_every_bad_input_is_refused_at_check_naming_the_property_and_the_way_out_host_unchanged(
        server, conn) -> None:
    before = host_snapshot(conn)
    clients = {kind: Client(server, provider(), kind) for kind, provider in PROVIDERS.items()}
    wrong = []
    for n, (kind, change, prop, word) in enumerate(CASES):
        checked = clients[kind].check(clients[kind].props(**spoiled(kind, change)), name=f"case{n}")
        named = [reason for where, reason in checked.failures if where == prop]
        if not named or not any(word in f"{prop}: {reason}" for reason in named):
            wrong.append(f"{kind} {change}: expected a failure on {prop!r} saying {word!r}, got {checked.failures}")
    assert not wrong, "\n".join(wrong)
    assert host_snapshot(conn) == before, "Check changed the host"
    print(f"\n{len(CASES)} bad inputs over {len(PROVIDERS)} resources: each refused at check, naming the property "
          "and the way out; the host unchanged")


def test_the_valid_bases_pass(server) -> None:
    """(So that each case above fails for its own spoiling, not for the base.)"""
    for kind, provider in PROVIDERS.items():
        client = Client(server, provider(), kind)
        assert client.check(client.props(**BASE[kind])).failures == [], kind
