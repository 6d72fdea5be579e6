"""An fs pool on a block device: built (formatted) only if the device holds no file system,
mounted by libvirt on start, and a qcow2 volume in it."""

import pulumi

from pulumi_libvirt_storage import StoragePool, StorageVolume

config = pulumi.Config()
name = config.get("name") or "fs-images"

pool = StoragePool(
    "fs",
    name=name,
    type="fs",
    source={"devices": [{"path": config.require("device")}], "format": config.get("format") or "ext4"},
    target={"path": config.get("mountPoint") or f"/var/lib/libvirt/{name}"},
    build_mode="no_overwrite",  # never format a device that already holds a file system
    mount_options=["noatime"],
)
vol = StorageVolume("disk", pool=pool, name="disk0.qcow2", format="qcow2", capacity="4GiB")

pulumi.export("mount_point", pool.target_path)
pulumi.export("volume_path", vol.path)
