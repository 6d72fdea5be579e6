"""A pool and a VM disk: what a CI job previews on every change, behind the storage guard (ci.sh)."""

import pulumi

from pulumi_libvirt_storage import StoragePool, StorageVolume

config = pulumi.Config()
prefix = config.get("prefix") or "ci-guard"

pool = StoragePool("images", name=f"{prefix}-images", type="dir",
                   target={"path": config.get("poolPath") or f"/var/lib/libvirt/{prefix}-images"})

disk = StorageVolume("vm1-disk", pool=pool, name="vm1-disk.img",
                     format=config.get("diskFormat") or "raw",
                     capacity=config.get("diskCapacity") or "1GiB")

pulumi.export("disk_path", disk.path)
