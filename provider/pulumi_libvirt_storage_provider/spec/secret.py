"""CephSecret: a libvirt secret of usage type ceph holding a cephx key.

The key is a Pulumi secret on the way in and never leaves the provider except as the
decoded bytes given to libvirt. What the state keeps is a keyed fingerprint that changes
when the key changes and reveals nothing about it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

from .fields import Failures, Field, Kind, Policy, ResourceSchema, is_unknown, normalize
from .pool import check_uuid
from .units import SpecError

R, U, S, C, SECRET = Policy.REPLACE, Policy.UPDATE, Policy.STATE, Policy.COMPUTED, Policy.SECRET

SECRET_SCHEMA = ResourceSchema(
    name="CephSecret",
    doc="A libvirt secret (usage type ceph) that holds a cephx key for rbd pools and disks. The key is always "
        "a Pulumi secret; the state keeps only a fingerprint that changes when the key is rotated.",
    inputs=(
        Field("usage_name", Kind.STRING, "Usage name, e.g. \"client.libvirt secret\"; unique per host.", R,
              required=True),
        Field("value", Kind.STRING, "The cephx key as `ceph auth get-key` prints it (base64). A new value is set "
              "in place. Required for a new secret; an adopted or imported one without it keeps the value libvirt "
              "holds.", SECRET | U),
        Field("description", Kind.STRING, "Description.", U),
        Field("private", Kind.BOOLEAN, "libvirt never reveals the value once set.", R, default=True),
        Field("ephemeral", Kind.BOOLEAN, "Kept in memory only, lost when libvirtd restarts.", R, default=False),
        Field("uuid", Kind.STRING, "A fixed UUID; generated when omitted.", R, check=check_uuid),
        Field("uri", Kind.STRING, "libvirt connection URI (see StoragePool.uri).", R),
        Field("adopt", Kind.BOOLEAN, "Take an existing secret with this usage name under management (its value "
              "is then set). An adopted secret is released, not undefined, on destroy.", S, default=False),
    ),
    outputs=(
        Field("value_fingerprint", Kind.STRING, "HMAC-SHA256 of the key, keyed by the secret's uuid (16 hex "
              "digits): changes when the key is rotated, reveals nothing about it.", C),
        Field("adopted", Kind.BOOLEAN, "True when the secret existed before and was adopted.", C),
    ),
    secret_outputs=("value",),
    example='''key = pulumi.Config().require_secret("cephKey")
secret = CephSecret("ceph", usage_name="client.libvirt secret", value=key)''',
)


def decode_key(value: str, prop: str = "value") -> bytes:
    """The raw key bytes. The message never quotes the value."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SpecError(prop, "is not valid base64; give the key exactly as `ceph auth get-key client.NAME` "
                        "prints it") from None
    if not raw:
        raise SpecError(prop, "is empty")
    return raw


def fingerprint(value: str, secret_uuid: str) -> str:
    return hmac.new(secret_uuid.encode(), decode_key(value), hashlib.sha256).hexdigest()[:16]


def check_secret(raw: dict[str, Any]) -> dict[str, Any]:
    spec = normalize(SECRET_SCHEMA.inputs, raw)
    failures: list[SpecError] = []
    value = spec.get("value")
    if isinstance(value, str) and not is_unknown(value):
        try:
            decode_key(value)
        except SpecError as e:
            failures.append(e)
    usage = spec.get("usage_name")
    if isinstance(usage, str) and not usage.strip():
        failures.append(SpecError("usage_name", "must not be empty"))
    if failures:
        raise Failures(failures)
    return spec
