"""Secret material in a pool definition made outside Pulumi (issue 20, item 6), on the real libvirtd:
a netfs cifs pool whose mount options hold a password and an rbd pool whose options hold a cephx key,
defined by hand and never started here (nothing serves CIFS or Ceph for them). What this provider
says and stores of them carries `(redacted)` where the secret was: `pulumi import`'s answer, the
`xml` output, libvirt's own error when the mount fails, adopt's comparison."""

from __future__ import annotations

import json
import pathlib
from typing import Iterator

import libvirt
import pytest

from pulumi_libvirt_storage_provider.ops import pools as pool_ops
from pulumi_libvirt_storage_provider.ops.errors import LibvirtOpError
from pulumi_libvirt_storage_provider.resources.base import Context
from pulumi_libvirt_storage_provider.resources.pool import POOLS
from pulumi_libvirt_storage_provider.spec.fields import Failures

from .conftest import URI, checked, unique

pytestmark = pytest.mark.libvirtd

# A password with a quote and a blank: libvirt quotes it shell-style in the command line it reports.
PASSWORD = "canary-cifs-Pa55'w0rd with blanks"
KEY = "QUJDRGNhbmFyeS1jZXBoeC1rZXktMTIzNA=="


def cifs_xml(name: str, path: pathlib.Path) -> str:
    password = PASSWORD.replace("'", "&apos;")
    return (f"<pool type='netfs' xmlns:fs='http://libvirt.org/schemas/storagepool/fs/1.0'><name>{name}</name>"
            "<source><host name='127.0.0.1'/><dir path='share'/><format type='cifs'/></source>"
            f"<target><path>{path}</path></target>"
            f"<fs:mount_opts><fs:option name='username=bob'/><fs:option name='password={password}'/>"
            "<fs:option name='vers=3.0'/></fs:mount_opts></pool>")


def rbd_xml(name: str) -> str:
    return (f"<pool type='rbd' xmlns:rbd='http://libvirt.org/schemas/storagepool/rbd/1.0'><name>{name}</name>"
            "<source><host name='127.0.0.1' port='1'/><name>rbd</name></source>"
            f"<rbd:config_opts><rbd:option name='client_mount_timeout' value='1'/><rbd:option name='key' "
            f"value='{KEY}'/></rbd:config_opts></pool>")


@pytest.fixture
def by_hand(conn, tmp_path) -> Iterator[dict[str, libvirt.virStoragePool]]:
    """The two pools, defined by hand and left stopped; undefined at the end (never started: a start
    would mount, or reach for Ceph)."""
    made = {"cifs": conn.storagePoolDefineXML(cifs_xml(unique("cifs"), tmp_path / "share"), 0),
            "rbd": conn.storagePoolDefineXML(rbd_xml(unique("rbd")), 0)}
    yield made
    for pool in made.values():
        if pool.isActive():
            pool.destroy()
        pool.undefine()


def secrets_in(text: str) -> list[str]:
    return [s for s in (PASSWORD, "w0rd with blanks", KEY) if s in text]


def test_libvirt_serves_the_definition_as_it_was_written_to_a_read_only_connection(by_hand):
    """Why a program's own options are refused rather than redacted: what is in a definition is every
    local user's to read (libvirt's read-only socket is mode 0777)."""
    read_only = libvirt.openReadOnly(URI)
    try:
        xml = read_only.storagePoolLookupByName(by_hand["cifs"].name()).XMLDesc(0)
    finally:
        read_only.close()
    assert "Pa55&apos;w0rd with blanks" in xml


@pytest.mark.parametrize("kind, prop", [("cifs", "mount_options[1]"), ("rbd", "rbd_config_options.key")])
def test_pulumi_import_of_such_a_pool_is_refused_naming_the_option_never_its_value(by_hand, kind, prop):
    """What the plugin answers `pulumi import` (Read with only the id)."""
    with pytest.raises(Failures) as caught:
        POOLS.import_(by_hand[kind].UUIDString(), Context(default_uri=URI))
    assert [f.prop for f in caught.value.failures] == [prop]
    assert not secrets_in(str(caught.value))


