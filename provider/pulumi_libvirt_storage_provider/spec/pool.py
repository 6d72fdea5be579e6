"""StoragePool: its fields, their policy, and the per-type rules of check.

Pure: no I/O, no libvirt. `check_pool` returns the canonical inputs or raises `Failures`.
"""

from __future__ import annotations

import re
from typing import Any

from .fields import Failures, Field, Kind, Policy, ResourceSchema, contains_unknown, is_unknown, normalize
from .pooltypes import (BUILD_NO_OVERWRITE, BUILD_NORMAL, BUILD_OVERWRITE, FORBIDDEN, POOL_TYPE_NAMES,
                        REQUIRED, info)
from .units import SpecError

R, U, RS, S, C = Policy.REPLACE, Policy.UPDATE, Policy.RESTART, Policy.STATE, Policy.COMPUTED

NAME_MAX = 200  # libvirt's own limit is the file name length of the config file, minus ".xml"
_NAME_RE = re.compile(r"^[^/\x00-\x1f]+$")
_IQN_RE = re.compile(r"^iqn\.[0-9]{4}-(0[1-9]|1[0-2])\.[a-zA-Z0-9.\-]+(:.+)?$")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_WWN_RE = re.compile(r"^(0x)?[0-9a-fA-F]{16}$")


def check_object_name(value: Any, prop: str) -> str:
    if not isinstance(value, str) or not value:
        raise SpecError(prop, "must be a non-empty string")
    if value in (".", "..") or not _NAME_RE.match(value):
        raise SpecError(prop, f"{value!r} is not allowed: no '/', no control characters, not '.' or '..'")
    if len(value) > NAME_MAX:
        raise SpecError(prop, f"is {len(value)} characters long; at most {NAME_MAX} are allowed")
    return value


def check_uuid(value: Any, prop: str) -> str:
    if not isinstance(value, str) or not _UUID_RE.match(value):
        raise SpecError(prop, f"expected a UUID such as 0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f, got {value!r}")
    hex_ = value.replace("-", "").lower()
    return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"


def check_iqn(value: Any, prop: str) -> str:
    """An iSCSI name: libvirt takes any text (targets named `demo-target` exist), so only what cannot
    be a name is refused."""
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        raise SpecError(prop, f"expected an iSCSI name such as iqn.2024-01.org.example:target1 (no spaces), got "
                        f"{value!r}")
    return value


_GENERIC_NAME_RE = re.compile(r"^[a-zA-Z0-9_+\-]+$")


def check_iscsi_target(value: str, prop: str, pool_type: str) -> str:
    """The target of an iscsi pool is what libvirt's schema takes: an IQN, an absolute path or a
    plain name (`demo-target`); iscsi-direct speaks to the target itself and takes an IQN only."""
    if _IQN_RE.match(value):
        return value
    if pool_type == "iscsi" and (value.startswith("/") and not any(c.isspace() for c in value)
                                 or _GENERIC_NAME_RE.match(value)):
        return value
    kinds = "an IQN" if pool_type == "iscsi-direct" else "an IQN or a plain name of letters, digits, _ + -"
    raise SpecError(prop, f"the iSCSI target of a {pool_type} pool is {kinds}, such as "
                    f"iqn.2024-01.org.example:target1; got {value!r}")


def check_wwn(value: Any, prop: str) -> str:
    """A world wide name as libvirt validates it (16 hex digits, optionally 0x-prefixed), kept as
    written: libvirt keeps it so, and another spelling would be another definition."""
    if not _WWN_RE.match(value):
        raise SpecError(prop, f"expected 16 hex digits (a WWN), got {value!r}")
    return value


PERMISSIONS = Field("permissions", Kind.OBJECT, "Owner, group, mode and SELinux label of the target.", U, fields=(
    Field("mode", Kind.MODE, 'Octal mode, e.g. "0755".', U),
    Field("owner", Kind.UID, "Numeric uid.", U),
    Field("group", Kind.UID, "Numeric gid.", U),
    Field("label", Kind.STRING, "SELinux label.", U),
))

