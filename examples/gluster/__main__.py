"""A Gluster volume used two ways: mounted with FUSE as a netfs pool (volumes are files, any
qemu-img format), and as a native gluster pool that QEMU reaches through libgfapi."""

import pulumi

from pulumi_libvirt_storage import StoragePool, StorageVolume

config = pulumi.Config()
host = config.require("host")
volume = config.require("volume")
prefix = config.get("prefix") or "gluster"

mounted = StoragePool("mounted", name=f"{prefix}-fuse", type="netfs",
                      source={"hosts": [{"name": host}], "dir": volume, "format": "glusterfs"},
                      target={"path": config.get("mountPoint") or f"/var/lib/libvirt/{prefix}-fuse"})
disk = StorageVolume("disk", pool=mounted, name="vm1.qcow2", format="qcow2", capacity="4GiB")

# libvirt 9.0's gluster backend lists, refreshes and deletes files but cannot create them:
# the native pool shows what is in the volume (the disk above, too, once refreshed).
native = StoragePool("native", name=f"{prefix}-gfapi", type="gluster",
                     source={"hosts": [{"name": host}], "name": volume},
                     opts=pulumi.ResourceOptions(depends_on=[disk]))

pulumi.export("disk_path", disk.path)
pulumi.export("native_pool_uuid", native.uuid)
