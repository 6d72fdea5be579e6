"""Per-pool-type facts, in one table (libvirt 9.0's storagepool.rng and storage backends).

Check, the XML builder, the volume rules and the docs all read `POOL_TYPES`; no other
module lists pool types.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Need(enum.Enum):
    REQUIRED = "required"
    OPTIONAL = "optional"
    FORBIDDEN = "forbidden"


REQUIRED, OPTIONAL, FORBIDDEN = Need.REQUIRED, Need.OPTIONAL, Need.FORBIDDEN


class VolumeKind(enum.Enum):
    FILE = "file"  # a file under the pool's target path
    BLOCK = "block"  # a device node (partition, LV, LUN, zvol)
    NETWORK = "network"  # reached by QEMU over the network (rbd, gluster, iscsi-direct)


# libvirt 9.0's volume formats (storagecommon.rng storageFormat): what it reads, reports and keeps.
VOLUME_FORMATS = ("raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd", "ploop", "cow",
                  "qcow", "qcow2", "qed", "vmdk", "luks")
# What can be *created* in a file-based pool: libvirt writes raw and iso itself and the rest with
# qemu-img 7.2, which cannot write bochs, cloop, dmg, fat, vhd or cow; ploop needs Virtuozzo's
# ploop tool and dir is a directory, not a disk. A LUKS volume is format raw with encryption luks.
CREATABLE_FILE_FORMATS = ("raw", "qcow2", "qed", "vmdk", "vpc", "vdi", "qcow", "iso")
# Formats that take a backing store (storagecommon.rng storageFormatBacking).
BACKING_FORMATS = ("qcow2", "qed", "vmdk", "qcow", "cow")

FS_FORMATS = ("auto", "ext2", "ext3", "ext4", "ufs", "iso9660", "udf", "gfs", "gfs2", "vfat",
              "hfs+", "xfs", "ocfs2", "vmfs")
NETFS_FORMATS = ("auto", "nfs", "glusterfs", "cifs")
DISK_FORMATS = ("unknown", "dos", "dvh", "gpt", "mac", "bsd", "pc98", "sun", "lvm2")
LOGICAL_FORMATS = ("unknown", "lvm2")
# Partition types a disk pool creates (the volume <format>): libvirt's partition formats.
DISK_VOLUME_FORMATS = ("none", "linux", "fat16", "fat32", "linux-swap", "linux-lvm", "linux-raid", "extended")

BUILD_NORMAL, BUILD_NO_OVERWRITE, BUILD_OVERWRITE = "normal", "no_overwrite", "overwrite"


class VolumePath(enum.Enum):
    """Where libvirt 9.0 puts a volume of a given name (storage backends, createVol / refresh)."""

    UNDER_TARGET = "under_target"  # <target path>/<name>; key = path (files), or an LVM uuid (logical)
    SOURCE_NAME = "source_name"  # <rados pool>/<image>; key = path (rbd, sheepdog)
    PARTITION = "partition"  # /dev/<name> (or /dev/mapper/<name>) unless the target is a /dev/disk/by-* dir
    GLUSTER_URI = "gluster_uri"  # gluster://host[:port]/<volume><dir>/<name>; key = path
    HOST_ONLY = "host_only"  # LUNs, multipath maps: only the host can tell


@dataclass(frozen=True)
class PoolTypeInfo:
    doc: str
    target_path: Need
    hosts: Need = FORBIDDEN
    max_hosts: int = 1
    devices: Need = FORBIDDEN
    max_devices: int = 1
    source_dir: Need = FORBIDDEN
    source_name: Need = FORBIDDEN
    adapter: Need = FORBIDDEN
    formats: tuple[str, ...] = ()  # source formats
    auth_types: tuple[str, ...] = ()
    initiator: Need = FORBIDDEN
    vendor_product: bool = False
    protocol_version: bool = False
    mount_options: bool = False
    rbd_options: bool = False
    buildable: bool = False
    build_modes: tuple[str, ...] = (BUILD_NORMAL,)  # flags the backend accepts
    build_by_default: bool = False
    deletable: bool = False  # virStoragePoolDelete supported
    volume_kind: VolumeKind = VolumeKind.FILE
    volume_formats: tuple[str, ...] = ()  # formats a new volume can take; () = cannot create
    # Why volumes cannot be created (when volume_formats is empty) and what to do instead.
    volume_create_refusal: str = "libvirt cannot create volumes in it"
    default_volume_format: str | None = None
    volume_resize: bool = False
    volume_upload: bool = False
    volume_clone: bool = False
    # Delete volumes together with their snapshots (rbd: a clone leaves a protected snapshot
    # `libvirt-NNNN` on its source, and an image with snapshots cannot be removed).
    volume_delete_with_snapshots: bool = False
    # libvirt re-reads a volume from storage on every XMLDesc/info (the backend has refreshVol):
    # reading one volume needs no refresh of its whole pool to see changes made outside libvirt.
    volume_read_refreshes: bool = False
    # What a failed refresh does: libvirt stops a pool whose refresh fails, and for these types
    # stopping tears the storage down under running VMs (unmount, iSCSI logout, vgchange -an, vHBA
    # removal). The provider never refreshes them on its own.
    stop_tears_down: bool = False
    # libvirt keeps a volume's figures from the pool's last refresh (no refreshVol in the backend):
    # reading a volume needs a refresh of its pool to see changes made outside libvirt.
    volume_read_needs_pool_refresh: bool = False
    wipe_algorithms: tuple[str, ...] = ()  # what virStorageVolWipePattern implements for its volumes
    volume_path: VolumePath = VolumePath.HOST_ONLY
    volume_key_is_path: bool = True  # False: libvirt's key is an LVM uuid / a zfs dataset name
    needs_kernel: str = ""  # what the host kernel must offer (for docs and test markers)
    default_target: str | None = None  # what libvirt assumes when no target is given
    in_schema: bool = True  # present in libvirt 9.0's storagepool.rng

    @property
    def adoptable_formats(self) -> tuple[str, ...]:
        """Formats an existing volume may have to be adopted: every format libvirt reports for a
        file, the creatable ones elsewhere."""
        if self.volume_kind is VolumeKind.FILE or self.volume_path is VolumePath.GLUSTER_URI:
            return VOLUME_FORMATS
        return self.volume_formats


class PoolType(str, enum.Enum):
    DIR = "dir"
    FS = "fs"
    NETFS = "netfs"
    LOGICAL = "logical"
    DISK = "disk"
    ISCSI = "iscsi"
    ISCSI_DIRECT = "iscsi-direct"
    SCSI = "scsi"
    MPATH = "mpath"
    RBD = "rbd"
    GLUSTER = "gluster"
    ZFS = "zfs"
    VSTORAGE = "vstorage"
    SHEEPDOG = "sheepdog"


# Wipe algorithms (libvirt 9.0 storage_util.c): zero writes zeros (a sparse file is truncated and
# stays sparse); the others run `scrub`, which writes every block; trim is rbd's discard.
SCRUB_ALGORITHMS = ("nnsa", "dod", "bsi", "gutmann", "schneier", "pfitzner7", "pfitzner33", "random")
LOCAL_WIPE = ("zero",) + SCRUB_ALGORITHMS

# LUN pools: libvirt lists what the storage server exports.
_LUNS_ONLY = "its volumes are the LUNs the storage server exports, which libvirt only lists"

_FILE_VOLUMES = dict(volume_kind=VolumeKind.FILE, volume_formats=CREATABLE_FILE_FORMATS,
                     default_volume_format="raw", volume_resize=True, wipe_algorithms=LOCAL_WIPE,
                     volume_upload=True, volume_clone=True, volume_read_refreshes=True,
                     volume_path=VolumePath.UNDER_TARGET)

POOL_TYPES: dict[PoolType, PoolTypeInfo] = {
    PoolType.DIR: PoolTypeInfo(
        doc="A directory on the host; volumes are files.",
        target_path=REQUIRED, vendor_product=True, buildable=True, build_by_default=True, deletable=True,
        **_FILE_VOLUMES),
    PoolType.FS: PoolTypeInfo(
        doc="A block device with a file system, mounted on the target path by libvirt.",
        target_path=REQUIRED, devices=REQUIRED, formats=FS_FORMATS, vendor_product=True,
        mount_options=True, buildable=True, build_by_default=True,
        build_modes=(BUILD_NORMAL, BUILD_NO_OVERWRITE, BUILD_OVERWRITE), deletable=True, stop_tears_down=True,
        needs_kernel="the file system's driver and mount", **_FILE_VOLUMES),
    PoolType.NETFS: PoolTypeInfo(
        doc="A network file system (nfs, glusterfs, cifs) mounted on the target path.",
        target_path=REQUIRED, hosts=REQUIRED, source_dir=REQUIRED, formats=NETFS_FORMATS,
        vendor_product=True, protocol_version=True, mount_options=True, buildable=True,
        build_by_default=True, deletable=True, stop_tears_down=True,
        needs_kernel="an NFS or CIFS client, or FUSE for glusterfs", **_FILE_VOLUMES),
    PoolType.LOGICAL: PoolTypeInfo(
        doc="An LVM volume group; volumes are logical volumes.",
        target_path=OPTIONAL, devices=OPTIONAL, max_devices=64, source_name=OPTIONAL,
        default_target=None,  # /dev/<volume group>: see default_target_path
        formats=LOGICAL_FORMATS, vendor_product=True, buildable=True, build_by_default=False,
        build_modes=(BUILD_NORMAL, BUILD_NO_OVERWRITE, BUILD_OVERWRITE), deletable=True,
        volume_kind=VolumeKind.BLOCK, volume_formats=("raw",), default_volume_format="raw",
        volume_upload=True, volume_clone=True, volume_path=VolumePath.UNDER_TARGET,
        volume_key_is_path=False, stop_tears_down=True, volume_read_needs_pool_refresh=True,
        wipe_algorithms=LOCAL_WIPE, needs_kernel="device-mapper (to create logical volumes)"),
    PoolType.DISK: PoolTypeInfo(
        doc="A whole disk; volumes are its partitions, named by the partition number.",
        target_path=OPTIONAL, devices=REQUIRED, formats=DISK_FORMATS, vendor_product=True,
        buildable=True, build_by_default=False,
        build_modes=(BUILD_NORMAL, BUILD_NO_OVERWRITE, BUILD_OVERWRITE), deletable=True,
        volume_kind=VolumeKind.BLOCK, volume_formats=DISK_VOLUME_FORMATS, default_volume_format="none",
        volume_upload=True, volume_clone=True, default_target="/dev",
        volume_path=VolumePath.PARTITION, volume_read_needs_pool_refresh=True, wipe_algorithms=LOCAL_WIPE),
    PoolType.ISCSI: PoolTypeInfo(
        doc="An iSCSI target logged in by the host's initiator; LUNs are volumes (not created here).",
        target_path=OPTIONAL, hosts=REQUIRED, devices=REQUIRED, auth_types=("chap",),
        initiator=OPTIONAL, vendor_product=True, volume_kind=VolumeKind.BLOCK,
        volume_create_refusal=_LUNS_ONLY,
        volume_upload=True, needs_kernel="the kernel iSCSI initiator (iscsiadm)",
        stop_tears_down=True, volume_read_needs_pool_refresh=True, wipe_algorithms=LOCAL_WIPE,
        default_target="/dev/disk/by-path"),
    PoolType.ISCSI_DIRECT: PoolTypeInfo(
        doc="An iSCSI target reached by QEMU through libiscsi; LUNs are volumes (not created here).",
        target_path=FORBIDDEN, hosts=REQUIRED, devices=REQUIRED, auth_types=("chap",),
        initiator=REQUIRED, volume_kind=VolumeKind.NETWORK, volume_create_refusal=_LUNS_ONLY,
        volume_read_needs_pool_refresh=True, wipe_algorithms=("zero",)),
    PoolType.SCSI: PoolTypeInfo(
        doc="A SCSI host adapter (scsi_host or fc_host); LUNs are volumes (not created here).",
        target_path=OPTIONAL, adapter=REQUIRED, vendor_product=True, volume_kind=VolumeKind.BLOCK,
        volume_create_refusal=_LUNS_ONLY, volume_upload=True,
        stop_tears_down=True, volume_read_needs_pool_refresh=True, wipe_algorithms=LOCAL_WIPE,
        needs_kernel="a SCSI or Fibre Channel host adapter",
        default_target="/dev/disk/by-path"),
    PoolType.MPATH: PoolTypeInfo(
        doc="Multipath devices of the host; volumes are the maps (not created here).",
        target_path=OPTIONAL, volume_kind=VolumeKind.BLOCK, volume_upload=True,
        volume_read_needs_pool_refresh=True, wipe_algorithms=LOCAL_WIPE,
        volume_create_refusal="its volumes are the host's multipath maps, which libvirt only lists",
        needs_kernel="device-mapper multipath", default_target="/dev/mapper"),
    PoolType.RBD: PoolTypeInfo(
        doc="A Ceph RADOS pool; volumes are RBD images, reached by QEMU over the network.",
        target_path=FORBIDDEN, hosts=REQUIRED, max_hosts=16, source_name=REQUIRED,
        auth_types=("ceph",), rbd_options=True, volume_kind=VolumeKind.NETWORK,
        volume_formats=("raw",), default_volume_format="raw", volume_resize=True,
        volume_clone=True, volume_delete_with_snapshots=True, volume_read_refreshes=True,
        volume_path=VolumePath.SOURCE_NAME, wipe_algorithms=("zero", "trim")),
    PoolType.GLUSTER: PoolTypeInfo(
        doc="A Gluster volume reached through libgfapi; libvirt 9.0 lists, refreshes and deletes its "
            "files but cannot create, resize or upload them.",
        target_path=FORBIDDEN, hosts=REQUIRED, source_name=REQUIRED, source_dir=OPTIONAL,
        volume_kind=VolumeKind.NETWORK, volume_path=VolumePath.GLUSTER_URI, volume_read_needs_pool_refresh=True,
        volume_create_refusal="libvirt 9.0's gluster backend only lists, refreshes and deletes files (no create, "
                              "resize or upload); make the file outside libvirt, or create volumes in a netfs "
                              "pool with source.format glusterfs (a FUSE mount of the same Gluster volume)"),
    PoolType.ZFS: PoolTypeInfo(
        doc="A ZFS pool; volumes are zvols.",
        target_path=OPTIONAL, source_name=REQUIRED, devices=OPTIONAL, max_devices=1,  # libvirt: /dev/zvol/<name>
        buildable=True, deletable=True, volume_kind=VolumeKind.BLOCK, volume_formats=("raw",),
        default_volume_format="raw", volume_resize=True, volume_upload=True,
        volume_path=VolumePath.UNDER_TARGET, volume_key_is_path=False, volume_read_needs_pool_refresh=True,
        needs_kernel="ZFS"),
    PoolType.VSTORAGE: PoolTypeInfo(
        doc="A Virtuozzo Storage cluster mounted on the target path.",
        target_path=REQUIRED, source_name=REQUIRED, buildable=True, build_by_default=True,
        deletable=True, stop_tears_down=True, needs_kernel="the vstorage FUSE client", **_FILE_VOLUMES),
    PoolType.SHEEPDOG: PoolTypeInfo(
        doc="A Sheepdog cluster (removed from libvirt in 8.8; only for older hosts).",
        target_path=FORBIDDEN, hosts=REQUIRED, source_name=REQUIRED, volume_kind=VolumeKind.NETWORK,
        volume_formats=("raw",), default_volume_format="raw", volume_resize=True, volume_read_refreshes=True,
        volume_path=VolumePath.SOURCE_NAME, needs_kernel="libvirt older than 8.8 with the sheepdog backend"),
}

POOL_TYPE_NAMES = tuple(t.value for t in PoolType)


def default_target_path(pool_type: str, pool_name: str | None, source_name: str | None) -> str | None:
    """The target path libvirt assumes when none is given (its schema still wants one written)."""
    if pool_type == PoolType.LOGICAL.value:
        vg = source_name or pool_name
        return f"/dev/{vg}" if vg else None
    return info(pool_type).default_target


def effective_target_path(pool_type: str, pool_name: str | None, target_path: str | None,
                          source_name: str | None) -> str | None:
    """The target path libvirt uses: a logical pool's is always /dev/<volume group> and a zfs
    pool's /dev/zvol/<zpool> (libvirt overrides what is written); types without a target have none."""
    if pool_type == PoolType.LOGICAL.value:
        return default_target_path(pool_type, pool_name, source_name)
    if pool_type == PoolType.ZFS.value:
        return f"/dev/zvol/{source_name}" if source_name else None
    if info(pool_type).target_path is FORBIDDEN:
        return None
    return target_path or default_target_path(pool_type, pool_name, source_name)