HOST = (
    Field("name", Kind.STRING, "Host name or IP address.", RS, required=True),
    Field("port", Kind.INTEGER, "TCP port (the protocol's default when omitted).", RS,
          check=lambda v, p: _port(v, p)),
)


def _port(value: int, prop: str) -> int:
    if not 1 <= value <= 65535:
        raise SpecError(prop, f"a TCP port is 1..65535, got {value}")
    return value


AUTH = Field("auth", Kind.OBJECT, "Authentication: ceph (rbd) or chap (iscsi, iscsi-direct), with a libvirt "
             "secret by uuid or by usage.", RS, fields=(
                 Field("type", Kind.ENUM, "ceph or chap.", RS, values=("ceph", "chap"), required=True),
                 Field("username", Kind.STRING, "User name (for ceph without the 'client.' prefix).", RS,
                       required=True),
                 Field("secret_uuid", Kind.STRING, "UUID of the libvirt secret, e.g. a CephSecret's uuid.", RS,
                       check=check_uuid),
                 Field("secret_usage", Kind.STRING, "Usage name of the libvirt secret.", RS),
             ))

ADAPTER = Field("adapter", Kind.OBJECT, "The SCSI host adapter of a scsi pool.", R, fields=(
    Field("type", Kind.ENUM, "scsi_host or fc_host. Omitted with a name: the legacy form, which libvirt reads as "
          "scsi_host.", R, values=("scsi_host", "fc_host")),
    Field("name", Kind.STRING, "scsi_host: the host name, e.g. host0.", R),
    Field("parent", Kind.STRING, "fc_host: the parent scsi_host of the vHBA.", R),
    Field("parent_address", Kind.OBJECT, "scsi_host: the PCI address and unique_id of the parent.", R, fields=(
        Field("unique_id", Kind.INTEGER, "The unique_id of the scsi_host (libvirt requires it).", R, required=True),
        Field("domain", Kind.INTEGER, "PCI domain.", R, default=0),
        Field("bus", Kind.INTEGER, "PCI bus.", R, required=True),
        Field("slot", Kind.INTEGER, "PCI slot.", R, required=True),
        Field("function", Kind.INTEGER, "PCI function.", R, required=True),
    )),
    Field("wwnn", Kind.STRING, "fc_host: world wide node name.", R, check=check_wwn),
    Field("wwpn", Kind.STRING, "fc_host: world wide port name.", R, check=check_wwn),
    Field("parent_wwnn", Kind.STRING, "fc_host: parent's wwnn.", R, check=check_wwn),
    Field("parent_wwpn", Kind.STRING, "fc_host: parent's wwpn.", R, check=check_wwn),
    Field("parent_fabric_wwn", Kind.STRING, "fc_host: parent's fabric wwn.", R, check=check_wwn),
    Field("managed", Kind.BOOLEAN, "fc_host: libvirt creates and deletes the vHBA.", R),
))

SOURCE = Field("source", Kind.OBJECT, "Where the storage comes from; which parts apply depends on the type.", R,
               fields=(
                   Field("hosts", Kind.LIST, "Servers: NFS/Gluster server, iSCSI portal, Ceph monitors.", RS,
                         fields=HOST),
                   Field("devices", Kind.LIST, "Block devices (fs, disk, logical, zfs) or the iSCSI target "
                         "IQN (iscsi, iscsi-direct).", R, fields=(
                             Field("path", Kind.STRING, "Device path, or the target IQN for iSCSI.", R,
                                   required=True),
                             Field("part_separator", Kind.BOOLEAN, "disk: whether partition names put 'p' "
                                   "between the device name and the number.", R),
                         )),
                   Field("dir", Kind.STRING, "netfs: the exported directory; gluster: a directory inside "
                         "the volume.", R),
                   ADAPTER,
                   Field("name", Kind.STRING, "rbd: the Ceph pool; gluster: the volume; logical: the volume "
                         "group; zfs: the zpool; vstorage: the cluster.", R),
                   Field("format", Kind.STRING, "fs: file system; netfs: nfs/glusterfs/cifs; disk: label type; "
                         "logical: lvm2.", R),
                   AUTH,
                   Field("initiator_iqn", Kind.STRING, "iscsi, iscsi-direct: the initiator IQN.", R,
                         check=check_iqn),
                   Field("vendor", Kind.STRING, "Vendor of the device, informational.", R),
                   Field("product", Kind.STRING, "Product of the device, informational.", R),
                   Field("protocol_version", Kind.STRING, "netfs nfs: the NFS version to mount with, e.g. 4.", R),
               ))

