"""What Pulumi's own workflows do to storage (README, "What your Pulumi workflow does to storage"):
`stack rename`, `pulumi import` then a change, `state delete` + `up`, `refresh` after changes made
on the host, `--target`, `up --refresh`, `retain_on_delete`, `protect`, `delete_before_replace`, and
a second checkout or state backend on the same host. Through the real engine and libvirtd, on both
front ends; each test asserts on what the host has (the volume's data, written as a pattern; pools,
secrets and uuids) and on what the engine planned and did. Alias renames and a recreated stack are in
tests/e2e/test_workflow_identity.py."""

from __future__ import annotations

import ast
import json
import pathlib
import re
import subprocess

import libvirt
import pytest

from tests.conftest import unique
from tests.e2e.test_data_safety import has_pattern, write_pattern
from tests.e2e.test_workflow_identity import remove_orphans
from tests.support.engine import BIN, fold_steps, readable, steps_of_events

pytestmark = [pytest.mark.engine, pytest.mark.both_frontends]

PASSPHRASE = b"correct horse battery staple"
MiB = 1024**2


def run_steps(p, *args: str, fails: bool = False) -> tuple[dict[str, str], str]:
    """Run a `pulumi` command with `--json`: the steps it planned or began that change something (refresh
    steps left out), and its errors; `fails`: the command must fail."""
    proc = p.run(*args, "--json", check=not fails)
    assert (proc.returncode != 0) == fails, readable(proc.stdout)
    try:
        found = [(s["urn"], s["op"]) for s in json.loads(proc.stdout).get("steps", [])]  # a preview
    except ValueError:
        found = steps_of_events(proc.stdout)  # engine events, one a line
    return changes(fold_steps((urn, op) for urn, op in found if op != "refresh")), readable(proc.stdout) + proc.stderr


def attempt(p, *args: str) -> tuple[dict[str, str], str]:
    """A `pulumi up` that must fail: the steps it began and what it said."""
    return run_steps(p, "up", "--yes", "--skip-preview", *args, fails=True)


def changes(steps: dict[str, str]) -> dict[str, str]:
    """The steps that are not "same" (`pulumi preview --json` leaves some unchanged resources out)."""
    return {name: op for name, op in steps.items() if op != "same"}


def in_state(p) -> dict[str, dict]:
    """{resource name: its state} of this package's resources."""
    return {r["urn"].rsplit("::", 1)[-1]: r for r in p.resources()
            if "libvirt-storage" in r["type"] and not r["type"].startswith("pulumi:")}


