"""xml/: pool, volume, secret and domain-disk XML against libvirt 9.0's RelaxNG schemas, the
pool XML round trip, golden files, and a few definitions through libvirt's test:///default driver."""

from __future__ import annotations

import os
import pathlib
import uuid as uuidlib
from typing import Any

import libvirt
import pytest
from lxml import etree

from pulumi_libvirt_storage_provider.spec.pool import check_pool
from pulumi_libvirt_storage_provider.spec.pooltypes import FORBIDDEN, POOL_TYPES, PoolType
from pulumi_libvirt_storage_provider.spec.secret import check_secret
from pulumi_libvirt_storage_provider.spec.volume import check_volume
from pulumi_libvirt_storage_provider.xml.disk import disk_source, disk_xml
from pulumi_libvirt_storage_provider.xml.pool import FS_NS, RBD_NS, parse_pool, pool_xml
from pulumi_libvirt_storage_provider.xml.schema import schema_errors
from pulumi_libvirt_storage_provider.xml.secret import parse_secret, secret_xml
from pulumi_libvirt_storage_provider.xml.volume import parse_volume, volume_xml

from .specs import (CEPH_KEY, INITIATOR_IQN, MINIMAL_POOLS, ROUND_TRIP_POOLS, SECRET_UUID, TARGET_IQN, XML_FIELDS,
                    minimal_pool)

GOLDEN = pathlib.Path(__file__).parent / "golden"
SCHEMA_DIR = pathlib.Path("/usr/share/libvirt/schemas")

pytestmark = pytest.mark.skipif(not (SCHEMA_DIR / "storagepool.rng").exists(),
                                reason="libvirt's RelaxNG schemas are not installed")


def xml_fields(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: spec[k] for k in XML_FIELDS if spec.get(k) is not None}


def round_trip_spec(key: str) -> dict[str, Any]:
    return check_pool({"name": f"rt-{key}", **ROUND_TRIP_POOLS[key]})


# -- pool XML against storagepool.rng -----------------------------------------------------------

@pytest.mark.parametrize("pool_type", sorted(MINIMAL_POOLS))
def test_minimal_pool_of_each_type_validates_against_storagepool_rng(pool_type):
    # sheepdog included: libvirt 9.0 dropped the backend (8.8) but its storagepool.rng still has it.
    assert schema_errors(pool_xml(check_pool(minimal_pool(pool_type))), "storagepool") == []


@pytest.mark.parametrize("pool_type, raw_changes, path", [
    ("logical", {}, "/dev/vg0"),
    ("logical", {"source": {}}, "/dev/t-logical"),  # libvirt's volume group defaults to the pool name
    ("disk", {}, "/dev"),
    ("iscsi", {}, "/dev/disk/by-path"),
    ("scsi", {}, "/dev/disk/by-path"),
    ("mpath", {}, "/dev/mapper"),
])
def test_default_target_path_is_written_where_the_schema_wants_a_target(pool_type, raw_changes, path):
    root = etree.fromstring(pool_xml(check_pool(minimal_pool(pool_type, **raw_changes))).encode())
    assert root.findtext("target/path") == path


@pytest.mark.parametrize("pool_type", ["iscsi-direct", "rbd", "gluster", "zfs", "sheepdog"])
def test_network_and_zfs_pools_have_no_target(pool_type):
    root = etree.fromstring(pool_xml(check_pool(minimal_pool(pool_type))).encode())
    assert root.find("target") is None


def test_bad_pool_xml_is_reported_by_schema_errors():
    errors = schema_errors('<pool type="dir"><name>x</name><target><path>relative</path></target></pool>',
                           "storagepool")
    assert errors and all(e.startswith("line ") for e in errors)
    assert schema_errors("<pool/>", "no-such-schema") is None


# -- round trip ---------------------------------------------------------------------------------

@pytest.mark.parametrize("key", sorted(ROUND_TRIP_POOLS))
def test_pool_xml_round_trips_through_parse_pool(key):
    spec = round_trip_spec(key)
    xml = pool_xml(spec)
    assert schema_errors(xml, "storagepool") == []
    assert parse_pool(xml) == xml_fields(spec)