POOL_SCHEMA = ResourceSchema(
    name="StoragePool",
    doc="A libvirt storage pool of any type, with its life cycle: define, build, start, autostart; "
        "on destroy: stop, delete the storage only when `delete_storage_on_destroy` is true, undefine.",
    inputs=(
        Field("name", Kind.STRING, "Pool name, unique per host. Auto-named from the resource name when omitted.",
              R, check=check_object_name),
        Field("type", Kind.ENUM, "Pool type.", R, values=POOL_TYPE_NAMES, required=True),
        Field("uri", Kind.STRING, "libvirt connection URI; else the stack config libvirt:uri, else "
              "LIBVIRT_DEFAULT_URI, else libvirt's default. Compared as the connection it reaches: another "
              "spelling of the same host (the default written out, another transport) changes nothing.", R),
        Field("uuid", Kind.STRING, "The pool's UUID. When omitted it is derived from the stack and resource "
              "name, so that previews and runs agree on it.", R, check=check_uuid),
        Field("target", Kind.OBJECT, "Where the pool appears on the host.", R, fields=(
            Field("path", Kind.PATH, "Target path: the directory or mount point, or the device directory.", R),
            PERMISSIONS,
        )),
        SOURCE,
        Field("cow", Kind.BOOLEAN, "Copy-on-write feature of btrfs-backed dir/fs pools (features/cow).", U),
        Field("mount_options", Kind.LIST, "fs, netfs: extra mount options (fs:mount_opts).", RS, item=Kind.STRING),
        Field("rbd_config_options", Kind.MAP, "rbd: Ceph client options (rbd:config_opts), e.g. "
              "{\"client_mount_timeout\": \"30\"}.", RS),
        Field("rbd_refresh_volume_allocation", Kind.ENUM, "rbd: 'default' computes each image's allocation "
              "(slow for many images), 'capacity' reports capacity instead.", RS, values=("default", "capacity")),
        Field("build", Kind.BOOLEAN, "Build the pool on create (mkdir, mkfs, label, pvcreate). The default depends "
              "on the type. With build_mode no_overwrite an already-built pool is used as it is.", S),
        Field("build_mode", Kind.ENUM, "normal, no_overwrite (never destroy existing data; the default where the "
              "type allows it) or overwrite (format even when data is found).", S,
              values=(BUILD_NORMAL, BUILD_NO_OVERWRITE, BUILD_OVERWRITE)),
        Field("start", Kind.BOOLEAN, "Keep the pool active (started).", U, default=True),
        Field("autostart", Kind.BOOLEAN, "Start the pool when libvirtd starts.", U, default=True),
        Field("delete_storage_on_destroy", Kind.BOOLEAN, "On destroy, also delete the underlying storage "
              "(rmdir, wipe the label, remove the volume group). Default: only undefine, data kept.", S,
              default=False),
        Field("adopt", Kind.BOOLEAN, "If a pool of this name exists, take it under management instead of "
              "failing. An adopted pool is released, not undefined, on destroy.", S, default=False),
    ),
    outputs=(
        Field("active", Kind.BOOLEAN, "Whether the pool is running.", C),
        Field("capacity", Kind.INTEGER, "Capacity in bytes (0 while inactive).", C),
        Field("allocation", Kind.INTEGER, "Allocated bytes.", C),
        Field("available", Kind.INTEGER, "Free bytes.", C),
        Field("target_path", Kind.STRING, "The target path libvirt uses (with its default filled in).", C),
        Field("xml", Kind.STRING, "The pool's full libvirt definition.", C),
        Field("adopted", Kind.BOOLEAN, "True when the pool existed before and was adopted.", C),
    ),
    example='''pool = StoragePool("images",
    type="dir",
    target=StoragePoolTargetArgs(path="/var/lib/libvirt/pulumi-images",
                                 permissions=StoragePoolTargetPermissionsArgs(mode="0711")))''',
)


