"""StorageVolume: fields, policy and the offline rules of check.

What depends on the pool (its type decides formats, whether volumes can be created at all)
is checked here when the pool's type is given (`pool_type`, which the SDK fills in from a
StoragePool output), and again in ops against the live pool.
"""

from __future__ import annotations

import re
from typing import Any

from .fields import Failures, Field, Kind, Policy, ResourceSchema, contains_unknown, is_unknown, normalize
from .pool import PERMISSIONS, check_object_name, check_uuid
from .pooltypes import (BACKING_FORMATS, POOL_TYPE_NAMES, VOLUME_FORMATS, PoolTypeInfo,
                        VolumeKind, info)
from .units import SpecError

R, U, S, C = Policy.REPLACE, Policy.UPDATE, Policy.STATE, Policy.COMPUTED

WIPE_ALGORITHMS = ("zero", "nnsa", "dod", "bsi", "gutmann", "schneier", "pfitzner7", "pfitzner33", "random",
                   "trim")


def _cluster_size(value: int, prop: str) -> int:
    if value < 512 or value > 2 * 1024**2 or value & (value - 1):
        raise SpecError(prop, f"a qcow2 cluster size is a power of two from 512 B to 2 MiB, got {value}")
    return value


DISK_BUSES = ("virtio", "scsi", "sata", "ide", "usb", "xen", "sd", "fdc")


def _target_dev(value: str, prop: str) -> str:
    if not re.fullmatch(r"(vd|sd|hd|xvd|fd)[a-z]{1,3}", value):
        raise SpecError(prop, f"expected a disk target device name such as vda, vdb or sda, got {value!r}")
    return value


ENCRYPTION = Field(
    "encryption", Kind.OBJECT, "Encryption of the volume's data: LUKS, for raw and qcow2 volumes, with the passphrase "
    "in a libvirt secret of usage type volume (a VolumeSecret's uuid). disk_xml carries it, so a VM opens the "
    "volume decrypted.", R, fields=(
        Field("format", Kind.ENUM, "luks. Only for an adopted volume: qcow (the legacy qcow2 AES encryption), "
              "luks2 (librbd) and default.", R, values=("luks", "luks2", "qcow", "default"), required=True),
        Field("engine", Kind.ENUM, "Who decrypts when a VM opens the volume: qemu (the default) or librbd "
              "(rbd luks/luks2 images); carried into disk_xml.", R, values=("qemu", "librbd")),
        Field("secret_uuid", Kind.STRING, "UUID of the libvirt secret holding the passphrase (a VolumeSecret's "
              "uuid).", R, check=lambda v, p: check_uuid(v, p)),
        Field("secret_usage", Kind.STRING, "Usage of that secret, instead of its uuid.", R),
        Field("cipher", Kind.OBJECT, "LUKS cipher (qemu-img's default when omitted: aes-256-xts, sha256).", R,
              fields=(
                  Field("name", Kind.ENUM, "Cipher.", R, values=("aes", "des", "cast5", "serpent", "twofish"),
                        required=True),
                  Field("size", Kind.INTEGER, "Key size in bits, e.g. 256.", R, required=True),
                  Field("mode", Kind.ENUM, "Cipher mode (with hash, or neither: qemu-img's default).", R,
                        values=("ecb", "cbc", "xts")),
                  Field("hash", Kind.ENUM, "Hash of the key derivation (with mode).", R,
                        values=("md5", "sha1", "sha256", "sha512", "ripemd160")),
              )),
        Field("ivgen", Kind.OBJECT, "LUKS initialisation vector generator.", R, fields=(
            Field("name", Kind.ENUM, "Generator.", R, values=("plain", "plain64", "essiv"), required=True),
            Field("hash", Kind.ENUM, "Hash (essiv).", R, values=("md5", "sha1", "sha256", "sha512", "ripemd160")),
        )),
    ))

QCOW2 = Field("qcow2", Kind.OBJECT, "qcow2 options: compat, lazy_refcounts, cluster_size, preallocation, nocow.", R,
              fields=(
                  Field("compat", Kind.ENUM, "qcow2 compatibility level.", R, values=("0.10", "1.1")),
                  Field("lazy_refcounts", Kind.BOOLEAN, "Lazy refcounts (compat 1.1 only).", R),
                  Field("cluster_size", Kind.SIZE, "Cluster size, e.g. \"64KiB\".", R, check=_cluster_size),
                  Field("preallocation", Kind.ENUM, "'metadata' preallocates qcow2 metadata.", R,
                        values=("off", "metadata")),
                  Field("nocow", Kind.BOOLEAN, "Disable copy-on-write of the file on btrfs.", R),
                  Field("extended_l2", Kind.BOOLEAN, "Extended L2 entries (subclusters; compat 1.1 only).", R),
              ))

