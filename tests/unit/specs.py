"""Shared test data of the unit tier: a minimal valid spec per pool type, the rich specs the XML
round-trip tests use (and the coverage guard reads), and small helpers to look at failures.

The tables here are written by hand from libvirt 9.0 (storagepool.rng and the storage backends),
not derived from spec/pooltypes.py, so that the tests check the product's table instead of
repeating it."""

from __future__ import annotations

import copy
from typing import Any, Callable

import pytest

from pulumi_libvirt_storage_provider.spec.fields import Failures

TARGET_IQN = "iqn.2024-01.org.example:target1"
INITIATOR_IQN = "iqn.2024-01.org.example:initiator1"
SECRET_UUID = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f"
# Two well-formed cephx keys (16 bytes of header + key, base64, as `ceph auth get-key` prints).
CEPH_KEY = "AQBzd2ZkAAAAABAA1ZzqJfB4tI7w9pB0ZoUKxA=="
OTHER_CEPH_KEY = "AQCj2YpRiAe6CxAA7/ETt7Hcl9IyxyYciVs47w=="

# The smallest spec check_pool accepts, per pool type.
MINIMAL_POOLS: dict[str, dict[str, Any]] = {
    "dir": {"target": {"path": "/var/lib/libvirt/t-dir"}},
    "fs": {"target": {"path": "/mnt/t-fs"}, "source": {"devices": [{"path": "/dev/sdb1"}]}},
    "netfs": {"target": {"path": "/mnt/t-netfs"},
              "source": {"hosts": [{"name": "nfs.example.org"}], "dir": "/export/images"}},
    "logical": {"source": {"name": "vg0"}},
    "disk": {"source": {"devices": [{"path": "/dev/sdc"}]}},
    "iscsi": {"source": {"hosts": [{"name": "portal.example.org"}], "devices": [{"path": TARGET_IQN}]}},
    "iscsi-direct": {"source": {"hosts": [{"name": "portal.example.org"}], "devices": [{"path": TARGET_IQN}],
                                "initiator_iqn": INITIATOR_IQN}},
    "scsi": {"source": {"adapter": {"type": "scsi_host", "name": "host0"}}},
    "mpath": {},
    "rbd": {"source": {"hosts": [{"name": "mon1.example.org"}], "name": "rbd-images"}},
    "gluster": {"source": {"hosts": [{"name": "gluster1.example.org"}], "name": "gv0"}},
    "zfs": {"source": {"name": "tank"}},
    "vstorage": {"target": {"path": "/mnt/vstorage"}, "source": {"name": "cluster1"}},
    "sheepdog": {"source": {"hosts": [{"name": "sheep1.example.org"}], "name": "sheep-images"}},
}

# What each type cannot do without (libvirt 9.0), and a word the failure's reason must contain.
REQUIRED_BY_TYPE: dict[str, dict[str, str]] = {
    "dir": {"target.path": "absolute path"},
    "fs": {"target.path": "absolute path", "source.devices": "path"},
    "netfs": {"target.path": "absolute path", "source.hosts": "name", "source.dir": "directory"},
    "logical": {},  # libvirt takes the pool name as the volume group name
    "disk": {"source.devices": "path"},
    "iscsi": {"source.hosts": "name", "source.devices": "IQN"},
    "iscsi-direct": {"source.hosts": "name", "source.devices": "IQN", "source.initiator_iqn": "IQN"},
    "scsi": {"source.adapter": "scsi_host"},
    "mpath": {},
    "rbd": {"source.hosts": "name", "source.name": "name"},
    "gluster": {"source.hosts": "name", "source.name": "name"},
    "zfs": {"source.name": "name"},
    "vstorage": {"target.path": "absolute path", "source.name": "name"},
    "sheepdog": {"source.hosts": "name", "source.name": "name"},
}

