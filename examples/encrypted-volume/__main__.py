"""An encrypted VM disk: a LUKS-encrypted qcow2 volume whose passphrase lives in a libvirt secret
(VolumeSecret) of the same stack. The volume's disk_xml carries <encryption>, so a VM that uses it
opens the disk decrypted; the host only ever holds ciphertext.

    pulumi config set --secret passphrase 'correct horse battery staple'
"""

import pulumi

from pulumi_libvirt_storage import StoragePool, StorageVolume, VolumeSecret

config = pulumi.Config()
prefix = config.get("prefix") or "encrypted"
pool_path = config.get("poolPath") or f"/var/lib/libvirt/{prefix}-images"

pool = StoragePool("images", name=f"{prefix}-images", type="dir", target={"path": pool_path})

# The passphrase is a Pulumi secret: the state keeps only a salted PBKDF2 fingerprint of it.
passphrase = VolumeSecret("disk-passphrase", usage_name=f"{pool_path}/vm1-secure.qcow2",
                          value=config.require_secret("passphrase"))

disk = StorageVolume("secure-disk", pool=pool, name="vm1-secure.qcow2", format="qcow2", capacity="10GiB",
                     encryption={"format": "luks", "secret_uuid": passphrase.uuid})

pulumi.export("disk_path", disk.path)
pulumi.export("disk_xml", disk.disk_xml)
pulumi.export("secret_uuid", passphrase.uuid)
