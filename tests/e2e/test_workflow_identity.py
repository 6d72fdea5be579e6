"""What Pulumi's own workflows do to storage whose identity (auto-name, derived uuid) comes from the
stack and the resource's name: an alias rename, a recreated stack, `pulumi state delete` + `up`, a
second checkout with its own state. Through the real engine and libvirtd, on both front ends (README,
"What your Pulumi workflow does to storage"). Each of these used to delete data or replace a LUKS
passphrase; each test says what it measured before the fix."""

from __future__ import annotations

import os
import pathlib
import shutil

import libvirt
import pytest

from tests.conftest import NAMED_BY_THIS_TEST, unique
from tests.e2e.test_data_safety import has_pattern, with_same, write_pattern
from tests.support.engine import Project

pytestmark = [pytest.mark.engine, pytest.mark.both_frontends]

RENAMED = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume, VolumeSecret

cfg = pulumi.Config()
prefix = cfg.require("prefix")
step = cfg.get("step") or "before"


def named(name):
    """The resource's name at this step, and the aliases that say what it was called before: renamed,
    then moved under a component, then that component's type renamed (its children inherit its alias)."""
    if step == "name":
        return name + "-renamed", pulumi.ResourceOptions(aliases=[pulumi.Alias(name=name)])
    if step == "parent":
        return name + "-renamed", pulumi.ResourceOptions(
            parent=group, aliases=[pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)])
    if step == "type":
        return name + "-renamed", pulumi.ResourceOptions(parent=group)
    return name, None


class Group(pulumi.ComponentResource):
    def __init__(self, name, type_, opts=None):
        super().__init__(type_, name, None, opts)


if step == "parent":
    group = Group(prefix + "-group", "plstest:index:Group")
elif step == "type":
    group = Group(prefix + "-group", "plstest:index:Storage",
                  pulumi.ResourceOptions(aliases=[pulumi.Alias(type_="plstest:index:Group")]))
name, opts = named(prefix + "-images")
pool = StoragePool(name, type="dir", target={"path": cfg.require("path")}, opts=opts)
name, opts = named(prefix + "-data")
disk = StorageVolume(name, pool=pool, format="raw", capacity="16MiB", opts=opts)
name, opts = named(prefix + "-luks")
secret = VolumeSecret(name, usage_name=prefix + "-luks", value=cfg.require_secret("passphrase"),
                      private=False, opts=opts)
pulumi.export("path", disk.path)
pulumi.export("pool", pool.name)
pulumi.export("pool_uuid", pool.uuid)
pulumi.export("secret_uuid", secret.uuid)
'''


def test_an_alias_rename_keeps_the_objects_their_names_uuids_and_data(project, conn, tmp_path) -> None:
    """Measured before: renaming the auto-named pool and volume with `aliases=[Alias(name=old)]`
    (Pulumi's documented refactoring) previewed and ran `replace` for both: the volume came back
    empty. Then a new parent (Alias(parent=ROOT_STACK_RESOURCE)) and that parent's type renamed."""
    prefix = unique("alias")
    p = project(RENAMED, config={"prefix": prefix, "path": str(tmp_path / "pool")},
                secrets={"passphrase": "correct horse battery staple"})
    p.up()
    before = p.outputs()
    write_pattern(before["path"])
    names = (f"{prefix}-images", f"{prefix}-data", f"{prefix}-luks")
    renamed = tuple(n + "-renamed" for n in names)
    for step in ("name", "parent", "type"):
        p.run("config", "set", "step", step)
        planned, done = p.preview_steps(), p.up_steps()
        ours = {n: done.get(n) for n in renamed}  # (the component is created, then renamed: not storage)
        assert all(planned.get(n, "same") == "same" for n in renamed), (step, planned)
        assert ours == dict.fromkeys(renamed, "same"), (step, done)
        assert p.outputs() == before, f"{step}: the same pool, volume and secret, by name and uuid"
        assert has_pattern(before["path"]), f"{step}: the data survives"
        p.preview("--expect-no-changes")
    assert conn.storagePoolLookupByName(before["pool"]).UUIDString() == before["pool_uuid"]
    p.destroy()


SECRETS = '''
import pulumi
from pulumi_libvirt_storage import StoragePool, StorageVolume, VolumeSecret