# A value for each property that some pool types refuse.
FORBIDDEN_SAMPLES: dict[str, Any] = {
    "target.path": "/srv/somewhere",
    "target.permissions": {"mode": "0700"},
    "source.hosts": [{"name": "host.example.org"}],
    "source.devices": [{"path": "/dev/sdz"}],
    "source.dir": "/export",
    "source.name": "something",
    "source.adapter": {"type": "scsi_host", "name": "host9"},
    "source.initiator_iqn": INITIATOR_IQN,
    "source.auth": {"type": "chap", "username": "u", "secret_usage": "some-secret"},
    "source.format": "auto",
    "source.vendor": "ACME",
    "mount_options": ["noatime"],
    "rbd_config_options": {"client_mount_timeout": "30"},
    "rbd_refresh_volume_allocation": "capacity",
}
_NOT_RBD = {"rbd_config_options", "rbd_refresh_volume_allocation"}
_NO_MOUNT = {"mount_options"}
FORBIDDEN_BY_TYPE: dict[str, set[str]] = {
    "dir": {"source.hosts", "source.devices", "source.dir", "source.name", "source.adapter", "source.initiator_iqn",
            "source.auth", "source.format"} | _NO_MOUNT | _NOT_RBD,
    "fs": {"source.hosts", "source.dir", "source.name", "source.adapter", "source.initiator_iqn",
           "source.auth"} | _NOT_RBD,
    "netfs": {"source.devices", "source.name", "source.adapter", "source.initiator_iqn", "source.auth"} | _NOT_RBD,
    "logical": {"source.hosts", "source.dir", "source.adapter", "source.initiator_iqn",
                "source.auth"} | _NO_MOUNT | _NOT_RBD,
    "disk": {"source.hosts", "source.dir", "source.name", "source.adapter", "source.initiator_iqn",
             "source.auth"} | _NO_MOUNT | _NOT_RBD,
    "iscsi": {"source.dir", "source.name", "source.adapter", "source.format"} | _NO_MOUNT | _NOT_RBD,
    "iscsi-direct": {"target.path", "target.permissions", "source.dir", "source.name", "source.adapter",
                     "source.format", "source.vendor"} | _NO_MOUNT | _NOT_RBD,
    "scsi": {"source.hosts", "source.devices", "source.dir", "source.name", "source.initiator_iqn",
             "source.auth", "source.format"} | _NO_MOUNT | _NOT_RBD,
    "mpath": {"source.hosts", "source.devices", "source.dir", "source.name", "source.adapter",
              "source.initiator_iqn", "source.auth", "source.format", "source.vendor"} | _NO_MOUNT | _NOT_RBD,
    "rbd": {"target.path", "target.permissions", "source.devices", "source.dir", "source.adapter",
            "source.initiator_iqn", "source.format", "source.vendor"} | _NO_MOUNT,
    "gluster": {"target.path", "target.permissions", "source.devices", "source.adapter", "source.initiator_iqn",
                "source.auth", "source.format", "source.vendor"} | _NO_MOUNT | _NOT_RBD,
    "zfs": {"source.hosts", "source.dir", "source.adapter",
            "source.initiator_iqn", "source.auth", "source.format", "source.vendor"} | _NO_MOUNT | _NOT_RBD,
    "vstorage": {"source.hosts", "source.devices", "source.dir", "source.adapter", "source.initiator_iqn",
                 "source.auth", "source.format", "source.vendor"} | _NO_MOUNT | _NOT_RBD,
    "sheepdog": {"target.path", "target.permissions", "source.devices", "source.dir", "source.adapter",
                 "source.initiator_iqn", "source.auth", "source.format", "source.vendor"} | _NO_MOUNT | _NOT_RBD,
}

NOT_BUILDABLE = ("iscsi", "iscsi-direct", "scsi", "mpath", "rbd", "gluster", "sheepdog")

