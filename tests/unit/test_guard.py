"""The CI guard on synthetic `pulumi preview --json` documents (tests/e2e/test_ci_guard.py runs it on
real previews)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from pulumi_libvirt_storage_provider import guard
from pulumi_libvirt_storage_provider.spec.names import to_wire
from pulumi_libvirt_storage_provider.spec.registry import RESOURCES

T = "pulumi-python:dynamic/libvirt-storage:"
PLUGIN = "libvirt-storage:index:"


def step(op: str, kind: str, resource: str, reasons: list[str] | None = None, *, prefix: str = T,
         inputs: dict | None = None, **outputs) -> dict:
    """One step of `pulumi preview --json`: the old state's outputs (deletes, replacements) and the
    planned inputs (creates, replacements), spelled as the front end of `prefix` spells them."""
    urn = f"urn:pulumi:dev::proj::{prefix}{kind}::{resource}"
    if prefix == PLUGIN:
        outputs, inputs = to_wire(RESOURCES[kind].schema, outputs), to_wire(RESOURCES[kind].schema, inputs or {})
    planned = {} if inputs is None else {"newState": {"urn": urn, "type": f"{prefix}{kind}", "inputs": inputs}}
    old = {"oldState": {"urn": urn, "type": f"{prefix}{kind}", "outputs": outputs}} if outputs or op != "create" else {}
    return {"op": op, "urn": urn, "replaceReasons": reasons, **old, **planned}


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


def test_deleting_a_volume_secret_and_an_iscsi_secret_is_refused() -> None:
    """Issue 20: a preview that deleted a VolumeSecret and an IscsiSecret passed the guard ("no libvirt
    pool, volume or secret is deleted or replaced", exit 0): its list of resources named 3 of the 7."""
    code, text = run([step("delete", "VolumeSecret", "luks", usage_name="/var/lib/libvirt/images/vm1.qcow2"),
                      step("delete", "IscsiSecret", "chap", usage_name="libvirtiscsi")])
    assert code == 1, text
    assert "REFUSED  DELETE  VolumeSecret luks" in text and "REFUSED  DELETE  IscsiSecret chap" in text


@pytest.mark.parametrize("prefix", [T, PLUGIN], ids=["dynamic", "plugin"])
@pytest.mark.parametrize("kind", list(RESOURCES))
def test_every_registered_resource_is_guarded_on_both_front_ends(kind: str, prefix: str) -> None:
    """The guard reads the registry: a resource added there is guarded without another list to update."""
    outputs = {"name": "n", "pool": "p", "usage_name": "u"}
    code, text = run([step("delete", kind, "gone", prefix=prefix, **outputs),
                      step("delete-replaced", kind, "swapped", ["uuid"], prefix=prefix, **outputs),
                      step("create-replacement", kind, "swapped", ["uuid"], prefix=prefix, inputs={}, **outputs)])
    assert code == 1, text
    assert f"REFUSED  DELETE  {kind} gone: " in text and f"REFUSED  REPLACE {kind} swapped: " in text
    assert text.count(f"{kind} swapped") == 1
    assert run([step("delete", kind, "gone", prefix=prefix, **outputs)], "gone")[0] == 0


def test_secrets_say_what_stops_working_without_them() -> None:
    _, text = run([step("delete", "VolumeSecret", "luks", usage_name="/images/vm1.qcow2"),
                   step("delete", "CephSecret", "ceph", usage_name="client.libvirt secret"),
                   step("delete", "VtpmSecret", "tpm", usage_name="vm1 vtpm", adopted=True)])
    assert ("VolumeSecret luks: secret /images/vm1.qcow2 is undefined: the volumes encrypted with its passphrase "
            "cannot be opened through libvirt until it is defined again with the same value") in text
    assert "CephSecret ceph: secret client.libvirt secret is undefined: pools and disks that authenticate" in text
    assert "VtpmSecret tpm: adopted: released as it is, still defined" in text
    # A passphrase that encrypts data comes first: it is the one way into that data.
    assert text.index("VolumeSecret luks") < text.index("CephSecret ceph")


def test_a_replaced_secret_whose_uuid_changes_says_so() -> None:
    old = {"usage_name": "/images/vm1.qcow2", "uuid": "11111111-1111-1111-1111-111111111111"}
    new = {**old, "uuid": "22222222-2222-2222-2222-222222222222"}
    _, text = run([step("replace", "VolumeSecret", "luks", ["uuid"], inputs=new, **old)])
    assert "REPLACE VolumeSecret luks: secret /images/vm1.qcow2 is undefined, then defined again" in text
    assert "its uuid changes (11111111-1111-1111-1111-111111111111 -> 22222222-2222-2222-2222-222222222222)" in text


OVERWRITE_FS = {"name": "data", "type": "fs", "source": {"devices": [{"path": "/dev/vdb"}], "format": "ext4"},
                "target": {"path": "/mnt/data"}, "build": True, "build_mode": "overwrite"}


@pytest.mark.parametrize("prefix", [T, PLUGIN], ids=["dynamic snake_case", "plugin camelCase"])
def test_a_pool_created_with_build_mode_overwrite_is_refused_as_a_reformatted_device(prefix: str) -> None:
    create = step("create", "StoragePool", "data", prefix=prefix, inputs=OVERWRITE_FS)
    assert ("buildMode" if prefix == PLUGIN else "build_mode") in create["newState"]["inputs"]
    code, text = run([create])
    assert code == 1, text
    assert ("REFUSED  CREATE  StoragePool data: device reformatted: /dev/vdb is formatted anew (build_mode "
            "overwrite, fs pool): whatever it holds is lost") in text
    assert "deleted, replaced or reformatted by this preview" in text and "--allow data" in text
    assert run([create], "data")[0] == 0


def test_creates_that_format_nothing_pass() -> None:
    logical = {"type": "logical", "source": {"name": "vg", "devices": [{"path": "/dev/vdc"}]}}
    code, text = run([
        step("create", "StoragePool", "kept", inputs={**OVERWRITE_FS, "build_mode": "no_overwrite"}),
        step("create", "StoragePool", "unbuilt", inputs={**OVERWRITE_FS, "build": False}),
        step("create", "StoragePool", "normal", inputs={**logical, "build": True, "build_mode": "normal"}),
        step("create", "StoragePool", "dir", inputs={"type": "dir", "target": {"path": "/p"}, "build": True,
                                                     "build_mode": "normal"}),
        step("create", "StorageVolume", "disk", inputs={"name": "d", "pool": "p"}),
    ])
    assert code == 0, text


def test_build_mode_overwrite_not_yet_known_is_refused_as_a_possible_reformat() -> None:
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # how the preview's JSON writes an unknown value
    code, text = run([step("create", "StoragePool", "data", inputs={**OVERWRITE_FS, "build_mode": unknown})])
    assert code == 1 and "CREATE  StoragePool data: device may be reformatted: /dev/vdb" in text


@pytest.mark.parametrize("prefix", [T, PLUGIN], ids=["dynamic", "plugin"])
def test_a_replaced_overwrite_pool_is_refused_and_says_its_device_is_not_reformatted(prefix: str) -> None:
    """Overwrite applies on a resource's first create only: its replacement uses the device as it is."""
    outputs = {**OVERWRITE_FS, "uuid": "11111111-1111-1111-1111-111111111111"}
    code, text = run([step("delete-replaced", "StoragePool", "data", ["uuid"], prefix=prefix, **outputs),
                      step("replace", "StoragePool", "data", ["uuid"], prefix=prefix, inputs=OVERWRITE_FS, **outputs),
                      step("create-replacement", "StoragePool", "data", ["uuid"], prefix=prefix, inputs=OVERWRITE_FS,
                           **outputs)])
    assert code == 1, text
    assert ("REFUSED  REPLACE StoragePool data: pool data is undefined; its storage and every volume in it are kept; "
            "the new pool uses /dev/vdb as it is, or fails: device not reformatted (build_mode overwrite applies on "
            "the first create only) (replaced because of: uuid)") in text
    assert "is formatted anew" not in text


def test_the_guard_runs_where_libvirt_cannot_be_imported(tmp_path) -> None:
    """A CI runner has no libvirt: the guard imports the registry, never resources/ or ops/."""
    preview = tmp_path / "preview.json"
    preview.write_text(json.dumps({"steps": [step("delete", "IscsiSecret", "chap", usage_name="iqn-target")]}))
    program = ("import sys; sys.modules['libvirt'] = None\n"  # `import libvirt` now raises ImportError
               "from pulumi_libvirt_storage_provider.cli import main\n"
               f"sys.exit(main(['guard', {str(preview)!r}]))\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "REFUSED  DELETE  IscsiSecret chap: secret iqn-target is undefined" in done.stdout


def test_a_step_without_its_state_is_told_by_its_urn_under_a_parent_too() -> None:
    urn = f"urn:pulumi:dev::proj::my:index:Vm${T}VolumeSecret::luks"
    code, text = run([{"op": "delete", "urn": urn}])
    assert code == 1 and "REFUSED  DELETE  VolumeSecret luks: the secret is undefined" in text
