"""Quickstart: a directory pool, a base qcow2 image, and a VM disk backed by it."""

import pulumi

from pulumi_libvirt_storage import StoragePool, StorageVolume

config = pulumi.Config()
prefix = config.get("prefix") or "quickstart"

pool = StoragePool(
    "images",
    name=f"{prefix}-images",
    type="dir",
    target={"path": config.get("poolPath") or f"/var/lib/libvirt/{prefix}-images",
            "permissions": {"mode": "0711"}},
)

base = StorageVolume("base", pool=pool, name="base.qcow2", format="qcow2",
                     capacity=config.get("baseCapacity") or "1GiB")

disk = StorageVolume("disk", pool=pool, name="vm1-disk.qcow2", format="qcow2",
                     backing_store={"path": base.path, "format": "qcow2"})

pulumi.export("pool_uuid", pool.uuid)
pulumi.export("pool_path", pool.target_path)
pulumi.export("base_path", base.path)
pulumi.export("disk_path", disk.path)
pulumi.export("disk_capacity", disk.current_capacity)
pulumi.export("disk_xml", disk.disk_xml)
