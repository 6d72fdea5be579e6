"""libvirt errors, kept with their code: "gone" for missing objects, a typed error otherwise."""

from __future__ import annotations

import re
import shlex
from typing import Callable

import libvirt

from ..spec.pool import redact_mount_option, redact_secret_options_in

GONE_CODES = frozenset({libvirt.VIR_ERR_NO_STORAGE_POOL, libvirt.VIR_ERR_NO_STORAGE_VOL, libvirt.VIR_ERR_NO_SECRET})

_HINTS = {
    libvirt.VIR_ERR_OPERATION_INVALID: "The object is not in the state this step needs (active/inactive).",
    libvirt.VIR_ERR_STORAGE_VOL_EXIST: "A volume of that name exists: choose another name or set adopt=true.",
    libvirt.VIR_ERR_STORAGE_POOL_BUILT: "The device already holds data; build_mode no_overwrite keeps it.",
    libvirt.VIR_ERR_XML_INVALID_SCHEMA: "The generated XML was refused by libvirt's schema.",
    libvirt.VIR_ERR_NO_SUPPORT: "This libvirt or pool type does not support the operation.",
    libvirt.VIR_ERR_OPERATION_UNSUPPORTED: "This libvirt or pool type does not support the operation.",
}


class LibvirtOpError(Exception):
    """A libvirt call failed. `code` is libvirt's error code (None when not from libvirt)."""

    def __init__(self, message: str, cause: libvirt.libvirtError | None = None) -> None:
        # Every message is redacted, whoever built it: libvirt's text quotes mount command lines, and
        # messages built from a host's definition (adopt's comparison) quote its options.
        super().__init__(redact(message))
        self.code = cause.get_error_code() if cause is not None else None


class ConnectionLost(LibvirtOpError):
    """The connection died during an operation and the host did not answer again in time: what the
    operation did before is unknown."""


#: How libvirt reports a command that failed (virCommandWait): the whole command line, each word quoted
#: shell-style where it needs it. A netfs pool's start fails so with `mount -o <its mount options>`.
_FAILED_COMMAND = re.compile(r"(?P<lead>Child process \()(?P<command>.*?)(?P<tail>\) unexpected )", re.DOTALL)


def redact(message: str) -> str:
    """`message` with the secret material of pool options replaced (see spec.pool.REDACTED): in a command
    line libvirt quotes, by its shell words (which may hold quotes and blanks); elsewhere as options
    written in text."""
    def command(m: re.Match[str]) -> str:
        return m["lead"] + _redact_command(m["command"]) + m["tail"]

    return redact_secret_options_in(_FAILED_COMMAND.sub(command, message))


def _redact_command(command: str) -> str:
    try:
        words = shlex.split(command)
    except ValueError:  # (not libvirt's quoting after all: the text rule applies)
        return command
    # Options are separated by single commas; mount.cifs and the kernel read ",," as a comma inside a value.
    redacted = [",".join(redact_mount_option(o) for o in re.split(r"(?<!,),(?!,)", word)) for word in words]
    return command if redacted == words else shlex.join(redacted)


def is_gone(e: libvirt.libvirtError) -> bool:
    return e.get_error_code() in GONE_CODES


#: libvirt's rbd backend, when Ceph's monitors do not answer within librados' client_mount_timeout (it
#: sets 30 s; a pool's rbd_config_options override it). libvirt 9.0 appends whatever errno happens to
#: hold ("No such file or directory"), not the cause.
RADOS_UNREACHABLE = "failed to connect to the RADOS monitor"
_RADOS_HINT = ("Ceph did not answer: its monitors could not be reached within librados' client_mount_timeout "
               "(30 s as libvirt sets it, or the pool's rbd_config_options); the system error after the address is "
               "not the cause. Check the cluster (`ceph -s`) and run again once it answers.")


def explain(e: libvirt.libvirtError, action: str) -> LibvirtOpError:
    code = e.get_error_code()
    hint = _RADOS_HINT if RADOS_UNREACHABLE in (e.get_error_message() or "") else _HINTS.get(code, "")
    return LibvirtOpError(f"{action}: {e.get_error_message()} (libvirt error code {code}). {hint}".rstrip(), e)


def undo_quietly(fn: Callable[[], object]) -> None:
    """Run one step of a rollback. A rollback step that fails must not hide the error that caused
    the rollback, so libvirt errors here are dropped."""
    try:
        fn()
    except libvirt.libvirtError:
        pass
