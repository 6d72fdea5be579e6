"""Every example program builds its resource graph under Pulumi's mocks (no provider code runs):
the arguments our resources receive are well-formed, and what other resources receive from ours
is our outputs, not strings rebuilt by hand. (vm-composition runs for real in
tests/e2e/test_vm_composition.py, its rbd disk in tests/backends/test_vm_composition_rbd.py.)"""

from __future__ import annotations

import importlib.util
import pathlib
import runpy
from typing import Any

import pulumi
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CEPH_KEY = "AQBzd2ZkAAAAABAA1ZzqJfB4tI7w9pB0ZoUKxA=="


class Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: dict[str, tuple[str, dict[str, Any]]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        outs = dict(inputs)
        if "libvirt-storage" in args.typ:
            assert "__provider" in inputs, "dynamic resources carry their provider"
            outs.update(key=f"/fake/{args.name}", path=f"/fake/{args.name}", uuid=f"uuid-{args.name}",
                        disk_xml=f"<disk>{args.name}</disk>", target_path="/fake")
        self.resources[args.name] = (args.typ, inputs)
        return f"{args.name}-id", outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def run_example(name: str, config: dict[str, str]) -> Mocks:
    mocks = Mocks()
    pulumi.runtime.set_mocks(mocks, project=name, stack="test", preview=False)
    pulumi.runtime.set_all_config({f"{name}:{k}": v for k, v in config.items()},
                                  [f"{name}:cephKey"] if "cephKey" in config else [])

    @pulumi.runtime.test
    def program() -> None:
        # The directory, as Pulumi's language host runs it: a program's own modules beside it import.
        runpy.run_path(str(ROOT / "examples" / name), run_name="__main__")

    program()
    return mocks


def test_quickstart_backs_the_disk_with_the_base_image() -> None:
    m = run_example("quickstart", {})
    assert m.resources["disk"][1]["backing_store"] == {"path": "/fake/base", "format": "qcow2"}
    assert m.resources["images"][1]["type"] == "dir"


def replacement_of(xslt: str, source: str) -> str:
    """The text of the <disk> that replaces the generated disk matched by `source` (an XPath literal):
    under the mocks a volume's disk_xml is `<disk>NAME</disk>`."""
    from lxml import etree

    sheet = etree.fromstring(xslt.encode())
    [template] = [t for t in sheet if f"@name = {source}" in (t.get("match") or "")]
    return str(template.find("disk").text).strip()


VM_COMPOSITION = {"passphrase": "correct horse", "kernel": "/boot/vmlinuz", "initrd": "/boot/initrd.gz",
                  "cmdline": "console=ttyS0 quiet panic=-1"}


def test_vm_composition_gives_the_vm_our_volume_keys_and_our_luks_disk_xml() -> None:
    m = run_example("vm-composition", VM_COMPOSITION)
    typ, vm = m.resources["vm"]
    assert typ == "libvirt:index/domain:Domain"
    assert vm["disks"] == [{"volumeId": "/fake/vm-disk"}, {"volumeId": "/fake/secure"}]
    assert vm["cmdlines"] == [{"console": "ttyS0", "panic": "-1"}, {"_": "quiet"}]
    assert vm["running"] is True and (vm["kernel"], vm["initrd"]) == ("/boot/vmlinuz", "/boot/initrd.gz")
    # the LUKS disk's generated element (pool/volume) is replaced by our disk_xml
    assert replacement_of(vm["xml"]["xslt"], "'vmdemo-images/vmdemo-secure.img'") == "secure"
    assert m.resources["secure"][1]["encryption"] == {"format": "luks", "secret_uuid": "uuid-secure-passphrase"}
    assert m.resources["vm-disk"][1]["backing_store"] == {"path": "/fake/base", "format": "qcow2"}
    net_type, net = m.resources["net"]
    assert net_type == "libvirt:index/network:Network"
    assert (net["mode"], net["autostart"], net["dhcp"]) == ("nat", False, {"enabled": True})


def test_vm_composition_rbd_disk_is_declared_by_url_and_replaced_by_our_disk_xml() -> None:
    m = run_example("vm-composition", {**VM_COMPOSITION, "rbd": "true", "rbdMonitor": "10.0.0.1:6789",
                                       "rbdPool": "vms", "cephKey": CEPH_KEY})
    vm = m.resources["vm"][1]
    assert vm["disks"][2] == {"url": "rbd://10.0.0.1:6789/vms/vmdemo-data"}
    assert replacement_of(vm["xml"]["xslt"], "'/vms/vmdemo-data'") == "data"
    assert m.resources["rbd"][1]["source"]["auth"]["secret_uuid"] == "uuid-ceph-key"


def _load_example_module(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"vm_composition_{name}",
                                                  ROOT / "examples" / "vm-composition" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vm_composition_cmdlines_are_declared_as_pulumi_libvirt_reads_them_back() -> None:
    """terraform-provider-libvirt 0.8 writes the maps as one sorted line and reads the line back into
    maps (a repeated key starts a new one, key-less arguments last): the declared shape survives that."""
    cmdline_maps = _load_example_module("cmdline").cmdline_maps

    def written(maps: list[dict[str, str]]) -> str:  # setCmdlineArgs
        return " ".join(sorted(v if k == "_" else f"{k}={v}" for m in maps for k, v in m.items()))

    for line in ("console=ttyS0 quiet panic=-1 pls.token=abc pls.then=run", "a=1 a=2 b=3 nosplash ro", "x=1=2", ""):
        maps = cmdline_maps(line)
        assert sorted(written(maps).split()) == sorted(line.split())
        assert cmdline_maps(written(maps)) == maps, line
    assert cmdline_maps("console=ttyS0 quiet panic=-1") == [{"console": "ttyS0", "panic": "-1"}, {"_": "quiet"}]


GENERATED_DOMAIN = """<domain type="qemu"><name>vm</name><devices>
<disk type="volume" device="disk"><driver name="qemu" type="qcow2"/><source pool="p" volume="vm.qcow2"/>
<target dev="vda" bus="virtio"/></disk>
<disk type="volume" device="disk"><driver name="qemu" type="raw"/><source pool="p" volume="secure.img"/>
<target dev="vdb" bus="virtio"/></disk>
<disk type="network" device="disk"><driver name="qemu" type="raw"/>
<source protocol="rbd" name="/vms/data"><host name="10.0.0.1" port="6789"/></source><target dev="vdc" bus="virtio"/></disk>
<console type="pty"><target type="serial" port="0"/></console></devices></domain>"""


def test_vm_composition_xslt_replaces_the_declared_disks_and_keeps_their_targets() -> None:
    """The stylesheet as pulumi-libvirt applies it (libxslt, as its xsltproc): the LUKS and rbd disks
    become our disk_xml with the generated target; the other disk and devices stay as generated."""
    from lxml import etree

    replace_disks = _load_example_module("xslt").replace_disks
    luks = ('<disk type="file" device="disk"><driver name="qemu" type="raw"/><source file="/pool/{odd} \'name\'">'
            '<encryption format="luks"><secret type="passphrase" uuid="u-1"/></encryption></source>'
            '<target dev="vda" bus="virtio"/></disk>')
    rbd = ('<disk type="network" device="disk"><driver name="qemu" type="raw"/><auth username="libvirt">'
           '<secret type="ceph" uuid="u-2"/></auth><source protocol="rbd" name="vms/data">'
           '<host name="10.0.0.1" port="6789"/></source><target dev="vda" bus="virtio"/></disk>')
    sheet = replace_disks({"p/secure.img": luks, "/vms/data": rbd}, serial_log="/var/log/vm serial.log")
    out = etree.XSLT(etree.fromstring(sheet.encode()))(etree.fromstring(GENERATED_DOMAIN.encode())).getroot()
    vda, vdb, vdc = out.findall("devices/disk")
    assert vda.find("source").get("volume") == "vm.qcow2" and vda.find("target").get("dev") == "vda"
    assert vdb.find("source").get("file") == "/pool/{odd} 'name'"
    assert vdb.find("source/encryption/secret").get("uuid") == "u-1"
    assert [t.get("dev") for t in vdb.findall("target")] == ["vdb"]
    assert vdc.find("auth/secret").get("uuid") == "u-2" and vdc.find("source").get("name") == "vms/data"
    assert [t.get("dev") for t in vdc.findall("target")] == ["vdc"]
    assert out.find("devices/console/log").get("file") == "/var/log/vm serial.log"


def test_ceph_rbd_pool_authenticates_with_the_secrets_uuid_and_the_key_stays_secret() -> None:
    m = run_example("ceph-rbd", {"cephKey": CEPH_KEY, "monitors": "127.0.0.1:6789,127.0.0.2:3300"})
    pool = m.resources["rbd"][1]
    assert pool["source"]["auth"] == {"type": "ceph", "username": "libvirt", "secret_uuid": "uuid-ceph-key"}
    assert pool["source"]["hosts"] == [{"name": "127.0.0.1", "port": 6789}, {"name": "127.0.0.2", "port": 3300}]
    # the key reaches the engine wrapped as a secret (the secret signature), never as a plain string
    value = m.resources["ceph-key"][1]["value"]
    assert value == {pulumi.runtime.rpc._special_sig_key: pulumi.runtime.rpc._special_secret_sig,  # type: ignore
                     "value": CEPH_KEY}


def test_gluster_example_declares_a_mounted_and_a_native_pool() -> None:
    m = run_example("gluster", {"host": "gluster1.example.org", "volume": "gv0"})
    assert m.resources["mounted"][1]["source"]["format"] == "glusterfs"
    assert m.resources["native"][1]["type"] == "gluster"


def test_fs_on_device_never_formats_a_device_with_data() -> None:
    m = run_example("fs-on-device", {"device": "/dev/sdz"})
    assert m.resources["fs"][1]["build_mode"] == "no_overwrite"


def test_encrypted_volume_refers_to_its_passphrase_secret_by_uuid() -> None:
    m = run_example("encrypted-volume", {"passphrase": "correct horse"})
    assert m.resources["secure-disk"][1]["encryption"] == {"format": "luks", "secret_uuid": "uuid-disk-passphrase"}
    assert m.resources["disk-passphrase"][1]["usage_name"] == "/var/lib/libvirt/encrypted-images/vm1-secure.qcow2"