def _need_rule(failures: list[SpecError], need: Any, present: bool, prop: str, pool_type: str, what: str
               ) -> None:
    if need is REQUIRED and not present:
        failures.append(SpecError(prop, f"is required for a {pool_type} pool: give {what}"))
    elif need is FORBIDDEN and present:
        failures.append(SpecError(prop, f"does not apply to a {pool_type} pool; remove it"))


def check_pool(raw: dict[str, Any]) -> dict[str, Any]:
    """Canonical pool inputs, or `Failures` naming each bad property and what is allowed."""
    spec = normalize(POOL_SCHEMA.inputs, raw)
    pool_type = spec.get("type")
    if is_unknown(pool_type):
        return spec
    t = info(pool_type)
    iscsi = t.initiator is not FORBIDDEN  # its "device" is the target's IQN, not a device path
    failures: list[SpecError] = []
    # A whole target or source may be unknown in a preview (another resource's output): then its
    # parts count as present and their rules wait for the real values.
    unknown_parts = {k for k in ("target", "source") if is_unknown(spec.get(k))}
    target = {} if "target" in unknown_parts else spec.get("target") or {}
    source = {} if "source" in unknown_parts else spec.get("source") or {}

    def present(value: Any) -> bool:
        return value not in (None, [], {}, "")

    def _need(failures: list[SpecError], need: Any, has: bool, prop: str, pool_type: str, what: str) -> None:
        if prop.split(".")[0] in unknown_parts:
            return
        _need_rule(failures, need, has, prop, pool_type, what)

    _need(failures, t.target_path, present(target.get("path")), "target.path", pool_type,
          "an absolute path such as /var/lib/libvirt/images/NAME")
    if t.target_path is FORBIDDEN and present(target.get("permissions")):
        failures.append(SpecError("target.permissions", f"does not apply to a {pool_type} pool; remove it"))
    _need(failures, t.hosts, present(source.get("hosts")), "source.hosts", pool_type, "[{name: ..., port: ...}]")
    _need(failures, t.devices, present(source.get("devices")), "source.devices", pool_type,
          "[{path: <target IQN>}]" if iscsi else "[{path: ...}]")
    _need(failures, t.source_dir, present(source.get("dir")), "source.dir", pool_type, "the exported directory")
    _need(failures, t.source_name, present(source.get("name")), "source.name", pool_type, "the name")
    _need(failures, t.adapter, present(source.get("adapter")), "source.adapter", pool_type,
          "{type: scsi_host, name: host0}")
    _need(failures, t.initiator, present(source.get("initiator_iqn")), "source.initiator_iqn", pool_type,
          "the initiator's IQN")
    hosts, devices = source.get("hosts") or [], source.get("devices") or []
    if isinstance(hosts, list) and len(hosts) > t.max_hosts:
        failures.append(SpecError("source.hosts", f"a {pool_type} pool takes at most {t.max_hosts} host(s), got "
                                  f"{len(hosts)}"))
    if isinstance(devices, list) and len(devices) > t.max_devices:
        failures.append(SpecError("source.devices", f"a {pool_type} pool takes at most {t.max_devices} device(s), "
                                  f"got {len(devices)}"))
    if iscsi:
        for i, dev in enumerate(devices if isinstance(devices, list) else []):
            if isinstance(dev, dict) and isinstance(dev.get("path"), str) and not is_unknown(dev["path"]):
                try:
                    check_iscsi_target(dev["path"], f"source.devices[{i}].path", pool_type)
                except SpecError as e:
                    failures.append(e)
    elif t.devices is not FORBIDDEN:
        for i, dev in enumerate(devices if isinstance(devices, list) else []):
            if (isinstance(dev, dict) and isinstance(dev.get("path"), str) and not is_unknown(dev["path"])
                    and not dev["path"].startswith("/")):
                failures.append(SpecError(f"source.devices[{i}].path", f"must be an absolute device path such as "
                                          f"/dev/sdb, got {dev['path']!r}"))
    for i, dev in enumerate(devices if isinstance(devices, list) else []):
        if isinstance(dev, dict) and dev.get("part_separator") is not None and pool_type != "disk":
            failures.append(SpecError(f"source.devices[{i}].part_separator", "applies to disk pools only"))
    fmt = source.get("format")
    if present(fmt) and not is_unknown(fmt):
        if not t.formats:
            failures.append(SpecError("source.format", f"does not apply to a {pool_type} pool; remove it"))
        elif fmt not in t.formats:
            failures.append(SpecError("source.format", f"a {pool_type} pool's format is one of "
                                      f"{', '.join(t.formats)}; got {fmt!r}"))
    if pool_type == "netfs" and present(source.get("dir")) and not is_unknown(source.get("dir")):
        if fmt in (None, "auto", "nfs") and not str(source["dir"]).startswith("/"):
            failures.append(SpecError("source.dir", "an NFS export is an absolute path such as /srv/export"))
    if (present(source.get("vendor")) or present(source.get("product"))) and not t.vendor_product:
        failures.append(SpecError("source.vendor", f"vendor/product do not apply to a {pool_type} pool "
                                  "(libvirt's schema allows them for dir, fs, netfs, logical, disk, iscsi, scsi)"))
    if present(source.get("protocol_version")) and not (t.protocol_version
                                                         and (is_unknown(fmt) or fmt in (None, "auto", "nfs"))):
        failures.append(SpecError("source.protocol_version", "applies to netfs pools of format nfs only"))
    if pool_type == "gluster" and isinstance(source.get("dir"), str) and not is_unknown(source["dir"]) \
            and not source["dir"].startswith("/"):
        failures.append(SpecError("source.dir", "must be an absolute path inside the volume, e.g. /vms"))

    auth = source.get("auth")
    if present(auth) and not contains_unknown(auth):
        if not t.auth_types:
            failures.append(SpecError("source.auth", f"a {pool_type} pool takes no authentication; remove it"))
        elif auth.get("type") not in t.auth_types:
            failures.append(SpecError("source.auth.type", f"a {pool_type} pool authenticates with "
                                      f"{' or '.join(t.auth_types)}, got {auth.get('type')!r}"))
        if bool(auth.get("secret_uuid")) == bool(auth.get("secret_usage")):
            failures.append(SpecError("source.auth", "give exactly one of secret_uuid or secret_usage"))
    adapter = source.get("adapter")
    if present(adapter) and not contains_unknown(adapter):
        if adapter.get("type") is None:
            if not adapter.get("name") or set(k for k, v in adapter.items() if v is not None) - {"name"}:
                failures.append(SpecError("source.adapter.type", "is required unless the adapter is given by name "
                                          "alone (the legacy form of a scsi_host adapter)"))
        elif adapter.get("type") == "scsi_host":
            if bool(adapter.get("name")) == bool(adapter.get("parent_address")):
                failures.append(SpecError("source.adapter", "a scsi_host adapter takes name or parent_address"))
        else:
            if not (adapter.get("wwnn") and adapter.get("wwpn")):
                failures.append(SpecError("source.adapter", "an fc_host adapter needs wwnn and wwpn"))
            for given, missing in (("parent_wwnn", "parent_wwpn"), ("parent_wwpn", "parent_wwnn")):
                if adapter.get(given) and not adapter.get(missing):
                    failures.append(SpecError(f"source.adapter.{missing}", f"is required with {given}: libvirt "
                                              "finds the parent HBA by both names; give both, or use parent"))

    if present(spec.get("mount_options")) and not t.mount_options:
        failures.append(SpecError("mount_options", "apply to fs and netfs pools only"))
    if not t.rbd_options:
        for key in ("rbd_config_options", "rbd_refresh_volume_allocation"):
            if present(spec.get(key)):
                failures.append(SpecError(key, "applies to rbd pools only"))
    failures += secret_option_failures(spec)  # whatever the type: a secret there is exposed all the same

    build = spec.get("build")
    if build is None:
        build = t.build_by_default
    if build and not is_unknown(build) and not t.buildable:
        failures.append(SpecError("build", f"a {pool_type} pool cannot be built by libvirt; set build to false"))
    mode = spec.get("build_mode")
    if mode is None:
        mode = BUILD_NO_OVERWRITE if BUILD_NO_OVERWRITE in t.build_modes else BUILD_NORMAL
    elif not is_unknown(mode) and mode not in t.build_modes:
        failures.append(SpecError("build_mode", f"a {pool_type} pool builds with {', '.join(t.build_modes)} only; "
                                  f"got {mode!r}"))
    spec["build"], spec["build_mode"] = (build if is_unknown(build) else bool(build)), mode
    if spec.get("start") is False and spec.get("autostart") is not False and "autostart" not in raw:
        spec["autostart"] = False  # an inactive pool is not autostarted unless asked for
    if failures:
        raise Failures(failures)
    return spec


