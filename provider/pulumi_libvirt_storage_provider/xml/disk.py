"""The libvirt domain <disk> for a volume, resolved to what QEMU opens: a file, a block
device, or a network source (rbd, gluster, iscsi) with the pool's hosts and auth."""

from __future__ import annotations

from typing import Any

from lxml import etree

from ..spec.pooltypes import DISK_VOLUME_FORMATS, VolumeKind, info
from .common import sub, to_string

# Domain disks name the secret's usage type after the protocol.
_AUTH_SECRET_TYPE = {"ceph": "ceph", "chap": "iscsi"}


def disk_source(pool: dict[str, Any], volume: dict[str, Any], encryption: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """A plain description of the disk: {"type", "driver_type", and "file" | "dev" |
    "protocol", "name", "hosts", "auth"; "encryption" for an encrypted volume}. `pool` is parse_pool()
    output, `volume` parse_volume() with the declared format; `encryption` the declared one."""
    disk = _source(pool, volume)
    if encryption:
        disk["encryption"] = {k: encryption[k] for k in ("format", "engine", "secret_uuid", "secret_usage")
                              if encryption.get(k)}
    return disk


def _source(pool: dict[str, Any], volume: dict[str, Any]) -> dict[str, Any]:
    fmt = volume.get("format") or "raw"
    if fmt in DISK_VOLUME_FORMATS or fmt == "iso":
        fmt = "raw"  # partitions and ISO images are opened raw by QEMU
    pool_type = pool.get("type")
    source = pool.get("source") or {}
    kind = info(pool_type).volume_kind
    if kind is VolumeKind.NETWORK:
        if pool_type == "rbd":
            protocol, name = "rbd", f"{source.get('name')}/{volume.get('name')}"
        elif pool_type == "gluster":
            sub_dir = (source.get("dir") or "/").strip("/")
            protocol = "gluster"
            name = "/".join(p for p in (source.get("name"), sub_dir, volume.get("name")) if p)
        elif pool_type == "iscsi-direct":
            protocol = "iscsi"
            iqn = (source.get("devices") or [{}])[0].get("path")
            lun = str(volume.get("name", "")).rsplit("-", 1)[-1]  # libvirt names LUNs unit:0:0:N
            name = f"{iqn}/{lun.split(':')[-1]}"
        else:
            protocol, name = "sheepdog", volume.get("name")
        disk: dict[str, Any] = {"type": "network", "driver_type": fmt, "protocol": protocol, "name": name,
                                "hosts": [dict(h) for h in source.get("hosts") or []]}
        auth = source.get("auth")
        if auth:
            disk["auth"] = {"username": auth["username"], "secret_type": _AUTH_SECRET_TYPE[auth["type"]],
                            **({"secret_uuid": auth["secret_uuid"]} if auth.get("secret_uuid")
                               else {"secret_usage": auth.get("secret_usage")})}
        if pool_type == "iscsi-direct" and source.get("initiator_iqn"):
            disk["initiator_iqn"] = source["initiator_iqn"]
        return disk
    if volume.get("type") == "block" or kind is VolumeKind.BLOCK:
        return {"type": "block", "driver_type": fmt, "dev": volume.get("path")}
    return {"type": "file", "driver_type": fmt, "file": volume.get("path")}


def disk_xml(disk: dict[str, Any], target_dev: str = "vda", bus: str = "virtio") -> str:
    root = etree.Element("disk", type=disk["type"], device="disk")
    sub(root, "driver", name="qemu", type=disk["driver_type"])
    if disk["type"] == "network":
        auth = disk.get("auth")
        if auth:
            a = sub(root, "auth", username=auth["username"])
            sub(a, "secret", type=auth["secret_type"], uuid=auth.get("secret_uuid"), usage=auth.get("secret_usage"))
        src = sub(root, "source", protocol=disk["protocol"], name=disk["name"])
        for host in disk.get("hosts") or []:
            sub(src, "host", name=host["name"], port=host.get("port"))
        if disk.get("initiator_iqn"):
            sub(sub(src, "initiator"), "iqn", name=disk["initiator_iqn"])
    elif disk["type"] == "block":
        src = sub(root, "source", dev=disk["dev"])
    else:
        src = sub(root, "source", file=disk["file"])
    enc = disk.get("encryption")
    if enc:
        el = sub(src, "encryption", format=enc["format"], engine=enc.get("engine"))
        if enc.get("secret_uuid") or enc.get("secret_usage"):
            sub(el, "secret", type="passphrase", uuid=enc.get("secret_uuid"), usage=enc.get("secret_usage"))
    sub(root, "target", dev=target_dev, bus=bus)
    return to_string(root)
