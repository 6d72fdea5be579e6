"""Bring existing storage under management: libvirt XML (from a file or a live host) -> the
resource arguments that define the same thing, and a ready-to-run Pulumi program.

The arguments are exactly the inputs of StoragePool / StorageVolume / CephSecret, so that
`pool_xml(check_pool(args))` is a definition libvirt considers identical to the original
(the round-trip tests compare libvirt's own re-serialisation of both).
"""

from __future__ import annotations

import keyword
import pprint
import re
from dataclasses import dataclass, field
from typing import Any

from .spec.pool import POOL_SCHEMA, redact_pool_spec, secret_option_failures
from .spec.fields import Failures
from .spec.units import SpecError
from .spec.pooltypes import VolumeKind, info
from .spec.units import format_size
from .xml.pool import parse_pool
from .spec.secret import SECRET_KINDS
from .xml.secret import parse_secret
from .spec.volume import check_volume
from .xml.volume import parse_volume

_POOL_INPUTS = {f.name for f in POOL_SCHEMA.inputs}


def pool_args(xml: str, *, active: bool | None = None, autostart: bool | None = None) -> dict[str, Any]:
    """StoragePool arguments from a pool definition. A password or key in its options is redacted
    (spec.pool.REDACTED): the arguments are printed and stored, and check refuses them with the way
    out (a credentials file, a CephSecret) rather than carry the secret on."""
    parsed = redact_pool_spec(parse_pool(xml))
    args = {k: v for k, v in parsed.items() if k in _POOL_INPUTS}
    if active is not None:
        args["start"] = active
    if autostart is not None:
        args["autostart"] = autostart
    if "cow" in parsed:
        args["cow"] = parsed["cow"]
    return args


def volume_args(xml: str, pool: str, pool_type: str | None = None) -> dict[str, Any]:
    """StorageVolume arguments from a volume definition (capacity in bytes). `adopt` is set when the
    definition is one libvirt can report but this provider would not create (a format qemu-img
    cannot write, capacity 0, an LVM snapshot, legacy encryption): such a volume is managed as it is."""
    v = parse_volume(xml)
    t = info(pool_type) if pool_type else None
    args: dict[str, Any] = {"pool": pool, "name": v["name"], "capacity": v.get("capacity")}
    if pool_type:
        args["pool_type"] = pool_type
    fmt = v.get("format")
    # LUNs (pools whose volumes libvirt cannot create) have no format to declare
    if fmt and not (t and not t.adoptable_formats):
        args["format"] = fmt
    allocation = _declared_allocation(v, t)
    if allocation is not None:
        args["allocation"] = allocation
    for key in ("backing_store", "qcow2", "permissions", "encryption"):
        if v.get(key):
            args[key] = v[key]
    try:
        check_volume(args)
    except (Failures, SpecError):
        try:
            check_volume({**args, "adopt": True})
        except (Failures, SpecError):
            pass  # the caller's check reports it
        else:
            args["adopt"] = True
    return args


# File formats for which libvirt's builder here asks for nothing allocated when no allocation is
# given (xml/volume.py writes <allocation>0</allocation>); elsewhere libvirt allocates the capacity.
_SPARSE_FORMATS = (None, "raw", "qcow2", "qed", "vmdk", "vpc", "vdi", "qcow", "cow")


def _declared_allocation(v: dict[str, Any], t: Any) -> int | None:
    """The allocation to declare for a volume libvirt reports, so that creating it again asks for
    what it has: nothing when leaving it out means the same (sparse files, fully allocated blocks).
    On a live host a file's allocation is the space its data takes; a qcow2-like image is declared
    fully preallocated when libvirt would create it with preallocation=falloc (allocation =
    capacity), with its metadata preallocated below that; an image taking more than its capacity
    (metadata, internal snapshots) is declared sparse."""
    alloc, cap = v.get("allocation"), v.get("capacity")
    fmt = v.get("format")
    sparse = (t is None or t.volume_kind is VolumeKind.FILE) and fmt in _SPARSE_FORMATS
    if alloc is None:  # (a definition without <allocation>: libvirt allocates the capacity)
        return cap if sparse else None
    if sparse:
        if alloc == 0:
            return None
        if fmt not in (None, "raw") and cap is not None and alloc > cap:
            return None  # (an image's metadata and snapshots can take more than its capacity)
        return alloc
    return None if alloc == cap else alloc


