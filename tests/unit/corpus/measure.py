"""How well the importer round-trips libvirt 9.0 storage XML: our own corpus, measured.

    .venv/bin/python -m tests.unit.corpus.measure [--kind pool|volume|secret]
        [--no-adopt] [--only SUBSTRING] [--corpus DIR]

For each file under tests/unit/corpus/{pool,volume,secret}/ (volume files are named
`<pooltype>--<what>.xml`):

  1. the file is validated against libvirt's RelaxNG schema (storagepool / storagevol / secret);
  2. the importer turns it into resource arguments (importer.pool_args / volume_args / secret_args);
  3. the project's check canonicalises them (check_pool / check_volume with pool_type /
     check_secret), with adopt=True as `import-program` writes it (--no-adopt: without);
  4. the project's builders rebuild the XML (pool_xml / volume_xml as ops/volumes.py calls it /
     secret_xml);
  5. libvirt says whether both are the same definition:
     - pools: both are defined on libvirt's test:///default driver and libvirt's re-serialisation
       (XMLDesc) of both is compared, without <uuid> when the file gave none. The test driver has no
       namespace handlers and drops fs:mount_opts and rbd:config_opts, so those are compared as XML
       (original against rebuilt) on top;
     - volumes: both are created in an active pool of the file's pool type on test:///default
       (defined here from a minimal definition of that type) and their XMLDesc compared, without
       what libvirt computes itself (key, target/path, the volume's type attribute: the test driver
       copies the type from the input, real backends derive it). Where the test driver refuses the
       original, the parsed forms (normalised XML) are compared instead;
     - secrets: the test driver has no secret driver (and libvirt 9.0's embedded secret driver,
       secret:///embed, crashes on define here), so parse_secret of both is compared (UUIDs in libvirt's
       canonical spelling), and the XML of both, normalised the way libvirt's secret driver formats
       it (ephemeral/private default 'no', UUID lower case with dashes), on top.

Only test:///default is ever opened; nothing here touches qemu:///system.

Results: identical, differs, importer fails, check refuses, builder fails (the builder raised, or
libvirt refused the rebuilt definition), invalid corpus file (fails the RelaxNG schema).
"""

from __future__ import annotations

import argparse
import sys
import uuid as uuidlib
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Callable

import libvirt
from lxml import etree

from pulumi_libvirt_storage_provider import importer
from pulumi_libvirt_storage_provider.spec.pool import check_pool
from pulumi_libvirt_storage_provider.spec.pooltypes import VolumeKind, info
from pulumi_libvirt_storage_provider.spec.secret import SECRET_KINDS, check_secret
from pulumi_libvirt_storage_provider.spec.volume import check_volume
from pulumi_libvirt_storage_provider.xml.pool import FS_NS, RBD_NS, pool_xml
from pulumi_libvirt_storage_provider.xml.secret import parse_secret, secret_xml
from pulumi_libvirt_storage_provider.xml.volume import volume_xml

CORPUS = Path(__file__).resolve().parent
URI = "test:///default"
SCHEMA_DIR = Path("/usr/share/libvirt/schemas")
SCHEMAS = {"pool": "storagepool", "volume": "storagevol", "secret": "secret"}
KINDS = ("pool", "volume", "secret")

IDENTICAL, DIFFERS = "identical", "differs"
IMPORTER_FAILS, CHECK_REFUSES, BUILDER_FAILS = "importer fails", "check refuses", "builder fails"
INVALID = "invalid corpus file"
RESULTS = (IDENTICAL, DIFFERS, IMPORTER_FAILS, CHECK_REFUSES, BUILDER_FAILS, INVALID)

