"""The CI guard on synthetic `pulumi preview --json` documents (tests/e2e/test_ci_guard.py runs it on
real previews)."""

from __future__ import annotations

import io
import json

from pulumi_libvirt_storage_provider import guard

T = "pulumi-python:dynamic/libvirt-storage:"


def step(op: str, kind: str, resource: str, reasons: list[str] | None = None, **outputs) -> dict:
    urn = f"urn:pulumi:dev::proj::{T}{kind}::{resource}"
    return {"op": op, "urn": urn, "replaceReasons": reasons,
            "oldState": {"urn": urn, "type": f"{T}{kind}", "outputs": outputs}}


def run(steps: list[dict], *allow: str) -> tuple[int, str]:
    out = io.StringIO()
    code = guard.run(json.dumps({"steps": steps}), list(allow), out)
    return code, out.getvalue()


def test_updates_and_creates_pass() -> None:
    code, text = run([step("update", "StorageVolume", "disk"), step("create", "StoragePool", "p"),
                      step("same", "CephSecret", "k")])
    assert code == 0 and "no libvirt pool, volume or secret" in text


def test_a_replaced_volume_is_refused_and_says_its_data_is_lost() -> None:
    code, text = run([step("replace", "StorageVolume", "disk", ["format"], name="d.img", pool="images")])
    assert code == 1
    assert "REFUSED  REPLACE StorageVolume disk: d.img in pool images is deleted: its data is lost" in text
    assert "(replaced because of: format)" in text and "--allow disk" in text
    assert run([step("replace", "StorageVolume", "disk", ["format"])], "disk")[0] == 0
    assert run([step("replace", "StorageVolume", "disk", ["format"])], "urn:pulumi:dev::proj::*")[0] == 0


def test_what_happens_to_the_data_is_told_per_kind() -> None:
    code, text = run([
        step("delete", "StoragePool", "kept", name="a"),
        step("delete", "StoragePool", "wiped", name="b", delete_storage_on_destroy=True),
        step("delete", "StorageVolume", "lun", adopted=True),
        step("delete", "StorageVolume", "scrubbed", adopted=True, wipe_on_destroy="zero"),
        step("delete-replaced", "CephSecret", "key", usage_name="client.libvirt secret"),
        step("create-replacement", "CephSecret", "key", ["usage_name"], usage_name="client.libvirt secret"),
    ])
    assert code == 1
    assert "storage and every volume in it are kept" in text
    assert "storage DELETED (delete_storage_on_destroy" in text
    assert "adopted: released as it is, data kept" in text
    assert "data is WIPED first (zero)" in text
    assert text.count("CephSecret key") == 1 and "REPLACE CephSecret key" in text


def test_other_resources_and_bad_input() -> None:
    other = {"op": "delete", "urn": "urn:pulumi:dev::proj::libvirt:index/domain:Domain::vm",
             "oldState": {"type": "libvirt:index/domain:Domain", "outputs": {}}}
    assert run([other])[0] == 0
    out = io.StringIO()
    assert guard.run("not json", [], out) == 2 and "pulumi preview --json" in out.getvalue()
    assert guard.run("[]", [], io.StringIO()) == 2
