"""pulumi-libvirt's Domain holding one of our rbd volumes, through the real engine on the test Ceph cluster.

pulumi-libvirt cannot say `<auth>`: the program declares the disk as pulumi-libvirt knows it,
`url="rbd://MONHOST:PORT/POOL/IMAGE"`, and the Domain's `xml.xslt` replaces the generated `<disk>` with
our volume's `disk_xml` (source `POOL/IMAGE`, cephx auth through our CephSecret). terraform-provider-libvirt
v0.8.3 read such a disk back as `rbd://MONHOST:PORTPOOL/IMAGE`, which url.Parse refuses: the Domain's
create (which ends with a read) and every refresh failed. The bridge is built with our fix
(tools/libvirt-bridge/patches/terraform-provider-libvirt-v0.8.3-network-disk-url.patch), under which the
url read back is the declared one, so preview and refresh see no drift.

The domain is started by its create whatever `running` says (running=False stops it again afterwards):
the `up` succeeding means QEMU opened the image through librbd with the key of our CephSecret. No file
of the domain is read by QEMU, so nothing needs a directory QEMU's user can reach.
"""

from __future__ import annotations

import inspect
from typing import Callable, Iterator

import libvirt
import pytest
from lxml import etree

from tests.conftest import NAMED_BY_THIS_TEST, URI, unique
from tests.support.engine import Project

from .conftest import CephCluster
from .test_rbd import sweep

pytestmark = [pytest.mark.engine, pytest.mark.both_frontends]


def disk_replacing_xslt(source_name: str, disk_xml: str) -> str:
    """An XSLT for pulumi-libvirt's `DomainXmlArgs(xslt=...)`: the domain XML as generated, except the
    `<disk>` whose source is named `source_name` (the path of its url: "/POOL/IMAGE"), which becomes
    `disk_xml` (a whole `<disk>` element, copied as a literal result element). The name goes into an
    XPath string literal: no quote characters; disk_xml must hold no `{` or `}` in attribute values
    (they would be attribute value templates)."""
    assert "'" not in source_name and '"' not in source_name, source_name
    return f"""<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:template match="@*|node()">
    <xsl:copy><xsl:apply-templates select="@*|node()"/></xsl:copy>
  </xsl:template>
  <xsl:template match="disk[source/@name='{source_name}']">
{disk_xml}
  </xsl:template>
</xsl:stylesheet>
"""


# The program carries the function above as its own source (one copy, tried by the engine).
PROGRAM = '''
import pulumi
import pulumi_libvirt as libvirt
from pulumi_libvirt_storage import CephSecret, StoragePool, StorageVolume

''' + inspect.getsource(disk_replacing_xslt) + '''

cfg = pulumi.Config()
ceph_pool, image, mon_host, mon_port = (cfg.require("cephPool"), cfg.require("image"), cfg.require("monHost"),
                                        cfg.require_int("monPort"))
key = CephSecret("ceph", usage_name=cfg.require("usage"), value=cfg.require_secret("cephKey"))
pool = StoragePool("rbd", name=cfg.require("pool"), type="rbd", source={
    "name": ceph_pool,
    "hosts": [{"name": mon_host, "port": mon_port}],
    "auth": {"type": "ceph", "username": cfg.require("client"), "secret_uuid": key.uuid},
})
data = StorageVolume("data", pool=pool, name=image, format="raw", capacity="64MiB", disk_target={"dev": "vdb"})
url = f"rbd://{mon_host}:{mon_port}/{ceph_pool}/{image}"
domain = libvirt.Domain(
    "vm", name=cfg.require("domain"), type="qemu", memory=64, vcpu=1, running=False,
    disks=[libvirt.DomainDiskArgs(url=url)],
    xml=libvirt.DomainXmlArgs(xslt=data.disk_xml.apply(lambda xml: disk_replacing_xslt(f"/{ceph_pool}/{image}", xml))))
pulumi.export("url", url)
pulumi.export("secret_uuid", key.uuid)
pulumi.export("domain_id", domain.id)
pulumi.export("disk_urls", domain.disks.apply(lambda disks: [d.url for d in disks]))
'''


@pytest.fixture(autouse=True)
def nothing_of_this_test_left(conn: libvirt.virConnect, ceph: CephCluster) -> Iterator[None]:
    """No domain, pool or secret this test named is left in libvirt, and no image in Ceph. Set up before
    `project` (autouse), so it looks after the stack's destroy; whatever is left is removed and fails the
    test. Narrowed to this test's names (other sessions share this libvirtd and the prefix)."""
    yield
    left = sweep(conn, ceph, NAMED_BY_THIS_TEST)
    if left:
        pytest.fail(f"left behind (removed now): {sorted(left)}")


def test_domain_with_our_rbd_volume_reads_back_its_url_without_drift(
        project: Callable[..., Project], ceph: CephCluster, conn: libvirt.virConnect, virtlogd: None) -> None:
    config = {"libvirt:uri": URI, "usage": unique("client.libvirt-secret"), "pool": unique("rbdpool"),
              "cephPool": ceph.pool, "image": unique("img"), "monHost": ceph.mon_host,
              "monPort": str(ceph.mon_port), "client": ceph.client, "domain": unique("vm")}
    p = project(PROGRAM, config=config, secrets={"cephKey": ceph.key})

    # The create starts the domain (QEMU opens the image with our key), reads it back, and stops it.
    p.up()
    out = p.outputs()
    url = f"rbd://{ceph.mon_host}:{ceph.mon_port}/{ceph.pool}/{config['image']}"
    assert out["url"] == url and out["disk_urls"] == [url], out
    assert ceph.image_info(config["image"])["size"] == 64 * 1024**2

    # libvirt holds our disk_xml's disk, not the one pulumi-libvirt generated from the url
    dom = conn.lookupByName(config["domain"])
    assert dom.UUIDString() == out["domain_id"] and not dom.isActive()
    [disk] = etree.fromstring(dom.XMLDesc(0).encode()).findall("devices/disk")
    assert (disk.get("type"), disk.get("device")) == ("network", "disk"), etree.tostring(disk)
    source = disk.find("source")
    assert (source.get("protocol"), source.get("name")) == ("rbd", f"{ceph.pool}/{config['image']}")
    assert [(h.get("name"), h.get("port")) for h in source.findall("host")] == [(ceph.mon_host, str(ceph.mon_port))]
    auth = disk.find("auth")
    assert auth.get("username") == ceph.client
    assert (auth.find("secret").get("type"), auth.find("secret").get("uuid")) == ("ceph", out["secret_uuid"])
    assert conn.secretLookupByUUIDString(out["secret_uuid"]).usageID() == config["usage"]
    assert (disk.find("target").get("dev"), disk.find("driver").get("type")) == ("vdb", "raw")

    p.preview("--expect-no-changes")
    # unpatched, the refresh failed on the url it rebuilt ("invalid port")
    p.refresh()
    assert p.outputs()["disk_urls"] == [url]
    p.preview("--expect-no-changes")

    p.destroy()
    assert config["domain"] not in {d.name() for d in conn.listAllDomains()}
    assert config["pool"] not in {q.name() for q in conn.listAllStoragePools()}
    assert config["usage"] not in {s.usageID() for s in conn.listAllSecrets()}
    assert config["image"] not in ceph.images()