def _everything_the_type_allows(pool_type: str) -> dict[str, Any]:
    """The minimal spec plus every optional part POOL_TYPES allows for the type, at its maximum count."""
    t = POOL_TYPES[PoolType(pool_type)]
    raw = minimal_pool(pool_type, cow=True)
    source = raw.setdefault("source", {})
    if t.hosts is not FORBIDDEN:
        source["hosts"] = [{"name": f"host{i}.example.org", "port": 1000 + i} for i in range(t.max_hosts)]
    if t.devices is not FORBIDDEN:
        path = TARGET_IQN if pool_type.startswith("iscsi") else "/dev/sdx"
        source["devices"] = [{"path": path} for _ in range(t.max_devices)]
    if t.source_name is not FORBIDDEN:
        source["name"] = "name1"
    if t.source_dir is not FORBIDDEN:
        source["dir"] = "/dir1"
    if t.initiator is not FORBIDDEN:
        source["initiator_iqn"] = INITIATOR_IQN
    if t.vendor_product:
        source["vendor"], source["product"] = "ACME", "Disk"
    if t.auth_types:
        source["auth"] = {"type": t.auth_types[0], "username": "user", "secret_uuid": SECRET_UUID}
    if t.formats:
        source["format"] = t.formats[0]
    if t.protocol_version:
        source["protocol_version"] = "4"
    if t.target_path is not FORBIDDEN:
        raw["target"] = {"path": "/srv/target", "permissions": {"mode": "0700", "owner": 1, "group": 1,
                                                                "label": "l"}}
    if t.mount_options:
        raw["mount_options"] = ["ro"]
    if t.rbd_options:
        raw["rbd_config_options"], raw["rbd_refresh_volume_allocation"] = {"a": "b"}, "default"
    return raw


@pytest.mark.parametrize("pool_type", [
    pytest.param(t)
    if t == "zfs" else t for t in sorted(MINIMAL_POOLS)])
def test_everything_pool_types_allows_for_a_type_validates_against_storagepool_rng(pool_type):
    spec = check_pool(_everything_the_type_allows(pool_type))
    assert schema_errors(pool_xml(spec), "storagepool") == []


def test_fs_mount_options_are_written_in_libvirts_fs_namespace_in_order():
    root = etree.fromstring(pool_xml(round_trip_spec("fs-mount-options")).encode())
    assert FS_NS == "http://libvirt.org/schemas/storagepool/fs/1.0"
    assert root.nsmap == {"fs": FS_NS}
    options = root.findall(f"{{{FS_NS}}}mount_opts/{{{FS_NS}}}option")
    assert [o.get("name") for o in options] == ["noatime", "nodev", "context=system_u:object_r:nfs_t:s0"]


def test_rbd_config_options_are_written_in_libvirts_rbd_namespace():
    root = etree.fromstring(pool_xml(round_trip_spec("rbd-auth-config")).encode())
    assert RBD_NS == "http://libvirt.org/schemas/storagepool/rbd/1.0"
    options = root.findall(f"{{{RBD_NS}}}config_opts/{{{RBD_NS}}}option")
    assert {o.get("name"): o.get("value") for o in options} == {"client_mount_timeout": "30",
                                                                "rados_osd_op_timeout": "10"}
    assert root.find("source/auth").attrib == {"type": "ceph", "username": "libvirt"}
    assert root.find("source/auth/secret").attrib == {"uuid": SECRET_UUID}


def test_scsi_host_parent_address_is_written_as_pci_hex():
    root = etree.fromstring(pool_xml(round_trip_spec("scsi-host-parent-address")).encode())
    assert root.find("source/adapter/parentaddr").get("unique_id") == "2"
    assert root.find("source/adapter/parentaddr/address").attrib == {"domain": "0x0000", "bus": "0x00",
                                                                     "slot": "0x1f", "function": "0x2"}


def test_fc_host_adapter_writes_wwns_as_written_and_managed():
    adapter = etree.fromstring(pool_xml(round_trip_spec("scsi-fc-host")).encode()).find("source/adapter")
    assert adapter.get("wwnn") == "0x20000000C9831B4B" and adapter.get("managed") == "yes"
    assert adapter.get("parent") == "scsi_host3" and adapter.get("parent_fabric_wwn") == "2001000dec9877c1"


def test_disk_part_separator_is_yes_or_no():
    for key, value in (("disk-part-separator", "yes"), ("disk-no-part-separator", "no")):
        device = etree.fromstring(pool_xml(round_trip_spec(key)).encode()).find("source/device")
        assert device.get("part_separator") == value


def test_existing_uuid_is_kept_when_redefining():
    root = etree.fromstring(pool_xml(check_pool(minimal_pool("dir")), uuid=SECRET_UUID).encode())
    assert root.findtext("uuid") == SECRET_UUID


