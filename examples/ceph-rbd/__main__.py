"""An rbd pool on Ceph: the client's cephx key in a libvirt secret (a Pulumi secret all the way),
the pool authenticating with it, and VM disks as rbd images."""

import pulumi

from pulumi_libvirt_storage import (CephSecret, StoragePool, StoragePoolSourceArgs, StoragePoolSourceAuthArgs,
                                    StoragePoolSourceHostArgs, StorageVolume)

config = pulumi.Config()
client = config.get("cephClient") or "libvirt"
monitors = (config.get("monitors") or "127.0.0.1:6789").split(",")

key = CephSecret("ceph-key", usage_name=config.get("secretUsage") or f"client.{client} secret",
                 value=config.require_secret("cephKey"))

pool = StoragePool(
    "rbd",
    name=config.get("poolName") or "rbd-images",
    type="rbd",
    source=StoragePoolSourceArgs(
        name=config.get("cephPool") or "libvirt-pool",
        hosts=[StoragePoolSourceHostArgs(name=m.split(":")[0], port=int(m.split(":")[1])) for m in monitors],
        auth=StoragePoolSourceAuthArgs(type="ceph", username=client, secret_uuid=key.uuid),
    ),
)
disk = StorageVolume("disk", pool=pool, name=config.get("volumeName") or "vm1-disk",
                     capacity=config.get("capacity") or "10GiB")

pulumi.export("secret_uuid", key.uuid)
pulumi.export("key_fingerprint", key.value_fingerprint)
pulumi.export("disk_xml", disk.disk_xml)
