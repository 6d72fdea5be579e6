"""Import fidelity: every pool, volume and secret definition of the corpus (tests/unit/corpus/, the
shapes libvirt 9.0 accepts: every pool type and source element, every volume format, encryption,
permissions, backing stores, every secret usage type) goes through the importer, the project's
check and its XML builders, and libvirt's test driver says the rebuilt definition is the original
one (tests/unit/corpus/measure.py says how each kind is compared).

What is not identical is listed below with the reason; the list is exact, so a file that starts to
round-trip (or stops) fails the test until the list says so.
"""

from __future__ import annotations

import pytest

from tests.unit.corpus import measure

NOT_IDENTICAL = {
    "volume/dir--qcow2-backing.xml":
        "libvirt reports the backing file's <permissions> under <backingStore> but never applies them "
        "when it creates a volume; the provider declares only the volume's own permissions",
    "volume/dir--qcow2-features-empty.xml":
        "an empty <features/> only makes libvirt default compat to 1.1, which the import declares "
        "(qcow2.compat); libvirt echoes the empty element, qemu-img gets the same options",
    "secret/no-usage.xml":
        "a secret without <usage> belongs to no pool or volume (libvirt's storage and disks find "
        "secrets by usage or by a uuid given with one); it is not imported",
}


@pytest.fixture(scope="module")
def rows() -> list[tuple[str, str, str, str]]:
    return measure.measure(measure.KINDS, adopt=True, only=None)


def test_the_corpus_covers_every_kind(rows):
    kinds = {kind for _, kind, _, _ in rows}
    assert kinds == set(measure.KINDS)
    assert sum(1 for _, kind, _, _ in rows if kind == "pool") >= 50
    assert sum(1 for _, kind, _, _ in rows if kind == "volume") >= 60


def test_every_corpus_file_is_valid_libvirt_xml(rows):
    invalid = [(f, reason) for f, _, result, reason in rows if result == measure.INVALID]
    assert not invalid


def test_imported_definitions_are_the_originals(rows):
    off = {f: f"{result}: {reason}" for f, _, result, reason in rows if result != measure.IDENTICAL}
    unexpected = {f: why for f, why in off.items() if f not in NOT_IDENTICAL}
    assert not unexpected, "import no longer round-trips:\n" + "\n".join(f"{f}: {w}" for f, w in unexpected.items())
    fixed = sorted(set(NOT_IDENTICAL) - set(off))
    assert not fixed, f"now identical, take them off NOT_IDENTICAL: {fixed}"


def test_rebuilt_definitions_pass_libvirts_schema(rows):
    failing = [(f, reason) for f, _, _, reason in rows if "rebuilt XML fails RelaxNG" in reason]
    assert not failing