def info(pool_type: str) -> PoolTypeInfo:
    return POOL_TYPES[PoolType(pool_type)]


_VOLUME_TYPE = {VolumeKind.FILE: "file", VolumeKind.BLOCK: "block", VolumeKind.NETWORK: "network"}


def volume_location(pool: dict[str, Any], name: str) -> dict[str, str] | None:
    """The path, key and type libvirt gives a volume called `name` in `pool` (a pool definition
    in spec shape: type, name, target.path, source), from the definition alone; only the parts the
    definition decides (no key where libvirt's is an LVM uuid). None when only the host can tell."""
    t = info(pool["type"])
    source = pool.get("source") or {}
    target = effective_target_path(pool["type"], pool.get("name"), (pool.get("target") or {}).get("path"),
                                   source.get("name"))
    rule = t.volume_path
    if rule is VolumePath.UNDER_TARGET and target:
        path = f"{target}/{name}"
    elif rule is VolumePath.SOURCE_NAME and source.get("name"):
        path = f"{source['name']}/{name}"
    elif rule is VolumePath.PARTITION and not (target or "/dev").rstrip("/").startswith("/dev/"):
        # libvirt names a partition after the (resolved) disk device: /dev/sdb1, /dev/loop0p1; a pool
        # whose target is a /dev/disk/by-* directory gets the matching link, which only the host knows.
        devices = source.get("devices") or [{}]
        base = "/dev/mapper" if str(devices[0].get("path", "")).startswith("/dev/mapper/") else "/dev"
        path = f"{base}/{name}"
    elif rule is VolumePath.GLUSTER_URI and source.get("hosts") and source.get("name"):
        host = source["hosts"][0]
        server = f"[{host['name']}]" if ":" in host["name"] else host["name"]
        port = f":{host['port']}" if host.get("port") else ""
        sub_dir = (source.get("dir") or "/").strip("/")
        path = f"gluster://{server}{port}/{source['name']}/" + (f"{sub_dir}/" if sub_dir else "") + name
    else:
        return None
    location = {"path": path, "type": _VOLUME_TYPE[t.volume_kind]}
    if t.volume_key_is_path:
        location["key"] = path
    return location