def test_parse_pool_reads_libvirts_sizes_in_bytes_and_the_uuid():
    observed = parse_pool(f"""<pool type='dir'><name>p</name><uuid>{SECRET_UUID}</uuid>
      <capacity unit='bytes'>107374182400</capacity><allocation unit='KiB'>2</allocation>
      <available unit='GiB'>3</available><source></source>
      <target><path>/srv/p</path><permissions><mode>770</mode><owner>-1</owner></permissions></target></pool>""")
    assert observed == {"type": "dir", "name": "p", "uuid": SECRET_UUID, "capacity": 107374182400,
                        "allocation": 2048, "available": 3 * 1024**3,
                        "target": {"path": "/srv/p", "permissions": {"mode": "0770", "owner": -1}}}


# -- golden files -------------------------------------------------------------------------------

GOLDEN_POOLS = {
    "pool-dir.xml": {"name": "images", "type": "dir",
                     "target": {"path": "/var/lib/libvirt/images/", "permissions": {"mode": "711", "owner": 0,
                                                                                    "group": 0}}},
    "pool-fs-mount-options.xml": {"name": "scratch", "type": "fs", "mount_options": ["noatime", "nodev"],
                                  "target": {"path": "/mnt/scratch"},
                                  "source": {"devices": [{"path": "/dev/vdb1"}], "format": "ext4"}},
    "pool-rbd-auth-config.xml": {
        "name": "ceph-images", "type": "rbd",
        "rbd_config_options": {"rados_osd_op_timeout": "10", "client_mount_timeout": "30"},
        "source": {"hosts": [{"name": "mon1.example.org", "port": 6789}, {"name": "mon2.example.org"}],
                   "name": "libvirt-pool",
                   "auth": {"type": "ceph", "username": "libvirt", "secret_uuid": SECRET_UUID}}},
    "pool-iscsi-direct-chap.xml": {
        "name": "san", "type": "iscsi-direct",
        "source": {"hosts": [{"name": "192.0.2.10", "port": 3260}], "devices": [{"path": TARGET_IQN}],
                   "initiator_iqn": INITIATOR_IQN,
                   "auth": {"type": "chap", "username": "iscsi-user", "secret_usage": "libvirt-iscsi"}}},
}


@pytest.mark.parametrize("filename", sorted(GOLDEN_POOLS))
def test_pool_xml_matches_golden_file(filename):
    xml = pool_xml(check_pool(GOLDEN_POOLS[filename]))
    path = GOLDEN / filename
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(xml)
    assert xml == path.read_text()
    assert schema_errors(path.read_text(), "storagepool") == []


# -- libvirt's test:///default driver -----------------------------------------------------------

@pytest.fixture(scope="module")
def test_driver() -> libvirt.virConnect:
    connection = libvirt.open("test:///default")
    yield connection
    connection.close()


def _defined_back(connection: libvirt.virConnect, spec: dict[str, Any]) -> dict[str, Any]:
    spec = {**spec, "name": f"unit-{uuidlib.uuid4().hex[:8]}"}
    pool = connection.storagePoolDefineXML(pool_xml(spec), 0)
    try:
        return parse_pool(pool.XMLDesc(0))
    finally:
        pool.undefine()


def _set_by_user(stored: Any, live: Any) -> Any:
    """`live` cut down to what `stored` sets."""
    if isinstance(stored, dict) and isinstance(live, dict):
        return {k: _set_by_user(v, live.get(k)) for k, v in stored.items()}
    if isinstance(stored, list) and isinstance(live, list) and len(stored) == len(live):
        return [_set_by_user(s, v) for s, v in zip(stored, live)]
    return live


@pytest.mark.parametrize("pool_type", sorted(MINIMAL_POOLS))
def test_libvirt_test_driver_defines_the_minimal_pool_of_each_type(test_driver, pool_type):
    spec = check_pool(minimal_pool(pool_type))
    observed = _defined_back(test_driver, spec)
    assert observed["type"] == pool_type
    want = {k: v for k, v in xml_fields(spec).items() if k != "name"}
    assert _set_by_user(want, observed) == want


@pytest.mark.parametrize("filename", sorted(GOLDEN_POOLS))
def test_libvirt_test_driver_keeps_every_golden_field_except_namespaced_options(test_driver, filename):
    spec = check_pool(GOLDEN_POOLS[filename])
    observed = _defined_back(test_driver, spec)
    # The test driver drops fs:mount_opts and rbd:config_opts (no namespace handlers there).
    want = {k: v for k, v in xml_fields(spec).items() if k not in ("name", "mount_options", "rbd_config_options")}
    assert _set_by_user(want, observed) == want


# -- volume XML ---------------------------------------------------------------------------------

