"""Secrets: libvirt secrets of three usage types, one implementation.

- CephSecret (usage type ceph): a cephx key for rbd pools and disks;
- IscsiSecret (usage type iscsi): a CHAP password for iscsi and iscsi-direct pools;
- VolumeSecret (usage type volume): the passphrase of LUKS-encrypted volumes;
- TlsSecret (usage type tls) and VtpmSecret (usage type vtpm): passphrases of TLS keys and of a VM's
  vTPM state, so that importing a host misses none of its secrets.

The value is a Pulumi secret on the way in and never leaves the provider except as the bytes
given to libvirt's setValue. What the state keeps is `value_fingerprint`, itself a secret output
(encrypted in the state like the value would be), a slow salted hash (PBKDF2-HMAC-SHA256, keyed
by the secret's uuid): it changes when the value is rotated. CHAP passwords and passphrases are
often short, so the fingerprint is never stored in plain text, and guessing through it costs
100 000 hashing rounds per guess even for someone holding the stack's secrets key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Callable

from .fields import Failures, Field, Kind, Policy, ResourceSchema, is_unknown, normalize
from .pool import check_uuid
from .units import SpecError

R, U, S, C, SECRET = Policy.REPLACE, Policy.UPDATE, Policy.STATE, Policy.COMPUTED, Policy.SECRET

FINGERPRINT_ROUNDS = 100_000
_FINGERPRINT_PREFIX = "pbkdf2-sha256:"


def decode_key(value: str, prop: str = "value") -> bytes:
    """A cephx key's raw bytes. The message never quotes the value."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SpecError(prop, "is not valid base64; give the key exactly as `ceph auth get-key client.NAME` "
                        "prints it") from None
    if not raw:
        raise SpecError(prop, "is empty")
    return raw


def _text_value(value: str, prop: str = "value") -> bytes:
    if not value:
        raise SpecError(prop, "is empty")
    if "\0" in value:
        raise SpecError(prop, "must not contain NUL characters")
    return value.encode()


@dataclass(frozen=True)
class SecretKind:
    """What one usage type of libvirt secret is."""

    resource: str  # the resource's name: CephSecret, IscsiSecret, VolumeSecret
    value_noun: str  # what the value is: "cephx key", "CHAP password", "passphrase"
    usage_type: str  # libvirt's usage type
    usage_element: str  # the element in <usage> that names it: <name>, <target>, <volume>
    doc: str
    usage_doc: str
    value_doc: str
    example: str
    encode: Callable[[str, str], bytes]  # the value as given -> the bytes libvirt stores
    # What stops working while the secret is not defined (after a destroy, during a replacement), as the
    # CI guard says it. Only libvirt's copy of the value goes; the data it opens is not touched.
    while_undefined: str
    # What a new value does to data already encrypted with the old one (None: nothing; the value is
    # only presented to a server, which is rotated beside it). Set: a new value needs allow_value_change.
    value_change_loses: str | None = None


SECRET_KINDS: dict[str, SecretKind] = {k.resource: k for k in (
    SecretKind(
        resource="CephSecret", value_noun="cephx key", usage_type="ceph", usage_element="name",
        doc="A libvirt secret (usage type ceph) that holds a cephx key for rbd pools and disks.",
        usage_doc="Usage name, e.g. \"client.libvirt secret\"; unique per host.",
        value_doc="The cephx key as `ceph auth get-key` prints it (base64).",
        example='''key = pulumi.Config().require_secret("cephKey")
secret = CephSecret("ceph", usage_name="client.libvirt secret", value=key)''',
        while_undefined="pools and disks that authenticate with it fail until it is back",
        encode=decode_key),
    SecretKind(
        resource="IscsiSecret", value_noun="CHAP password", usage_type="iscsi", usage_element="target",
        doc="A libvirt secret (usage type iscsi) that holds a CHAP password for iscsi and iscsi-direct pools "
            "(their source.auth of type chap refers to it by uuid or by usage name).",
        usage_doc="Usage target, the name a pool's auth can refer to it by (secret_usage); unique per host.",
        value_doc="The CHAP password.",
        example='''chap = IscsiSecret("chap", usage_name="libvirtiscsi", value=pulumi.Config().require_secret("chapPassword"))''',
        while_undefined="pools that log in to their target with it (CHAP) fail until it is back",
        encode=_text_value),
    SecretKind(
        resource="VolumeSecret", value_noun="passphrase", usage_type="volume", usage_element="volume",
        doc="A libvirt secret (usage type volume) that holds the passphrase of LUKS-encrypted volumes (a "
            "StorageVolume's encryption refers to it by uuid).",
        usage_doc="Usage volume: by libvirt's convention the path of the volume it encrypts (any unique string "
                  "works); unique per host.",
        value_doc="The passphrase.",
        value_change_loses="the volumes encrypted with it keep the old passphrase in their LUKS header and could no "
                           "longer be opened",
        example='''key = VolumeSecret("luks", usage_name="/var/lib/libvirt/images/vm1.qcow2",
                  value=pulumi.Config().require_secret("diskPassphrase"))''',
        while_undefined="the volumes encrypted with its passphrase cannot be opened through libvirt until it is "
                        "defined again with the same value",
        encode=_text_value),
    SecretKind(
        resource="TlsSecret", value_noun="passphrase", usage_type="tls", usage_element="name",
        doc="A libvirt secret (usage type tls) that holds the passphrase of a TLS private key (e.g. for a "
            "VM's disk over TLS, or migration).",
        usage_doc="Usage name; unique per host.",
        value_doc="The passphrase of the TLS key.",
        example='tls = TlsSecret("tls", usage_name="vm-tls", value=pulumi.Config().require_secret("tlsPassphrase"))',
        while_undefined="the TLS key it unlocks cannot be used (disks over TLS, migration fail) until it is "
                        "defined again with the same value",
        encode=_text_value),
    SecretKind(
        resource="VtpmSecret", value_noun="passphrase", usage_type="vtpm", usage_element="name",
        doc="A libvirt secret (usage type vtpm) that holds the passphrase encrypting a VM's virtual TPM state.",
        usage_doc="Usage name; unique per host.",
        value_doc="The vTPM state's passphrase.",
        value_change_loses="the vTPM state encrypted with the old passphrase could no longer be read",
        example='vtpm = VtpmSecret("vtpm", usage_name="vm1 vtpm", value=pulumi.Config().require_secret("vtpmPassphrase"))',
        while_undefined="the VM's vTPM state encrypted with it cannot be read until it is defined again with the "
                        "same value",
        encode=_text_value),
)}


