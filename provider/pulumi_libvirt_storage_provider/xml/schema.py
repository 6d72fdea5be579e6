"""Validation of generated XML against libvirt's own RelaxNG schemas, where installed."""

from __future__ import annotations

import functools
import os

from lxml import etree

SCHEMA_DIR = os.environ.get("LIBVIRT_SCHEMA_DIR", "/usr/share/libvirt/schemas")


@functools.lru_cache(maxsize=None)
def _schema(name: str) -> etree.RelaxNG | None:
    path = os.path.join(SCHEMA_DIR, f"{name}.rng")
    if not os.path.exists(path):
        return None
    return etree.RelaxNG(etree.parse(path))


def schema_errors(xml: str, name: str) -> list[str] | None:
    """libvirt's complaints about `xml` under schema `name` (storagepool, storagevol, secret,
    domain); [] when valid, None when the schema is not installed here."""
    schema = _schema(name)
    if schema is None:
        return None
    if schema.validate(etree.fromstring(xml.encode())):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]
