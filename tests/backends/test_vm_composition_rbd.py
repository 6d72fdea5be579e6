"""examples/vm-composition with its rbd disk (`rbd: true`) on the test Ceph cluster, through the real
engine on both front ends: pulumi-libvirt's Domain declares the disk by url, the example's stylesheet
replaces it with our rbd volume's disk_xml (cephx auth through our CephSecret), and the guest writes its
marker into the image through librbd. Read back from Ceph on the host, the marker proves that the VM
ran on it. The bridge reads such a disk back as the url declared (its patch of the provider's read of
network disks), so a refresh with the VM running changes nothing; growing the rbd disk while the VM
runs is one in-place update, the Domain untouched in the preview and in `up`. The rest of the composition (the
qcow2 overlay, LUKS, destroy's order) is proved in tests/e2e/test_vm_composition.py."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import libvirt
import pytest
from lxml import etree

from tests.e2e.test_vm_composition import (composition, new_passphrase, new_token, vm_host,  # noqa: F401 (a fixture)
                                           wait_for_guest)
from tests.support.engine import Project
from tests.support.guest import read_marker_from_file, read_marker_from_rbd

from .conftest import CephCluster

pytestmark = [pytest.mark.engine, pytest.mark.both_frontends]


@pytest.fixture
def rbd_image(vm_host: dict[str, Any], ceph: CephCluster) -> Iterator[str]:
    """The example's rbd image (PREFIX-data); removed from Ceph if a failed test left it."""
    image = f"{vm_host['prefix']}-data"
    yield image
    if image in ceph.images():
        with contextlib.suppress(AssertionError):
            ceph.rbd("rm", f"{ceph.pool}/{image}")
        pytest.fail(f"left behind (removed now): rbd image {ceph.pool}/{image}")


def test_vm_composition_rbd_disk_is_written_by_the_guest_and_reads_back_without_drift(
        vm_host: dict[str, Any], rbd_image: str, project: Callable[..., Project], conn: libvirt.virConnect,
        ceph: CephCluster, virtlogd: None) -> None:
    token, passphrase = new_token(), new_passphrase()
    p = composition(project, vm_host, token, passphrase, secrets={"cephKey": ceph.key}, rbd="true",
                    rbdMonitor=f"{ceph.mon_host}:{ceph.mon_port}", rbdPool=ceph.pool, cephClient=ceph.client)
    p.up()
    wait_for_guest(conn, vm_host)
    out = p.outputs()

    # vdc is our rbd volume's disk_xml: librbd with our CephSecret's key, not the url pulumi-libvirt wrote
    tree = etree.fromstring(conn.lookupByName(vm_host["domain"]).XMLDesc(0).encode())
    vdc = tree.findall("devices/disk")[2]
    source = vdc.find("source")
    assert (vdc.get("type"), source.get("protocol"), source.get("name")) == ("network", "rbd",
                                                                               f"{ceph.pool}/{rbd_image}")
    assert vdc.find("target").get("dev") == "vdc" and vdc.find("auth").get("username") == ceph.client
    secret = conn.secretLookupByUUIDString(vdc.find("auth/secret").get("uuid"))
    assert secret.usageType() == libvirt.VIR_SECRET_USAGE_TYPE_CEPH
    assert secret.usageID() == f"{vm_host['prefix']} client.{ceph.client}"

    # the guest wrote to all three disks, the rbd image through librbd
    assert read_marker_from_rbd(ceph.pool, rbd_image, ceph.conf) == f"PLS-MARKER vdc {token}"
    assert read_marker_from_file(out["vm_disk_path"], "qcow2") == f"PLS-MARKER vda {token}"
    assert read_marker_from_file(out["secure_path"], "luks", passphrase=passphrase) == f"PLS-MARKER vdb {token}"

    p.preview("--expect-no-changes")
    p.refresh()
    p.preview("--expect-no-changes")
    assert conn.lookupByName(vm_host["domain"]).isActive()

    # What a user does next: grow the data disk while the VM runs. One in-place update of the volume,
    # in the preview and in `up`; the Domain is not touched and keeps running on the same image.
    domain_uuid = conn.lookupByName(vm_host["domain"]).UUIDString()
    p.run("config", "set", "dataCapacity", "96MiB")
    planned, done = p.preview_steps(), p.up_steps()
    changed = {name: op for name, op in planned.items() if op != "same"}
    assert changed == {"data": "update"} and {n: o for n, o in done.items() if o != "same"} == changed, \
        (planned, done)
    assert ceph.image_info(rbd_image)["size"] == 96 * 2**20
    dom = conn.lookupByName(vm_host["domain"])
    assert dom.UUIDString() == domain_uuid and dom.isActive()
    assert read_marker_from_rbd(ceph.pool, rbd_image, ceph.conf) == f"PLS-MARKER vdc {token}"
    p.preview("--expect-no-changes")

    p.destroy()
    assert vm_host["domain"] not in {d.name() for d in conn.listAllDomains()}
    assert rbd_image not in ceph.images()
    assert not [s for s in conn.listAllSecrets() if (s.usageID() or "").startswith(vm_host["prefix"])]