# -- secret material in mount and rbd options ---------------------------------------------------------
# A pool definition is no place for a secret. libvirt passes mount options to `mount -o` (every local
# user sees the command line in `ps`), quotes that command line in its errors and debug log, and shows
# the definition to anyone on its read-only socket; Pulumi stores a pool's inputs and its `xml` output
# in plain text. check refuses secret material there, with the way out; what a host already holds
# (a pool defined by hand) is redacted wherever this provider repeats it.

REDACTED = "(redacted)"

_CREDENTIALS_FILE = ("Put the user name and password in a credentials file readable by root only (lines "
                     "username=... and password=..., chmod 0600) and give credentials=/etc/libvirt/NAME.cred "
                     "instead.")
_CEPH_SECRET = ("Give the key to libvirt as a secret instead: a CephSecret with value=the key, and "
                "source.auth={type: ceph, username: ..., secret_uuid: <the CephSecret's uuid>}; or name a file "
                "libvirtd can read with the keyring or keyfile option.")


def mount_option_secret(option: str) -> str | None:
    """What secret a mount option carries, or None. mount.cifs and the kernel's cifs client read a
    password from pass=, password=, pass2= and password2= (cifs-utils before 6.10: any option whose name
    begins with "pass"), and older mount.cifs from user=NAME%PASSWORD; other spellings of a password are
    taken as one too. credentials= names a file and is no secret."""
    name, equals, value = option.partition("=")
    name = name.strip().lower()
    if not equals or not value:
        return None
    if name.startswith("pass") or "passw" in name or "passphrase" in name:
        return "a password"
    if name.startswith("user") and name not in ("users", "user_xattr") and value.partition("%")[2]:
        return "a password (after '%' in the user name)"
    return None


