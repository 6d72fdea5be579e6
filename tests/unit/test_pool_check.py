"""spec/pool.py check_pool: the per-type rules of every pool type in POOL_TYPES, offline."""

from __future__ import annotations

import pytest
from pulumi.output import Unknown
from pulumi.runtime import rpc

from pulumi_libvirt_storage_provider.spec.fields import Failures
from pulumi_libvirt_storage_provider.spec.pool import NAME_MAX, check_pool
from pulumi_libvirt_storage_provider.spec.pooltypes import POOL_TYPE_NAMES, POOL_TYPES

from .specs import (FORBIDDEN_BY_TYPE, FORBIDDEN_SAMPLES, MINIMAL_POOLS, NOT_BUILDABLE, REQUIRED_BY_TYPE,
                    SECRET_UUID, drop_path, failures_of, minimal_pool, reason_for, set_path)

ALL_TYPES = sorted(t.value for t in POOL_TYPES)


def test_tables_of_this_tier_cover_every_pool_type():
    assert set(MINIMAL_POOLS) == set(REQUIRED_BY_TYPE) == set(FORBIDDEN_BY_TYPE) == set(POOL_TYPE_NAMES)
    assert set(POOL_TYPE_NAMES) == {"dir", "fs", "netfs", "logical", "disk", "iscsi", "iscsi-direct", "scsi",
                                    "mpath", "rbd", "gluster", "zfs", "vstorage", "sheepdog"}


# -- minimal specs ------------------------------------------------------------------------------

@pytest.mark.parametrize("pool_type", ALL_TYPES)
def test_minimal_spec_of_each_pool_type_is_accepted(pool_type):
    spec = check_pool(minimal_pool(pool_type))
    assert spec["type"] == pool_type and spec["name"] == f"t-{pool_type}"
    assert spec["start"] is True and spec["autostart"] is True
    assert spec["delete_storage_on_destroy"] is False and spec["adopt"] is False


def test_check_fills_defaults_and_normalises_units():
    spec = check_pool({"name": "p", "type": "dir",
                       "target": {"path": "/srv/p//", "permissions": {"mode": 750, "owner": 107.0, "group": "107"}}})
    assert spec["target"] == {"path": "/srv/p", "permissions": {"mode": "0750", "owner": 107, "group": 107}}
    assert spec["build"] is True and spec["build_mode"] == "normal"


def test_stopped_pool_is_not_autostarted_unless_asked():
    assert check_pool(minimal_pool("dir", start=False))["autostart"] is False
    assert check_pool(minimal_pool("dir", start=False, autostart=True))["autostart"] is True


# -- required and forbidden --------------------------------------------------------------------

REQUIRED_CASES = [(t, prop, word) for t in ALL_TYPES for prop, word in REQUIRED_BY_TYPE[t].items()]


@pytest.mark.parametrize("pool_type, prop, word", REQUIRED_CASES, ids=[f"{t}-{p}" for t, p, _ in REQUIRED_CASES])
def test_missing_required_part_fails_naming_it_and_saying_what_to_give(pool_type, prop, word):
    failures = failures_of(check_pool, drop_path(minimal_pool(pool_type), prop))
    reason = reason_for(failures, prop)
    assert pool_type in reason and "give" in reason and word in reason


@pytest.mark.parametrize("pool_type", ["logical", "mpath"])
def test_pool_types_with_nothing_required_accept_a_bare_spec(pool_type):
    assert check_pool({"name": "bare", "type": pool_type})["type"] == pool_type


FORBIDDEN_CASES = [(t, prop) for t in ALL_TYPES for prop in sorted(FORBIDDEN_BY_TYPE[t])]


@pytest.mark.parametrize("pool_type, prop", FORBIDDEN_CASES, ids=[f"{t}-{p}" for t, p in FORBIDDEN_CASES])
def test_part_that_does_not_apply_to_the_type_fails_naming_it(pool_type, prop):
    raw = set_path(minimal_pool(pool_type), prop, FORBIDDEN_SAMPLES[prop])
    failures = failures_of(check_pool, raw)
    reason_for(failures, prop)


@pytest.mark.parametrize("pool_type, hosts", [("netfs", 2), ("iscsi", 2), ("iscsi-direct", 2), ("gluster", 2),
                                              ("rbd", 17)])
