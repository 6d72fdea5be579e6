"""The `xml.xslt` of a pulumi-libvirt Domain that puts our `disk_xml` where pulumi-libvirt cannot.

pulumi-libvirt (terraform-provider-libvirt 0.8) writes a disk from `DomainDiskArgs` with no way to say
`<encryption>` (a LUKS volume) or `<auth>` (an rbd image behind a cephx key). Its `xml.xslt` argument
transforms the domain XML it generated before defining it, so a disk is declared as pulumi-libvirt
knows it and its generated element is then *replaced* by our volume's `disk_xml`. Replaced, never
added: pulumi-libvirt's `disks` is replace-on-change and its Read rebuilds it from the live domain, so
an extra disk would show as drift on every refresh, while a replaced one reads back as the disk that
was declared (a file disk as the volume at that path, that is its `volume_id`; a network disk as its
url).

A generated element is found by its source, written as pulumi-libvirt writes it:

- a disk declared by `volume_id`: `"POOL/VOLUME"` (`<source pool=... volume=...>`);
- a disk declared by `url="rbd://HOST:PORT/POOL/IMAGE"`: `"/POOL/IMAGE"` (`<source name=...>`);
- a disk declared by `file`: its path.

The replacement is our `<disk>` with its driver, source, auth and encryption, and the generated
element's `<target>` (pulumi-libvirt numbers disks vda, vdb... by their position in `disks`, and
gives a scsi disk its wwn), so the guest sees the disk where the program declared it.
"""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from typing import Mapping

XSL = "http://www.w3.org/1999/XSL/Transform"

#: What the replacement keeps of the generated element: where the guest sees the disk.
KEPT_FROM_GENERATED = "target | wwn | address | boot"


def _xpath_string(value: str) -> str:
    """`value` as an XPath 1.0 string literal (which has no escapes: a value holding both quote
    characters becomes a concat())."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return "concat(" + ", \"'\", ".join(f"'{part}'" for part in value.split("'")) + ")"


def _literal(element: ET.Element) -> ET.Element:
    """`element` as a literal result element: `{` and `}` in attribute values would otherwise be
    read as attribute value templates (a path holding a brace)."""
    literal = copy.deepcopy(element)
    for node in literal.iter():
        for name, value in node.attrib.items():
            node.set(name, value.replace("{", "{{").replace("}", "}}"))
    return literal


def replace_disks(xml_by_source: Mapping[str, str], *, serial_log: str | None = None) -> str:
    """An XSLT 1.0 stylesheet for `DomainXmlArgs(xslt=...)`: the identity transform, plus one template
    per entry of `xml_by_source` ({source as above: a `<disk>` element, e.g. a volume's disk_xml})
    that replaces the generated disk with that source.

    `serial_log`: a file on the host where libvirt (virtlogd) keeps what the guest writes to its
    serial console, added to the domain's first console (pulumi-libvirt has no argument for it and
    does not read consoles back, so no drift)."""
    ET.register_namespace("xsl", XSL)
    sheet = ET.Element(f"{{{XSL}}}stylesheet", version="1.0")
    ET.SubElement(sheet, f"{{{XSL}}}output", method="xml", indent="yes")
    identity = ET.SubElement(sheet, f"{{{XSL}}}template", match="@*|node()")
    ET.SubElement(ET.SubElement(identity, f"{{{XSL}}}copy"), f"{{{XSL}}}apply-templates", select="@*|node()")

    for source, disk_xml in xml_by_source.items():
        disk = ET.fromstring(disk_xml)
        if disk.tag != "disk":
            raise ValueError(f"the replacement for {source!r} is a <{disk.tag}>, not a <disk> element")
        for own in disk.findall("target"):
            disk.remove(own)
        key = _xpath_string(source)
        template = ET.SubElement(
            sheet, f"{{{XSL}}}template",
            match=f"/domain/devices/disk[source[concat(@pool, '/', @volume) = {key} or @name = {key} "
                  f"or @file = {key}]]")
        literal = _literal(disk)
        ET.SubElement(literal, f"{{{XSL}}}copy-of", select=KEPT_FROM_GENERATED)
        template.append(literal)

    if serial_log is not None:
        console = ET.SubElement(sheet, f"{{{XSL}}}template", match="/domain/devices/console[1]")
        copied = ET.SubElement(console, f"{{{XSL}}}copy")
        ET.SubElement(copied, f"{{{XSL}}}apply-templates", select="@*|node()")
        log = ET.SubElement(copied, "log", append="off")
        log.set("file", serial_log.replace("{", "{{").replace("}", "}}"))

    ET.indent(sheet)
    return ET.tostring(sheet, encoding="unicode")