VOLUME_SCHEMA = ResourceSchema(
    name="StorageVolume",
    doc="A volume in a libvirt storage pool: created empty, backed by another volume, cloned or uploaded. "
        "Capacity grows in place; shrinking is refused unless `allow_shrink` is true.",
    inputs=(
        Field("pool", Kind.STRING, "Name of the pool (a StoragePool's name output works).", R, required=True,
              check=check_object_name),
        Field("pool_type", Kind.ENUM, "The pool's type, when known at preview (filled in from a StoragePool "
              "output), so that check can apply the type's rules before anything is created.", R,
              values=POOL_TYPE_NAMES),
        Field("name", Kind.STRING, "Volume name, unique in the pool. Auto-named when omitted, except on disk "
              "pools where libvirt names partitions (give the next partition name, e.g. sdb1).", R,
              check=check_object_name),
        Field("uri", Kind.STRING, "libvirt connection URI (see StoragePool.uri).", R),
        Field("capacity", Kind.SIZE, "Size in bytes, or a string with a unit such as \"20GiB\". Taken from the "
              "source when cloning or uploading and omitted.", U),
        Field("allocation", Kind.SIZE, "Bytes to allocate up front; sparse when omitted where the format "
              "allows. Applies on create only.", S),
        Field("allow_shrink", Kind.BOOLEAN, "Allow a smaller capacity to shrink the volume (data past the new end "
              "is lost).", S, default=False),
        Field("format", Kind.STRING, "Volume format: raw, qcow2, qed, vmdk, vpc, vdi, ... in file pools; raw on "
              "rbd; a partition type on disk pools.", R),
        Field("backing_store", Kind.OBJECT, "Copy-on-write backing volume (qcow2, qed, vmdk).", R, fields=(
            Field("path", Kind.STRING, "Path or key of the backing volume.", R, required=True),
            Field("format", Kind.STRING, "Format of the backing volume (probed by libvirt when omitted).", R),
        )),
        Field("clone_from", Kind.OBJECT, "Create as a copy of an existing volume (virStorageVolCreateXMLFrom), "
              "possibly from another pool and to a larger capacity.", R, fields=(
                  Field("pool", Kind.STRING, "Pool of the source volume.", R, required=True),
                  Field("name", Kind.STRING, "Name of the source volume.", R, required=True),
              )),
        Field("upload_from", Kind.PATH, "A local file (on the machine running Pulumi) whose bytes are uploaded "
              "into the new volume through a libvirt stream, holes kept sparse.", R),
        Field("permissions", Kind.OBJECT, PERMISSIONS.doc, R, fields=tuple(
            Field(f.name, f.kind, f.doc, R) for f in PERMISSIONS.fields)),
        QCOW2,
        ENCRYPTION,
        Field("disk_target", Kind.OBJECT, "Where disk_xml attaches the volume in a domain: the target device name "
              "and bus (default vda on virtio). Give each disk of a domain its own.", S, fields=(
                  Field("dev", Kind.STRING, "Target device name in the guest, e.g. vdb or sda.", S,
                        check=lambda v, p: _target_dev(v, p)),
                  Field("bus", Kind.ENUM, "Disk bus.", S, values=DISK_BUSES),
              )),
        Field("wipe_on_destroy", Kind.ENUM, "Wipe the volume's data with this algorithm on destroy, before deleting "
              "it (an adopted volume, e.g. a LUN, is wiped and kept).", S, values=WIPE_ALGORITHMS),
        Field("adopt", Kind.BOOLEAN, "Take an existing volume of this name under management instead of failing. "
              "An adopted volume is released, not deleted, on destroy. The only way to manage LUNs of iscsi, "
              "iscsi-direct, scsi and mpath pools.", S, default=False),
    ),
    outputs=(
        Field("key", Kind.STRING, "libvirt's key of the volume (unique per host; a VM's volume id).", C),
        Field("path", Kind.STRING, "Path of the volume (file, device or network name).", C),
        Field("type", Kind.STRING, "file, block, dir, network, netdir or ploop.", C),
        Field("physical", Kind.INTEGER, "Bytes the volume takes on the host (file size).", C),
        Field("current_capacity", Kind.INTEGER, "Capacity in bytes, as libvirt reports it.", C),
        Field("current_allocation", Kind.INTEGER, "Allocated bytes, as libvirt reports it.", C),
        Field("current_format", Kind.STRING, "Format, as libvirt reports it.", C),
        Field("current_pool", Kind.STRING, "The pool libvirt finds the volume in (by its key): another than "
              "`pool` after the pool was renamed or redefined outside Pulumi over the same storage, which `pulumi "
              "refresh` reports and nothing replaces.", C),
        Field("current_permissions", Kind.OBJECT, "Mode, owner, group and label of the volume on the host, as "
              "libvirt reports them (a file's or device's own; `pulumi refresh` shows a change made outside "
              "Pulumi).", C, fields=tuple(Field(f.name, f.kind, f.doc, C) for f in PERMISSIONS.fields)),
        Field("disk", Kind.MAP, "The libvirt domain <disk> source for this volume: type, driver_type, and "
              "file/dev, or protocol/name/hosts/auth for network volumes.", C),
        Field("disk_xml", Kind.STRING, "A ready-to-use domain <disk> element for this volume (target from "
              "disk_target: vda on virtio unless given).", C),
        Field("adopted", Kind.BOOLEAN, "True when the volume existed before and was adopted.", C),
    ),
    example='''base = StorageVolume("base", pool=pool.name, format="qcow2", capacity="10GiB")
disk = StorageVolume("disk", pool=pool.name, format="qcow2",
                     backing_store=StorageVolumeBackingStoreArgs(path=base.path, format="qcow2"))''',
)