# Minimal pools of each type, defined and started on the test driver to create volumes in.
MINIMAL_POOLS = {
    "dir": "<target><path>/srv/corpus-measure/dir</path></target>",
    "fs": "<source><device path='/dev/corpus-measure-fs'/></source>"
          "<target><path>/srv/corpus-measure/fs</path></target>",
    "netfs": "<source><host name='nfs.invalid'/><dir path='/export/corpus-measure'/></source>"
             "<target><path>/srv/corpus-measure/netfs</path></target>",
    "logical": "<source><name>corpus-measure-vg</name></source><target><path>/dev/corpus-measure-vg</path></target>",
    "disk": "<source><device path='/dev/corpus-measure-disk'/></source><target><path>/dev</path></target>",
    "iscsi": "<source><host name='iscsi.invalid'/><device path='iqn.2023-01.invalid.corpus:measure'/></source>"
             "<target><path>/dev/disk/by-path</path></target>",
    "iscsi-direct": "<source><host name='iscsi-direct.invalid'/>"
                    "<device path='iqn.2023-01.invalid.corpus:measure-direct'/>"
                    "<initiator><iqn name='iqn.2023-01.invalid.corpus:initiator'/></initiator></source>",
    "scsi": "<source><adapter type='scsi_host' name='host99'/></source><target><path>/dev/disk/by-path</path></target>",
    "mpath": "<target><path>/dev/mapper</path></target>",
    "rbd": "<source><name>corpus-measure</name><host name='mon.invalid'/></source>",
    "sheepdog": "<source><name>corpus-measure</name><host name='sheep.invalid'/></source>",
    "gluster": "<source><name>corpus-measure</name><host name='gluster.invalid'/></source>",
    "zfs": "<source><name>corpus-measure-zpool</name></source>",
    "vstorage": "<source><name>corpus-measure</name></source><target><path>/srv/corpus-measure/vstorage</path></target>",
}

SCALED = {"capacity", "allocation", "available", "physical", "clusterSize"}
_UNITS = {"": 1, "b": 1, "byte": 1, "bytes": 1}
for _i, _p in enumerate("kmgtpe", start=1):
    _UNITS |= {_p: 1024**_i, f"{_p}ib": 1024**_i, f"{_p}b": 1000**_i}


class Outcome(Exception):
    def __init__(self, result: str, reason: str) -> None:
        super().__init__(reason)
        self.result, self.reason = result, reason


# -- XML comparison ------------------------------------------------------------------------------

def _qname(el: etree._Element) -> str:
    tag = etree.QName(el)
    prefix = {FS_NS: "fs:", RBD_NS: "rbd:"}.get(tag.namespace or "", "")
    return prefix + str(tag.localname)


def xml_diff(a: etree._Element, b: etree._Element, path: str = "") -> list[str]:
    """Differences between two element trees, as '<path>: <original> != <rebuilt>'. Children are
    matched by tag, in order within each tag (libvirt's interleaves make the order across tags free)."""
    here = f"{path}/{_qname(a)}"
    out: list[str] = []
    for key in sorted(set(a.attrib) | set(b.attrib)):
        va, vb = a.get(key), b.get(key)
        if va != vb:
            out.append(f"{here}@{key}: {va!r} != {vb!r}" if va is not None and vb is not None else
                       f"{here}@{key}={va!r}: missing in rebuilt" if vb is None else
                       f"{here}@{key}={vb!r}: only in rebuilt")
    ta, tb = (a.text or "").strip(), (b.text or "").strip()
    if ta != tb:
        out.append(f"{here}: {ta!r} != {tb!r}")
    by_tag_a: dict[str, list[etree._Element]] = defaultdict(list)
    by_tag_b: dict[str, list[etree._Element]] = defaultdict(list)
    for el in a:
        if isinstance(el.tag, str):
            by_tag_a[_qname(el)].append(el)
    for el in b:
        if isinstance(el.tag, str):
            by_tag_b[_qname(el)].append(el)
    for tag in list(dict.fromkeys([*by_tag_a, *by_tag_b])):
        xs, ys = by_tag_a.get(tag, []), by_tag_b.get(tag, [])
        for i in range(max(len(xs), len(ys))):
            suffix = f"[{i + 1}]" if max(len(xs), len(ys)) > 1 else ""
            if i >= len(ys):
                out.append(f"{here}/{tag}{suffix}: missing in rebuilt")
            elif i >= len(xs):
                out.append(f"{here}/{tag}{suffix}: only in rebuilt")
            else:
                sub = xml_diff(xs[i], ys[i], here)
                if suffix:
                    sub = [s.replace(f"{here}/{tag}", f"{here}/{tag}{suffix}", 1) for s in sub]
                out += sub
    return out


def parse(xml: str) -> etree._Element:
    return etree.fromstring(xml.encode(), etree.XMLParser(remove_blank_text=True, remove_comments=True))


def remove(root: etree._Element, *paths: str) -> None:
    for p in paths:
        if "@" in p:
            el_path, attr = p.split("@")
            for el in ([root] if not el_path else root.findall(el_path)):
                el.attrib.pop(attr, None)
        else:
            for el in root.findall(p):
                el.getparent().remove(el)