_SECRET_RESOURCES = {k.usage_type: k.resource for k in SECRET_KINDS.values()}


def secret_args(xml: str) -> tuple[str, dict[str, Any]] | None:
    """(the resource, its arguments without the value) from a secret definition: CephSecret,
    IscsiSecret or VolumeSecret by usage type; None for the usage types the project does not
    manage (tls, vtpm)."""
    s = parse_secret(xml)
    resource = _SECRET_RESOURCES.get(s.get("usage_type") or "")
    if resource is None:
        return None
    args = {"usage_name": s["usage_name"], "private": s["private"], "ephemeral": s["ephemeral"]}
    if s.get("uuid"):  # (a definition in a file may leave it to libvirt)
        args["uuid"] = s["uuid"]
    if s.get("description"):
        args["description"] = s["description"]
    return resource, args


@dataclass
class HostInventory:
    pools: list[dict[str, Any]] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    secrets: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (resource, arguments)


def read_host(conn: Any, *, include_volumes: bool = True) -> HostInventory:
    """Every pool, volume and secret (ceph, iscsi, volume) libvirt knows on this connection."""
    import libvirt  # only here: the rest of this module works offline on XML

    inventory = HostInventory()
    try:
        secrets = conn.listAllSecrets()
    except libvirt.libvirtError as e:
        if e.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:  # e.g. libvirt's test driver has no secrets
            raise
        secrets = []
    for secret in secrets:
        args = secret_args(secret.XMLDesc(0))
        if args:
            inventory.secrets.append(args)
    for pool in sorted(conn.listAllStoragePools(), key=lambda p: p.name()):
        try:
            xml = pool.XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE if pool.isPersistent() else 0)
        except libvirt.libvirtError:  # drivers without the flag (libvirt's test driver)
            xml = pool.XMLDesc(0)
        args = pool_args(xml, active=bool(pool.isActive()), autostart=bool(pool.autostart()))
        inventory.pools.append(args)
        if include_volumes and pool.isActive():
            for vol in sorted(pool.listAllVolumes(), key=lambda v: v.name()):
                inventory.volumes.append(volume_args(vol.XMLDesc(0), pool.name(), args["type"]))
    return inventory


def _identifier(name: str, taken: set[str]) -> str:
    ident = re.sub(r"\W+", "_", name).strip("_").lower() or "r"
    if ident[0].isdigit() or keyword.iskeyword(ident):
        ident = "r_" + ident
    base, n = ident, 2
    while ident in taken:
        ident, n = f"{base}_{n}", n + 1
    taken.add(ident)
    return ident


_SECRET_VALUE_HINT = {"CephSecret": "\"$(ceph auth get-key client.NAME)\"", "IscsiSecret": "<the CHAP password>",
                      "VolumeSecret": "<the LUKS passphrase>", "TlsSecret": "<the TLS key's passphrase>",
                      "VtpmSecret": "<the vTPM passphrase>"}
_SECRET_CONFIG_PREFIX = {"CephSecret": "cephKey", "IscsiSecret": "chapPassword", "VolumeSecret": "passphrase",
                         "TlsSecret": "tlsPassphrase", "VtpmSecret": "vtpmPassphrase"}


def _config_key(resource: str, usage_name: str) -> str:
    words = re.split(r"\W+", usage_name.lower())
    return _SECRET_CONFIG_PREFIX[resource] + "".join(w.capitalize() for w in words if w)


def _literal(value: Any, indent: int) -> str:
    text = pprint.pformat(value, width=100 - indent, sort_dicts=False)
    return text.replace("\n", "\n" + " " * indent)