QCOW2_VOLUME = {"pool": "images", "name": "vm1.qcow2", "capacity": "10GiB", "allocation": "1GiB", "format": "qcow2",
                "qcow2": {"compat": "1.1", "lazy_refcounts": True, "cluster_size": "64KiB", "nocow": True},
                "permissions": {"mode": "640", "owner": 107, "group": 107, "label": "system_u:object_r:svirt_t:s0"},
                "backing_store": {"path": "/var/lib/libvirt/images/base.qcow2", "format": "qcow2"}}


def test_qcow2_volume_with_every_option_validates_and_round_trips():
    spec = check_volume(QCOW2_VOLUME)
    xml = volume_xml(spec, spec["name"], spec["capacity"], spec["format"])
    assert schema_errors(xml, "storagevol") == []
    assert parse_volume(xml) == {
        "name": "vm1.qcow2", "capacity": 10 * 1024**3, "allocation": 1024**3, "format": "qcow2",
        "permissions": {"mode": "0640", "owner": 107, "group": 107, "label": "system_u:object_r:svirt_t:s0"},
        "backing_store": {"path": "/var/lib/libvirt/images/base.qcow2", "format": "qcow2"},
        "qcow2": {"compat": "1.1", "lazy_refcounts": True, "cluster_size": 65536, "nocow": True}}


def test_qcow2_options_are_written_where_libvirt_reads_them():
    spec = check_volume(QCOW2_VOLUME)
    target = etree.fromstring(volume_xml(spec, "v", spec["capacity"], "qcow2").encode()).find("target")
    assert target.findtext("compat") == "1.1"
    assert target.find("clusterSize").text == "65536" and target.find("clusterSize").get("unit") == "B"
    assert target.find("features/lazy_refcounts") is not None and target.find("nocow") is not None


@pytest.mark.parametrize("fmt", ["raw", None])
def test_raw_volume_is_sparse_and_validates(fmt):
    spec = check_volume({"pool": "images", "name": "d.img", "capacity": "1GiB"})
    xml = volume_xml(spec, "d.img", spec["capacity"], fmt)
    assert schema_errors(xml, "storagevol") == []
    root = etree.fromstring(xml.encode())
    assert root.find("capacity").attrib == {"unit": "bytes"} and root.findtext("capacity") == str(1024**3)
    assert root.findtext("allocation") == "0"
    assert parse_volume(xml)["capacity"] == 1024**3


def test_block_volume_without_allocation_leaves_allocation_to_libvirt():
    # On LVM an allocation below capacity would ask for a thin snapshot volume.
    spec = check_volume({"pool": "vg0", "name": "lv0", "capacity": "1GiB"})
    xml = volume_xml(spec, "lv0", spec["capacity"], "raw", sparse=False)
    assert etree.fromstring(xml.encode()).find("allocation") is None
    assert schema_errors(xml, "storagevol") == []
    spec = check_volume({"pool": "vg0", "name": "lv0", "capacity": "1GiB", "allocation": "1GiB"})
    root = etree.fromstring(volume_xml(spec, "lv0", spec["capacity"], "raw", sparse=False).encode())
    assert root.findtext("allocation") == str(1024**3)


def test_parse_volume_reads_libvirts_volume_desc():
    observed = parse_volume("""<volume type='file'><name>v</name><key>/srv/p/v</key>
      <capacity unit='bytes'>1073741824</capacity><allocation unit='bytes'>200704</allocation>
      <physical unit='bytes'>196608</physical>
      <target><path>/srv/p/v</path><format type='qcow2'/><permissions><mode>0600</mode><owner>0</owner>
      <group>0</group></permissions><compat>1.1</compat><clusterSize unit='B'>65536</clusterSize>
      <features/></target></volume>""")
    assert observed == {"name": "v", "key": "/srv/p/v", "type": "file", "capacity": 1073741824,
                        "allocation": 200704, "physical": 196608, "path": "/srv/p/v", "format": "qcow2",
                        "permissions": {"mode": "0600", "owner": 0, "group": 0},
                        "qcow2": {"compat": "1.1", "cluster_size": 65536}}


# -- secret XML ---------------------------------------------------------------------------------

@pytest.mark.parametrize("private, ephemeral", [(True, False), (False, True)])
def test_secret_xml_validates_round_trips_and_never_holds_the_value(private, ephemeral):
    spec = check_secret({"usage_name": "client.libvirt secret", "value": CEPH_KEY, "description": "cephx key",
                         "private": private, "ephemeral": ephemeral})
    xml = secret_xml(spec, SECRET_UUID)
    assert schema_errors(xml, "secret") == []
    assert CEPH_KEY not in xml and CEPH_KEY.rstrip("=") not in xml
    root = etree.fromstring(xml.encode())
    assert root.find("value") is None and root.find("usage").get("type") == "ceph"
    assert parse_secret(xml) == {"uuid": SECRET_UUID, "description": "cephx key", "private": private,
                                 "ephemeral": ephemeral, "usage_type": "ceph", "usage_name": "client.libvirt secret"}


