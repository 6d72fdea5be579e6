"""Small lxml helpers shared by the pool, volume, secret and disk XML modules."""

from __future__ import annotations

from typing import Any

from lxml import etree

from ..spec.units import parse_size


def sub(parent: etree._Element, tag: str, /, text: Any = None, **attrs: Any) -> etree._Element:
    """A child element; attributes whose value is None are left out."""
    el = etree.SubElement(parent, tag, {k: str(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = str(text)
    return el


def child_text(parent: etree._Element, path: str) -> str | None:
    el = parent.find(path)
    return el.text.strip() if el is not None and el.text is not None else None


def size_in_bytes(el: etree._Element | None) -> int | None:
    """A libvirt scaled integer element (<capacity unit='KiB'>12</capacity>) in bytes."""
    if el is None or el.text is None:
        return None
    return int(el.text) * parse_size(f"1{el.get('unit') or 'B'}", el.tag)


def to_string(root: etree._Element) -> str:
    return etree.tostring(root, pretty_print=True, encoding="unicode")


def prune(value: Any) -> Any:
    """Drop None, empty strings, lists and dicts, recursively."""
    if isinstance(value, dict):
        pruned = {k: prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [prune(v) for v in value if v not in (None, "", [], {})]
    return value


def permissions_to(parent: etree._Element, perms: dict[str, Any] | None) -> None:
    if not perms:
        return
    el = sub(parent, "permissions")
    for key in ("mode", "owner", "group", "label"):
        if perms.get(key) is not None:
            sub(el, key, text=perms[key])


def permissions_from(parent: etree._Element) -> dict[str, Any] | None:
    el = parent.find("permissions")
    if el is None:
        return None
    perms: dict[str, Any] = {}
    for key in ("mode", "owner", "group", "label"):
        text = child_text(el, key)
        if text is None:
            continue
        if key == "mode":
            perms[key] = f"{int(text, 8):04o}"
        elif key in ("owner", "group"):
            perms[key] = int(text)
        else:
            perms[key] = text
    return perms or None