def secret_schema(kind: SecretKind) -> ResourceSchema:
    return ResourceSchema(
        name=kind.resource,
        doc=kind.doc + " The value is always a Pulumi secret; the state keeps only a fingerprint (a secret output "
            "too) that changes when the value is rotated.",
        inputs=(
            Field("usage_name", Kind.STRING, kind.usage_doc, R, required=True),
            Field("value", Kind.STRING, kind.value_doc + " A new value is set in place. Required for a new secret; an "
                  "adopted or imported one without it keeps the value libvirt holds.", SECRET | U),
            Field("description", Kind.STRING, "Description.", U),
            Field("private", Kind.BOOLEAN, "libvirt never reveals the value once set.", R, default=True),
            Field("ephemeral", Kind.BOOLEAN, "Kept in memory only, lost when libvirtd restarts.", R, default=False),
            Field("uuid", Kind.STRING, "A fixed UUID; derived from the stack and resource name when omitted.", R,
                  check=check_uuid),
            Field("uri", Kind.STRING, "libvirt connection URI (see StoragePool.uri).", R),
            Field("adopt", Kind.BOOLEAN, "Take an existing secret with this usage under management (its value is "
                  "then set when given). An adopted secret is released, not undefined, on destroy.", S,
                  default=False),
            *((Field("allow_value_change", Kind.BOOLEAN, f"Allow a new value: {kind.value_change_loses}, so "
                     "re-encrypt that data with the new value first (e.g. qemu-img amend), then set this.", S,
                     default=False),) if kind.value_change_loses else ()),
        ),
        outputs=(
            Field("value_fingerprint", Kind.STRING, "A slow salted hash of the value (PBKDF2-HMAC-SHA256 keyed by "
                  "the secret's uuid), a secret output: changes when the value is rotated.", C | SECRET),
            Field("adopted", Kind.BOOLEAN, "True when the secret existed before and was adopted.", C),
        ),
        secret_outputs=("value", "value_fingerprint"),
        example=kind.example,
    )


SECRET_SCHEMAS: dict[str, ResourceSchema] = {name: secret_schema(k) for name, k in SECRET_KINDS.items()}
SECRET_SCHEMA = SECRET_SCHEMAS["CephSecret"]  # (its name is kept: tests and tools import it)


def fingerprint_of_bytes(raw: bytes, secret_uuid: str) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", raw, secret_uuid.encode(), FINGERPRINT_ROUNDS)
    return _FINGERPRINT_PREFIX + digest.hex()[:32]


def fingerprint(value: str, secret_uuid: str, kind: SecretKind = SECRET_KINDS["CephSecret"]) -> str:
    return fingerprint_of_bytes(kind.encode(value, "value"), secret_uuid)


def fingerprint_matches(value: str, secret_uuid: str, stored: Any, kind: SecretKind = SECRET_KINDS["CephSecret"]
                        ) -> bool:
    """Whether `value` is the value `stored` fingerprints, in today's form or in the form of earlier
    versions (16 hex digits of HMAC-SHA256 keyed by the uuid, ceph keys only)."""
    if not isinstance(stored, str) or not stored:
        return False
    if stored.startswith(_FINGERPRINT_PREFIX):
        return hmac.compare_digest(stored, fingerprint(value, secret_uuid, kind))
    legacy = hmac.new(secret_uuid.encode(), kind.encode(value, "value"), hashlib.sha256).hexdigest()[:16]
    return hmac.compare_digest(stored, legacy)


def check_secret(raw: dict[str, Any], kind: SecretKind = SECRET_KINDS["CephSecret"]) -> dict[str, Any]:
    spec = normalize(SECRET_SCHEMAS[kind.resource].inputs, raw)
    failures: list[SpecError] = []
    value = spec.get("value")
    if isinstance(value, str) and not is_unknown(value):
        try:
            kind.encode(value, "value")
        except SpecError as e:
            failures.append(e)
    usage = spec.get("usage_name")
    if isinstance(usage, str) and not usage.strip():
        failures.append(SpecError("usage_name", "must not be empty"))
    if failures:
        raise Failures(failures)
    return spec