def redact_mount_option(option: str) -> str:
    """The option with its secret replaced by REDACTED (a user name before '%' is kept); the option
    itself when it carries none."""
    what = mount_option_secret(option)
    if what is None:
        return option
    name, _, value = option.partition("=")
    if "%" in what:
        return f"{name}={value.partition('%')[0]}%{REDACTED}"
    return f"{name}={REDACTED}"


def rbd_option_is_key(name: str) -> bool:
    """Whether a Ceph client option holds the cephx key itself: `key` (Ceph reads '-' and ' ' in an
    option name as '_'). keyring and keyfile name files and are no secret."""
    return name.strip().lower().replace("-", "_").replace(" ", "_") == "key"


def redact_pool_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A pool spec (check_pool's or parse_pool's shape) with every secret option's value replaced by
    REDACTED. Check refuses the result, naming each one."""
    out = dict(spec)
    options = spec.get("mount_options")
    if isinstance(options, list):
        out["mount_options"] = [redact_mount_option(o) if isinstance(o, str) else o for o in options]
    rbd = spec.get("rbd_config_options")
    if isinstance(rbd, dict):
        out["rbd_config_options"] = {k: REDACTED if rbd_option_is_key(k) else v for k, v in rbd.items()}
    return out


def secret_option_failures(spec: dict[str, Any]) -> list[SpecError]:
    """One failure per secret option of the spec, naming it and the way out; never its value. A
    mount option that is unknown in a preview waits for its value; an rbd option's name is enough."""
    failures: list[SpecError] = []
    options = spec.get("mount_options")
    for i, option in enumerate(options if isinstance(options, list) else []):
        what = mount_option_secret(option) if isinstance(option, str) else None
        if what is not None:
            name = option.partition("=")[0]
            failures.append(SpecError(
                f"mount_options[{i}]", f"carries {what} ({name}=...), which libvirt would pass to `mount -o` "
                "(every local user sees it in `ps`), quote in its errors and logs, and show to anyone with "
                "read-only access; Pulumi would store it in plain text in the state. " + _CREDENTIALS_FILE))
    rbd = spec.get("rbd_config_options")
    for name in rbd if isinstance(rbd, dict) else {}:
        if rbd_option_is_key(name):
            failures.append(SpecError(
                f"rbd_config_options.{name}", "is the cephx key itself, which would be in plain text in the "
                "pool's definition (libvirt shows it to anyone with read-only access) and in Pulumi's state. "
                + _CEPH_SECRET))
    return failures