def test_too_many_hosts_fail_naming_source_hosts(pool_type, hosts):
    raw = set_path(minimal_pool(pool_type), "source.hosts", [{"name": f"h{i}"} for i in range(hosts)])
    assert "at most" in reason_for(failures_of(check_pool, raw), "source.hosts")


def test_rbd_pool_takes_several_monitors():
    raw = set_path(minimal_pool("rbd"), "source.hosts", [{"name": f"mon{i}", "port": 6789} for i in range(3)])
    assert len(check_pool(raw)["source"]["hosts"]) == 3


def test_rbd_pool_without_hosts_names_source_hosts():
    failures = failures_of(check_pool, {"name": "r", "type": "rbd", "source": {"name": "images"}})
    assert [p for p, _ in failures] == ["source.hosts"]


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_host_port_outside_tcp_range_fails_naming_the_host_port(port):
    raw = set_path(minimal_pool("rbd"), "source.hosts", [{"name": "mon1", "port": port}])
    assert "1..65535" in reason_for(failures_of(check_pool, raw), "source.hosts[0].port")


@pytest.mark.parametrize("pool_type", ["fs", "disk", "logical", "zfs"])
def test_relative_device_path_fails_naming_the_device(pool_type):
    raw = set_path(minimal_pool(pool_type), "source.devices", [{"path": "sdb"}])
    assert "/dev/sdb" in reason_for(failures_of(check_pool, raw), "source.devices[0].path")


def test_part_separator_applies_to_disk_pools_only():
    raw = set_path(minimal_pool("fs"), "source.devices", [{"path": "/dev/sdb1", "part_separator": True}])
    assert "disk" in reason_for(failures_of(check_pool, raw), "source.devices[0].part_separator")
    raw = set_path(minimal_pool("disk"), "source.devices", [{"path": "/dev/nvme0n1", "part_separator": True}])
    assert check_pool(raw)["source"]["devices"] == [{"path": "/dev/nvme0n1", "part_separator": True}]


def test_nfs_export_must_be_absolute_but_cifs_share_need_not():
    raw = set_path(minimal_pool("netfs"), "source.dir", "export")
    assert "absolute" in reason_for(failures_of(check_pool, raw), "source.dir")
    check_pool(set_path(set_path(minimal_pool("netfs"), "source.dir", "share"), "source.format", "cifs"))


def test_protocol_version_applies_to_nfs_only():
    raw = set_path(minimal_pool("netfs"), "source.protocol_version", "4")
    assert check_pool(raw)["source"]["protocol_version"] == "4"
    raw = set_path(set_path(raw, "source.format", "cifs"), "source.dir", "share")
    assert "nfs" in reason_for(failures_of(check_pool, raw), "source.protocol_version")
    raw = set_path(minimal_pool("dir"), "source.protocol_version", "4")
    reason_for(failures_of(check_pool, raw), "source.protocol_version")


def test_gluster_relative_source_dir_fails_naming_source_dir():
    raw = set_path(minimal_pool("gluster"), "source.dir", "vms")
    reason_for(failures_of(check_pool, raw), "source.dir")


# -- formats ------------------------------------------------------------------------------------

@pytest.mark.parametrize("pool_type, bad, allowed", [
    ("fs", "nfs", ["auto", "ext4", "xfs", "vfat"]),
    ("netfs", "xfs", ["auto", "nfs", "glusterfs", "cifs"]),
    ("disk", "ext4", ["dos", "gpt", "mac", "lvm2"]),
    ("logical", "gpt", ["lvm2"]),
])
def test_bad_source_format_lists_the_formats_of_the_type(pool_type, bad, allowed):
    reason = reason_for(failures_of(check_pool, set_path(minimal_pool(pool_type), "source.format", bad)),
                        "source.format")
    assert repr(bad) in reason
    for fmt in allowed:
        assert fmt in reason


@pytest.mark.parametrize("pool_type, fmt", [("fs", "ext4"), ("fs", "xfs"), ("netfs", "nfs"), ("netfs", "glusterfs"),
                                            ("disk", "gpt"), ("disk", "dos"), ("logical", "lvm2")])
def test_each_type_accepts_its_own_source_formats(pool_type, fmt):
    raw = set_path(minimal_pool(pool_type), "source.format", fmt)
    if fmt == "glusterfs":
        raw = set_path(raw, "source.dir", "gv0")
    assert check_pool(raw)["source"]["format"] == fmt


# -- build --------------------------------------------------------------------------------------

