"""Secret material outside a secret's `value` (issue 20, item 6): a CIFS password in a pool's
`mount_options`, a cephx key in its `rbd_config_options`.

A program that writes one is refused by check, naming the option and the way out, without quoting
it: libvirt would pass a mount password to `mount -o` (every local user sees it in `ps`), print that
command line in its errors and logs, and hand the definition to anyone on its read-only socket;
Pulumi would store it in plain text as an input and in the `xml` output. A definition that already
holds one on a host (made by hand) is never repeated: the `xml` output, libvirt's error messages and
the importer's arguments and program carry `(redacted)` in its place."""

from __future__ import annotations

import json

import libvirt
import pytest
from pulumi.output import Unknown

from pulumi_libvirt_storage_provider import importer
from pulumi_libvirt_storage_provider.ops.errors import LibvirtOpError, explain
from pulumi_libvirt_storage_provider.ops.pools import PoolState
from pulumi_libvirt_storage_provider.spec.fields import Failures
from pulumi_libvirt_storage_provider.spec.pool import check_pool
from pulumi_libvirt_storage_provider.xml import pool as pool_xml_module
from pulumi_libvirt_storage_provider.xml.pool import parse_pool

from .specs import CEPH_KEY, failures_of, minimal_pool, reason_for

CANARY = "canary-Pa55w0rd"


def cifs_pool(*options: str) -> dict:
    return minimal_pool("netfs", source={"hosts": [{"name": "files.example.org"}], "dir": "share",
                                         "format": "cifs"}, mount_options=list(options))


def rbd_pool(options: dict) -> dict:
    return minimal_pool("rbd", rbd_config_options=options)


# -- check: refused, named, never quoted ---------------------------------------------------------

# Every spelling mount.cifs or the kernel's cifs client reads a password from: pass, password, pass2,
# password2 (cifs-utils >= 6.10 and the kernel, exact names), any name beginning with "pass" (older
# mount.cifs matched prefixes), other case, and a user name carrying "%password" (older mount.cifs, and
# what the USER variable still takes).
PASSWORD_SPELLINGS = [f"password={CANARY}", f"pass={CANARY}", f"password2={CANARY}", f"pass2={CANARY}",
                      f"passwd={CANARY}", f"PASSWORD={CANARY}", f"username=bob%{CANARY}",
                      f"user=WORKGROUP/bob%{CANARY}"]


@pytest.mark.parametrize("option", PASSWORD_SPELLINGS)
def test_a_password_in_mount_options_is_refused_naming_the_option_and_the_credentials_file(option):
    with pytest.raises(Failures) as caught:
        check_pool(cifs_pool("vers=3.0", option))
    failures = [(f.prop, f.reason) for f in caught.value.failures]
    reason = reason_for(failures, "mount_options[1]")
    assert "credentials=" in reason and "0600" in reason and "password" in reason
    assert CANARY not in str(caught.value), "the message never quotes the password"


@pytest.mark.parametrize("options", [
    ["credentials=/etc/libvirt/cifs/share.cred", "vers=3.0"],
    ["cred=/root/.smb", "username=bob", "domain=EXAMPLE", "sec=ntlmssp"],
    ["guest", "users", "user_xattr", "noatime"],
    ["sec=krb5", "cruid=1000"],
])
def test_mount_options_without_secret_material_are_accepted(options):
    assert check_pool(cifs_pool(*options))["mount_options"] == options


def test_a_password_option_of_an_nfs_or_fs_pool_is_refused_too():
    """No NFS or libvirt fs-pool option takes a password; one named so is refused all the same (the
    same exposure), rather than trusting the pool type to say which mount helper reads it."""
    nfs = minimal_pool("netfs", mount_options=[f"password={CANARY}"])
    assert "credentials=" in reason_for(failures_of(check_pool, nfs), "mount_options[0]")


@pytest.mark.parametrize("name", ["key", "Key", "KEY"])
def test_a_cephx_key_in_rbd_config_options_is_refused_naming_it_and_source_auth(name):
    with pytest.raises(Failures) as caught:
        check_pool(rbd_pool({"client_mount_timeout": "5", name: CEPH_KEY}))
    failures = [(f.prop, f.reason) for f in caught.value.failures]
    reason = reason_for(failures, f"rbd_config_options.{name}")
    assert "source.auth" in reason and "CephSecret" in reason
    assert CEPH_KEY not in str(caught.value)


