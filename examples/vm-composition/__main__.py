"""Storage from this project beside a VM and its network from pulumi-libvirt, in one stack.

- a NAT network with DHCP (pulumi-libvirt `Network`);
- a dir pool, a base image (uploaded from `baseImage`, or an empty qcow2) and the VM's disk, a qcow2
  backed by it;
- a LUKS-encrypted volume whose passphrase is a `VolumeSecret`;
- optionally (`rbd: true`) an rbd image in a Ceph pool that authenticates with a `CephSecret`;
- the VM (pulumi-libvirt `Domain`), booted from `kernel`/`initrd` when given, else from its disk.

What feeds what: our volume's `key` is pulumi-libvirt's `DomainDiskArgs(volume_id=...)`. pulumi-libvirt
cannot say `<encryption>` or `<auth>`, so the LUKS and rbd disks are declared as pulumi-libvirt knows
them (`volume_id`, `url`) and the Domain's `xml.xslt` (xslt.py) replaces each generated element with
our volume's `disk_xml`.

    pulumi config set --secret passphrase 'correct horse battery staple'
    pulumi config set kernel /var/lib/libvirt/boot/vmlinuz      # optional: direct kernel boot
    pulumi config set initrd /var/lib/libvirt/boot/initrd.gz
    pulumi config set cmdline 'console=ttyS0 quiet'
    pulumi up
"""

import pulumi
import pulumi_libvirt as libvirt

from cmdline import cmdline_maps
from pulumi_libvirt_storage import StoragePool, StorageVolume, VolumeSecret
from xslt import replace_disks

config = pulumi.Config()
prefix = config.get("prefix") or "vmdemo"
pool_name = f"{prefix}-images"
pool_path = config.get("poolPath") or f"/var/lib/libvirt/{prefix}-images"

network = libvirt.Network(
    "net", name=f"{prefix}-net", mode="nat",
    addresses=config.get_object("addresses") or ["10.17.3.0/24"],
    bridge=config.get("bridge"), dhcp=libvirt.NetworkDhcpArgs(enabled=True), autostart=False)

pool = StoragePool("images", name=pool_name, type="dir", target={"path": pool_path})

# A change that would replace a volume the running VM uses (its format, say) is refused by the provider
# in `pulumi preview` and `up` (else the engine would delete the Domain first, then the volume, and
# create both again, the disk empty). protectDisks also makes `destroy` refuse them, until it is unset.
disk_options = pulumi.ResourceOptions(protect=config.get_bool("protectDisks") or False)

# The base holds data, not necessarily an OS (with kernel/initrd the VM boots without one).
base_image = config.get("baseImage")
base_format = (config.get("baseFormat") or "qcow2") if base_image else "qcow2"
if base_image:
    base = StorageVolume("base", pool=pool, name=f"{prefix}-base.{base_format}", format=base_format,
                         upload_from=base_image, opts=disk_options)
else:
    base = StorageVolume("base", pool=pool, name=f"{prefix}-base.qcow2", format="qcow2",
                         capacity=config.get("baseCapacity") or "64MiB", opts=disk_options)
vm_disk = StorageVolume("vm-disk", pool=pool, name=f"{prefix}-vm.qcow2", format="qcow2",
                        backing_store={"path": base.path, "format": base_format}, opts=disk_options)

# LUKS: libvirt opens it with the VolumeSecret's passphrase, the host holds only ciphertext.
secure_name = f"{prefix}-secure.img"
passphrase = VolumeSecret("secure-passphrase", usage_name=f"{pool_path}/{secure_name}",
                          value=config.require_secret("passphrase"))
secure = StorageVolume("secure", pool=pool, name=secure_name, format=config.get("secureFormat") or "raw",
                       capacity=config.get("secureCapacity") or "32MiB",
                       encryption={"format": "luks", "secret_uuid": passphrase.uuid}, opts=disk_options)

disks = [libvirt.DomainDiskArgs(volume_id=vm_disk.key), libvirt.DomainDiskArgs(volume_id=secure.key)]
replaced: dict[str, pulumi.Output[str]] = {f"{pool_name}/{secure_name}": secure.disk_xml}

if config.get_bool("rbd"):
    # An rbd image behind a cephx key: pulumi-libvirt declares it by url, our disk_xml adds <auth>. Declare
    # the monitor's port: the provider reads the disk back as the url with the port libvirt holds.
    from pulumi_libvirt_storage import CephSecret

    monitor = config.require("rbdMonitor")  # HOST:PORT
    ceph_pool = config.require("rbdPool")
    client = config.get("cephClient") or "libvirt"
    image = f"{prefix}-data"
    ceph_key = CephSecret("ceph-key", usage_name=f"{prefix} client.{client}", value=config.require_secret("cephKey"))
    rbd_pool = StoragePool("rbd", name=f"{prefix}-rbd", type="rbd", source={
        "name": ceph_pool, "hosts": [{"name": monitor.rsplit(":", 1)[0], "port": int(monitor.rsplit(":", 1)[1])}],
        "auth": {"type": "ceph", "username": client, "secret_uuid": ceph_key.uuid}})
    data = StorageVolume("data", pool=rbd_pool, name=image, capacity=config.get("dataCapacity") or "64MiB",
                         opts=disk_options)
    disks.append(libvirt.DomainDiskArgs(url=f"rbd://{monitor}/{ceph_pool}/{image}"))
    replaced[f"/{ceph_pool}/{image}"] = data.disk_xml
    pulumi.export("data_key", data.key)

serial_log = config.get("serialLog")
xslt = pulumi.Output.all(**replaced).apply(lambda by_source: replace_disks(by_source, serial_log=serial_log))

kernel = config.get("kernel")
vm = libvirt.Domain(
    "vm", name=f"{prefix}-vm", type="qemu",
    memory=config.get_int("memory") or 256, vcpu=1, running=True,
    kernel=kernel, initrd=config.get("initrd") if kernel else None,
    cmdlines=cmdline_maps(config.get("cmdline") or "") if kernel else None,
    disks=disks,
    network_interfaces=[libvirt.DomainNetworkInterfaceArgs(network_id=network.id)],
    consoles=[libvirt.DomainConsoleArgs(type="pty", target_port="0", target_type="serial")],
    xml=libvirt.DomainXmlArgs(xslt=xslt))

pulumi.export("vm_id", vm.id)
pulumi.export("network_id", network.id)
pulumi.export("base_path", base.path)
pulumi.export("vm_disk_key", vm_disk.key)
pulumi.export("vm_disk_path", vm_disk.path)
pulumi.export("secure_key", secure.key)
pulumi.export("secure_path", secure.path)
pulumi.export("secure_disk_xml", secure.disk_xml)
pulumi.export("secret_uuid", passphrase.uuid)