# -- domain <disk> ------------------------------------------------------------------------------

def _domain(disk: str) -> str:
    return ("<domain type='kvm'><name>unit</name><memory>1048576</memory>"
            f"<os><type arch='x86_64'>hvm</type></os><devices>{disk}</devices></domain>")


def _disk_for(raw_pool: dict[str, Any], volume: dict[str, Any]) -> tuple[dict[str, Any], etree._Element]:
    observed = parse_pool(pool_xml(check_pool(raw_pool)))
    disk = disk_source(observed, volume)
    xml = disk_xml(disk)
    assert schema_errors(_domain(xml), "domain") == []
    return disk, etree.fromstring(xml.encode())


def test_file_volume_disk_validates_as_a_domain_disk():
    disk, root = _disk_for(minimal_pool("dir"), {"name": "a.qcow2", "type": "file", "format": "qcow2",
                                                 "path": "/var/lib/libvirt/t-dir/a.qcow2"})
    assert disk == {"type": "file", "driver_type": "qcow2", "file": "/var/lib/libvirt/t-dir/a.qcow2"}
    assert root.get("type") == "file" and root.find("driver").attrib == {"name": "qemu", "type": "qcow2"}
    assert root.find("target").attrib == {"dev": "vda", "bus": "virtio"}


@pytest.mark.parametrize("pool_type, volume", [
    ("logical", {"name": "lv0", "type": "block", "format": "raw", "path": "/dev/vg0/lv0"}),
    ("disk", {"name": "sdc1", "type": "block", "format": "linux", "path": "/dev/sdc1"}),
    ("iscsi", {"name": "unit:0:0:1", "type": "block", "path": "/dev/disk/by-path/ip-x-lun-1"}),
])
def test_block_volume_disk_validates_and_opens_partitions_raw(pool_type, volume):
    disk, root = _disk_for(minimal_pool(pool_type), volume)
    assert disk == {"type": "block", "driver_type": "raw", "dev": volume["path"]}
    assert root.find("source").attrib == {"dev": volume["path"]}


def test_rbd_volume_disk_carries_monitors_and_ceph_auth():
    raw = minimal_pool("rbd")
    raw["source"]["hosts"] = [{"name": "mon1", "port": 6789}, {"name": "mon2"}]
    raw["source"]["auth"] = {"type": "ceph", "username": "libvirt", "secret_uuid": SECRET_UUID}
    disk, root = _disk_for(raw, {"name": "vm1", "type": "network", "format": "raw", "path": "rbd-images/vm1"})
    assert root.get("type") == "network"
    assert root.find("source").attrib == {"protocol": "rbd", "name": "rbd-images/vm1"}
    assert [h.attrib for h in root.findall("source/host")] == [{"name": "mon1", "port": "6789"}, {"name": "mon2"}]
    assert root.find("auth").get("username") == "libvirt"
    assert root.find("auth/secret").attrib == {"type": "ceph", "uuid": SECRET_UUID}


def test_gluster_volume_disk_names_volume_dir_and_file():
    raw = minimal_pool("gluster")
    raw["source"]["dir"] = "/vms/"
    _, root = _disk_for(raw, {"name": "vm1.img", "type": "network", "format": "raw"})
    assert root.find("source").attrib == {"protocol": "gluster", "name": "gv0/vms/vm1.img"}
    assert [h.get("name") for h in root.findall("source/host")] == ["gluster1.example.org"]


def test_iscsi_direct_volume_disk_names_target_and_lun_with_initiator_and_chap():
    raw = minimal_pool("iscsi-direct")
    raw["source"]["hosts"] = [{"name": "192.0.2.10", "port": 3260}]
    raw["source"]["auth"] = {"type": "chap", "username": "iscsi-user", "secret_usage": "libvirt-iscsi"}
    _, root = _disk_for(raw, {"name": "unit:0:0:3", "type": "network"})
    assert root.find("source").attrib == {"protocol": "iscsi", "name": f"{TARGET_IQN}/3"}
    assert root.find("source/initiator/iqn").get("name") == INITIATOR_IQN
    assert root.find("auth/secret").attrib == {"type": "iscsi", "usage": "libvirt-iscsi"}
    assert root.find("source/host").attrib == {"name": "192.0.2.10", "port": "3260"}