@pytest.mark.parametrize("kind", ["cifs", "rbd"])
def test_the_xml_output_of_such_a_pool_is_redacted(conn, by_hand, kind):
    state = pool_ops.read(conn, by_hand[kind].UUIDString())
    assert secrets_in(state.xml), "libvirt's own definition holds it"
    outputs = state.outputs()
    assert not secrets_in(json.dumps(outputs)) and "(redacted)" in outputs["xml"]


def test_libvirts_error_when_the_mount_fails_is_redacted(by_hand):
    """libvirt quotes the whole mount command line in its error: our message has every word of it but
    the password."""
    with pytest.raises(LibvirtOpError) as caught:
        pool_ops.set_active(by_hand["cifs"], True)
    message = str(caught.value)
    assert "mount" in message and "-t cifs" in message and "password=(redacted)" in message, message
    assert "username=bob" in message and "vers=3.0" in message
    assert caught.value.code == libvirt.VIR_ERR_INTERNAL_ERROR
    assert not secrets_in(message), message


@pytest.mark.parametrize("kind, declared", [
    ("cifs", {"type": "netfs", "source": {"hosts": [{"name": "127.0.0.1"}], "dir": "share", "format": "cifs"},
              "mount_options": ["vers=3.0"]}),
    ("rbd", {"type": "rbd", "source": {"hosts": [{"name": "127.0.0.1", "port": 1}], "name": "rbd"},
             "rbd_config_options": {"client_mount_timeout": "5"}}),
])
def test_adopts_comparison_with_the_host_names_the_options_without_the_secret(pools, by_hand, tmp_path, kind,
                                                                               declared):
    pool = by_hand[kind]
    raw = {"name": pool.name(), "uri": URI, "start": False, "adopt": True, **declared}
    if kind == "cifs":
        raw["target"] = {"path": str(tmp_path / "share")}
    with pytest.raises(LibvirtOpError) as caught:
        pools.provider.create(checked(pools.provider, raw))
    message = str(caught.value)
    # (Today the comparison quotes the host's options; once adopt refuses secret material it names the option.)
    assert ("another definition" in message and ("mount_options" in message or "rbd_config_options" in message)
            or ("mount_options[1]" if kind == "cifs" else "rbd_config_options.key") in message), message
    assert not secrets_in(message), message
    assert not pool.isActive()


# -- refresh and adopt of a definition holding secret material ------------------------------------------------

def test_a_refresh_never_copies_a_password_added_on_the_host_into_the_state(pools, conn, tmp_path):
    path = tmp_path / "share"
    raw = {"name": unique("cifs"), "type": "netfs", "uri": URI, "target": {"path": str(path)},
           "source": {"hosts": [{"name": "127.0.0.1"}], "dir": "share", "format": "cifs"},
           "mount_options": ["vers=3.0"], "start": False, "build": False}
    made = pools.create_checked(checked(pools.provider, raw))
    conn.storagePoolDefineXML(cifs_xml(raw["name"], path).replace("<name>", f"<uuid>{made.id}</uuid><name>"), 0)
    read = pools.provider.read(made.id, made.outs)
    assert read.outs["mount_options"] == ["username=bob", "password=(redacted)", "vers=3.0"]  # the drift, shown
    assert not secrets_in(json.dumps(read.outs) + json.dumps(read.inputs or {}))


def test_adopting_a_pool_whose_definition_holds_a_password_is_refused_with_the_way_out(pools, by_hand, tmp_path):
    """Adopted, it would be started (a mount with the password on its command line) and its options
    compared and stored: refused like a program writing them, naming the option and the way out."""
    pool = by_hand["cifs"]
    raw = {"name": pool.name(), "uri": URI, "type": "netfs", "target": {"path": str(tmp_path / "share")},
           "source": {"hosts": [{"name": "127.0.0.1"}], "dir": "share", "format": "cifs"}, "adopt": True}
    with pytest.raises(LibvirtOpError) as caught:
        pools.provider.create(checked(pools.provider, raw))
    assert "mount_options[1]" in str(caught.value) and "credentials=" in str(caught.value)
    assert not secrets_in(str(caught.value)) and not pool.isActive()