cfg = pulumi.Config()
adopt = cfg.get_bool("adopt") or False
private = cfg.get_bool("private") or False
# (An adopted private secret keeps the value it holds: a value given could not be compared with it.)
value = None if adopt and private else cfg.require_secret("passphrase")
secret = VolumeSecret("luks", usage_name=cfg.require("usage"), value=value, private=private, adopt=adopt)
pool = StoragePool("pool", type="dir", target={"path": cfg.require("path")})
disk = StorageVolume("disk", pool=pool, name="disk.raw", format="raw", capacity="16MiB", adopt=adopt)
pulumi.export("path", disk.path)
pulumi.export("secret_uuid", secret.uuid)
pulumi.export("pool", pool.name)
'''


def recreate_stack(p: Project, config: dict[str, str], secrets: dict[str, str]) -> None:
    """`pulumi stack rm --force` (the state is gone, the objects stay on the host) and `stack init`
    of the same name, with the program's config set again."""
    p.run("stack", "rm", "--force", "--yes")
    p.run("stack", "init", p.stack)
    for key, value in config.items():
        p.run("config", "set", "--plaintext", key, value)
    for key, value in secrets.items():
        p.run("config", "set", "--secret", key, stdin=value)


def remove_orphans(conn, pool: str, usage: str) -> None:
    """What a state that is gone left on the host (tests leave nothing behind)."""
    try:
        found = conn.storagePoolLookupByName(pool)
        if found.isActive():
            found.refresh(0)
            for vol in found.listAllVolumes():
                vol.delete(0)
            found.destroy()
        found.undefine()
    except libvirt.libvirtError:
        pass
    try:
        conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_VOLUME, usage).undefine()
    except libvirt.libvirtError:
        pass


@pytest.mark.parametrize("private", [False, True], ids=["readable", "private"])
def test_a_recreated_stack_never_replaces_a_passphrase_or_redefines_what_it_finds(
        private: bool, project, conn, tmp_path) -> None:
    """Measured before: `pulumi stack rm --force`, `stack init` of the same name and `up` with another
    passphrase undefined the VolumeSecret found under the resource's derived uuid and defined it again
    with the new value, silently: a volume encrypted with the old one no longer opens. Now the secret
    is refused with the way out (adopt it); the pool, identical, is taken over as it is; the volume
    (its name taken) is refused; nothing on the host changes. With adopt, the stack converges and
    nothing is rewritten."""
    prefix, usage = unique("recreate"), unique("recreate-luks")
    NAMED_BY_THIS_TEST.add(prefix)
    config = {"usage": usage, "path": str(tmp_path / "pool"), "private": str(private).lower()}
    old, new = f"old-{os.urandom(6).hex()}", f"new-{os.urandom(6).hex()}"
    p = project(SECRETS, name=prefix, config=config, secrets={"passphrase": old})
    pool_name = ""
    try:
        p.up()
        before = p.outputs()
        pool_name = before["pool"]
        write_pattern(before["path"])
        secret = conn.secretLookupByUUIDString(before["secret_uuid"])
        pool_uuid = conn.storagePoolLookupByName(before["pool"]).UUIDString()

        recreate_stack(p, config, {"passphrase": new})
        failed = p.up(check=False)
        output = failed.stdout + failed.stderr
        assert failed.returncode != 0
        assert before["secret_uuid"] in output and "adopt" in output, output
        assert new not in output and old not in output
        secret = conn.secretLookupByUUIDString(before["secret_uuid"])
        if not private:
            assert secret.value() == old.encode(), "the passphrase on the host is the old one"
        assert conn.storagePoolLookupByName(before["pool"]).UUIDString() == pool_uuid
        assert has_pattern(before["path"])

        # The way out: adopt what is there (the old passphrase stays: the program gives the old value).
        recreate_stack(p, {**config, "adopt": "true"}, {"passphrase": old})
        p.up()
        assert p.outputs()["secret_uuid"] == before["secret_uuid"]
        assert has_pattern(before["path"])
        p.preview("--expect-no-changes")
        p.destroy()  # adopted objects are released: still on the host
        assert has_pattern(before["path"])
    finally:
        remove_orphans(conn, pool_name, usage)
