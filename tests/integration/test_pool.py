"""StoragePool on a real libvirtd: dir pools taken through create, read, update and delete as
the engine calls them, checked against what libvirt and the file system hold."""

from __future__ import annotations

import pathlib
import stat

import libvirt
import pytest

from pulumi_libvirt_storage_provider.ops.errors import LibvirtOpError
from .conftest import checked, pool_names, virsh, virsh_info, xml_of

pytestmark = pytest.mark.libvirtd


def mode_of(path: pathlib.Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def checked_update_inputs(pools, made, **changes) -> dict:
    """New inputs as the engine sends them to update: the program's inputs with `changes`,
    through check with the old inputs."""
    raw = {k: v for k, v in made.inputs.items() if k not in ("build", "build_mode")}
    raw.update(changes)
    return checked(pools.provider, raw, made.inputs)


# -- create -----------------------------------------------------------------------------------

def test_create_defines_builds_starts_and_autostarts_with_the_target_mode(pools, conn) -> None:
    made = pools.create(target={"permissions": {"mode": "0750"}})
    name, path = made.inputs["name"], pathlib.Path(made.inputs["target"]["path"])

    pool = conn.storagePoolLookupByName(name)
    assert made.id == pool.UUIDString()
    assert pool.isPersistent() and pool.isActive() and pool.autostart()
    assert path.is_dir() and mode_of(path) == 0o750
    assert xml_of(pool.XMLDesc(0)).findtext("target/permissions/mode") == "0750"
    info = virsh_info("pool-info", name)
    assert info["State"] == "running" and info["Autostart"] == "yes"
    assert made.outs["uuid"] == made.id and made.outs["active"] is True and made.outs["adopted"] is False
    assert made.outs["target_path"] == str(path)
    assert made.outs["capacity"] > 0


def test_start_false_leaves_the_pool_built_but_inactive_and_not_autostarted(pools, conn) -> None:
    made = pools.create(start=False)
    pool = conn.storagePoolLookupByName(made.inputs["name"])

    assert pool.isPersistent() and not pool.isActive() and not pool.autostart()
    assert pathlib.Path(made.inputs["target"]["path"]).is_dir()  # built all the same
    assert made.outs["active"] is False and made.outs["autostart"] is False and made.outs["start"] is False


def test_failed_build_leaves_no_pool_defined(pools, conn, tmp_path) -> None:
    blocker = tmp_path / "a-regular-file"
    blocker.write_text("not a directory")
    inputs = pools.inputs(path=blocker / "pool")

    with pytest.raises(LibvirtOpError, match="building pool"):
        pools.create_checked(inputs)
    assert inputs["name"] not in pool_names(conn)


def test_failed_start_leaves_no_pool_defined(pools, conn, tmp_path) -> None:
    blocker = tmp_path / "a-regular-file"
    blocker.write_text("not a directory")
    inputs = pools.inputs(path=blocker / "pool", build=False)

    with pytest.raises(LibvirtOpError, match="starting pool"):
        pools.create_checked(inputs)
    assert inputs["name"] not in pool_names(conn)


# -- adoption ---------------------------------------------------------------------------------

def test_create_refuses_an_existing_pool_name_and_points_at_adopt(pools, make_dir_pool) -> None:
    existing = make_dir_pool()
    inputs = pools.inputs(name=existing.name, path=existing.path)

    with pytest.raises(LibvirtOpError) as failure:
        pools.provider.create(inputs)
    assert existing.name in str(failure.value) and "adopt" in str(failure.value)
    assert existing.pool.isActive() and existing.pool.isPersistent()


def test_adopt_takes_over_an_existing_pool_and_delete_releases_it(pools, make_dir_pool) -> None:
    existing = make_dir_pool()
    made = pools.create(name=existing.name, path=existing.path, adopt=True)

    assert made.id == existing.pool.UUIDString()
    assert made.outs["adopted"] is True and made.outs["active"] is True
    assert existing.pool.autostart()  # the program's autostart=true was applied

    pools.provider.delete(made.id, made.outs)
    assert existing.pool.isPersistent() and existing.pool.isActive()  # released, not undefined


def test_adopt_with_another_target_path_fails_saying_what_differs(pools, make_dir_pool, tmp_path) -> None:
    existing = make_dir_pool()
    inputs = pools.inputs(name=existing.name, path=tmp_path / "somewhere-else", adopt=True)

    with pytest.raises(LibvirtOpError) as failure:
        pools.provider.create(inputs)
    message = str(failure.value)
    assert existing.name in message and "target" in message and str(existing.path) in message
    assert xml_of(existing.pool.XMLDesc(0)).findtext("target/path") == str(existing.path)
    assert existing.pool.isActive() and not existing.pool.autostart()  # left as it was


# -- read -------------------------------------------------------------------------------------

def test_read_returns_an_empty_id_when_the_pool_was_undefined_out_of_band(pools) -> None:
    made = pools.create()
    virsh("pool-destroy", made.inputs["name"])
    virsh("pool-undefine", made.inputs["name"])

    result = pools.provider.read(made.id, made.outs)
    assert result.id == "" and result.outs == {}


def test_read_reports_autostart_and_active_changed_with_virsh(pools) -> None:
    made = pools.create()
    virsh("pool-autostart", made.inputs["name"], "--disable")
    virsh("pool-destroy", made.inputs["name"])

    result = pools.provider.read(made.id, made.outs)
    assert result.id == made.id
    assert result.outs["autostart"] is False and result.outs["start"] is False
    assert result.outs["active"] is False
    diff = pools.provider.diff(made.id, result.outs, made.inputs)
    assert diff.changes and not diff.replaces  # the next update starts it again, in place


def test_read_reports_a_target_path_changed_with_virsh(pools, tmp_path) -> None:
    made = pools.create()
    name = made.inputs["name"]
    moved = tmp_path / "moved"
    pools.cleanup.paths.append(moved)
    definition = virsh("pool-dumpxml", "--inactive", name).replace(made.inputs["target"]["path"], str(moved))
    (tmp_path / "moved.xml").write_text(definition)
    virsh("pool-destroy", name)
    virsh("pool-define", str(tmp_path / "moved.xml"))
    virsh("pool-build", name)
    virsh("pool-start", name)

    result = pools.provider.read(made.id, made.outs)
    assert result.id == made.id
    assert result.outs["target"]["path"] == str(moved) and result.outs["target_path"] == str(moved)
    diff = pools.provider.diff(made.id, result.outs, made.inputs)
    assert diff.replaces == ["target"]


# -- update -----------------------------------------------------------------------------------

def test_update_toggles_autostart_and_start_in_place(pools, conn) -> None:
    made = pools.create()
    provider, pool = pools.provider, conn.storagePoolLookupByName(made.inputs["name"])

    stopped = checked_update_inputs(pools, made, start=False, autostart=False)
    diff = provider.diff(made.id, made.outs, stopped)
    assert diff.changes and diff.replaces == []
    outs = provider.update(made.id, made.outs, stopped).outs
    assert not pool.isActive() and not pool.autostart()
    assert outs["uuid"] == made.id and outs["active"] is False and outs["autostart"] is False

    started = checked_update_inputs(pools, made, start=True, autostart=True)
    outs = provider.update(made.id, outs, started).outs
    assert pool.isActive() and pool.autostart() and pool.UUIDString() == made.id
    assert outs["uuid"] == made.id and outs["active"] is True


def test_update_of_the_permissions_mode_applies_it_on_disk_of_an_active_pool(pools, conn) -> None:
    made = pools.create(target={"permissions": {"mode": "0750"}})
    path = pathlib.Path(made.inputs["target"]["path"])
    assert mode_of(path) == 0o750

    news = checked_update_inputs(pools, made, target={"path": str(path), "permissions": {"mode": "0711"}})
    diff = pools.provider.diff(made.id, made.outs, news)
    assert diff.changes and diff.replaces == []
    outs = pools.provider.update(made.id, made.outs, news).outs

    pool = conn.storagePoolLookupByName(made.inputs["name"])
    assert mode_of(path) == 0o711
    assert xml_of(pool.XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE)).findtext("target/permissions/mode") == "0711"
    assert pool.isActive() and pool.UUIDString() == made.id and outs["active"] is True