def virsh(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(["virsh", "-c", "qemu:///system", *args], check=True, capture_output=True, text=True,
                          input=stdin).stdout


# Auto-named pool and volume, a secret with a derived uuid: everything derives from the project, the
# stack and the resource's name.
STACK = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume, VolumeSecret

cfg = pulumi.Config()
prefix = cfg.require("prefix")
pool = StoragePool(prefix + "-pool", type="dir", target={"path": cfg.require("path")},
                   adopt=cfg.get_bool("adoptPool") or False)
disk = StorageVolume(prefix + "-disk", pool=pool, format="raw", capacity=cfg.get("capacity") or "16MiB",
                     adopt=cfg.get_bool("adopt") or False)
luks = VolumeSecret(prefix + "-luks", usage_name=prefix + "-luks", value=cfg.require_secret("passphrase"),
                    private=cfg.get_bool("private") or False)
pulumi.export("pool", pool.name)
pulumi.export("pool_uuid", pool.uuid)
pulumi.export("disk", disk.name)
pulumi.export("path", disk.path)
pulumi.export("secret_uuid", luks.uuid)
'''


def test_a_renamed_stack_keeps_its_names_uuids_and_data(project, conn, tmp_path) -> None:
    """`pulumi stack rename` changes every URN and the stack name auto-names and uuids derive from:
    the next preview and up change nothing, the pool, volume and secret keep their names and uuids."""
    prefix = unique("stackrename")
    p = project(STACK, config={"prefix": prefix, "path": str(tmp_path / "pool")},
                secrets={"passphrase": PASSPHRASE.decode()})
    p.up()
    before = p.outputs()
    write_pattern(before["path"])
    p.run("stack", "rename", "renamed")
    planned, done = p.preview_steps(), p.up_steps()
    assert changes(planned) == changes(done) == {}, (planned, done)
    assert sorted(done) == sorted(f"{prefix}-{r}" for r in ("pool", "disk", "luks")), done
    assert p.outputs() == before
    assert conn.storagePoolLookupByName(before["pool"]).UUIDString() == before["pool_uuid"]
    assert conn.secretLookupByUUIDString(before["secret_uuid"]).value() == PASSPHRASE
    assert has_pattern(before["path"])
    p.destroy()


def make_by_hand(conn, name: str, path: pathlib.Path, usage: str) -> tuple:
    """A pool, a raw volume holding data and a LUKS passphrase, made outside Pulumi."""
    pool = conn.storagePoolDefineXML(f"<pool type='dir'><name>{name}</name><target><path>{path}</path></target>"
                                     "</pool>", 0)
    pool.build(0)
    pool.create(0)
    vol = pool.createXML("<volume><name>disk.raw</name><capacity unit='MiB'>16</capacity>"
                         "<target><format type='raw'/></target></volume>", 0)
    write_pattern(vol.path())
    secret = conn.secretDefineXML(f"<secret ephemeral='no' private='no'><usage type='volume'><volume>{usage}"
                                  "</volume></usage></secret>", 0)
    secret.setValue(PASSPHRASE)
    return pool, vol, secret


def only_ours(program: str, *names: str) -> str:
    """The statements of a program printed by `import-program` (which prints everything on the host,
    where other tests may have storage too) that concern `names`, with its imports and config."""
    tree = ast.parse(program)
    needles = names + tuple("pool_" + re.sub(r"\W+", "_", n).lower() for n in names)
    kept = []
    for statement in tree.body:
        text = ast.get_source_segment(program, statement) or ""
        if isinstance(statement, (ast.Import, ast.ImportFrom)) or text.startswith("config =") \
                or any(n in text for n in needles):
            kept.append(text)
    return "\n".join(kept) + "\n"


def resource_names(program: str) -> dict[str, str]:
    """{resource type: Pulumi resource name} of the resources a program declares."""
    found = re.findall(r"\b(StoragePool|StorageVolume|VolumeSecret)\(\s*['\"]([^'\"]+)['\"]", program)
    return {kind: name for kind, name in found}


def test_import_then_a_change_in_place_and_a_refused_replacement(project, conn, frontend, tmp_path) -> None:
    """Storage made by hand, brought under management the front end's way: with the plugin `pulumi
    import` and the program it prints (managed from then on: destroy deletes the volume); with the
    dynamic provider, which cannot import, `pulumi-libvirt-storage import-program` and adopt=True
    (destroy releases). A grow then updates in place and keeps the data; a change of `private`, which
    would replace the secret the program gives no value (its passphrase would be lost), is refused at
    preview naming `private`."""
    name, usage = unique("imp"), unique("imp-luks")
    pool, vol, secret = make_by_hand(conn, name, tmp_path / "pool", usage)
    path = vol.path()
    try:
        p = project("import pulumi\n")
        if frontend == "plugin":
            (p.workdir / "import.json").write_text(json.dumps({"resources": [
                {"type": "libvirt-storage:index:StoragePool", "name": "pool", "id": pool.UUIDString()},
                {"type": "libvirt-storage:index:StorageVolume", "name": "disk", "id": vol.key()},
                {"type": "libvirt-storage:index:VolumeSecret", "name": "luks", "id": secret.UUIDString()},
            ]}))
            p.run("import", "--file", "import.json", "--yes", "--protect=false", "--out", "imported.py")
            program = (p.workdir / "imported.py").read_text()
            capacity, grown = "capacity=16777216", "capacity=33554432"
            (p.workdir / "__main__.py").write_text(program)
            p.preview("--expect-no-changes")
        else:
            printed = subprocess.run([str(BIN / "pulumi-libvirt-storage"), "import-program", "--uri", "qemu:///system"],
                                     check=True, capture_output=True, text=True).stdout
            program = only_ours(printed, name, usage)
            capacity, grown = "capacity='16MiB'", "capacity='32MiB'"
            (p.workdir / "__main__.py").write_text(program)
            assert sorted(p.up_steps().values()) == ["create"] * 3, "adopted"
            p.preview("--expect-no-changes")
        names = resource_names(program)
        assert sorted(names) == ["StoragePool", "StorageVolume", "VolumeSecret"], program
        assert program.count(capacity) == 1 and program.count("private=False") == 1, program

        (p.workdir / "__main__.py").write_text(program.replace("private=False", "private=True"))
        refused = p.preview(check=False)
        text = refused.stdout + refused.stderr
        assert refused.returncode != 0 and "changing private replaces this VolumeSecret" in text, text
        assert "gives no value" in text, text

        (p.workdir / "__main__.py").write_text(program.replace(capacity, grown))
        planned, done = p.preview_steps(), p.up_steps()
        assert changes(planned) == changes(done) == {names["StorageVolume"]: "update"}, (planned, done)
        assert vol.info()[1] == 32 * MiB and has_pattern(path)
        assert conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_VOLUME, usage).value() == PASSPHRASE
        p.destroy()
        if frontend == "plugin":
            # `pulumi import` took them under management: destroy deletes them as if the stack had made them.
            assert not pathlib.Path(path).exists()
            with pytest.raises(libvirt.libvirtError):
                conn.storagePoolLookupByUUIDString(pool.UUIDString())
            with pytest.raises(libvirt.libvirtError):
                conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_VOLUME, usage)
        else:
            # Adopted: released as they are, data and passphrase kept.
            assert has_pattern(path) and pool.isActive()
            assert conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_VOLUME, usage).value() == PASSPHRASE
    finally:
        remove_orphans(conn, name, usage)


def test_state_delete_then_up_takes_the_pool_and_secret_over_and_refuses_the_volume(
        project, conn, tmp_path) -> None:
    """`pulumi state delete` of a volume, its pool and a secret, then `up`: the pool (its own name and
    uuid, identical) and the secret (readable, holding the program's value) are taken over as they
    are; the volume's name is taken, and it is refused ("already exists ... adopt") with its data
    kept. With adopt=true the stack converges, and destroy then releases the volume."""
    prefix = unique("statedel")
    pool, disk, luks = f"{prefix}-pool", f"{prefix}-disk", f"{prefix}-luks"
    p = project(STACK, config={"prefix": prefix, "path": str(tmp_path / "pool")},
                secrets={"passphrase": PASSPHRASE.decode()})
    before: dict = {}
    try:
        p.up()
        before = p.outputs()
        write_pattern(before["path"])
        urn = {name: r["urn"] for name, r in in_state(p).items()}
        for name in (disk, pool, luks):
            p.run("state", "delete", urn[name], "--yes")

        began, said = attempt(p)
        assert began == {pool: "create", luks: "create", disk: "create"}, began
        assert f"a volume named {before['disk']!r} already exists" in said and "adopt=true" in said, said
        state = in_state(p)
        assert sorted(state) == sorted([pool, luks]), "the pool and the secret are taken over"
        assert state[pool]["outputs"]["adopted"] is False and state[luks]["outputs"]["adopted"] is False
        assert conn.storagePoolLookupByName(before["pool"]).UUIDString() == before["pool_uuid"]
        assert conn.secretLookupByUUIDString(before["secret_uuid"]).value() == PASSPHRASE
        assert has_pattern(before["path"])

        p.run("config", "set", "adopt", "true")
        assert changes(p.up_steps()) == {disk: "create"}
        assert p.outputs() == before and has_pattern(before["path"])
        assert in_state(p)[disk]["outputs"]["adopted"] is True
        p.preview("--expect-no-changes")
        p.destroy()
        assert has_pattern(before["path"]), "the adopted volume is released"
    finally:
        remove_orphans(conn, before.get("pool", ""), luks)


def test_refresh_after_a_pool_stopped_renamed_or_redefined_on_the_host_never_deletes_the_volume(
        project, conn, tmp_path) -> None:
    """Out of band, on the host: the pool stopped; renamed keeping its uuid (dumpxml, undefine, define
    the edited XML); redefined under another name (a new uuid) over the same directory; redefined
    under its own name (a new uuid). `pulumi refresh` reports each (the pool's `active` or `name`, or
    the pool gone from the state; the volume's `current_pool`, its declared `pool` kept), and the next
    `up` never deletes or replaces the volume: it starts the pool; renames it back (the pool's
    definition replaced over the same storage); fails on libvirt's "Storage source conflict" while
    the other definition holds the directory; refuses the same-named pool ("already exists ...
    adopt"), which adopt=true then takes."""
    prefix = unique("refresh")
    pool, disk, luks = f"{prefix}-pool", f"{prefix}-disk", f"{prefix}-luks"
    other = f"{prefix}-other"
    directory = str(tmp_path / "pool")
    p = project(STACK, config={"prefix": prefix, "path": directory}, secrets={"passphrase": PASSPHRASE.decode()})
    before: dict = {}
    try:
        p.up()
        before = p.outputs()
        name, path = before["pool"], before["path"]
        write_pattern(path)

        def refreshed() -> tuple[dict, dict]:
            p.refresh()
            state = in_state(p)
            volume = state[disk]["outputs"]
            assert volume["pool"] == name, "the declared pool is kept"
            return (state[pool]["outputs"] if pool in state else {}), volume

        # Stopped.
        conn.storagePoolLookupByName(name).destroy()
        pool_out, _ = refreshed()
        assert pool_out["active"] is False
        assert changes(p.preview_steps()) == changes(p.up_steps()) == {pool: "update"}
        assert conn.storagePoolLookupByName(name).isActive() and has_pattern(path)

        # Renamed, keeping its uuid.
        xml = virsh("pool-dumpxml", "--inactive", name)
        virsh("pool-destroy", name)
        virsh("pool-undefine", name)
        virsh("pool-define", "/dev/stdin", stdin=xml.replace(f"<name>{name}</name>", f"<name>{other}</name>"))
        virsh("pool-start", other)
        pool_out, volume = refreshed()
        assert pool_out["name"] == other and volume["current_pool"] == other
        assert changes(p.preview_steps()) == changes(p.up_steps()) == {pool: "replace"}
        assert conn.storagePoolLookupByName(name).UUIDString() == before["pool_uuid"]
        assert conn.storageVolLookupByPath(path).storagePoolLookupByVolume().name() == name and has_pattern(path)
        assert other not in conn.listStoragePools() + conn.listDefinedStoragePools()

        # Redefined under another name, a new uuid, over the same directory.
        virsh("pool-destroy", name)
        virsh("pool-undefine", name)
        virsh("pool-define-as", other, "dir", "--target", directory)
        virsh("pool-start", other)
        pool_out, volume = refreshed()
        assert pool_out == {} and volume["current_pool"] == other, "the pool's uuid is gone: so is the pool"
        assert changes(p.preview_steps()) == {pool: "create"}
        began, said = attempt(p)
        assert began == {pool: "create"}, began
        assert f"Storage source conflict with pool: '{other}'" in said and "pool-undefine" in said, said
        assert conn.storageVolLookupByPath(path).storagePoolLookupByVolume().name() == other and has_pattern(path)
        virsh("pool-destroy", other)  # the way out: one definition per directory
        virsh("pool-undefine", other)
        assert changes(p.up_steps()) == {pool: "create"}
        assert conn.storagePoolLookupByName(name).UUIDString() == before["pool_uuid"], "its own uuid again"
        assert has_pattern(path)

        # Redefined under its own name, a new uuid.
        virsh("pool-destroy", name)
        virsh("pool-undefine", name)
        virsh("pool-define-as", name, "dir", "--target", directory)
        virsh("pool-start", name)
        new_uuid = conn.storagePoolLookupByName(name).UUIDString()
        pool_out, volume = refreshed()
        assert pool_out == {} and volume["current_pool"] == name
        began, said = attempt(p)
        assert began == {pool: "create"}, began
        assert f"a pool named {name!r} already exists on this host (uuid {new_uuid})" in said, said
        assert "adopt=true" in said
        p.run("config", "set", "adoptPool", "true")
        assert changes(p.preview_steps()) == changes(p.up_steps()) == {pool: "create"}
        assert conn.storagePoolLookupByName(name).UUIDString() == new_uuid and has_pattern(path)
        p.preview("--expect-no-changes")
        p.destroy()
    finally:
        remove_orphans(conn, other, luks)
        remove_orphans(conn, before.get("pool", ""), luks)


TWO_DISKS = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume

cfg = pulumi.Config()
pool = StoragePool("pool", name=cfg.require("pool"), type="dir", target={"path": cfg.require("path")})
a = StorageVolume("a", pool=pool, name="a.raw", format="raw", capacity=cfg.get("a") or "16MiB")
b = StorageVolume("b", pool=pool, name="b.raw", format="raw", capacity=cfg.get("b") or "16MiB")
pulumi.export("a", a.path)
pulumi.export("b", b.path)
'''


def test_targeted_up_and_destroy_and_up_refresh_touch_only_what_they_name(project, conn, tmp_path) -> None:
    """`up --target` a volume changes that volume only; `destroy --target` its pool is refused by the
    engine (volumes depend on it) and touches nothing; `up --refresh` after a volume grown on the host
    refuses to shrink it back (naming capacity and allow_shrink), data kept; `destroy --target` the
    pool with `--target-dependents` deletes the pool's volumes as asked and undefines the pool."""
    name = unique("target")
    p = project(TWO_DISKS, config={"pool": name, "path": str(tmp_path / "pool")})
    p.up()
    out = p.outputs()
    for path in out.values():
        write_pattern(path)
    urn = {n: r["urn"] for n, r in in_state(p).items()}
    pool = conn.storagePoolLookupByName(name)
    a, b = (pool.storageVolLookupByName(f"{v}.raw") for v in "ab")

    p.run("config", "set", "a", "32MiB")
    p.run("config", "set", "b", "32MiB")
    planned, done = p.preview_steps("--target", urn["a"]), p.up_steps("--target", urn["a"])
    assert changes(planned) == changes(done) == {"a": "update"}, (planned, done)
    assert a.info()[1] == 32 * MiB and b.info()[1] == 16 * MiB

    everything = {"pool": "delete", "a": "delete", "b": "delete"}
    for run, steps in ((("--preview-only",), everything), (("--yes", "--skip-preview"), {})):
        began, said = run_steps(p, "destroy", *run, "--target", urn["pool"], fails=True)
        assert began == steps, (run, began)  # (the preview lists what the pool would take with it)
        assert f"Resource '{urn['a']}' will be destroyed but was not specified in --target list" in said, said
        assert "--target-dependents" in said, said
    assert pool.isActive() and all(has_pattern(path) for path in out.values())

    b.resize(64 * MiB, 0)  # out of band: grown on the host, the program says 32MiB
    planned, _ = run_steps(p, "preview", "--refresh")
    began, said = attempt(p, "--refresh")
    assert planned == began == {"b": "update"}, (planned, began)
    assert f"capacity: volume b.raw is {64 * MiB} bytes on the host, more than the {32 * MiB} declared" in said
    assert "allow_shrink" in said, said
    assert b.info()[1] == 64 * MiB and has_pattern(out["b"])

    targeted = ("--target", urn["pool"], "--target-dependents")
    planned, _ = run_steps(p, "destroy", "--preview-only", *targeted)
    done, _ = run_steps(p, "destroy", "--yes", "--skip-preview", *targeted)
    assert planned == done == everything, (planned, done)
    assert not any(pathlib.Path(path).exists() for path in out.values()), "deleted, as asked"
    assert name not in conn.listStoragePools() + conn.listDefinedStoragePools()
    p.destroy()


RETAINED_AND_PROTECTED = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume

cfg = pulumi.Config()
protect = cfg.get("protect")
pool = StoragePool("pool", name=cfg.require("pool"), type="dir", target={"path": cfg.require("path")},
                   opts=pulumi.ResourceOptions(protect=protect == "pool"))
if not cfg.get_bool("dropKept"):
    kept = StorageVolume("kept", pool=pool, name="kept.raw", format="raw", capacity="16MiB",
                         opts=pulumi.ResourceOptions(retain_on_delete=True))
disk = StorageVolume("disk", pool=pool, name="disk.raw", format="raw", capacity="16MiB",
                     opts=pulumi.ResourceOptions(protect=protect == "disk"))
'''


def test_retain_on_delete_keeps_the_volume_and_protect_refuses_destroy(project, conn, tmp_path) -> None:
    """retain_on_delete: a volume removed from the program is dropped from the state; the engine
    never calls delete, the volume and its data stay on the host. protect on a volume: `destroy` is
    refused and touches nothing. protect on the pool alone protects the pool only: `destroy` deletes
    its unprotected volumes (as asked), then refuses the pool, which stays."""
    name = unique("options")
    directory = tmp_path / "pool"
    p = project(RETAINED_AND_PROTECTED, config={"pool": name, "path": str(directory)})
    try:
        p.up()
        kept, disk = str(directory / "kept.raw"), str(directory / "disk.raw")
        write_pattern(kept)
        write_pattern(disk)

        p.run("config", "set", "dropKept", "true")
        planned, done = p.preview_steps(), p.up_steps()
        assert changes(planned) == changes(done) == {"kept": "delete"}, (planned, done)
        assert "kept" not in in_state(p) and has_pattern(kept), "retained: the engine never deleted it"

        p.run("config", "set", "protect", "disk")
        p.up()
        refused, said = run_steps(p, "destroy", "--yes", "--skip-preview", fails=True)
        assert refused == {"disk": "delete"} and "because it is protected" in said, (refused, said)
        assert conn.storagePoolLookupByName(name).isActive() and has_pattern(disk) and has_pattern(kept)

        p.run("config", "set", "protect", "pool")
        p.up()
        began, said = run_steps(p, "destroy", "--yes", "--skip-preview", fails=True)
        assert began == {"disk": "delete", "pool": "delete"} and "because it is protected" in said, (began, said)
        assert not pathlib.Path(disk).exists(), "an unprotected volume of a protected pool is deleted, as asked"
        assert conn.storagePoolLookupByName(name).isActive() and has_pattern(kept)
        p.run("config", "rm", "protect")
        p.up()
        p.destroy()
        assert has_pattern(kept)
    finally:
        remove_orphans(conn, name, "")


REPLACED_CREATE_FIRST = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume

cfg = pulumi.Config()
pool = StoragePool("pool", name=cfg.require("pool"), type="dir", target={"path": cfg.require("path")})
disk = StorageVolume("disk", pool=pool, name="disk.img", format=cfg.get("format") or "raw", capacity="16MiB",
                     opts=pulumi.ResourceOptions(delete_before_replace=False))
pulumi.export("path", disk.path)
'''


def test_delete_before_replace_false_creates_first_and_a_taken_name_fails_with_nothing_lost(
        project, conn, tmp_path) -> None:
    """The provider's diff asks for delete-before-replace (names are unique per host); a program's
    `delete_before_replace=False` overrides it (Pulumi's engine lets the program decide): a volume whose
    format changes is then created first, under the name the old one still holds, and that create
    fails ("already exists"); the old volume and its data stay, and the state still holds it.
    Measured before (dynamic SDK): it merged delete_before_replace=True over the program's options, so
    the old volume was deleted first and its replacement created empty."""
    name = unique("dbr")
    p = project(REPLACED_CREATE_FIRST, config={"pool": name, "path": str(tmp_path / "pool")})
    p.up()
    path = p.outputs()["path"]
    write_pattern(path)
    p.run("config", "set", "format", "qcow2")
    assert changes(p.preview_steps()) == {"disk": "replace"}
    began, said = attempt(p)
    assert began == {"disk": "replace"} and "a volume named 'disk.img' already exists" in said, (began, said)
    assert has_pattern(path), "the data is kept"
    assert in_state(p)["disk"]["outputs"]["format"] == "raw"
    p.run("config", "rm", "format")
    p.preview("--expect-no-changes")
    p.destroy()


def test_a_second_checkout_or_backend_on_the_same_host_takes_over_the_pool_and_refuses_the_rest(
        project, conn, tmp_path) -> None:
    """Another checkout of the same program with its own state (another directory, state backend and
    PULUMI_HOME, the same project and stack names), run against the host the first one manages: the
    pool (its own name and uuid, identical) is taken over as it is; the volume's name is taken and it
    is refused ("already exists"); the private secret, whose value cannot be read back to prove it is
    the program's, is refused; nothing on the host changes. The pool is then in both states: a
    `destroy` in either undefines it (its storage kept). What to do instead: one stack per host (or
    per set of storage), or adopt=true in the second where sharing is meant (adopted objects are
    released, never deleted, by its destroy). To be rid of such a state, drop it (`pulumi stack rm
    --force`) rather than destroy it: it holds the pool too."""
    prefix = unique("checkout")
    pool, disk, luks = f"{prefix}-pool", f"{prefix}-disk", f"{prefix}-luks"
    config = {"prefix": prefix, "path": str(tmp_path / "pool"), "private": "true"}
    first = project(STACK, config=config, secrets={"passphrase": PASSPHRASE.decode()})
    before: dict = {}
    try:
        first.up()
        before = first.outputs()
        write_pattern(before["path"])
        second = project(STACK, config=config, secrets={"passphrase": PASSPHRASE.decode()})
        assert second.state != first.state and second.env["PULUMI_HOME"] != first.env["PULUMI_HOME"]
        began, said = attempt(second, "--continue-on-error")  # every refusal, not the first alone
        assert began == {pool: "create", luks: "create", disk: "create"}, began
        assert f"a volume named {before['disk']!r} already exists" in said, said
        assert before["secret_uuid"] in said and "cannot be read back" in said and "adopt=true" in said, said
        assert PASSPHRASE.decode() not in said
        assert sorted(in_state(second)) == [pool], "the pool is taken over, in the second state too"
        assert conn.storagePoolLookupByName(before["pool"]).UUIDString() == before["pool_uuid"]
        assert conn.secretLookupByUUIDString(before["secret_uuid"]).UUIDString() == before["secret_uuid"]
        assert has_pattern(before["path"])
        # The second checkout's state is dropped, not destroyed: the storage is the first stack's.
        second.run("stack", "rm", "--force", "--yes")
        second.destroyed = True
        assert changes(first.preview_steps()) == {} and has_pattern(before["path"])
        first.destroy()
    finally:
        remove_orphans(conn, before.get("pool", ""), luks)
