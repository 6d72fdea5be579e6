"""For every field of the policy table, the preview shows exactly what `pulumi up` then does.

The cases are generated from the policy table: `test_every_policy_field_has_a_case` fails when a
field (of any resource, at any depth) has no case below, and a case must name a field of the table.
Each case changes one field of one resource in a stack where that resource has dependents:

- a dir pool referenced by volumes; a base volume referenced by a backed one, whose disk_xml feeds
  a libvirt domain definition; volumes cloned and uploaded;
- a CephSecret referenced (by uuid) by an rbd pool;
- pools of the types that cannot run on this machine's kernel (nfs, iscsi, scsi, fc_host, ...),
  defined for real in libvirtd but not started (start=false, build=false): their definitions are
  changed for real, which is all a field of theirs changes.

For each case: `pulumi preview --json` gives the planned step of every resource, `pulumi up --json`
the steps performed; they must be equal. Then the changed resource's step is what the policy table
says (replace, or update for in-place and setting-only fields; "same" where the new value is another
spelling of the old one), and every other resource is unchanged unless the case names it: an
in-place change never shows a dependent replaced.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import pathlib
from dataclasses import dataclass, field
from typing import Any

import pytest

from pulumi_libvirt_storage_provider.spec.fields import Policy, policy_for
from pulumi_libvirt_storage_provider.spec.pool import POOL_SCHEMA
from pulumi_libvirt_storage_provider.spec.secret import SECRET_SCHEMA
from pulumi_libvirt_storage_provider.spec.volume import VOLUME_SCHEMA
from tests.conftest import unique

SCHEMAS = {s.name: s for s in (POOL_SCHEMA, VOLUME_SCHEMA, SECRET_SCHEMA)}
KIND_OF = {"pool": "StoragePool", "volume": "StorageVolume", "secret": "CephSecret", "vsecret": "VolumeSecret"}

PROGRAM = r'''
"""A stack described by the config `spec`: resources in order, "@name" and "@name.attr" refer to
earlier ones. A Domain is a libvirt domain defined (not started) from a volume's disk_xml."""
import json

import pulumi
import pulumi.dynamic
from pulumi_libvirt_storage import CephSecret, StoragePool, StorageVolume, VolumeSecret

cfg = pulumi.Config()


class DomainProvider(pulumi.dynamic.ResourceProvider):
    @staticmethod
    def _define(props, uuid=""):
        import libvirt
        uuid = f"<uuid>{uuid}</uuid>" if uuid else ""
        xml = (f"<domain type='qemu'><name>{props['dom_name']}</name>{uuid}<memory unit='MiB'>64</memory>"
               f"<os><type arch='x86_64'>hvm</type></os><devices>{props['disk_xml']}</devices></domain>")
        conn = libvirt.open("qemu:///system")
        try:
            return conn.defineXML(xml).UUIDString()
        finally:
            conn.close()

    def create(self, props):
        return pulumi.dynamic.CreateResult(self._define(props), props)

    def diff(self, _id, olds, news):
        return pulumi.dynamic.DiffResult(changes=olds.get("disk_xml") != news.get("disk_xml"))

    def update(self, id_, olds, news):
        self._define(news, id_)
        return pulumi.dynamic.UpdateResult(news)

    def delete(self, id_, props):
        import libvirt
        conn = libvirt.open("qemu:///system")
        try:
            conn.lookupByUUIDString(id_).undefine()
        finally:
            conn.close()


class Domain(pulumi.dynamic.Resource):
    def __init__(self, name, disk_xml, dom_name):
        super().__init__(DomainProvider(), name, {"disk_xml": disk_xml, "dom_name": dom_name})


made = {}


def resolve(value):
    if isinstance(value, str) and value.startswith("@"):
        name, _, attr = value[1:].partition(".")
        return getattr(made[name], attr) if attr else made[name]
    if isinstance(value, dict):
        return {k: resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v) for v in value]
    return value


CLASSES = {"pool": StoragePool, "volume": StorageVolume, "secret": CephSecret, "vsecret": VolumeSecret,
           "domain": Domain}
for item in json.loads(cfg.require("spec")):
    args = resolve(item["args"])
    if item["kind"] in ("secret", "vsecret"):
        args["value"] = cfg.require_secret(args.pop("value_config"))
    made[item["name"]] = CLASSES[item["kind"]](item["name"], **args)