# Rich specs for the XML round trip: between them they set every XML-mapped pool field
# (test_coverage_guard.py holds them to that).
ROUND_TRIP_POOLS: dict[str, dict[str, Any]] = {
    "dir-cow-permissions": {
        "type": "dir", "cow": True, "uuid": "7D6F5C2A-91B0-4E8A-A3C1-0B9E8D7C6F5A",
        "target": {"path": "/var/lib/libvirt/rt-dir/", "permissions": {
            "mode": "711", "owner": 107.0, "group": 0, "label": "system_u:object_r:virt_image_t:s0"}}},
    "fs-mount-options": {
        "type": "fs", "cow": False, "mount_options": ["noatime", "nodev", "context=system_u:object_r:nfs_t:s0"],
        "target": {"path": "/mnt/rt-fs", "permissions": {"mode": "0755"}},
        "source": {"devices": [{"path": "/dev/sdb1"}], "format": "xfs", "vendor": "ACME", "product": "FastDisk"}},
    "netfs-nfs": {
        "type": "netfs", "mount_options": ["vers=4.2", "soft"],
        "target": {"path": "/mnt/rt-netfs"},
        "source": {"hosts": [{"name": "nfs.example.org", "port": 2049.0}], "dir": "/export/images",
                   "format": "nfs", "protocol_version": "4"}},
    "netfs-cifs": {
        "type": "netfs", "target": {"path": "/mnt/rt-cifs"},
        "source": {"hosts": [{"name": "smb.example.org"}], "dir": "images", "format": "cifs"}},
    "logical-two-pvs": {
        "type": "logical", "target": {"path": "/dev/vg-rt"},
        "source": {"name": "vg-rt", "devices": [{"path": "/dev/sdd"}, {"path": "/dev/sde"}], "format": "lvm2"}},
    "disk-part-separator": {
        "type": "disk", "target": {"path": "/dev"},
        "source": {"devices": [{"path": "/dev/nvme1n1", "part_separator": True}], "format": "gpt"}},
    "disk-no-part-separator": {
        "type": "disk", "target": {"path": "/dev"},
        "source": {"devices": [{"path": "/dev/sdc", "part_separator": False}], "format": "dos"}},
    "iscsi-chap-uuid": {
        "type": "iscsi", "target": {"path": "/dev/disk/by-path"},
        "source": {"hosts": [{"name": "portal.example.org", "port": 3260}], "devices": [{"path": TARGET_IQN}],
                   "initiator_iqn": INITIATOR_IQN,
                   "auth": {"type": "chap", "username": "iscsi-user", "secret_uuid": SECRET_UUID}}},
    "iscsi-direct-chap-usage": {
        "type": "iscsi-direct",
        "source": {"hosts": [{"name": "192.0.2.10", "port": 3260}], "devices": [{"path": TARGET_IQN}],
                   "initiator_iqn": INITIATOR_IQN,
                   "auth": {"type": "chap", "username": "iscsi-user", "secret_usage": "libvirt-iscsi"}}},
    "scsi-host-name": {
        "type": "scsi", "target": {"path": "/dev/disk/by-path"},
        "source": {"adapter": {"type": "scsi_host", "name": "host2"}}},
    "scsi-host-parent-address": {
        "type": "scsi", "target": {"path": "/dev/disk/by-path"},
        "source": {"adapter": {"type": "scsi_host", "parent_address": {
            "unique_id": 2, "domain": 0, "bus": 0, "slot": 31, "function": 2}}}},
    "scsi-fc-host": {
        "type": "scsi", "target": {"path": "/dev/disk/by-path"},
        "source": {"adapter": {"type": "fc_host", "parent": "scsi_host3", "managed": True,
                               "wwnn": "0x20000000C9831B4B", "wwpn": "10000000c9831b4b",
                               "parent_wwnn": "20000000c9831b4a", "parent_wwpn": "10000000c9831b4a",
                               "parent_fabric_wwn": "2001000dec9877c1"}}},
    "mpath": {"type": "mpath", "target": {"path": "/dev/mapper"}},
    "rbd-auth-config": {
        "type": "rbd", "rbd_config_options": {"client_mount_timeout": "30", "rados_osd_op_timeout": "10"},
        "rbd_refresh_volume_allocation": "capacity",
        "source": {"hosts": [{"name": "mon1.example.org", "port": 6789}, {"name": "mon2.example.org", "port": 3300},
                             {"name": "192.0.2.3"}],
                   "name": "rbd-images",
                   "auth": {"type": "ceph", "username": "libvirt", "secret_uuid": SECRET_UUID.upper()}}},
    "gluster-subdir": {
        "type": "gluster", "source": {"hosts": [{"name": "gluster1.example.org", "port": 24007}], "name": "gv0",
                                      "dir": "/vms"}},
    # libvirt writes the default target /dev/zvol/<name> into a zfs pool's XML
    "zfs-device": {"type": "zfs", "target": {"path": "/dev/zvol/tank"},
                   "source": {"name": "tank", "devices": [{"path": "/dev/sdf"}]}},
    "vstorage": {"type": "vstorage", "target": {"path": "/mnt/vstorage"}, "source": {"name": "cluster1"}},
    "sheepdog": {"type": "sheepdog", "source": {"hosts": [{"name": "sheep1.example.org", "port": 7000}],
                                                "name": "sheep-images"}},
}

# The pool fields libvirt's pool XML carries (what parse_pool gives back).
XML_FIELDS = ("name", "uuid", "type", "target", "source", "cow", "mount_options", "rbd_config_options",
              "rbd_refresh_volume_allocation")


def minimal_pool(pool_type: str, **changes: Any) -> dict[str, Any]:
    raw = {"name": f"t-{pool_type}", "type": pool_type, **copy.deepcopy(MINIMAL_POOLS[pool_type])}
    raw.update(changes)
    return raw


def set_path(raw: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of `raw` with `dotted` (e.g. "source.name") set to `value`."""
    out = copy.deepcopy(raw)
    node = out
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return out


def drop_path(raw: dict[str, Any], dotted: str) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    node = out
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = node[part]
    del node[leaf]
    return out


def failures_of(validate: Callable[[dict[str, Any]], Any], raw: dict[str, Any]) -> list[tuple[str, str]]:
    """[(prop, reason), ...] of the Failures `validate(raw)` raises; fails the test if it accepts."""
    with pytest.raises(Failures) as caught:
        validate(raw)
    return [(f.prop, f.reason) for f in caught.value.failures]


def reason_for(failures: list[tuple[str, str]], prop: str) -> str:
    reasons = [reason for p, reason in failures if p == prop]
    assert reasons, f"no failure names {prop!r}; got {failures}"
    return reasons[0]


def as_wire(value: Any) -> Any:
    """What the engine sends back: every number a float."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {k: as_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_wire(v) for v in value]
    return value
