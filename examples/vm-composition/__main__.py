"""A pool, a base image and a VM disk beside a VM, two ways.

route "pulumi-libvirt" (default): the VM and its network are pulumi-libvirt resources; the VM's disk
takes our volume's `key` as its volume_id.

route "libvirt-python": the VM is a small dynamic resource of this program that defines and starts
a domain with libvirt-python, its <disk> taken verbatim from our volume's `disk_xml` output.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, Resource, ResourceProvider

from pulumi_libvirt_storage import StoragePool, StorageVolume

config = pulumi.Config()
prefix = config.get("prefix") or "vmdemo"
route = config.get("route") or "pulumi-libvirt"

pool = StoragePool("images", name=f"{prefix}-images", type="dir",
                   target={"path": config.get("poolPath") or f"/var/lib/libvirt/{prefix}-images"})
base = StorageVolume("base", pool=pool, name="base.qcow2", format="qcow2", capacity="2GiB")
disk = StorageVolume("disk", pool=pool, name=f"{prefix}-vm1.qcow2", format="qcow2",
                     backing_store={"path": base.path, "format": "qcow2"})

if route == "pulumi-libvirt":
    import pulumi_libvirt as libvirt

    network = libvirt.Network("net", name=f"{prefix}-net", mode="nat", addresses=["10.17.3.0/24"])
    vm = libvirt.Domain("vm", name=f"{prefix}-vm1", memory=512, vcpu=1,
                        disks=[libvirt.DomainDiskArgs(volume_id=disk.key)],
                        network_interfaces=[libvirt.DomainNetworkInterfaceArgs(network_id=network.id)])
    pulumi.export("vm_id", vm.id)
else:
    class _DomainProvider(ResourceProvider):
        """Defines and starts a tiny domain (no OS: it only needs to run) with the disk we are given."""

        def create(self, props: dict[str, Any]) -> CreateResult:
            import libvirt as lv
            xml = (f"<domain type='qemu'><name>{props['name']}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
                   "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
                   f"{props['disk_xml']}<graphics type='vnc' port='-1' listen='127.0.0.1'/></devices></domain>")
            conn = lv.open("qemu:///system")
            dom = conn.defineXML(xml)
            dom.create()
            return CreateResult(dom.UUIDString(), {**props, "state": dom.state()[0]})

        def delete(self, id_: str, props: dict[str, Any]) -> None:
            import libvirt as lv
            conn = lv.open("qemu:///system")
            dom = conn.lookupByUUIDString(id_)
            if dom.isActive():
                dom.destroy()
            dom.undefine()

    class Domain(Resource):
        state: pulumi.Output[int]

        def __init__(self, name: str, domain_name: str, disk_xml: pulumi.Input[str]) -> None:
            super().__init__(_DomainProvider(), name, {"name": domain_name, "disk_xml": disk_xml, "state": None})

    domain = Domain("vm", f"{prefix}-vm1", disk.disk_xml)
    pulumi.export("vm_state", domain.state)

pulumi.export("disk_key", disk.key)
pulumi.export("disk_xml", disk.disk_xml)
