"""Pool spec -> libvirt pool XML, and libvirt pool XML -> the same spec shape.

`pool_xml(spec)` and `parse_pool(xml)` are inverses on every field the spec knows; the
round-trip tests hold them to that.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from ..spec.pool import REDACTED, rbd_option_is_key, redact_mount_option
from ..spec.pooltypes import FORBIDDEN, default_target_path, info
from .common import child_text, permissions_from, permissions_to, prune, size_in_bytes, sub, to_string

FS_NS = "http://libvirt.org/schemas/storagepool/fs/1.0"
RBD_NS = "http://libvirt.org/schemas/storagepool/rbd/1.0"


def pool_xml(spec: dict[str, Any], uuid: str | None = None) -> str:
    """The pool definition for `spec` (canonical inputs). `uuid` keeps an existing pool's identity
    when redefining it; otherwise the spec's own uuid, when it has one, is written."""
    uuid = uuid or spec.get("uuid")
    nsmap: dict[str | None, str] = {}
    if spec.get("mount_options"):
        nsmap["fs"] = FS_NS
    if spec.get("rbd_config_options"):
        nsmap["rbd"] = RBD_NS
    root = etree.Element("pool", nsmap=nsmap or None, type=spec["type"])
    if spec.get("name"):
        sub(root, "name", text=spec["name"])
    if uuid:
        sub(root, "uuid", text=uuid)
    if spec.get("cow") is not None:
        features = sub(root, "features")
        sub(features, "cow", state="yes" if spec["cow"] else "no")

    source = spec.get("source") or {}
    src = sub(root, "source")
    for host in source.get("hosts") or []:
        sub(src, "host", name=host["name"], port=host.get("port"))
    for dev in source.get("devices") or []:
        sep = dev.get("part_separator")
        sub(src, "device", path=dev["path"], part_separator=None if sep is None else ("yes" if sep else "no"))
    if source.get("dir"):
        sub(src, "dir", path=source["dir"])
    adapter = source.get("adapter")
    if adapter:
        el = sub(src, "adapter", type=adapter.get("type"), name=adapter.get("name"), parent=adapter.get("parent"),
                 managed=None if adapter.get("managed") is None else ("yes" if adapter["managed"] else "no"),
                 parent_wwnn=adapter.get("parent_wwnn"), parent_wwpn=adapter.get("parent_wwpn"),
                 parent_fabric_wwn=adapter.get("parent_fabric_wwn"), wwnn=adapter.get("wwnn"),
                 wwpn=adapter.get("wwpn"))
        parent = adapter.get("parent_address")
        if parent:
            pa = sub(el, "parentaddr", unique_id=parent.get("unique_id"))
            sub(pa, "address", domain=f"0x{parent.get('domain') or 0:04x}", bus=f"0x{parent['bus']:02x}",
                slot=f"0x{parent['slot']:02x}", function=f"0x{parent['function']:x}")
    if source.get("name"):
        sub(src, "name", text=source["name"])
    if source.get("format"):
        sub(src, "format", type=source["format"])
    if source.get("protocol_version"):
        sub(src, "protocol", ver=source["protocol_version"])
    auth = source.get("auth")
    if auth:
        a = sub(src, "auth", type=auth["type"], username=auth["username"])
        sub(a, "secret", uuid=auth.get("secret_uuid"), usage=auth.get("secret_usage"))
    if source.get("initiator_iqn"):
        sub(sub(src, "initiator"), "iqn", name=source["initiator_iqn"])
    if source.get("vendor"):
        sub(src, "vendor", name=source["vendor"])
    if source.get("product"):
        sub(src, "product", name=source["product"])

    target = spec.get("target") or {}
    target_path = target.get("path")
    if not target_path and info(spec["type"]).target_path is not FORBIDDEN:
        target_path = default_target_path(spec["type"], spec.get("name"), source.get("name"))
    if target_path or target.get("permissions"):
        tgt = sub(root, "target")
        if target_path:
            sub(tgt, "path", text=target_path)
        permissions_to(tgt, target.get("permissions"))
    if spec.get("rbd_refresh_volume_allocation"):
        sub(sub(root, "refresh"), "volume", allocation=spec["rbd_refresh_volume_allocation"])
    if spec.get("mount_options"):
        opts = etree.SubElement(root, f"{{{FS_NS}}}mount_opts")
        for opt in spec["mount_options"]:
            etree.SubElement(opts, f"{{{FS_NS}}}option", name=opt)
    if spec.get("rbd_config_options"):
        opts = etree.SubElement(root, f"{{{RBD_NS}}}config_opts")
        for key in sorted(spec["rbd_config_options"]):
            etree.SubElement(opts, f"{{{RBD_NS}}}option", name=key, value=spec["rbd_config_options"][key])
    return to_string(root)