def normalise(root: etree._Element) -> etree._Element:
    """The parsed form: what libvirt would store, for comparisons libvirt cannot make here: scaled
    integers in bytes, octal modes as numbers, empty elements libvirt drops removed."""
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        name = etree.QName(el).localname
        if name in SCALED and el.text and el.text.strip().isdigit():
            unit = (el.get("unit") or "").lower()
            el.text = str(int(el.text.strip()) * _UNITS.get(unit, 1))
            el.attrib.pop("unit", None)
        if name == "mode" and el.text:
            el.text = f"{int(el.text.strip(), 8):o}"
    return root


def summarise(diffs: list[str], limit: int = 4) -> str:
    shown = "; ".join(diffs[:limit])
    return shown + (f"; (+{len(diffs) - limit} more)" if len(diffs) > limit else "")


# -- libvirt ---------------------------------------------------------------------------------------

class TestDriver:
    def __init__(self) -> None:
        assert URI.startswith("test:///")
        libvirt.registerErrorHandler(lambda *_: None, None)  # errors are reported through exceptions
        self.conn = libvirt.open(URI)
        self.pools: dict[str, libvirt.virStoragePool] = {}

    def close(self) -> None:
        for pool in self.pools.values():
            try:
                pool.destroy()
                pool.undefine()
            except libvirt.libvirtError:
                pass
        self.conn.close()

    def pool_desc(self, xml: str) -> str:
        pool = self.conn.storagePoolDefineXML(xml, 0)
        try:
            return str(pool.XMLDesc(0))
        finally:
            pool.undefine()

    def pool_of_type(self, pool_type: str) -> libvirt.virStoragePool:
        if pool_type not in self.pools:
            name = f"corpus-measure-{pool_type}"
            pool = self.conn.storagePoolDefineXML(f"<pool type='{pool_type}'><name>{name}</name>"
                                                  f"{MINIMAL_POOLS[pool_type]}</pool>", 0)
            pool.create(0)
            self.pools[pool_type] = pool
        return self.pools[pool_type]

    def volume_desc(self, pool_type: str, xml: str) -> str:
        vol = self.pool_of_type(pool_type).createXML(xml, 0)
        try:
            return str(vol.XMLDesc(0))
        finally:
            vol.delete(0)


def _error(e: BaseException) -> str:
    text = e.get_error_message() if isinstance(e, libvirt.libvirtError) else str(e)
    text = " ".join(str(text).split())
    return f"{type(e).__name__}: {text}" if not isinstance(e, libvirt.libvirtError) else text


