"""Secret spec -> libvirt secret XML (usage type ceph), and back. The value is never in XML."""

from __future__ import annotations

from typing import Any

from lxml import etree

from .common import child_text, prune, sub, to_string


def secret_xml(spec: dict[str, Any], uuid: str) -> str:
    root = etree.Element("secret", ephemeral="yes" if spec.get("ephemeral") else "no",
                         private="yes" if spec.get("private", True) else "no")
    sub(root, "uuid", text=uuid)
    if spec.get("description"):
        sub(root, "description", text=spec["description"])
    usage = sub(root, "usage", type="ceph")
    sub(usage, "name", text=spec["usage_name"])
    return to_string(root)


def parse_secret(xml: str) -> dict[str, Any]:
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    usage = root.find("usage")
    return prune({
        "uuid": child_text(root, "uuid"),
        "description": child_text(root, "description"),
        "private": root.get("private") == "yes",
        "ephemeral": root.get("ephemeral") == "yes",
        "usage_type": usage.get("type") if usage is not None else None,
        "usage_name": child_text(usage, "name") if usage is not None else None,
    }) | {"private": root.get("private") == "yes", "ephemeral": root.get("ephemeral") == "yes"}
