"""Issue 20, item 10, through the real engine on both front ends: a program whose pool and volume live
behind `qemu+ext:///system?command=<script>` (the script leaves a marker, then relays to the local
libvirtd's socket). `pulumi preview` must not run the script (a pull request's preview would run
whatever the URI names): it fails naming `uri` and the config key that allows it. Once the stack
allows such URIs, preview and up work through the script."""

from __future__ import annotations

import pathlib
import sys

import libvirt
import pytest

from tests.conftest import unique

pytestmark = [pytest.mark.engine, pytest.mark.both_frontends]

ALLOW_KEY = "libvirt-storage:allowUnsafeUris"
SOCKET = "/run/libvirt/libvirt-sock"  # the local libvirtd's, which qemu:///system reaches

PROGRAM = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume

cfg = pulumi.Config()
uri = cfg.require("uri")
pool = StoragePool("pool", name=cfg.require("name"), type="dir", target={"path": cfg.require("path")}, uri=uri)
# given by name: its preview reads the pool from the host (a prediction), as a program on another
# stack's pool does
volume = StorageVolume("volume", pool=pool.name, name="v.qcow2", format="qcow2", capacity="16MiB", uri=uri)
pulumi.export("uri", pool.uri)
pulumi.export("path", volume.path)
'''

RELAY = '''#!{python} -S
# Leaves a marker, then carries libvirt's RPC between stdin/stdout and the local libvirtd.
import os, socket, threading
open({marker!r}, "a").close()
daemon = socket.socket(socket.AF_UNIX)
daemon.connect({socket!r})


def to_daemon():
    while True:
        data = os.read(0, 65536)
        if not data:
            break
        daemon.sendall(data)
    daemon.shutdown(socket.SHUT_WR)


threading.Thread(target=to_daemon, daemon=True).start()
while True:
    data = daemon.recv(65536)
    if not data:
        break
    os.write(1, data)
'''


def relay_uri(tmp_path: pathlib.Path) -> tuple[str, pathlib.Path]:
    marker = tmp_path / "relay-ran"
    script = tmp_path / "relay"
    script.write_text(RELAY.format(python=sys.executable, marker=str(marker), socket=SOCKET))
    script.chmod(0o755)
    return f"qemu+ext:///system?command={script}", marker


def test_a_preview_never_runs_the_program_of_a_uri_until_the_stack_allows_it(
        project, conn: libvirt.virConnect, tmp_path: pathlib.Path) -> None:
    uri, marker = relay_uri(tmp_path)
    name = unique("ext")
    p = project(PROGRAM, config={"uri": uri, "name": name, "path": str(tmp_path / "pool")})

    refused = p.preview(check=False)
    output = refused.stdout + refused.stderr
    assert not marker.exists(), f"the preview ran the URI's command:\n{output}"
    assert refused.returncode != 0, output
    assert "uri" in output and ALLOW_KEY in output and "preview" in output, output
    assert name not in {pool.name() for pool in conn.listAllStoragePools()}

    p.run("config", "set", ALLOW_KEY, "true")
    p.preview()
    p.up()
    assert marker.exists(), "the pool was reached through the URI's command"
    pool = conn.storagePoolLookupByName(name)
    assert pool.isActive() and pool.listVolumes() == ["v.qcow2"]
    outputs = p.outputs()
    assert outputs["uri"] == uri and outputs["path"] == str(tmp_path / "pool" / "v.qcow2")

    # Allowed no more: the next preview refuses again, though the state holds the stack's resources
    # and its provider (the plugin's provider must not keep its old configuration).
    marker.unlink()
    p.run("config", "set", ALLOW_KEY, "false")
    again = p.preview(check=False)
    assert not marker.exists(), f"the preview ran the URI's command:\n{again.stdout}{again.stderr}"
    assert again.returncode != 0 and ALLOW_KEY in again.stdout + again.stderr, again.stdout + again.stderr

    p.run("config", "set", ALLOW_KEY, "true")
    p.destroy()
    assert name not in {pool.name() for pool in conn.listAllStoragePools()}