def _step(result: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - every failure is a measured outcome
        raise Outcome(result, _error(e)) from e


# -- the three kinds -------------------------------------------------------------------------------

def measure_pool(driver: TestDriver, xml: str, adopt: bool) -> tuple[str, str]:
    args = _step(IMPORTER_FAILS, lambda: importer.pool_args(xml))
    spec = _step(CHECK_REFUSES, lambda: check_pool({**args, **({"adopt": True} if adopt else {})}))
    rebuilt = _step(BUILDER_FAILS, lambda: pool_xml(spec))
    note_rebuilt("pool", rebuilt)
    original_root = parse(xml)
    strip = [] if original_root.find("uuid") is not None else ["uuid"]
    try:
        want = parse(driver.pool_desc(xml))
    except libvirt.libvirtError as e:
        want, how = normalise(original_root), f" (compared parsed: test driver refused the original: {_error(e)})"
        got = normalise(parse(rebuilt))
    else:
        how = ""
        got = parse(_rebuilt_desc(driver.pool_desc, rebuilt))
    remove(want, *strip)
    remove(got, *strip)
    diffs = xml_diff(want, got)
    # The test driver drops the namespaced options: compare them as written.
    for ns_tag in (f"{{{FS_NS}}}mount_opts", f"{{{RBD_NS}}}config_opts"):
        a, b = original_root.find(ns_tag), parse(rebuilt).find(ns_tag)
        label = "/pool/" + ("fs:mount_opts" if ns_tag.startswith(f"{{{FS_NS}") else "rbd:config_opts")
        if a is not None and b is None:
            diffs.append(f"{label}: missing in rebuilt (compared as XML: the test driver drops it)")
        elif a is None and b is not None:
            diffs.append(f"{label}: only in rebuilt (compared as XML)")
        elif a is not None and b is not None:
            diffs += [d + " (compared as XML)" for d in xml_diff(a, b, "/pool")]
    return (DIFFERS, summarise(diffs) + how) if diffs else (IDENTICAL, how.strip())


def _rebuilt_desc(describe: Callable[[str], str], rebuilt: str) -> str:
    try:
        return describe(rebuilt)
    except libvirt.libvirtError as e:
        raise Outcome(BUILDER_FAILS, f"libvirt refuses the rebuilt XML: {_error(e)}") from e


VOLUME_COMPUTED = ("@type", "key", "target/path")


def measure_volume(driver: TestDriver, xml: str, pool_type: str, adopt: bool) -> tuple[str, str]:
    pool_name = f"corpus-measure-{pool_type}"
    args = _step(IMPORTER_FAILS, lambda: importer.volume_args(xml, pool_name, pool_type))
    spec = _step(CHECK_REFUSES, lambda: check_volume({**args, **({"adopt": True} if adopt else {})}))
    t = info(pool_type)

    def build() -> str:  # as ops/volumes.py create() calls the builder
        fmt = spec.get("format") or t.default_volume_format
        return volume_xml(spec, spec["name"], int(spec["capacity"]), fmt, sparse=t.volume_kind is VolumeKind.FILE)

    rebuilt = _step(BUILDER_FAILS, build)
    note_rebuilt("volume", rebuilt)
    try:
        want = parse(driver.volume_desc(pool_type, xml))
    except libvirt.libvirtError as e:
        how = f" (compared parsed: test driver refused the original: {_error(e)})"
        want, got = normalise(parse(xml)), normalise(parse(rebuilt))
        # what libvirt does not read from a volume definition, or computes itself
        for root in (want, got):
            remove(root, *VOLUME_COMPUTED, "physical", "source", "target/timestamps", "backingStore/timestamps")
    else:
        how = ""
        got = parse(_rebuilt_desc(lambda x: driver.volume_desc(pool_type, x), rebuilt))
        for root in (want, got):
            remove(root, *VOLUME_COMPUTED)
    diffs = xml_diff(want, got)
    return (DIFFERS, summarise(diffs) + how) if diffs else (IDENTICAL, how.strip())


def _libvirt_secret_form(root: etree._Element, keep_uuid: bool) -> etree._Element:
    """A secret as libvirt's secret driver formats it: ephemeral and private always written
    ('no' by default), a uuid always present (dropped here when the file gave none)."""
    for attr in ("ephemeral", "private"):
        root.set(attr, root.get(attr) or "no")
    if not keep_uuid:
        remove(root, "uuid")
    elif root.find("uuid") is not None:
        root.find("uuid").text = _uuid(root.find("uuid").text)
    return root


def _uuid(text: str | None) -> str | None:
    """libvirt keeps a UUID as 16 bytes and writes it lower case with dashes."""
    try:
        return str(uuidlib.UUID(text.strip())) if text else text
    except ValueError:
        return text


def measure_secret(xml: str, adopt: bool) -> tuple[str, str]:
    found = _step(IMPORTER_FAILS, lambda: importer.secret_args(xml))
    if found is None:
        usage = parse(xml).find("usage")
        what = f"usage type {usage.get('type')!r}" if usage is not None else "no <usage>"
        raise Outcome(IMPORTER_FAILS, f"secret_args returns None: {what} is not imported")
    resource, args = found
    kind = SECRET_KINDS[resource]
    spec = _step(CHECK_REFUSES, lambda: check_secret({**args, **({"adopt": True} if adopt else {})}, kind))
    given_uuid = parse(xml).find("uuid") is not None
    rebuilt = _step(BUILDER_FAILS, lambda: secret_xml(spec, spec.get("uuid") or str(uuidlib.uuid4()),
                                                      kind.usage_type))
    note_rebuilt("secret", rebuilt)
    diffs = []
    a, b = parse_secret(xml), parse_secret(rebuilt)
    for parsed in (a, b):
        if not given_uuid:
            parsed.pop("uuid", None)
        elif parsed.get("uuid"):
            parsed["uuid"] = _uuid(parsed["uuid"])
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            diffs.append(f"parse_secret[{key}]: {a.get(key)!r} != {b.get(key)!r}")
    diffs += xml_diff(_libvirt_secret_form(parse(xml), given_uuid), _libvirt_secret_form(parse(rebuilt), given_uuid))
    return (DIFFERS, summarise(diffs)) if diffs else (IDENTICAL, "")


# -- driver ----------------------------------------------------------------------------------------

def corpus_files(kinds: tuple[str, ...], only: str | None, corpus: Path = CORPUS) -> list[tuple[str, Path]]:
    files = [(kind, p) for kind in kinds for p in sorted((corpus / kind).glob("*.xml"))]
    return [(k, p) for k, p in files if not only or only in f"{k}/{p.name}"]


_SCHEMA_CACHE: dict[str, etree.RelaxNG] = {}
#: Set by the measure_* functions: the schema errors of the rebuilt XML of the current file.
REBUILT_SCHEMA_ERRORS: list[str] = []


def schema_errors(kind: str, doc: etree._Element | etree._ElementTree) -> str | None:
    if kind not in _SCHEMA_CACHE:
        _SCHEMA_CACHE[kind] = etree.RelaxNG(etree.parse(str(SCHEMA_DIR / f"{SCHEMAS[kind]}.rng")))
    schema = _SCHEMA_CACHE[kind]
    if schema.validate(doc):
        return None
    return "; ".join(f"line {e.line}: {e.message}" for e in list(schema.error_log)[:2])


def schema_check(kind: str, path: Path) -> str | None:
    return schema_errors(kind, etree.parse(str(path)))


def note_rebuilt(kind: str, rebuilt: str) -> None:
    errors = schema_errors(kind, parse(rebuilt))
    if errors:
        REBUILT_SCHEMA_ERRORS.append(errors)


def measure(kinds: tuple[str, ...], adopt: bool, only: str | None, corpus: Path = CORPUS
            ) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    driver = TestDriver()
    try:
        for kind, path in corpus_files(kinds, only, corpus):
            xml = path.read_text()
            REBUILT_SCHEMA_ERRORS.clear()
            invalid = schema_check(kind, path)
            try:
                if invalid:
                    raise Outcome(INVALID, invalid)
                if kind == "pool":
                    result, reason = measure_pool(driver, xml, adopt)
                elif kind == "volume":
                    pool_type = path.name.split("--", 1)[0]
                    if "--" not in path.name or pool_type not in MINIMAL_POOLS:
                        raise Outcome(INVALID, "volume files are named <pooltype>--<what>.xml")
                    result, reason = measure_volume(driver, xml, pool_type, adopt)
                else:
                    result, reason = measure_secret(xml, adopt)
            except Outcome as o:
                result, reason = o.result, o.reason
            rebuilt_invalid = REBUILT_SCHEMA_ERRORS.pop(0) if REBUILT_SCHEMA_ERRORS else None
            if rebuilt_invalid:
                reason = f"{reason} [rebuilt XML fails RelaxNG: {rebuilt_invalid}]".strip()
            rows.append((f"{kind}/{path.name}", kind, result, reason))
    finally:
        driver.close()
    return rows


def print_table(rows: list[tuple[str, str, str, str]], width: int) -> None:
    w_file = max([len("file")] + [len(r[0]) for r in rows])
    w_res = max(len(r) for r in RESULTS)
    print(f"{'file':<{w_file}}  {'kind':<6}  {'result':<{w_res}}  reason")
    print(f"{'-' * w_file}  {'-' * 6}  {'-' * w_res}  {'-' * 6}")
    for file, kind, result, reason in rows:
        if width and len(reason) > width:
            reason = reason[: width - 3] + "..."
        print(f"{file:<{w_file}}  {kind:<6}  {result:<{w_res}}  {reason}")


def print_summary(rows: list[tuple[str, str, str, str]]) -> None:
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    for _, kind, result, _ in rows:
        by_kind[kind][result] += 1
        by_kind["all"][result] += 1
    print()
    print(f"{'':<8}" + "".join(f"{r:>22}" for r in RESULTS) + f"{'total':>8}")
    for kind in (*KINDS, "all"):
        if kind in by_kind:
            counts = by_kind[kind]
            print(f"{kind:<8}" + "".join(f"{counts[r]:>22}" for r in RESULTS) + f"{sum(counts.values()):>8}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.unit.corpus.measure", description=__doc__.split("\n")[0])
    ap.add_argument("--kind", choices=KINDS, action="append", help="only this kind (repeatable)")
    ap.add_argument("--no-adopt", action="store_true", help="check the arguments without adopt=True")
    ap.add_argument("--only", help="only files whose kind/name contains this")
    ap.add_argument("--width", type=int, default=0, help="cut reasons to this many characters (0: never)")
    ap.add_argument("--corpus", type=Path, default=CORPUS,
                    help="a directory with pool/, volume/ and secret/ (default: the project's own corpus)")
    ns = ap.parse_args(argv)
    rows = measure(tuple(ns.kind or KINDS), not ns.no_adopt, ns.only, ns.corpus)
    print_table(rows, ns.width)
    print_summary(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