def parse_pool(xml: str) -> dict[str, Any]:
    """Spec-shaped inputs from a pool definition (live XMLDesc or a file), plus `uuid`,
    `capacity`, `allocation` and `available` when present. Empty parts are dropped."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    spec: dict[str, Any] = {"type": root.get("type"), "name": child_text(root, "name")}
    cow = root.find("features/cow")
    if cow is not None:
        spec["cow"] = cow.get("state") == "yes"
    src = root.find("source")
    if src is not None:
        source: dict[str, Any] = {
            "hosts": [prune({"name": h.get("name"), "port": int(h.get("port")) if h.get("port") else None})
                      for h in src.findall("host")],
            "devices": [prune({"path": d.get("path"),
                               "part_separator": None if d.get("part_separator") is None
                               else d.get("part_separator") == "yes"}) for d in src.findall("device")],
            "dir": src.find("dir").get("path") if src.find("dir") is not None else None,
            "name": child_text(src, "name"),
            "format": src.find("format").get("type") if src.find("format") is not None else None,
            "protocol_version": src.find("protocol").get("ver") if src.find("protocol") is not None else None,
            "initiator_iqn": src.find("initiator/iqn").get("name") if src.find("initiator/iqn") is not None
            else None,
            "vendor": src.find("vendor").get("name") if src.find("vendor") is not None else None,
            "product": src.find("product").get("name") if src.find("product") is not None else None,
        }
        auth = src.find("auth")
        if auth is not None:
            secret = auth.find("secret")
            source["auth"] = prune({"type": auth.get("type"), "username": auth.get("username"),
                                    "secret_uuid": secret.get("uuid") if secret is not None else None,
                                    "secret_usage": secret.get("usage") if secret is not None else None})
        adapter = src.find("adapter")
        if adapter is not None:
            a: dict[str, Any] = {k: adapter.get(k) for k in ("type", "name", "parent", "wwnn", "wwpn",
                                                              "parent_wwnn", "parent_wwpn", "parent_fabric_wwn")}
            if adapter.get("managed") is not None:
                a["managed"] = adapter.get("managed") == "yes"
            addr = adapter.find("parentaddr/address")
            if addr is not None:
                unique_id = adapter.find("parentaddr").get("unique_id")
                a["parent_address"] = {"unique_id": int(unique_id) if unique_id is not None else None,
                                       "domain": int(addr.get("domain", "0"), 0), "bus": int(addr.get("bus"), 0),
                                       "slot": int(addr.get("slot"), 0), "function": int(addr.get("function"), 0)}
            source["adapter"] = prune(a)
        spec["source"] = prune(source)
    tgt = root.find("target")
    if tgt is not None:
        spec["target"] = prune({"path": child_text(tgt, "path"), "permissions": permissions_from(tgt)})
    refresh = root.find("refresh/volume")
    if refresh is not None and refresh.get("allocation"):
        spec["rbd_refresh_volume_allocation"] = refresh.get("allocation")
    opts = root.findall(f"{{{FS_NS}}}mount_opts/{{{FS_NS}}}option")
    if opts:
        spec["mount_options"] = [o.get("name") for o in opts]
    rbd_opts = root.findall(f"{{{RBD_NS}}}config_opts/{{{RBD_NS}}}option")
    if rbd_opts:
        spec["rbd_config_options"] = {o.get("name"): o.get("value") for o in rbd_opts}
    for key in ("uuid",):
        if root.find(key) is not None:
            spec[key] = child_text(root, key)
    for key in ("capacity", "allocation", "available"):
        spec[key] = size_in_bytes(root.find(key))
    return prune(spec)



def redact_pool_xml(xml: str) -> str:
    """A pool definition with the value of every secret option (a mount password, an rbd `key`; see
    spec.pool.mount_option_secret) replaced by spec.pool.REDACTED: what this provider shows of a
    definition made outside it. `xml` itself, as libvirt wrote it, when it holds none."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    changed = False
    for option in root.findall(f"{{{FS_NS}}}mount_opts/{{{FS_NS}}}option"):
        name = option.get("name") or ""
        if redact_mount_option(name) != name:
            option.set("name", redact_mount_option(name))
            changed = True
    for option in root.findall(f"{{{RBD_NS}}}config_opts/{{{RBD_NS}}}option"):
        if rbd_option_is_key(option.get("name") or "") and option.get("value") != REDACTED:
            option.set("value", REDACTED)
            changed = True
    return to_string(root) if changed else xml