@pytest.mark.parametrize("pool_type", NOT_BUILDABLE)
def test_build_on_a_type_libvirt_cannot_build_fails_naming_build(pool_type):
    reason = reason_for(failures_of(check_pool, minimal_pool(pool_type, build=True)), "build")
    assert "false" in reason
    assert check_pool(minimal_pool(pool_type))["build"] is False


@pytest.mark.parametrize("pool_type, built", [("dir", True), ("fs", True), ("netfs", True), ("vstorage", True),
                                              ("logical", False), ("disk", False), ("zfs", False)])
def test_only_non_destructive_builds_happen_by_default(pool_type, built):
    assert check_pool(minimal_pool(pool_type))["build"] is built


@pytest.mark.parametrize("pool_type, mode", [("dir", "normal"), ("netfs", "normal"), ("fs", "no_overwrite"),
                                             ("disk", "no_overwrite"), ("logical", "no_overwrite")])
def test_default_build_mode_never_overwrites_where_the_type_can_refuse(pool_type, mode):
    assert check_pool(minimal_pool(pool_type))["build_mode"] == mode


@pytest.mark.parametrize("pool_type, mode", [("dir", "overwrite"), ("dir", "no_overwrite"), ("netfs", "overwrite"),
                                             ("zfs", "no_overwrite")])
def test_build_mode_the_type_does_not_accept_fails_naming_build_mode(pool_type, mode):
    reason = reason_for(failures_of(check_pool, minimal_pool(pool_type, build_mode=mode)), "build_mode")
    assert "normal" in reason and repr(mode) in reason


def test_unknown_build_mode_fails_listing_the_modes():
    reason = reason_for(failures_of(check_pool, minimal_pool("fs", build_mode="force")), "build_mode")
    assert "'no_overwrite'" in reason and "'overwrite'" in reason


@pytest.mark.parametrize("pool_type", ["fs", "disk", "logical"])
def test_overwrite_is_accepted_where_libvirt_offers_it(pool_type):
    assert check_pool(minimal_pool(pool_type, build=True, build_mode="overwrite"))["build_mode"] == "overwrite"


# -- auth ---------------------------------------------------------------------------------------

def _auth(auth_type, **secret):
    return {"type": auth_type, "username": "libvirt", **secret}


@pytest.mark.parametrize("pool_type, auth_type", [("rbd", "ceph"), ("iscsi", "chap"), ("iscsi-direct", "chap")])
def test_auth_type_of_the_pool_type_is_accepted(pool_type, auth_type):
    raw = set_path(minimal_pool(pool_type), "source.auth", _auth(auth_type, secret_uuid=SECRET_UUID))
    assert check_pool(raw)["source"]["auth"]["type"] == auth_type


@pytest.mark.parametrize("pool_type, auth_type, wanted", [("rbd", "chap", "ceph"), ("iscsi", "ceph", "chap"),
                                                          ("iscsi-direct", "ceph", "chap")])
def test_wrong_auth_type_for_the_pool_type_fails_naming_auth_type(pool_type, auth_type, wanted):
    raw = set_path(minimal_pool(pool_type), "source.auth", _auth(auth_type, secret_usage="s"))
    assert wanted in reason_for(failures_of(check_pool, raw), "source.auth.type")


def test_auth_type_outside_ceph_and_chap_fails_naming_auth_type():
    raw = set_path(minimal_pool("rbd"), "source.auth", _auth("kerberos", secret_usage="s"))
    reason_for(failures_of(check_pool, raw), "source.auth.type")


@pytest.mark.parametrize("secret", [{}, {"secret_uuid": SECRET_UUID, "secret_usage": "ceph-client"}],
                         ids=["neither", "both"])
def test_auth_needs_exactly_one_of_secret_uuid_and_secret_usage(secret):
    raw = set_path(minimal_pool("rbd"), "source.auth", _auth("ceph", **secret))
    assert "exactly one" in reason_for(failures_of(check_pool, raw), "source.auth")


def test_auth_username_is_required():
    raw = set_path(minimal_pool("rbd"), "source.auth", {"type": "ceph", "secret_usage": "s"})
    assert "required" in reason_for(failures_of(check_pool, raw), "source.auth.username")


def test_auth_secret_uuid_is_validated_and_normalised():
    raw = set_path(minimal_pool("rbd"), "source.auth", _auth("ceph", secret_uuid="not-a-uuid"))
    assert "UUID" in reason_for(failures_of(check_pool, raw), "source.auth.secret_uuid")
    raw = set_path(minimal_pool("rbd"), "source.auth", _auth("ceph", secret_uuid=SECRET_UUID.upper().replace("-", "")))
    assert check_pool(raw)["source"]["auth"]["secret_uuid"] == SECRET_UUID


