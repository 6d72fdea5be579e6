"""Volume spec -> libvirt volume XML, and volume XML -> observed state."""

from __future__ import annotations

from typing import Any

from lxml import etree

from .common import child_text, permissions_from, permissions_to, prune, size_in_bytes, sub, to_string


def volume_xml(spec: dict[str, Any], name: str, capacity: int, fmt: str | None, *, sparse: bool = True) -> str:
    """`sparse`: allocate nothing up front when no allocation is given (file volumes). On LVM an
    allocation below capacity would ask for a thin snapshot volume instead, so block pools pass False."""
    root = etree.Element("volume")
    sub(root, "name", text=name)
    sub(root, "capacity", text=capacity, unit="bytes")
    if spec.get("allocation") is not None:
        sub(root, "allocation", text=spec["allocation"], unit="bytes")
    elif sparse and fmt in (None, "raw", "qcow2", "qed", "vmdk", "vpc", "vdi", "qcow", "cow"):
        sub(root, "allocation", text=0, unit="bytes")
    target = sub(root, "target")
    if fmt:
        sub(target, "format", type=fmt)
    permissions_to(target, spec.get("permissions"))
    qcow2 = spec.get("qcow2") or {}
    if qcow2.get("compat"):
        sub(target, "compat", text=qcow2["compat"])
    if qcow2.get("cluster_size"):
        sub(target, "clusterSize", text=qcow2["cluster_size"], unit="B")
    if qcow2.get("nocow"):
        sub(target, "nocow")
    features = [f for f in ("lazy_refcounts", "extended_l2") if qcow2.get(f)]
    if features:
        el = sub(target, "features")
        for f in features:
            sub(el, f)
    encryption_to(target, spec.get("encryption"))
    backing = spec.get("backing_store")
    if backing:
        bs = sub(root, "backingStore")
        sub(bs, "path", text=backing["path"])
        if backing.get("format"):
            sub(bs, "format", type=backing["format"])
    return to_string(root)


def encryption_to(parent: etree._Element, enc: dict[str, Any] | None) -> None:
    """<encryption format='luks'><secret type='passphrase' uuid=.../><cipher/><ivgen/></encryption>"""
    if not enc:
        return
    el = sub(parent, "encryption", format=enc["format"], engine=enc.get("engine"))
    if enc.get("secret_uuid") or enc.get("secret_usage"):
        sub(el, "secret", type="passphrase", uuid=enc.get("secret_uuid"), usage=enc.get("secret_usage"))
    cipher = enc.get("cipher")
    if cipher:
        sub(el, "cipher", name=cipher["name"], size=cipher["size"], mode=cipher.get("mode"), hash=cipher.get("hash"))
    ivgen = enc.get("ivgen")
    if ivgen:
        sub(el, "ivgen", name=ivgen["name"], hash=ivgen.get("hash"))


def encryption_from(parent: etree._Element | None) -> dict[str, Any] | None:
    el = parent.find("encryption") if parent is not None else None
    if el is None:
        return None
    secret, cipher, ivgen = el.find("secret"), el.find("cipher"), el.find("ivgen")
    return prune({
        "format": el.get("format"),
        "engine": el.get("engine"),
        "secret_uuid": secret.get("uuid") if secret is not None else None,
        "secret_usage": secret.get("usage") if secret is not None else None,
        "cipher": prune({"name": cipher.get("name"), "size": int(cipher.get("size")), "mode": cipher.get("mode"),
                         "hash": cipher.get("hash")}) if cipher is not None else None,
        "ivgen": prune({"name": ivgen.get("name"), "hash": ivgen.get("hash")}) if ivgen is not None else None,
    })


def parse_volume(xml: str) -> dict[str, Any]:
    """Observed volume state: name, key, type, capacity, allocation, physical (bytes), path,
    format, permissions, backing_store, qcow2 options."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)

    def size(tag: str) -> int | None:
        return size_in_bytes(root.find(tag))

    target = root.find("target")
    fmt = target.find("format").get("type") if target is not None and target.find("format") is not None else None
    qcow2: dict[str, Any] = {}
    if target is not None:
        # A <features> element, even empty, makes libvirt default compat to 1.1.
        compat = child_text(target, "compat") or ("1.1" if target.find("features") is not None else None)
        qcow2 = prune({
            "compat": compat,
            "lazy_refcounts": True if target.find("features/lazy_refcounts") is not None else None,
            "extended_l2": True if target.find("features/extended_l2") is not None else None,
            "cluster_size": size_in_bytes(target.find("clusterSize")),
            "nocow": True if target.find("nocow") is not None else None,
        })
    backing = root.find("backingStore")
    backing_store = None
    if backing is not None and child_text(backing, "path"):
        backing_store = prune({"path": child_text(backing, "path"),
                               "format": backing.find("format").get("type")
                               if backing.find("format") is not None else None})
    return prune({
        "name": child_text(root, "name"),
        "key": child_text(root, "key"),
        "type": root.get("type"),
        "capacity": size("capacity"),
        "allocation": size("allocation"),
        "physical": size("physical"),
        "path": child_text(target, "path") if target is not None else None,
        "format": fmt,
        "permissions": permissions_from(target) if target is not None else None,
        "backing_store": backing_store,
        "qcow2": qcow2 or None,
        "encryption": encryption_from(target),
        # (files: when the file last changed, "seconds.nanoseconds"; part of what identifies the file a
        # create made, resources/intents.py)
        "ctime": child_text(target, "timestamps/ctime") if target is not None else None,
    })