def program(inventory: HostInventory, uri: str | None = None) -> str:
    """A Pulumi Python program that adopts everything in `inventory`. Ceph keys are read from
    secret stack config (`pulumi config set --secret cephKey... <key>`), never inlined."""
    taken: set[str] = set()
    lines = [
        '"""Storage found on a libvirt host, adopted as it is (generated by pulumi-libvirt-storage import)."""',
        "",
        "import pulumi",
        "",
        "from pulumi_libvirt_storage import (CephSecret, IscsiSecret, StoragePool, StorageVolume, TlsSecret,",
        "                                    VolumeSecret, VtpmSecret)",
        "",
        "config = pulumi.Config()",
        "",
    ]
    uri_arg = f", uri={uri!r}" if uri else ""
    secret_vars: dict[str, str] = {}
    for resource, s in inventory.secrets:
        var = _identifier("secret_" + s["usage_name"], taken)
        secret_vars[s["uuid"]] = var
        key = _config_key(resource, s["usage_name"])
        extra = "".join(f", {k}={s[k]!r}" for k in ("description", "private", "ephemeral") if k in s)
        how = _SECRET_VALUE_HINT[resource]
        if SECRET_KINDS[resource].value_change_loses:
            # A passphrase that data is encrypted with: the secret keeps the one it holds.
            lines += ["# no value: the secret keeps the passphrase it holds, which encrypted data depends on",
                      f"{var} = {resource}({var!r}, usage_name={s['usage_name']!r}, uuid={s['uuid']!r}{extra}"
                      f"{uri_arg}, adopt=True)", ""]
            continue
        lines += [f"# pulumi config set --secret {key} {how}",
                  f"{var} = {resource}({var!r}, usage_name={s['usage_name']!r}, uuid={s['uuid']!r},",
                  f"    value=config.require_secret({key!r}){extra}{uri_arg}, adopt=True)", ""]
    pool_vars: dict[str, str] = {}
    for p in inventory.pools:
        var = _identifier("pool_" + p["name"], taken)
        pool_vars[p["name"]] = var
        refused = secret_option_failures(p)
        if refused:
            lines += ["# The host's definition of this pool holds secret material (shown redacted); check refuses it",
                      "# until it moves out of the definition (virsh pool-edit), then import again:"]
            lines += [f"# {failure}" for failure in refused]
        call = [f"{var} = StoragePool(", f"    {var!r},"]
        for key, value in p.items():
            if key == "source" and (value.get("auth") or {}).get("secret_uuid") in secret_vars:
                auth = dict(value["auth"])
                secret_var = secret_vars[auth.pop("secret_uuid")]
                source = {k: v for k, v in value.items() if k != "auth"}
                call.append(f"    source={{**{_literal(source, 12)},")
                call.append(f"            'auth': {{**{_literal(auth, 22)}, 'secret_uuid': {secret_var}.uuid}}}},")
                continue
            call.append(f"    {key}={_literal(value, 4 + len(key) + 1)},")
        if uri:
            call.append(f"    uri={uri!r},")
        call += ["    adopt=True,", ")", ""]
        lines += call
    for v in inventory.volumes:
        pool_var = pool_vars.get(v["pool"])
        var = _identifier(f"vol_{v['pool']}_{v['name']}", taken)
        args = [f"pool={pool_var}" if pool_var else f"pool={v['pool']!r}"]
        for key, value in v.items():
            if key in ("pool", "pool_type", "adopt"):
                continue
            if key == "capacity" and isinstance(value, int):
                readable = format_size(value)  # "20GiB" when exact, else "123B"
                args.append(f"capacity={readable!r}" if readable.endswith("iB") else f"capacity={value}")
                continue
            if key == "encryption" and value.get("secret_uuid") in secret_vars:
                rest = {k: v for k, v in value.items() if k != "secret_uuid"}
                inner = _literal(rest, 8)[1:-1]
                args.append(f"encryption={{{inner}, 'secret_uuid': {secret_vars[value['secret_uuid']]}.uuid}}")
                continue
            args.append(f"{key}={_literal(value, 8)}")
        lines += [f"{var} = StorageVolume({var!r}, " + ", ".join(args) + f"{uri_arg}, adopt=True)"]
    if inventory.volumes:
        lines.append("")
    for name, var in pool_vars.items():
        lines.append(f"pulumi.export({('pool_' + name)!r}, {var}.uuid)")
    return "\n".join(lines) + "\n"