def test_rbd_keyring_and_keyfile_paths_are_accepted():
    """They name files on the host that hold the key (Ceph's own credentials files), as
    credentials= does for CIFS: the key itself is not in the definition."""
    options = {"keyring": "/etc/ceph/ceph.client.libvirt.keyring", "keyfile": "/etc/ceph/libvirt.key"}
    assert check_pool(rbd_pool(options))["rbd_config_options"] == options


def test_unknown_options_in_a_preview_wait_for_their_values():
    assert check_pool(cifs_pool("vers=3.0"))  # (the pool itself is fine)
    spec = check_pool({**cifs_pool(), "mount_options": [Unknown(), "vers=3.0"]})
    assert spec["mount_options"][1] == "vers=3.0"
    # An rbd option's name is enough: a key is refused in the preview already.
    assert "CephSecret" in reason_for(failures_of(check_pool, rbd_pool({"key": Unknown()})), "rbd_config_options.key")


# -- the pool XML: the `xml` output ----------------------------------------------------------------

HAND_MADE = f"""<pool type='netfs' xmlns:fs='http://libvirt.org/schemas/storagepool/fs/1.0'>
  <name>share</name>
  <uuid>6a6d53c4-50c5-4c1b-9d65-7a1d5d7e2a11</uuid>
  <source>
    <host name='files.example.org'/>
    <dir path='share'/>
    <format type='cifs'/>
  </source>
  <target>
    <path>/mnt/share</path>
  </target>
  <fs:mount_opts>
    <fs:option name='username=bob'/>
    <fs:option name='password={CANARY}'/>
    <fs:option name='vers=3.0'/>
  </fs:mount_opts>
</pool>
"""
HAND_MADE_RBD = f"""<pool type='rbd' xmlns:rbd='http://libvirt.org/schemas/storagepool/rbd/1.0'>
  <name>ceph</name>
  <uuid>0ddc0ac4-7f2c-4d4f-93a9-4b6a6fe4e0c2</uuid>
  <source>
    <host name='mon1.example.org'/>
    <name>rbd</name>
  </source>
  <rbd:config_opts>
    <rbd:option name='client_mount_timeout' value='5'/>
    <rbd:option name='key' value='{CEPH_KEY}'/>
  </rbd:config_opts>
</pool>
"""


def test_redact_pool_xml_hides_the_values_and_keeps_everything_else():
    redacted = pool_xml_module.redact_pool_xml(HAND_MADE)
    assert CANARY not in redacted
    parsed, original = parse_pool(redacted), parse_pool(HAND_MADE)
    assert parsed["mount_options"] == ["username=bob", "password=(redacted)", "vers=3.0"]
    assert {k: v for k, v in parsed.items() if k != "mount_options"} == \
        {k: v for k, v in original.items() if k != "mount_options"}
    rbd = pool_xml_module.redact_pool_xml(HAND_MADE_RBD)
    assert CEPH_KEY not in rbd
    assert parse_pool(rbd)["rbd_config_options"] == {"client_mount_timeout": "5", "key": "(redacted)"}


def test_a_definition_without_secret_material_is_given_back_as_libvirt_wrote_it():
    """Byte for byte: a pool's `xml` output does not change on upgrade."""
    plain = HAND_MADE.replace(f"password={CANARY}", "credentials=/etc/libvirt/cifs/share.cred")
    assert pool_xml_module.redact_pool_xml(plain) is plain


def state_of(xml: str) -> PoolState:
    return PoolState(name="share", uuid="6a6d53c4-50c5-4c1b-9d65-7a1d5d7e2a11", active=False, autostart=False,
                     capacity=0, allocation=0, available=0, xml=xml, observed=parse_pool(xml))


@pytest.mark.parametrize("xml, secret", [(HAND_MADE, CANARY), (HAND_MADE_RBD, CEPH_KEY)], ids=["cifs", "rbd"])
def test_the_xml_output_of_a_pool_holding_secret_material_is_redacted(xml, secret):
    outputs = state_of(xml).outputs()
    assert secret not in json.dumps(outputs)
    assert "(redacted)" in outputs["xml"]


# -- error messages ----------------------------------------------------------------------------------