'''

REMOVE = object()  # a case value: take the property out


@dataclass
class Case:
    """Set `path` of resource `resource`'s arguments to `value` (or several paths at once, `more`)."""

    resource: str
    path: str
    value: Any
    covers: str = ""  # the policy field this case proves, when not the path itself
    expect: str = ""  # the step of `resource`; by default what the policy of the field says
    also: dict[str, str] = field(default_factory=dict)  # other resources that change, and how
    # where the provider plugin does otherwise (its SDK gives a volume its pool's name only)
    also_plugin: dict[str, str] | None = None
    more: dict[str, Any] = field(default_factory=dict)  # further paths set in the same change


# -- the stacks -----------------------------------------------------------------------------------

TARGET_IQN = "iqn.2024-01.org.example:plstest-target"
OTHER_IQN = "iqn.2024-01.org.example:plstest-target2"
INITIATOR_IQN = "iqn.2024-01.org.example:plstest-initiator"
LABEL = "system_u:object_r:virt_image_t:s0"
FIXED_UUID = "6c0b3a2e-5d4f-4e1a-9b8c-7d6e5f4a3b2c"


def dir_stack(base: pathlib.Path, names: dict[str, str]) -> list[dict[str, Any]]:
    """A dir pool referenced by volumes, a base volume referenced by a backed one whose disk_xml
    feeds a domain, clones, an upload, qcow2 options; and a second and third pool."""
    def pool(resource: str, **args: Any) -> dict[str, Any]:
        return {"kind": "pool", "name": resource, "args": {"name": names[resource], "type": "dir", **args}}

    def volume(resource: str, **args: Any) -> dict[str, Any]:
        return {"kind": "volume", "name": resource, "args": args}

    return [
        pool("pool", target={"path": str(base / "pool"), "permissions": {"mode": "0755"}}),
        pool("other", target={"path": str(base / "other")}),
        pool("lone", target={"path": str(base / "lone")}),
        volume("lonevol", pool="@lone", name="lonevol.raw", format="raw", capacity="1MiB"),
        volume("base", pool="@pool", name="base.qcow2", format="qcow2", capacity="64MiB"),
        volume("base2", pool="@pool", name="base2.qcow2", format="qcow2", capacity="64MiB"),
        volume("backed", pool="@pool", name="backed.qcow2", format="qcow2", backing_store={"path": "@base.path"}),
        {"kind": "domain", "name": "domain", "args": {"disk_xml": "@backed.disk_xml", "dom_name": names["domain"]}},
        volume("spare", pool="@pool", name="spare.raw", format="raw", capacity="16MiB",
               permissions={"mode": "0600"}),
        volume("src", pool="@pool", name="src.raw", format="raw", capacity="1MiB"),
        volume("srco", pool="@other", name="src.raw", format="raw", capacity="1MiB"),
        volume("src2", pool="@other", name="src2.raw", format="raw", capacity="1MiB"),
        volume("clone", pool="@pool", name="clone.raw", clone_from={"pool": "@pool.name", "name": "@src.name"}),
        volume("upload", pool="@pool", name="upload.raw", upload_from=str(base / "up1.img")),
        volume("q", pool="@pool", name="q.qcow2", format="qcow2", capacity="1MiB", qcow2={"compat": "0.10"}),
        # a LUKS qcow2 volume and the two passphrase secrets it can refer to
        {"kind": "vsecret", "name": "vkey", "args": {"usage_name": str(base / "pool" / "enc.qcow2"),
                                                     "value_config": "key1"}},
        {"kind": "vsecret", "name": "vkey2", "args": {"usage_name": str(base / "pool" / "enc-second"),
                                                      "value_config": "key2"}},
        volume("enc", pool="@pool", name="enc.qcow2", format="qcow2", capacity="1MiB",
               encryption={"format": "luks", "secret_uuid": "@vkey.uuid"}),
    ]


DIR_CASES = [
    # volumes: spellings of the same thing change nothing
    Case("spare", "uri", "qemu:///system", expect="same"),
    Case("spare", "pool_type", "dir", expect="same"),
    Case("spare", "capacity", "16384KiB", covers="-", expect="same"),
    # settings of this provider: an update of the state only
    Case("spare", "allocation", "1MiB"),
    Case("spare", "allow_shrink", True),
    Case("spare", "wipe_on_destroy", "zero"),
    Case("spare", "adopt", True),
    Case("spare", "adopt", False, covers="-"),
    # in place: the base grows, the volume backed by it and the domain stay as they are
    Case("base", "capacity", "96MiB"),
    # replacements
    Case("spare", "permissions.mode", "0640"),
    Case("spare", "permissions.owner", 65534),
    Case("spare", "permissions.group", 65534),
    Case("spare", "permissions.label", LABEL),
    Case("spare", "format", "qcow2"),
    Case("spare", "name", "spare2.qcow2"),
    Case("spare", "pool", "@other"),
    Case("backed", "backing_store.format", "qcow2"),
    Case("backed", "backing_store.path", "@base2.path"),
    Case("backed", "name", "backed2.qcow2", covers="-", also={"domain": "update"}),
    # where the domain attaches it: the volume's outputs change, the domain follows, nothing on the host
    Case("backed", "disk_target", {"dev": "vdb"}, covers="disk_target.dev", also={"domain": "update"}),
    Case("backed", "disk_target.bus", "sata", also={"domain": "update"}, more={"disk_target.dev": "sdb"}),
    Case("clone", "clone_from.pool", "@other.name"),
    Case("clone", "clone_from.name", "@src2.name"),
    Case("upload", "upload_from", "{base}/up2.img"),
    Case("q", "qcow2.compat", "1.1"),
    Case("q", "qcow2.lazy_refcounts", True),
    Case("q", "qcow2.cluster_size", "128KiB"),
    Case("q", "qcow2.preallocation", "metadata"),
    Case("q", "qcow2.nocow", True),
    Case("q", "qcow2.extended_l2", True),
    # encryption: every detail of the LUKS header is the volume's data format: replaced
    Case("enc", "encryption.engine", "qemu"),
    Case("enc", "encryption.secret_uuid", "@vkey2.uuid"),
    Case("enc", "encryption.secret_usage", "{base}/pool/enc-second", more={"encryption.secret_uuid": REMOVE}),
    Case("enc", "encryption.cipher", {"name": "aes", "size": 256}, covers="encryption.cipher.name"),
    Case("enc", "encryption.cipher.size", 128),
    Case("enc", "encryption.cipher.mode", "xts", more={"encryption.cipher.hash": "sha256"}),
    Case("enc", "encryption.cipher.hash", "sha512"),
    Case("enc", "encryption.ivgen", {"name": "plain64"}, covers="encryption.ivgen.name"),
    Case("enc", "encryption.ivgen.hash", "sha256", more={"encryption.ivgen.name": "essiv"}),
    Case("enc", "encryption", REMOVE, covers="encryption.format"),
    # pools: in place, volumes unchanged
    Case("pool", "uri", "qemu:///system", expect="same"),
    Case("pool", "autostart", False),
    Case("pool", "target.permissions.mode", "0711"),
    Case("pool", "target.permissions.owner", 65534),
    Case("pool", "target.permissions.group", 65534),
    Case("pool", "target.permissions.label", LABEL),
    Case("pool", "build", False),
    Case("pool", "delete_storage_on_destroy", True),
    Case("pool", "adopt", True),
    Case("pool", "adopt", False, covers="-"),
    Case("pool", "start", False),
    Case("pool", "start", True, covers="-"),
    # pools replaced under their volumes: the volumes stay (same storage), or are read back from
    # the renamed pool (same directory)
    Case("lone", "uuid", FIXED_UUID),
    # Renamed over the same directory: with the dynamic SDK the volume knows its pool's definition and
    # is read back from the renamed pool; the plugin's SDK gives it the name only: it is replaced (the
    # preview says so, and the CI guard flags it).
    Case("lone", "name", "{lone}-renamed", also={"lonevol": "update"}, also_plugin={"lonevol": "replace"}),
    Case("lone", "target.path", "{base}/lone2"),
]


def defined_stack(base: pathlib.Path, names: dict[str, str]) -> list[dict[str, Any]]:
    """Pools of the types this kernel cannot run, defined in libvirtd and never started."""
    def pool(name: str, type_: str, **args: Any) -> dict[str, Any]:
        return {"kind": "pool", "name": name,
                "args": {"name": names[name], "type": type_, "start": False, "build": False, **args}}

    return [
        pool("fsp", "fs", target={"path": str(base / "fs")}, mount_options=["noatime"], cow=True,
             source={"devices": [{"path": "/dev/plstest-nodev1"}], "format": "ext4", "vendor": "ACME",
                     "product": "Disk"}),
        pool("diskp", "disk", source={"devices": [{"path": "/dev/plstest-nodisk"}], "format": "gpt"}),
        pool("nfs", "netfs", target={"path": str(base / "nfs")},
             source={"hosts": [{"name": "127.0.0.1"}], "dir": "/export", "format": "nfs",
                     "protocol_version": "4"}),
        pool("isc", "iscsi", source={"hosts": [{"name": "127.0.0.1", "port": 3260}],
                                     "devices": [{"path": TARGET_IQN}], "initiator_iqn": INITIATOR_IQN,
                                     "auth": {"type": "chap", "username": "u", "secret_usage": "plstest-chap"}}),
        pool("scsih", "scsi", source={"adapter": {"type": "scsi_host", "name": "host0"}}),
        pool("fch", "scsi", source={"adapter": {"type": "fc_host", "parent": "scsi_host5", "managed": True,
                                                "wwnn": "20000000c9831b4b", "wwpn": "10000000c9831b4b"}}),
        pool("gl", "gluster", source={"hosts": [{"name": "127.0.0.1"}], "name": "gv0", "dir": "/vms"}),
    ]


PARENT_ADDRESS = {"unique_id": 1, "domain": 0, "bus": 0, "slot": 1, "function": 0}

DEFINED_CASES = [
    Case("fsp", "mount_options", ["noatime", "nodev"]),
    Case("fsp", "build_mode", "overwrite"),
    Case("fsp", "cow", False),
    Case("fsp", "source.vendor", "ACME2"),
    Case("fsp", "source.product", "Disk2"),
    Case("fsp", "source.format", "xfs"),
    Case("fsp", "source.devices[0].path", "/dev/plstest-nodev2"),
    Case("diskp", "source.devices[0].part_separator", True),
    Case("nfs", "source.dir", "/export2"),
    Case("nfs", "source.protocol_version", "3"),
    Case("isc", "source.auth.username", "u2"),
    Case("isc", "source.auth.secret_usage", "plstest-chap2"),
    Case("isc", "source.initiator_iqn", "iqn.2024-01.org.example:plstest-initiator2"),
    Case("isc", "source.devices[0].path", OTHER_IQN, covers="-"),
    Case("isc", "type", "iscsi-direct"),
    Case("scsih", "source.adapter.name", "host1"),
    Case("scsih", "source.adapter.parent_address", PARENT_ADDRESS, covers="-",
         more={"source.adapter.name": REMOVE}),
    Case("scsih", "source.adapter.parent_address.unique_id", 2),
    Case("scsih", "source.adapter.parent_address.domain", 1),
    Case("scsih", "source.adapter.parent_address.bus", 1),
    Case("scsih", "source.adapter.parent_address.slot", 2),
    Case("scsih", "source.adapter.parent_address.function", 1),
    Case("fch", "source.adapter.parent", "scsi_host6"),
    Case("fch", "source.adapter.managed", False),
    Case("fch", "source.adapter.wwnn", "20000000c9831b4c"),
    Case("fch", "source.adapter.wwpn", "10000000c9831b4c"),
    Case("fch", "source.adapter.parent_wwnn", "20000000c9831b4d",
         more={"source.adapter.parent": REMOVE, "source.adapter.parent_wwpn": "10000000c9831b4d"}),
    Case("fch", "source.adapter.parent_wwpn", "10000000c9831b4f"),
    Case("fch", "source.adapter.parent_fabric_wwn", "20000000c9831b4e"),
    Case("fch", "source.adapter.type", "scsi_host",
         more={"source.adapter": {"type": "scsi_host", "name": "host2"}}),
    Case("gl", "source.name", "gv1"),
    Case("gl", "source.hosts[0].name", "localhost"),
    Case("gl", "source.hosts[0].port", 24008),
]


def ceph_stack(base: pathlib.Path, names: dict[str, str]) -> list[dict[str, Any]]:
    """A CephSecret and an rbd pool whose auth refers to it by uuid (defined, not started)."""
    return [
        {"kind": "secret", "name": "key", "args": {"usage_name": names["key"], "value_config": "key1",
                                                   "description": "first"}},
        {"kind": "pool", "name": "rbd", "args": {
            "name": names["rbd"], "type": "rbd", "start": False, "rbd_config_options": {"client_mount_timeout": "5"},
            "source": {"hosts": [{"name": "127.0.0.1", "port": 6789}], "name": "plstest-rbd",
                       "auth": {"type": "ceph", "username": "libvirt", "secret_uuid": "@key.uuid"}}}},
    ]


CEPH_CASES = [
    Case("key", "value_config", "key2", covers="value"),  # rotation: the pool keeps referring to it
    Case("key", "description", "second"),
    Case("key", "uri", "qemu:///system", expect="same"),
    Case("key", "adopt", True),
    Case("key", "adopt", False, covers="-"),  # (an adopted secret replaced gets libvirt's own uuid)
    Case("key", "usage_name", "{key}-renamed"),  # the replacement keeps the uuid: the pool stays
    Case("key", "private", False),
    Case("key", "ephemeral", True),
    Case("key", "uuid", FIXED_UUID, also={"rbd": "update"}),
    Case("rbd", "rbd_config_options", {"client_mount_timeout": "10"}),
    Case("rbd", "rbd_refresh_volume_allocation", "capacity"),
    Case("rbd", "source.hosts[0].port", 6790),
    Case("rbd", "source.hosts[0].name", "localhost"),
    Case("rbd", "source.auth.username", "libvirt2"),
    Case("rbd", "source.auth.secret_uuid", FIXED_UUID, covers="-", expect="same"),
    Case("rbd", "source.auth.type", "ceph", covers="-", expect="same"),
    Case("rbd", "source.name", "plstest-rbd2"),
]

STACKS = {"dir": (dir_stack, DIR_CASES), "defined": (defined_stack, DEFINED_CASES),
          "ceph": (ceph_stack, CEPH_CASES)}

# Fields a case proves only together with another one it implies, or that are proven by another
# change of the same field, each with the reason.
PROVEN_ELSEWHERE = {
    "StoragePool.source.auth.type": "only ceph (rbd) or chap (iscsi) is valid for a pool type, so it changes "
                                    "only with the type: the iscsi -> iscsi-direct case keeps chap; rbd "
                                    "re-declaring ceph is the 'same' case",
    "StoragePool.source.auth.secret_uuid": "changed through the CephSecret uuid case (rbd updated)",
    "StoragePool.source.devices.path": "fs device path case",
    "StorageVolume.backing_store": "its path and format cases",
}


def _leaves(fields: tuple, prefix: str = "") -> list[str]:
    out = []
    for f in fields:
        path = prefix + f.name
        out += _leaves(f.fields, path + ".") if f.fields else [path]
    return out


def _kind_of(stack: list[dict[str, Any]], resource: str) -> str:
    return next(KIND_OF[i["kind"]] for i in stack if i["name"] == resource)


def _field_key(kind: str, case: Case) -> str:
    path = case.covers or case.path
    return f"{kind}.{'.'.join(p.split('[')[0] for p in path.split('.'))}"


def _covered() -> dict[str, list[Case]]:
    covered: dict[str, list[Case]] = {}
    for build, cases in STACKS.values():
        stack = build(pathlib.Path("/x"), _names("x"))
        for case in cases:
            if case.covers == "-":
                continue
            covered.setdefault(_field_key(_kind_of(stack, case.resource), case), []).append(case)
    return covered


def _names(token: str) -> dict[str, str]:
    keys = ("pool", "other", "lone", "domain", "fsp", "diskp", "nfs", "isc", "scsih", "fch", "gl", "key", "rbd")
    return {k: f"plstest-pu-{k}-{token}" for k in keys}


def test_every_policy_field_has_a_case() -> None:
    """The cases are generated from the policy table: every input field, nested ones included, is
    changed by a case (or proven by one it implies, with the reason), and no case names a field the
    table does not have."""
    fields = {f"{name}.{leaf}" for name, schema in SCHEMAS.items() for leaf in _leaves(schema.inputs)}
    covered = set(_covered())
    assert fields - covered - set(PROVEN_ELSEWHERE) == set(), "policy fields without a preview-equals-up case"
    assert covered - fields == set(), "cases for fields the policy table does not have"


# -- running a stack ---------------------------------------------------------------------------------

def _set(args: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node: Any = args
    for part in parts[:-1]:
        name, _, index = part.partition("[")
        node = node.setdefault(name, {})
        if index:
            node = node[int(index.rstrip("]"))]
    last, _, index = parts[-1].partition("[")
    if index:
        node[last][int(index.rstrip("]"))] = value
    elif value is REMOVE:
        node.pop(last, None)
    else:
        node[last] = value


def _expected_step(kind: str, case: Case) -> str:
    if case.expect:
        return case.expect
    path = case.covers if case.covers not in ("", "-") else case.path
    policy = policy_for(SCHEMAS[kind].policy, kind, path.replace("[0]", ""))
    return "replace" if policy & Policy.REPLACE else "update"


def _fill(value: Any, subst: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**subst) if "{" in value else value
    if isinstance(value, dict):
        return {k: _fill(v, subst) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, subst) for v in value]
    return value


@pytest.mark.engine
@pytest.mark.both_frontends
@pytest.mark.parametrize("stack_name", sorted(STACKS))
def test_preview_equals_up_for_every_field(stack_name: str, frontend: str, project, conn,
                                           tmp_path: pathlib.Path) -> None:
    build, cases = STACKS[stack_name]
    token = unique("pu").rsplit("-", 1)[-1]
    names = _names(token)
    for name in names.values():
        unique_name_registered(name)
    (tmp_path / "up1.img").write_bytes(b"first upload\n" + bytes(4096))
    (tmp_path / "up2.img").write_bytes(b"second upload\n" + bytes(8192))
    stack = build(tmp_path, names)
    keys = {"key1": base64.b64encode(os.urandom(16)).decode(), "key2": base64.b64encode(os.urandom(16)).decode()}
    p = project(PROGRAM, config={"spec": json.dumps(stack)}, secrets=keys)
    p.up()

    def steps(found: dict[str, str]) -> dict[str, str]:
        # (pulumi preview --json leaves out some unchanged resources: missing means "same")
        assert set(found) <= {i["name"] for i in stack}, found
        return {i["name"]: found.get(i["name"], "same") for i in stack}

    assert steps(p.preview_steps()) == {item["name"]: "same" for item in stack}, "a fresh stack must preview unchanged"
    subst = {"base": str(tmp_path), **names}
    report = []
    for case in cases:
        item = next(i for i in stack if i["name"] == case.resource)
        before = copy.deepcopy(stack)
        for path, value in {case.path: case.value, **case.more}.items():
            _set(item["args"], path, value if value is REMOVE else _fill(copy.deepcopy(value), subst))
        p.run("config", "set", "--plaintext", "spec", json.dumps(stack))
        planned = steps(p.preview_steps())
        done = steps(p.up_steps())
        label = f"{case.resource}.{case.path} = {case.value!r}"
        assert planned == done, f"{label}: the preview planned {planned}, up did {done}"
        kind = KIND_OF[item["kind"]]
        expected = {i["name"]: "same" for i in stack}
        expected.update(case.also_plugin if frontend == "plugin" and case.also_plugin is not None else case.also)
        expected[case.resource] = _expected_step(kind, case)
        assert done == expected, f"{label}: expected {expected}, got {done} (spec before: {before})"
        report.append(f"{label}: {done[case.resource]}")
    p.preview("--expect-no-changes")
    p.destroy()
    print(f"\n{stack_name} ({frontend}): {len(report)} changes, each previewed exactly as up performed it:\n  "
          + "\n  ".join(report))


def unique_name_registered(name: str) -> None:
    """Let the leftover guard (tests/conftest.py) watch names made here from a unique() token."""
    from tests.conftest import NAMED_BY_THIS_TEST
    NAMED_BY_THIS_TEST.add(name)
