"""Encrypted volumes through the real engine: a LUKS-encrypted qcow2 volume with its passphrase in a
VolumeSecret of the same stack, attached to a real QEMU domain through its disk_xml (which carries
<encryption>): QEMU reads back what it wrote, the file on the host holds only ciphertext, and the
passphrase is in no state, output or log."""

from __future__ import annotations

import base64
import os
import pathlib
import shutil
import subprocess

import libvirt
import libvirt_qemu
import pytest
from lxml import etree

from tests.conftest import unique

pytestmark = [pytest.mark.engine, pytest.mark.both_frontends]

PROGRAM = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume, VolumeSecret

cfg = pulumi.Config()
pool = StoragePool("pool", name=cfg.require("pool"), type="dir", target={"path": cfg.require("path")})
luks = VolumeSecret("luks", usage_name=cfg.require("path") + "/secure.qcow2", value=cfg.require_secret("passphrase"))
disk = StorageVolume("secure", pool=pool, name="secure.qcow2", format="qcow2", capacity="64MiB",
                     encryption={"format": "luks", "secret_uuid": luks.uuid})
raw = StorageVolume("secure-raw", pool=pool, name="secure.raw", format="raw", capacity="16MiB",
                    encryption={"format": "luks", "secret_uuid": luks.uuid,
                                "cipher": {"name": "aes", "size": 256, "mode": "xts", "hash": "sha256"},
                                "ivgen": {"name": "plain64", "hash": "sha256"}})
pulumi.export("path", disk.path)
pulumi.export("raw_path", raw.path)
pulumi.export("disk_xml", disk.disk_xml)
pulumi.export("secret_uuid", luks.uuid)
'''


def hmp(dom: libvirt.virDomain, command: str) -> str:
    return libvirt_qemu.qemuMonitorCommand(dom, command, libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)


def test_a_luks_volume_is_opened_decrypted_by_a_real_domain(project, conn, request: pytest.FixtureRequest) -> None:
    name = unique("luks")
    passphrase = "correct horse " + base64.b32encode(os.urandom(10)).decode()
    # QEMU runs as libvirt-qemu: the pool must be somewhere it can reach (not under /tmp/pytest-of-root)
    pool_path = pathlib.Path(f"/var/lib/libvirt/{name}-images")
    request.addfinalizer(lambda: shutil.rmtree(pool_path, ignore_errors=True))
    p = project(PROGRAM, config={"pool": name, "path": str(pool_path)}, secrets={"passphrase": passphrase})
    p.up()
    out = p.outputs()
    disk = etree.fromstring(out["disk_xml"].encode())
    enc = disk.find("source/encryption")
    assert enc is not None and enc.get("format") == "luks"
    assert enc.find("secret").get("uuid") == out["secret_uuid"]
    p.preview("--expect-no-changes")
    # both are LUKS on the host, and what refresh reads back is what the program declares
    for path, fmt in ((out["path"], "qcow2"), (out["raw_path"], "luks")):
        info = subprocess.run(["qemu-img", "info", "--output=json", path], capture_output=True, text=True).stdout
        assert f'"format": "{fmt}"' in info and '"encrypted": true' in info, info
    p.refresh()
    p.preview("--expect-no-changes")

    xml = (f"<domain type='qemu'><name>{name}-vm</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
           "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
           f"{out['disk_xml']}</devices></domain>")
    qemu_log = pathlib.Path(f"/var/log/libvirt/qemu/{name}-vm.log")
    dom = conn.createXML(xml, 0)  # transient: gone when destroyed
    try:
        # HMP's qemu-io on the guest disk's own backend (the path QEMU's `info block` names); what it
        # prints goes to the domain's log.
        backend = "/machine/peripheral/virtio-disk0/virtio-backend"
        assert hmp(dom, f'qemu-io -d {backend} "write -P 0xab 0 1M"') == ""
        assert hmp(dom, f'qemu-io -d {backend} "read -P 0xab 0 1M"') == ""
    finally:
        dom.destroy()
    log = qemu_log.read_text(errors="replace")
    assert "wrote 1048576/1048576 bytes at offset 0" in log and "read 1048576/1048576 bytes at offset 0" in log, log
    assert "Pattern verification failed" not in log
    on_disk = pathlib.Path(out["path"]).read_bytes()
    assert b"\xab" * 4096 not in on_disk, "the host holds only ciphertext"

    everything = p.state_text() + "\n".join(p.log) + log
    assert passphrase not in everything
    p.destroy()
