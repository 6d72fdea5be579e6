"""Secret spec -> libvirt secret XML, and back. The value is never in XML.

libvirt names the usage of a secret with an element that depends on its usage type: <name> (ceph,
tls, vtpm), <target> (iscsi), <volume> (volume)."""

from __future__ import annotations

from typing import Any

from lxml import etree

from .common import child_text, prune, sub, to_string

USAGE_ELEMENTS = {"ceph": "name", "iscsi": "target", "volume": "volume", "tls": "name", "vtpm": "name"}


def secret_xml(spec: dict[str, Any], uuid: str, usage_type: str = "ceph") -> str:
    root = etree.Element("secret", ephemeral="yes" if spec.get("ephemeral") else "no",
                         private="yes" if spec.get("private", True) else "no")
    sub(root, "uuid", text=uuid)
    if spec.get("description"):
        sub(root, "description", text=spec["description"])
    usage = sub(root, "usage", type=usage_type)
    sub(usage, USAGE_ELEMENTS[usage_type], text=spec["usage_name"])
    return to_string(root)


def parse_secret(xml: str) -> dict[str, Any]:
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    usage = root.find("usage")
    usage_type = usage.get("type") if usage is not None else None
    element = USAGE_ELEMENTS.get(usage_type or "", "name")
    return prune({
        "uuid": child_text(root, "uuid"),
        "description": child_text(root, "description"),
        "usage_type": usage_type,
        "usage_name": child_text(usage, element) if usage is not None else None,
    }) | {"private": root.get("private") == "yes", "ephemeral": root.get("ephemeral") == "yes"}
