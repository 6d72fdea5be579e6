"""pulumi-libvirt's own Network and Domain, from the unmodified PyPI SDK, beside our pool and volume in
one stack through the real engine: the provider plugin behind them is the bridge of
terraform-provider-libvirt that scripts/setup.sh builds (tools/libvirt-bridge)."""

from __future__ import annotations

import importlib.resources
import ipaddress
import json
import pathlib
import shutil
import subprocess
import tempfile
from typing import Iterator

import pytest
from lxml import etree

from tests.conftest import unique
from tests.support.engine import BIN
from tests.support.vm import free_subnet, remove_domain_and_network

pytestmark = [pytest.mark.engine, pytest.mark.both_frontends]

PROGRAM = '''
import pulumi
import pulumi_libvirt as libvirt
from pulumi_libvirt_storage import StoragePool, StorageVolume

cfg = pulumi.Config()
pool = StoragePool("pool", name=cfg.require("pool"), type="dir", target={"path": cfg.require("path")})
volume = StorageVolume("disk", pool=pool, name="disk.qcow2", format="qcow2", capacity="16MiB")
network = libvirt.Network("net", name=cfg.require("network"), mode="nat", addresses=[cfg.require("subnet")],
                          bridge=cfg.require("bridge"), autostart=False)
domain = libvirt.Domain("vm", name=cfg.require("domain"), type="qemu", memory=64, vcpu=1, running=False,
                        disks=[libvirt.DomainDiskArgs(volume_id=volume.key)],
                        network_interfaces=[libvirt.DomainNetworkInterfaceArgs(network_id=network.id)])
pulumi.export("volume_path", volume.path)
pulumi.export("domain_id", domain.id)
pulumi.export("network_id", network.id)
'''


def sdk_plugin_version() -> str:
    """The plugin version the installed pulumi-libvirt SDK asks the engine for."""
    plugin = json.loads(importlib.resources.files("pulumi_libvirt").joinpath("pulumi-plugin.json").read_text())
    assert plugin["name"] == "libvirt", plugin
    return plugin["version"]


@pytest.fixture
def vm_objects(conn) -> Iterator[dict[str, str]]:
    """Names of the network and domain the test declares, and a directory for its pool that QEMU (user
    libvirt-qemu) can open: pulumi-libvirt's Domain starts every domain it creates, `running=False`
    only stops it again afterwards (terraform-provider-libvirt v0.8.3, resource_libvirt_domain.go), and
    pytest's tmp_path is under root's 0700 /tmp/pytest-of-root. Request it before `project`: its
    teardown then runs after the stack's destroy, and removes through libvirt-python whatever a failed
    test left (the leftover guard knows pools and secrets only)."""
    directory = pathlib.Path(tempfile.mkdtemp(prefix="plstest-bridge-"))
    directory.chmod(0o755)
    names = {"network": unique("net"), "domain": unique("vm"), "dir": str(directory)}
    names["bridge"] = "plsbr-" + names["network"].rsplit("-", 1)[1]  # 14 characters, the limit is 15
    yield names
    try:
        remove_domain_and_network(conn, names["domain"], names["network"])
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_pulumi_libvirt_domain_and_network_beside_our_volume(vm_objects, project, conn) -> None:
    version = sdk_plugin_version()
    plugin = BIN / "pulumi-resource-libvirt"
    reported = subprocess.run([str(plugin), "-version"], check=True, capture_output=True, text=True).stdout.strip()
    assert reported == version, f"{plugin} reports {reported}, the pulumi-libvirt SDK asks for {version}"

    pool_name = unique("bridgepool")
    subnet = free_subnet(vm_objects["network"])
    p = project(PROGRAM, config={
        "libvirt:uri": "qemu:///system", "pool": pool_name, "path": f"{vm_objects['dir']}/pool",
        "network": vm_objects["network"], "bridge": vm_objects["bridge"], "subnet": subnet,
        "domain": vm_objects["domain"]})

    up = p.up()
    # the engine ran the plugin that setup installed, which reports the version the SDK asks for
    assert f"using pulumi-resource-libvirt from $PATH at {plugin}" in up.stdout, up.stdout
    outputs = p.outputs()

    # the network: NAT on our subnet and bridge, running, not autostarted
    net = conn.networkLookupByName(vm_objects["network"])
    assert net.UUIDString() == outputs["network_id"]
    assert net.isActive() and not net.autostart()
    net_xml = etree.fromstring(net.XMLDesc(0))
    assert net_xml.find("forward").get("mode") == "nat"
    assert net_xml.find("bridge").get("name") == vm_objects["bridge"]
    gateway = ipaddress.ip_network(subnet)[1]
    assert net_xml.find("ip").get("address") == str(gateway)

    # the domain: defined, not running (running=False), its disk our volume, its interface on the network
    dom = conn.lookupByName(vm_objects["domain"])
    assert dom.UUIDString() == outputs["domain_id"]
    assert not dom.isActive()
    dom_xml = etree.fromstring(dom.XMLDesc(0))
    assert dom_xml.findtext("memory") == str(64 * 1024) and dom_xml.find("memory").get("unit") == "KiB"
    [disk] = dom_xml.findall("devices/disk")
    source = disk.find("source")
    # pulumi-libvirt writes a volume disk (<source pool= volume=>): libvirt resolves it to our volume's path
    assert (source.get("pool"), source.get("volume")) == (pool_name, "disk.qcow2"), etree.tostring(disk)
    assert conn.storagePoolLookupByName(pool_name).storageVolLookupByName("disk.qcow2").path() == \
        outputs["volume_path"]
    assert disk.find("driver").get("type") == "qcow2"
    [iface] = dom_xml.findall("devices/interface")
    assert iface.find("source").get("network") == vm_objects["network"]

    providers = [r for r in p.resources() if r["type"] == "pulumi:providers:libvirt"]
    assert [r["inputs"].get("version") for r in providers] == [version], providers

    p.preview("--expect-no-changes")

    p.destroy()
    assert vm_objects["domain"] not in {d.name() for d in conn.listAllDomains()}
    assert vm_objects["network"] not in {n.name() for n in conn.listAllNetworks()}
    assert pool_name not in {q.name() for q in conn.listAllStoragePools()}