def libvirt_error(code: int, message: str) -> libvirt.libvirtError:
    e = libvirt.libvirtError(message)
    e.err = (code, libvirt.VIR_FROM_STORAGE, message, libvirt.VIR_ERR_ERROR, message, None, None, -1, -1)
    return e


# What libvirt 9.0 says when the mount of a netfs cifs pool fails (pool.create() on this machine, the
# password written as CANARY; the second with a quote and a space, which libvirt quotes shell-style).
MOUNT_FAILED = ("internal error: Child process (/bin/mount -o 'nodev,nosuid,noexec,guest,username=bob,"
                "password={pw},vers=3.0' -t cifs //127.0.0.1/share /tmp/plstest-cifs) unexpected exit status 32: "
                "mount: /tmp/plstest-cifs: unknown filesystem type 'cifs'.\n       dmesg(1) may have more "
                "information after failed mount system call.\n")
PASSWORDS = [CANARY, f"{CANARY}'\\''with a quote and spaces"]


@pytest.mark.parametrize("password", PASSWORDS, ids=["plain", "shell-quoted"])
def test_libvirts_mount_command_line_is_redacted_in_the_error_keeping_the_rest(password):
    e = explain(libvirt_error(libvirt.VIR_ERR_INTERNAL_ERROR, MOUNT_FAILED.format(pw=password)), "starting pool x")
    message = str(e)
    assert CANARY not in message and "with a quote" not in message and "spaces" not in message
    assert "password=(redacted)" in message
    assert "username=bob" in message and "vers=3.0" in message and "-t cifs //127.0.0.1/share" in message
    assert "unknown filesystem type 'cifs'" in message and "exit status 32" in message
    assert e.code == libvirt.VIR_ERR_INTERNAL_ERROR and "libvirt error code 1" in message


@pytest.mark.parametrize("message, secret", [
    (f"adopt: pool 'share' exists with another definition (mount_options: host has ['username=bob', "
     f"'password={CANARY}', 'vers=3.0'])", CANARY),
    (f"adopt: pool 'ceph' exists with another definition (rbd_config_options: host has "
     f"{{'client_mount_timeout': '5', 'key': '{CEPH_KEY}'}})", CEPH_KEY),
    (f"adopt: pool 'share' exists with another definition (mount_options: host has ['username=bob', "
     f"\"password={CANARY}'s, with blanks\", 'vers=3.0'])", CANARY),
    (f"redefining pool x: mount -o guest,pass={CANARY} failed", CANARY),
    (f"redefining pool x: mount -o username=bob password={CANARY} with blanks\nnext line", "with blanks"),
    (f"mount -o username=bob%{CANARY},vers=3.0 failed", CANARY),
], ids=["mount-options-repr", "rbd-options-repr", "quoted-repr", "bare-option", "blanks", "user-percent"])
def test_every_message_of_a_libvirt_operation_error_is_redacted(message, secret):
    """LibvirtOpError is the type of every error ops/ raises: a message built from the host's definition
    (adopt's comparison) or from libvirt's text is redacted whoever built it."""
    assert secret not in str(LibvirtOpError(message))


def test_messages_without_secret_material_are_kept_as_they_are():
    message = "defining pool x: volume key=/var/lib/libvirt/images/a.qcow2 passed (libvirt error code 9)"
    assert str(LibvirtOpError(message)) == message


# -- the importer: import-args, import-program, `pulumi import` -----------------------------------------

@pytest.mark.parametrize("xml, secret, prop", [(HAND_MADE, CANARY, "mount_options[1]"),
                                               (HAND_MADE_RBD, CEPH_KEY, "rbd_config_options.key")],
                         ids=["cifs", "rbd"])
def test_imported_arguments_carry_no_secret_and_check_refuses_them_naming_the_option(xml, secret, prop):
    args = importer.pool_args(xml)
    assert secret not in json.dumps(args)
    reason = reason_for(failures_of(check_pool, args), prop)
    assert secret not in reason


def test_an_imported_program_says_why_such_a_pool_is_refused_without_the_value():
    inventory = importer.HostInventory(pools=[importer.pool_args(HAND_MADE), importer.pool_args(HAND_MADE_RBD)])
    program = importer.program(inventory)
    assert CANARY not in program and CEPH_KEY not in program
    assert "# mount_options[1]:" in program and "credentials=" in program
    assert "# rbd_config_options.key:" in program and "source.auth" in program
    compile(program, "__main__.py", "exec")
