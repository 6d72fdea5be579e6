"""Secrets in libvirt's secret driver, of any usage type. The value goes in as bytes and never
comes out of this module."""

from __future__ import annotations

import contextlib
import uuid as uuidlib
from dataclasses import dataclass
from typing import Any

import libvirt

from ..spec.secret import SecretKind, fingerprint_of_bytes
from ..xml.secret import parse_secret, secret_xml
from .errors import LibvirtOpError, explain, is_gone, undo_quietly

USAGE_TYPES = {"ceph": libvirt.VIR_SECRET_USAGE_TYPE_CEPH, "iscsi": libvirt.VIR_SECRET_USAGE_TYPE_ISCSI,
               "volume": libvirt.VIR_SECRET_USAGE_TYPE_VOLUME, "tls": libvirt.VIR_SECRET_USAGE_TYPE_TLS,
               "vtpm": libvirt.VIR_SECRET_USAGE_TYPE_VTPM}


@dataclass
class SecretState:
    uuid: str
    observed: dict[str, Any]
    fingerprint: str | None  # None when libvirt will not reveal the value (private)


def by_usage(conn: libvirt.virConnect, kind: SecretKind, usage_name: str) -> libvirt.virSecret | None:
    try:
        return conn.secretLookupByUsage(USAGE_TYPES[kind.usage_type], usage_name)
    except libvirt.libvirtError as e:
        if is_gone(e):
            return None
        raise explain(e, f"looking up {kind.usage_type} secret {usage_name!r}") from e


def state_of(secret: libvirt.virSecret) -> SecretState:
    try:
        observed = parse_secret(secret.XMLDesc(0))
    except libvirt.libvirtError as e:
        raise explain(e, "reading secret") from e
    fp = None
    if not observed.get("private"):
        try:
            fp = fingerprint_of_bytes(secret.value(), secret.UUIDString())
        except libvirt.libvirtError:
            fp = None  # no value set
    return SecretState(uuid=secret.UUIDString(), observed=observed, fingerprint=fp)


def _set_value(secret: libvirt.virSecret, kind: SecretKind, value: str) -> None:
    try:
        secret.setValue(kind.encode(value, "value"))
    except libvirt.libvirtError as e:
        # The message is libvirt's, which never quotes the value.
        raise explain(e, f"setting the value of secret {secret.UUIDString()}") from e


def holds_value(secret: libvirt.virSecret, kind: SecretKind, value: str) -> bool | None:
    """Whether the secret holds exactly `value`: None when that cannot be told (a private secret's
    value is never given back); a secret without a value holds none."""
    try:
        return bool(secret.value(0) == kind.encode(value, "value"))
    except libvirt.libvirtError as e:
        if "does not have a value" in (e.get_error_message() or ""):
            return False
        return None


def has_value(secret: libvirt.virSecret) -> bool | None:
    """Whether the secret holds a value at all (None: cannot be told, it is private)."""
    try:
        secret.value(0)
        return True
    except libvirt.libvirtError as e:
        if "does not have a value" in (e.get_error_message() or ""):
            return False
        return None


def undefine(secret: libvirt.virSecret, why: str) -> None:
    try:
        secret.undefine()
    except libvirt.libvirtError as e:
        if not is_gone(e):
            raise explain(e, f"undefining secret {secret.UUIDString()} ({why})") from e


def define(conn: libvirt.virConnect, kind: SecretKind, spec: dict[str, Any]) -> SecretState:
    """Define the secret and set its value; undefined again when setting the value fails."""
    uuid = spec.get("uuid") or str(uuidlib.uuid4())
    with contextlib.ExitStack() as undo:
        try:
            secret = conn.secretDefineXML(secret_xml(spec, uuid, kind.usage_type), 0)
        except libvirt.libvirtError as e:
            raise explain(e, f"defining {kind.usage_type} secret {spec['usage_name']!r}") from e
        undo.callback(undo_quietly, secret.undefine)
        if spec.get("value") is not None:
            _set_value(secret, kind, spec["value"])
        result = state_of(secret)
        undo.pop_all()
        return result


def adopt(existing: libvirt.virSecret, kind: SecretKind, spec: dict[str, Any]) -> SecretState:
    """Take an existing secret as it is; its value is set when the program gives one, unless that
    would lose data encrypted with the old one (refused without allow_value_change)."""
    if spec.get("value") is not None:
        if kind.value_change_loses and not spec.get("allow_value_change") \
                and not holds_value(existing, kind, spec["value"]):
            raise LibvirtOpError(
                f"adopt: the {kind.usage_type} secret {spec['usage_name']!r} already holds a value that is not "
                f"the given one, or cannot be read back (private); setting it: {kind.value_change_loses}. Leave "
                "value out to keep the secret's own, or set allow_value_change=true once that data uses the new "
                "value")
        _set_value(existing, kind, spec["value"])
    return state_of(existing)


def take_over(existing: libvirt.virSecret, kind: SecretKind, spec: dict[str, Any], *, set_value: bool
              ) -> SecretState:
    """Manage a secret found under this resource's own uuid as it is; its value is set only when the
    caller established that this loses nothing (it had none, or a run of this resource made it)."""
    if set_value and spec.get("value") is not None:
        _set_value(existing, kind, spec["value"])
    return state_of(existing)


def read(conn: libvirt.virConnect, uuid: str) -> SecretState | None:
    try:
        secret = conn.secretLookupByUUIDString(uuid)
    except libvirt.libvirtError as e:
        if is_gone(e):
            return None
        raise explain(e, f"looking up secret {uuid}") from e
    return state_of(secret)


def update(conn: libvirt.virConnect, kind: SecretKind, uuid: str, spec: dict[str, Any], *, value_changed: bool,
           redefine: bool) -> SecretState:
    try:
        secret = conn.secretLookupByUUIDString(uuid)
    except libvirt.libvirtError as e:
        raise explain(e, f"looking up secret {uuid}") from e
    if redefine:
        try:
            secret = conn.secretDefineXML(secret_xml(spec, uuid, kind.usage_type), 0)
        except libvirt.libvirtError as e:
            raise explain(e, f"redefining secret {uuid}") from e
    if value_changed:
        _set_value(secret, kind, spec["value"])
    return state_of(secret)


def delete(conn: libvirt.virConnect, uuid: str) -> None:
    try:
        conn.secretLookupByUUIDString(uuid).undefine()
    except libvirt.libvirtError as e:
        if is_gone(e):
            return
        raise explain(e, f"undefining secret {uuid}") from e