# -- iSCSI names --------------------------------------------------------------------------------

@pytest.mark.parametrize("iqn", ["iqn.2024-01.org.example:initiator1", "iqn.1994-05.com.redhat:7b5c3b7d9a3",
                                 "iqn.2003-12.net.example.storage"])
def test_valid_initiator_iqn_is_accepted(iqn):
    raw = set_path(minimal_pool("iscsi-direct"), "source.initiator_iqn", iqn)
    assert check_pool(raw)["source"]["initiator_iqn"] == iqn


@pytest.mark.parametrize("iqn", ["initiator1", "iqn.2024-13.org.example:x", "iqn.24-01.org.example"])
def test_initiator_name_is_any_text_as_libvirts_schema_takes_it(iqn):
    # storagecommon.rng: <iqn name=...> is <text/>; hosts named `initiator0` exist in libvirt's own tests.
    raw = set_path(minimal_pool("iscsi-direct"), "source.initiator_iqn", iqn)
    assert check_pool(raw)["source"]["initiator_iqn"] == iqn


@pytest.mark.parametrize("iqn", ["", "iqn.2024-01.org example:x", " "])
def test_initiator_name_that_cannot_be_a_name_fails_with_an_example(iqn):
    raw = set_path(minimal_pool("iscsi-direct"), "source.initiator_iqn", iqn)
    reason = reason_for(failures_of(check_pool, raw), "source.initiator_iqn")
    assert "iqn.2024-01.org.example:target1" in reason


@pytest.mark.parametrize("path", ["/dev/sdb", "demo-target", "iqn.2024-13.org.example:x"])
def test_iscsi_direct_target_must_be_an_iqn(path):
    raw = set_path(minimal_pool("iscsi-direct"), "source.devices", [{"path": path}])
    assert "IQN" in reason_for(failures_of(check_pool, raw), "source.devices[0].path")


@pytest.mark.parametrize("path", ["demo-target", "iqn.2024-01.org.example:t1", "/dev/disk/by-id/x"])
def test_iscsi_target_takes_what_libvirts_schema_takes(path):
    from pulumi_libvirt_storage_provider.xml.schema import schema_errors
    raw = set_path(minimal_pool("iscsi"), "source.devices", [{"path": path}])
    assert check_pool(raw)["source"]["devices"][0]["path"] == path
    xml = (f'<pool type="iscsi"><name>x</name><source><host name="h"/><device path="{path}"/></source>'
           '<target><path>/dev/disk/by-path</path></target></pool>')
    assert not schema_errors(xml, "storagepool")


def test_iscsi_target_with_an_eui_name_is_refused_as_libvirts_schema_refuses_it():
    # RFC 3720 also has eui. names, but libvirt 9.0's storagepool.rng (IscsiQualifiedName) takes iqn. only.
    from pulumi_libvirt_storage_provider.xml.schema import schema_errors
    eui = "eui.02004567A425678D"
    raw = set_path(minimal_pool("iscsi"), "source.devices", [{"path": eui}])
    reason_for(failures_of(check_pool, raw), "source.devices[0].path")
    xml = (f'<pool type="iscsi"><name>x</name><source><host name="h"/><device path="{eui}"/></source>'
           '<target><path>/dev/disk/by-path</path></target></pool>')
    assert schema_errors(xml, "storagepool")


# -- adapters -----------------------------------------------------------------------------------

def test_scsi_host_adapter_takes_name_or_parent_address_not_both():
    both = {"type": "scsi_host", "name": "host0",
            "parent_address": {"unique_id": 1, "bus": 0, "slot": 1, "function": 0}}
    reason_for(failures_of(check_pool, set_path(minimal_pool("scsi"), "source.adapter", both)), "source.adapter")
    reason_for(failures_of(check_pool, set_path(minimal_pool("scsi"), "source.adapter", {"type": "scsi_host"})),
               "source.adapter")