# -- delete -----------------------------------------------------------------------------------

def test_delete_keeps_the_directory_and_its_files_by_default(pools, volumes, conn) -> None:
    made = pools.create()
    vol = volumes.create(made.inputs["name"], format="raw", capacity="1MiB")
    path = pathlib.Path(made.inputs["target"]["path"])

    pools.provider.delete(made.id, made.outs)
    assert made.inputs["name"] not in pool_names(conn)
    assert path.is_dir() and pathlib.Path(vol.outs["path"]).is_file()


def test_delete_storage_on_destroy_removes_the_empty_directory(pools, conn) -> None:
    made = pools.create(delete_storage_on_destroy=True)
    path = pathlib.Path(made.inputs["target"]["path"])

    pools.provider.delete(made.id, made.outs)
    assert made.inputs["name"] not in pool_names(conn)
    assert not path.exists()


def test_delete_storage_on_destroy_refuses_while_a_volume_remains_and_keeps_it(pools, volumes, conn) -> None:
    made = pools.create(delete_storage_on_destroy=True)
    vol = volumes.create(made.inputs["name"], format="raw", capacity="1MiB")

    with pytest.raises(LibvirtOpError) as failure:
        pools.provider.delete(made.id, made.outs)
    message = str(failure.value)
    assert made.inputs["name"] in message and vol.inputs["name"] in message
    assert "delete_storage_on_destroy=false" in message and "keep its data" in message

    pool = conn.storagePoolLookupByName(made.inputs["name"])
    assert pool.isPersistent() and pool.isActive() and pool.UUIDString() == made.id
    assert pathlib.Path(vol.outs["path"]).is_file()
    assert vol.inputs["name"] in pool.listVolumes()


def test_delete_storage_on_destroy_of_an_inactive_pool_with_data_says_what_to_do(pools, conn) -> None:
    made = pools.create(start=False, delete_storage_on_destroy=True)
    leftover = pathlib.Path(made.inputs["target"]["path"]) / "disk.img"
    leftover.write_bytes(b"data")

    with pytest.raises(LibvirtOpError) as failure:
        pools.provider.delete(made.id, made.outs)
    pool = conn.storagePoolLookupByName(made.inputs["name"])
    assert pool.isPersistent() and leftover.read_bytes() == b"data"
    assert "delete_storage_on_destroy=false" in str(failure.value)
