"""Round trip with libvirt itself: a definition libvirt accepted -> resource arguments ->
the XML we would define -> libvirt's re-serialisation, identical to the original's.

Pools are only defined (never built or started), so every pool type the daemon knows can be
checked here, whatever storage the host has. The importer's program output is proven by
running it through the real engine with adoption."""

from __future__ import annotations

import base64
import os
import pathlib
from typing import Any

import libvirt
import pytest
from lxml import etree

from pulumi_libvirt_storage_provider import importer
from pulumi_libvirt_storage_provider.spec.pool import check_pool
from pulumi_libvirt_storage_provider.spec.secret import check_secret
from pulumi_libvirt_storage_provider.xml.pool import pool_xml
from pulumi_libvirt_storage_provider.xml.secret import secret_xml
from tests.conftest import unique
from tests.support.engine import Project
from tests.unit.specs import ROUND_TRIP_POOLS

pytestmark = pytest.mark.libvirtd


def canonical(xml: str) -> str:
    """libvirt's serialisation without the identity (uuid) and the name."""
    root = etree.fromstring(xml.encode())
    for tag in ("uuid", "name"):
        for el in root.findall(tag):
            root.remove(el)
    etree.indent(root)
    return etree.tostring(root, encoding="unicode")


def define_and_dump(conn: Any, xml: str) -> str:
    pool = conn.storagePoolDefineXML(xml, 0)
    try:
        # the test driver's XMLDesc takes no flags; an inactive pool's XML is its definition anyway
        return pool.XMLDesc(0)
    finally:
        pool.undefine()


def daemon_knows(conn: Any, pool_type: str) -> bool:
    caps = etree.fromstring(conn.getStoragePoolCapabilities(0).encode())
    pool = caps.find(f"pool[@type='{pool_type}']")
    return pool is not None and pool.get("supported") == "yes"


@pytest.mark.parametrize("case", sorted(ROUND_TRIP_POOLS))
def test_pool_definition_round_trips_through_resource_arguments(case: str, conn) -> None:
    raw = {**ROUND_TRIP_POOLS[case], "name": unique("rt")}
    if not daemon_knows(conn, raw["type"]):
        # Debian's libvirt 9.0 is built without zfs, vstorage and sheepdog (its pool capabilities
        # say so, and it refuses the definition); libvirt's test driver still parses and
        # re-serialises them, so the round trip is proven there.
        with pytest.raises(libvirt.libvirtError):
            conn.storagePoolDefineXML(pool_xml(check_pool(raw)), 0)
        conn = libvirt.open("test:///default")
    original = define_and_dump(conn, pool_xml(check_pool(raw)))
    args = importer.pool_args(original)
    again = define_and_dump(conn, pool_xml(check_pool(args)))
    assert canonical(again) == canonical(original)


def test_secret_definition_round_trips(conn) -> None:
    usage = unique("rt-secret")
    spec = check_secret({"usage_name": usage, "value": base64.b64encode(os.urandom(16)).decode(),
                         "description": "round trip", "private": False})
    secret = conn.secretDefineXML(secret_xml(spec, "5d0b6d4e-8d0e-4b5c-9d1e-0a1b2c3d4e5f"), 0)
    try:
        original = secret.XMLDesc(0)
        args = importer.secret_args(original)
        assert args is not None and "value" not in args
        rebuilt = secret_xml({**args, "value": "unused"}, args["uuid"])
        assert etree.tostring(etree.fromstring(rebuilt.encode()), method="c14n") == \
            etree.tostring(etree.fromstring(conn.secretDefineXML(rebuilt, 0).XMLDesc(0).encode()), method="c14n")
        assert canonical(conn.secretLookupByUUIDString(args["uuid"]).XMLDesc(0)) == canonical(original)
    finally:
        secret.undefine()


@pytest.mark.engine
def test_generated_program_adopts_the_host_storage_through_the_engine(conn, tmp_path: pathlib.Path) -> None:
    name = unique("adoptme")
    path = tmp_path / "pool"
    pool = conn.storagePoolDefineXML(pool_xml(check_pool({"name": name, "type": "dir",
                                                          "target": {"path": str(path)}})), 0)
    pool.build(0)
    pool.create(0)
    pool.setAutostart(1)
    vol = pool.createXML(f"<volume><name>disk.qcow2</name><capacity>{64 * 1024**2}</capacity>"
                         "<target><format type='qcow2'/></target></volume>", 0)
    try:
        inventory = importer.read_host(conn)
        inventory.pools = [p for p in inventory.pools if p["name"] == name]
        inventory.volumes = [v for v in inventory.volumes if v["pool"] == name]
        inventory.secrets = []
        source = importer.program(inventory)
        assert "adopt=True" in source and "capacity='64MiB'" in source
        project = Project(tmp_path / "project", source)
        try:
            up = project.up().stdout
            assert "2 created" in up
            outputs = project.resources()
            adopted = [r["outputs"].get("adopted") for r in outputs if "libvirt-storage" in r["type"]]
            assert adopted == [True, True]
            project.preview("--expect-no-changes")
            project.destroy()
        finally:
            project.close()
        # adopted objects are released, not deleted
        assert conn.storagePoolLookupByName(name).isActive()
        assert vol.path() and os.path.exists(vol.path())
    finally:
        vol.delete(0)
        pool.destroy()
        pool.undefine()