def test_fc_host_adapter_needs_wwnn_and_wwpn_and_keeps_their_spelling():
    raw = set_path(minimal_pool("scsi"), "source.adapter", {"type": "fc_host", "wwnn": "20000000c9831b4b"})
    assert "wwpn" in reason_for(failures_of(check_pool, raw), "source.adapter")
    # libvirt stores a WWN as written (0x prefix and case included) and reads it back so; another
    # spelling here would show as a change on every preview.
    raw = set_path(minimal_pool("scsi"), "source.adapter",
                   {"type": "fc_host", "wwnn": "0x20000000C9831B4B", "wwpn": "10000000C9831B4B"})
    adapter = check_pool(raw)["source"]["adapter"]
    assert adapter["wwnn"] == "0x20000000C9831B4B" and adapter["wwpn"] == "10000000C9831B4B"


def test_malformed_wwn_fails_naming_it():
    raw = set_path(minimal_pool("scsi"), "source.adapter", {"type": "fc_host", "wwnn": "20:00", "wwpn": "1" * 16})
    assert "16 hex digits" in reason_for(failures_of(check_pool, raw), "source.adapter.wwnn")


def test_parent_address_fields_are_required_except_domain():
    raw = set_path(minimal_pool("scsi"), "source.adapter", {"type": "scsi_host", "parent_address": {"unique_id": 1}})
    props = {p for p, _ in failures_of(check_pool, raw)}
    assert {"source.adapter.parent_address.bus", "source.adapter.parent_address.slot",
            "source.adapter.parent_address.function"} <= props
    assert "source.adapter.parent_address.domain" not in props


# -- unknown values during preview --------------------------------------------------------------

UNKNOWNS = [pytest.param(Unknown(), id="output.Unknown"), pytest.param(rpc.UNKNOWN, id="rpc.UNKNOWN")]

UNKNOWN_PLACES = {
    "type": lambda u: {"name": "p", "type": u},
    "name": lambda u: minimal_pool("dir", name=u),
    "target.path": lambda u: set_path(minimal_pool("dir"), "target.path", u),
    "target.permissions.mode": lambda u: set_path(minimal_pool("dir"), "target.permissions", {"mode": u}),
    "source.hosts": lambda u: set_path(minimal_pool("rbd"), "source.hosts", u),
    "source.hosts[0]": lambda u: set_path(minimal_pool("rbd"), "source.hosts", [u]),
    "source.hosts[0].name+port": lambda u: set_path(minimal_pool("rbd"), "source.hosts", [{"name": u, "port": u}]),
    "source.name": lambda u: set_path(minimal_pool("rbd"), "source.name", u),
    "source.auth": lambda u: set_path(minimal_pool("rbd"), "source.auth", u),
    "source.auth.secret_uuid": lambda u: set_path(minimal_pool("rbd"), "source.auth",
                                                  {"type": "ceph", "username": "libvirt", "secret_uuid": u}),
    "source.auth.type": lambda u: set_path(minimal_pool("rbd"), "source.auth",
                                           {"type": u, "username": "libvirt", "secret_usage": "s"}),
    "source.initiator_iqn": lambda u: set_path(minimal_pool("iscsi-direct"), "source.initiator_iqn", u),
    "source.format": lambda u: set_path(minimal_pool("fs"), "source.format", u),
    "source.dir": lambda u: set_path(minimal_pool("netfs"), "source.dir", u),
    "source.adapter": lambda u: set_path(minimal_pool("scsi"), "source.adapter", u),
    "source.adapter.name": lambda u: set_path(minimal_pool("scsi"), "source.adapter", {"type": "scsi_host", "name": u}),
    "mount_options": lambda u: minimal_pool("fs", mount_options=u),
    "mount_options[0]": lambda u: minimal_pool("fs", mount_options=[u]),
    "rbd_config_options.value": lambda u: minimal_pool("rbd", rbd_config_options={"client_mount_timeout": u}),
    "start+autostart": lambda u: minimal_pool("dir", start=u, autostart=u),
    "delete_storage_on_destroy": lambda u: minimal_pool("dir", delete_storage_on_destroy=u),
}


@pytest.mark.parametrize("unknown", UNKNOWNS)
@pytest.mark.parametrize("place", sorted(UNKNOWN_PLACES))
def test_unknown_value_passes_check_unchanged(place, unknown):
    spec = check_pool(UNKNOWN_PLACES[place](unknown))
    assert spec is not None


def test_unknown_source_waits_but_a_forbidden_target_is_still_refused():
    raw = {"name": "r", "type": "rbd", "source": Unknown(), "target": {"path": "/srv/r"}}
    assert [p for p, _ in failures_of(check_pool, raw)] == ["target.path"]