# In free text an option's value is taken to run to the next single comma, the end of the line, or a
# closing bracket (a quote before it included): a password may hold blanks and quotes, and Python's
# repr() of a list of options quotes each one.
_TEXT_VALUE = r"(?!\(redacted\))(?P<value>(?:,,|[^,\n])+?)(?=['\"]?(?:,(?!,)|[\])}]|$))"
_PASSWORD_IN_TEXT = re.compile(r"(?<![\w.-])(?P<lead>(?:pass|[\w-]*passw|[\w-]*passphrase)[\w-]*=)" + _TEXT_VALUE,
                               re.IGNORECASE | re.MULTILINE)
_USER_PASSWORD_IN_TEXT = re.compile(r"(?<![\w.-])(?P<lead>user[\w-]*=[^%\s,'\"]*%)" + _TEXT_VALUE,
                                    re.IGNORECASE | re.MULTILINE)
_RBD_KEY_IN_TEXT = re.compile(r"(?P<lead>(?P<q>['\"])key(?P=q)\s*:\s*|name=(?P<q2>['\"])key(?P=q2)\s+value=)"
                              r"(?P<v>['\"])(?P<value>.*?)(?P=v)", re.IGNORECASE)


def redact_secret_options_in(text: str) -> str:
    """Free text (an error message) with the secret of every mount option written in it (password=...,
    user=NAME%...) and of every rbd `key` option written as Python, JSON or pool XML writes it replaced
    by REDACTED. A net under the structural redactions, erring towards hiding more: a password option
    in prose hides the rest of its line up to a comma."""
    text = _PASSWORD_IN_TEXT.sub(lambda m: m["lead"] + REDACTED, text)
    text = _USER_PASSWORD_IN_TEXT.sub(lambda m: m["lead"] + REDACTED, text)
    return _RBD_KEY_IN_TEXT.sub(lambda m: f"{m['lead']}{m['v']}{REDACTED}{m['v']}", text)