def declared_format(spec: dict[str, Any], pool_type: str | None) -> str:
    """The format a VM must open the volume with: the one the program declared, else the pool
    type's default for new volumes (raw). Never what libvirt probes from the volume's content, which
    the guest controls."""
    fmt = spec.get("format")
    if isinstance(fmt, str) and fmt:
        return fmt
    default = info(pool_type).default_volume_format if pool_type else None
    return default or "raw"


def check_volume(raw: dict[str, Any]) -> dict[str, Any]:
    spec = normalize(VOLUME_SCHEMA.inputs, raw)
    failures: list[SpecError] = []
    fmt = spec.get("format")
    pool_type = spec.get("pool_type")
    t: PoolTypeInfo | None = info(pool_type) if pool_type and not is_unknown(pool_type) else None
    sources = [k for k in ("clone_from", "upload_from") if spec.get(k) is not None]
    if len(sources) > 1:
        failures.append(SpecError("upload_from", "give either clone_from or upload_from, not both"))
    if spec.get("backing_store") is not None and sources:
        failures.append(SpecError("backing_store", f"a backed volume starts empty; remove it or {sources[0]}"))
    if (spec.get("capacity") is None and not sources and not spec.get("adopt")
            and spec.get("backing_store") is None):
        failures.append(SpecError("capacity", "is required for a new empty volume, e.g. capacity=\"20GiB\""))
    if spec.get("capacity") == 0 and not spec.get("adopt"):
        failures.append(SpecError("capacity", "must be greater than 0 (0 only describes an existing volume: "
                                  "set adopt=true)"))
    alloc, cap = spec.get("allocation"), spec.get("capacity")
    if isinstance(alloc, int) and isinstance(cap, int) and alloc > cap and not spec.get("adopt"):
        failures.append(SpecError("allocation", f"({alloc} bytes) cannot exceed capacity ({cap} bytes)"))
    adopt = bool(spec.get("adopt"))
    if fmt is not None and not is_unknown(fmt):
        if t is None:
            allowed = VOLUME_FORMATS
        else:
            allowed = t.adoptable_formats if adopt else t.volume_formats
        if fmt not in allowed and (t is None or t.volume_formats):
            where = f"a {pool_type} pool" if t is not None else "a volume"
            if fmt == "luks" and not adopt:
                hint = "; a LUKS volume is format \"raw\" with encryption={\"format\": \"luks\", ...}"
            elif t is not None and fmt in t.adoptable_formats:
                hint = (f"; libvirt reads {fmt} volumes but cannot create them here (qemu-img cannot write "
                        "that format): set adopt=true to manage an existing one")
            else:
                hint = ""
            failures.append(SpecError("format", f"{where} takes one of {', '.join(allowed)}; got {fmt!r}{hint}"))
    # An LVM snapshot (raw over a raw logical volume) is libvirt's only raw backing store: adopt only.
    lvm_snapshot = adopt and pool_type == "logical"
    if spec.get("backing_store") is not None and not is_unknown(fmt) \
            and fmt not in (None, *BACKING_FORMATS) and not lvm_snapshot:
        failures.append(SpecError("format", "a volume with a backing store must be qcow2, qed or vmdk; set "
                                  "format=\"qcow2\""))
    qcow2 = spec.get("qcow2")
    if is_unknown(qcow2):
        qcow2 = None
    if qcow2 and fmt not in (None, "qcow2") and not is_unknown(fmt):
        failures.append(SpecError("qcow2", f"qcow2 options need format=\"qcow2\", the format is {fmt!r}"))
    for feature in ("lazy_refcounts", "extended_l2"):
        if qcow2 and qcow2.get(feature) and qcow2.get("compat") == "0.10":
            failures.append(SpecError(f"qcow2.{feature}", "needs compat \"1.1\""))
    if t is not None and not spec.get("adopt"):
        if not t.volume_formats:
            failures.append(SpecError("pool", f"volumes cannot be created in {pool_type} pools: "
                                      f"{t.volume_create_refusal}. Set adopt=true to manage an existing one "
                                      "by name"))
        if spec.get("clone_from") is not None and not t.volume_clone:
            failures.append(SpecError("clone_from", f"a {pool_type} pool cannot clone volumes"))
        if spec.get("upload_from") is not None and not t.volume_upload:
            failures.append(SpecError("upload_from", f"a {pool_type} pool does not accept uploads"))
        if pool_type == "disk" and spec.get("name") is None:
            failures.append(SpecError("name", "a disk pool names its partitions: give the next partition name, "
                                      "e.g. sdb1 (or loop0p1)"))
    enc = spec.get("encryption")
    if isinstance(enc, dict) and not contains_unknown(enc):
        if enc.get("secret_uuid") and enc.get("secret_usage") or not (
                enc.get("secret_uuid") or enc.get("secret_usage") or adopt):
            failures.append(SpecError("encryption", "give the passphrase's secret by secret_uuid (a VolumeSecret's "
                                      "uuid) or by secret_usage, one of them"))
        if enc.get("format") != "luks" and not adopt:
            why = {"qcow": "qcow (the legacy qcow2 AES encryption, broken by design)",
                   "luks2": "luks2 (opened by librbd; libvirt's storage drivers do not write it)",
                   "default": "default (libvirt's choice, the legacy qcow encryption for qcow2)"}
            failures.append(SpecError("encryption.format", f"{why.get(enc.get('format'), enc.get('format'))} "
                                      "can only be adopted; encrypt new volumes with luks"))
        cipher = enc.get("cipher") or {}
        if bool(cipher.get("mode")) != bool(cipher.get("hash")):
            failures.append(SpecError("encryption.cipher", "give mode and hash together, or neither"))
        if enc.get("format") == "luks" and fmt not in (None, "raw", "qcow2") and not is_unknown(fmt):
            failures.append(SpecError("encryption.format", f"luks encrypts raw and qcow2 volumes; the format is {fmt!r}"))
        if t is not None and not spec.get("adopt") and t.volume_kind is not VolumeKind.FILE and pool_type != "logical":
            failures.append(SpecError("encryption", f"libvirt cannot create encrypted volumes in a {pool_type} pool"))
        if enc.get("format") == "luks" and spec.get("backing_store") is not None and not adopt:
            failures.append(SpecError("encryption", "an encrypted volume cannot have a backing store here; clone "
                                      "the base instead (clone_from)"))
    wipe = spec.get("wipe_on_destroy")
    if t is not None and wipe is not None and not is_unknown(wipe) and wipe not in t.wipe_algorithms:
        failures.append(SpecError("wipe_on_destroy", f"libvirt cannot wipe volumes of a {pool_type} pool" if not
                                  t.wipe_algorithms else f"a {pool_type} pool wipes with "
                                  f"{' or '.join(repr(a) for a in t.wipe_algorithms)} only; got {wipe!r}"))
    alloc = spec.get("allocation")
    if (pool_type == "logical" and isinstance(alloc, int) and isinstance(cap, int) and alloc != cap
            and not spec.get("adopt")):
        failures.append(SpecError("allocation", "on a logical pool an allocation other than the capacity makes "
                                  "libvirt create an LVM snapshot volume, whose data is lost once its copy-on-write "
                                  "area fills; remove allocation (logical volumes are allocated in full)"))
    clone = spec.get("clone_from")
    if (pool_type == "rbd" and isinstance(clone, dict) and isinstance(clone.get("pool"), str)
            and isinstance(spec.get("pool"), str) and not contains_unknown(clone)
            and clone["pool"] != spec["pool"]):
        failures.append(SpecError("clone_from.pool", "an rbd pool clones only images of its own pool: across "
                                  "pools libvirt clones the image of the same name in the destination pool instead; "
                                  f"clone from a volume of pool {spec['pool']!r}"))
    if failures:
        raise Failures(failures)
    return spec