def test_unknown_value_is_kept_as_it_is_in_the_canonical_spec():
    unknown = Unknown()
    spec = check_pool(set_path(minimal_pool("dir"), "target.path", unknown))
    assert spec["target"]["path"] is unknown
    assert check_pool(minimal_pool("rbd", name=rpc.UNKNOWN))["name"] == rpc.UNKNOWN


UNKNOWN_VALUES = [
    pytest.param(lambda u: set_path(minimal_pool("dir"), "target", u), Unknown(), id="target-output.Unknown"),
    pytest.param(lambda u: set_path(minimal_pool("dir"), "target", u), rpc.UNKNOWN, id="target-rpc.UNKNOWN"),
    pytest.param(lambda u: set_path(minimal_pool("rbd"), "source", u), Unknown(), id="source-output.Unknown"),
    pytest.param(lambda u: set_path(minimal_pool("rbd"), "source", u), rpc.UNKNOWN, id="source-rpc.UNKNOWN"),
    pytest.param(lambda u: minimal_pool("rbd", build=u), Unknown(), id="build-output.Unknown"),
    pytest.param(lambda u: minimal_pool("fs", build_mode=u), Unknown(),
                 id="build_mode-output.Unknown"),
    pytest.param(lambda u: set_path(set_path(minimal_pool("netfs"), "source.format", u), "source.protocol_version",
                                    "4"), Unknown(), id="netfs-format-output.Unknown"),
    pytest.param(lambda u: set_path(minimal_pool("iscsi"), "source.devices", [{"path": u}]), Unknown(),
                 id="iscsi-device-output.Unknown"),
    pytest.param(lambda u: set_path(minimal_pool("iscsi"), "source.devices", [{"path": u}]), rpc.UNKNOWN,
                 id="iscsi-device-rpc.UNKNOWN"),
    pytest.param(lambda u: set_path(minimal_pool("fs"), "source.devices", [{"path": u}]), Unknown(),
                 id="fs-device-output.Unknown"),
    pytest.param(lambda u: set_path(minimal_pool("fs"), "source.devices", [{"path": u}]), rpc.UNKNOWN,
                 id="fs-device-rpc.UNKNOWN"),
]


@pytest.mark.parametrize("make, unknown", UNKNOWN_VALUES)
def test_unknown_value_in_a_checked_place_passes_check(make, unknown):
    check_pool(make(unknown))


# -- property names and pool names ---------------------------------------------------------------

@pytest.mark.parametrize("raw, prop", [
    ({"name": "p", "type": "dir", "target": {"path": "/a"}, "targetpath": "/a"}, "targetpath"),
    ({"name": "p", "type": "dir", "target": {"path": "/a", "mode": "0755"}}, "target.mode"),
    ({"name": "p", "type": "rbd", "source": {"hosts": [{"name": "m", "prt": 1}], "name": "x"}}, "source.hosts[0].prt"),
    ({"name": "p", "type": "rbd", "source": {"hosts": [{"name": "m"}], "pool": "x"}}, "source.pool"),
])
def test_unknown_property_name_is_refused_naming_it(raw, prop):
    assert "unknown property" in reason_for(failures_of(check_pool, raw), prop)


def test_engine_keys_with_double_underscore_are_not_refused():
    check_pool(minimal_pool("dir", __name_prefix="images", __provider="x"))


def test_missing_type_and_unknown_type_fail_naming_type():
    assert "required" in reason_for(failures_of(check_pool, {"name": "p"}), "type")
    reason = reason_for(failures_of(check_pool, {"name": "p", "type": "ceph"}), "type")
    assert "'rbd'" in reason and "'dir'" in reason


@pytest.mark.parametrize("name", ["a/b", "..", ".", "x" * (NAME_MAX + 1), "", "bad\nname", "tab\tname"])
def test_bad_pool_name_is_refused(name):
    reason_for(failures_of(check_pool, minimal_pool("dir", name=name)), "name")


def test_pool_name_of_maximum_length_with_spaces_and_dots_is_accepted():
    assert NAME_MAX == 200
    check_pool(minimal_pool("dir", name="x" * NAME_MAX))
    check_pool(minimal_pool("dir", name="my images.v2"))


def test_all_failures_are_reported_at_once():
    failures = failures_of(check_pool, {"name": "p", "type": "netfs", "source": {"dir": "rel"}})
    assert {p for p, _ in failures} == {"target.path", "source.hosts", "source.dir"}
