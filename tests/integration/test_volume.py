"""StorageVolume on a real libvirtd: volumes of a dir pool created, read, resized and deleted
through the provider, checked with libvirt, virsh, qemu-img and the files themselves."""

from __future__ import annotations

import os
import pathlib
import subprocess

import pytest

from pulumi_libvirt_storage_provider.ops.errors import LibvirtOpError
from .conftest import (MiB, allocated_bytes, check_failures, checked, qemu_img_info, unique, virsh, virsh_info,
                       xml_of)

pytestmark = pytest.mark.libvirtd

GiB = 1024 * MiB


def vol_info(pool: str, name: str) -> dict[str, str]:
    return virsh_info("vol-info", "--bytes", "--pool", pool, name)


def capacity_on_host(pool: str, name: str) -> int:
    return int(vol_info(pool, name)["Capacity"].split()[0])


def update_inputs(volumes, made, **changes) -> dict:
    """New inputs as the engine sends them to update: the program's inputs with `changes`,
    through check with the old inputs."""
    return checked(volumes.provider, {**made.inputs, **changes}, made.inputs)


# -- create: empty volumes --------------------------------------------------------------------

def test_raw_volume_is_created_sparse(volumes, dir_pool) -> None:
    made = volumes.create(dir_pool.name, format="raw", capacity=1 * GiB)
    path = pathlib.Path(made.outs["path"])

    assert path.parent == dir_pool.path and path.stat().st_size == GiB
    assert allocated_bytes(path) < MiB
    assert made.outs["current_capacity"] == GiB and made.outs["current_allocation"] < MiB
    assert made.id == made.outs["key"] == str(path)
    assert qemu_img_info(path)["format"] == "raw"


def test_qcow2_volume_is_created_sparse(volumes, dir_pool) -> None:
    made = volumes.create(dir_pool.name, format="qcow2", capacity=1 * GiB)
    info = qemu_img_info(made.outs["path"])

    assert info["format"] == "qcow2" and info["virtual-size"] == GiB
    assert allocated_bytes(made.outs["path"]) < MiB
    assert made.outs["current_format"] == "qcow2" and made.outs["current_allocation"] < MiB


@pytest.mark.parametrize("fmt", ["qcow2", "qed", "vmdk", "vpc", "vdi"])
def test_image_format_is_created_with_the_requested_virtual_size(volumes, dir_pool, fmt) -> None:
    made = volumes.create(dir_pool.name, format=fmt, capacity="64MiB")
    info = qemu_img_info(made.outs["path"])

    assert info["format"] == fmt and made.outs["current_format"] == fmt
    if fmt == "vpc":  # VHD sizes are whole CHS geometries: qemu-img rounds up
        assert 64 * MiB <= info["virtual-size"] < 65 * MiB
    else:
        assert info["virtual-size"] == 64 * MiB
    assert made.outs["current_capacity"] == info["virtual-size"]


def test_capacity_with_a_unit_is_created_in_bytes(volumes, dir_pool) -> None:
    made = volumes.create(dir_pool.name, format="raw", capacity="64MiB")

    assert made.inputs["capacity"] == 64 * MiB
    assert capacity_on_host(dir_pool.name, made.inputs["name"]) == 64 * MiB
    assert pathlib.Path(made.outs["path"]).stat().st_size == 64 * MiB


def test_allocation_is_allocated_up_front(volumes, dir_pool) -> None:
    made = volumes.create(dir_pool.name, format="raw", capacity="16MiB", allocation="4MiB")

    assert allocated_bytes(made.outs["path"]) >= 4 * MiB
    assert made.outs["current_allocation"] >= 4 * MiB
    assert pathlib.Path(made.outs["path"]).stat().st_size == 16 * MiB


def test_permissions_mode_is_applied_on_create(volumes, dir_pool) -> None:
    raw = volumes.create(dir_pool.name, format="raw", capacity="1MiB", permissions={"mode": "0640"})
    qcow2 = volumes.create(dir_pool.name, format="qcow2", capacity="1MiB", permissions={"mode": "0600"})

    assert pathlib.Path(raw.outs["path"]).stat().st_mode & 0o7777 == 0o640
    assert pathlib.Path(qcow2.outs["path"]).stat().st_mode & 0o7777 == 0o600


def test_qcow2_options_are_visible_in_qemu_img_info(volumes, dir_pool) -> None:
    made = volumes.create(dir_pool.name, format="qcow2", capacity="64MiB",
                          qcow2={"compat": "1.1", "lazy_refcounts": True, "cluster_size": "64KiB"})
    info = qemu_img_info(made.outs["path"])

    assert info["cluster-size"] == 64 * 1024
    assert info["format-specific"]["data"]["compat"] == "1.1"
    assert info["format-specific"]["data"]["lazy-refcounts"] is True


def test_qcow2_cluster_size_other_than_the_default_is_applied(volumes, dir_pool) -> None:
    made = volumes.create(dir_pool.name, format="qcow2", capacity="64MiB", qcow2={"cluster_size": "128KiB"})
    assert qemu_img_info(made.outs["path"])["cluster-size"] == 128 * 1024


def test_metadata_preallocation_allocates_the_qcow2_metadata(volumes, dir_pool) -> None:
    plain = volumes.create(dir_pool.name, format="qcow2", capacity=1 * GiB)
    prealloc = volumes.create(dir_pool.name, format="qcow2", capacity=1 * GiB,
                              qcow2={"preallocation": "metadata"})

    assert prealloc.outs["current_allocation"] > 0
    assert prealloc.outs["current_allocation"] > plain.outs["current_allocation"]
    # preallocated metadata maps every cluster: the file spans the whole virtual size
    assert pathlib.Path(prealloc.outs["path"]).stat().st_size >= GiB
    assert pathlib.Path(plain.outs["path"]).stat().st_size < MiB


# -- create: from other volumes and files -----------------------------------------------------

def test_backing_store_by_path_makes_an_overlay_as_large_as_its_base(volumes, dir_pool) -> None:
    base = volumes.create(dir_pool.name, format="qcow2", capacity="32MiB")
    overlay = volumes.create(dir_pool.name, format="qcow2",
                             backing_store={"path": base.outs["path"], "format": "qcow2"})
    info = qemu_img_info(overlay.outs["path"])

    assert "capacity" not in overlay.inputs
    assert info["format"] == "qcow2" and info["virtual-size"] == 32 * MiB
    assert info["backing-filename"] == base.outs["path"] and info["backing-filename-format"] == "qcow2"
    assert overlay.outs["current_capacity"] == 32 * MiB


def test_backing_store_by_key_makes_an_overlay_as_large_as_its_base(volumes, dir_pool) -> None:
    base = volumes.create(dir_pool.name, format="qcow2", capacity="48MiB")
    overlay = volumes.create(dir_pool.name, format="qcow2",
                             backing_store={"path": base.outs["key"], "format": "qcow2"})
    info = qemu_img_info(overlay.outs["path"])

    assert info["virtual-size"] == 48 * MiB
    assert info["backing-filename"] == base.outs["path"] and info["backing-filename-format"] == "qcow2"


def test_backing_store_without_format_records_the_backing_volumes_format(volumes, dir_pool) -> None:
    base = volumes.create(dir_pool.name, format="qcow2", capacity="32MiB")
    overlay = volumes.create(dir_pool.name, format="qcow2", backing_store={"path": base.outs["path"]})

    assert qemu_img_info(overlay.outs["path"])["backing-filename-format"] == "qcow2"


def write_at_both_ends(path: str | pathlib.Path, size: int) -> tuple[bytes, bytes]:
    head, tail = os.urandom(4096), os.urandom(4096)
    with open(path, "r+b") as f:
        f.write(head)
        f.seek(size - len(tail))
        f.write(tail)
    return head, tail


def test_clone_from_another_pool_copies_the_content_to_a_larger_capacity(volumes, make_dir_pool) -> None:
    source_pool, target_pool = make_dir_pool("src"), make_dir_pool("dst")
    source = volumes.create(source_pool.name, format="raw", capacity="8MiB")
    write_at_both_ends(source.outs["path"], 8 * MiB)

    clone = volumes.create(target_pool.name, clone_from={"pool": source_pool.name, "name": source.inputs["name"]},
                           capacity="16MiB")
    copied = pathlib.Path(clone.outs["path"]).read_bytes()

    assert pathlib.Path(clone.outs["path"]).parent == target_pool.path
    assert capacity_on_host(target_pool.name, clone.inputs["name"]) == 16 * MiB
    assert len(copied) == 16 * MiB
    assert copied[:8 * MiB] == pathlib.Path(source.outs["path"]).read_bytes()
    assert copied[8 * MiB:] == bytes(8 * MiB)


def test_clone_of_a_sparse_volume_without_allocation_stays_sparse(volumes, dir_pool) -> None:
    source = volumes.create(dir_pool.name, format="raw", capacity="64MiB")
    write_at_both_ends(source.outs["path"], 64 * MiB)

    clone = volumes.create(dir_pool.name, clone_from={"pool": dir_pool.name, "name": source.inputs["name"]})
    assert pathlib.Path(clone.outs["path"]).read_bytes() == pathlib.Path(source.outs["path"]).read_bytes()
    assert allocated_bytes(clone.outs["path"]) < 4 * MiB


def test_upload_from_a_sparse_file_copies_the_content_and_keeps_the_holes(volumes, dir_pool, tmp_path) -> None:
    local = tmp_path / "sparse.img"
    size = 256 * MiB
    local.write_bytes(b"")
    os.truncate(local, size)
    write_at_both_ends(local, size)
    assert allocated_bytes(local) < MiB  # the file itself is sparse

    made = volumes.create(dir_pool.name, format="raw", upload_from=str(local))
    uploaded = pathlib.Path(made.outs["path"])

    assert uploaded.stat().st_size == size and made.outs["current_capacity"] == size
    with open(local, "rb") as want, open(uploaded, "rb") as got:
        while chunk := want.read(16 * MiB):
            assert got.read(16 * MiB) == chunk
    assert allocated_bytes(uploaded) < MiB and made.outs["current_allocation"] < MiB


def test_upload_from_a_directory_fails_naming_upload_from_and_leaves_no_volume(volumes, dir_pool,
                                                                               tmp_path) -> None:
    inputs = volumes.inputs(dir_pool.name, upload_from=str(tmp_path))

    with pytest.raises(Exception) as failure:
        volumes.provider.create(inputs)
    dir_pool.pool.refresh(0)
    assert inputs["name"] not in dir_pool.pool.listVolumes()  # rolled back
    assert isinstance(failure.value, LibvirtOpError) and "upload_from" in str(failure.value)


# -- update: capacity -------------------------------------------------------------------------

def test_growing_the_capacity_resizes_in_place(volumes, dir_pool) -> None:
    made = volumes.create(dir_pool.name, format="qcow2", capacity="16MiB")
    news = update_inputs(volumes, made, capacity="32MiB")
    diff = volumes.provider.diff(made.id, made.outs, news)
    assert diff.changes and diff.replaces == []

    outs = volumes.provider.update(made.id, made.outs, news).outs
    assert outs["key"] == made.id and outs["current_capacity"] == 32 * MiB
    assert qemu_img_info(made.outs["path"])["virtual-size"] == 32 * MiB
    assert capacity_on_host(dir_pool.name, made.inputs["name"]) == 32 * MiB


def test_shrinking_is_refused_without_allow_shrink(volumes, dir_pool) -> None:
    made = volumes.create(dir_pool.name, format="raw", capacity="32MiB")

    failures = check_failures(volumes.provider, {**made.inputs, "capacity": "16MiB"}, made.inputs)
    assert "allow_shrink" in failures.get("capacity", "")
    # update refuses too, should check be bypassed
    with pytest.raises(LibvirtOpError, match="allow_shrink"):
        volumes.provider.update(made.id, made.outs, {**made.inputs, "capacity": 16 * MiB})
    assert capacity_on_host(dir_pool.name, made.inputs["name"]) == 32 * MiB


def test_shrinking_with_allow_shrink_shrinks_in_place(volumes, dir_pool) -> None:
    made = volumes.create(dir_pool.name, format="raw", capacity="32MiB")
    news = update_inputs(volumes, made, capacity="16MiB", allow_shrink=True)

    outs = volumes.provider.update(made.id, made.outs, news).outs
    assert outs["key"] == made.id and outs["current_capacity"] == 16 * MiB
    assert pathlib.Path(made.outs["path"]).stat().st_size == 16 * MiB


# -- delete -----------------------------------------------------------------------------------

def test_wipe_on_destroy_zero_then_delete_removes_the_volume(volumes, dir_pool) -> None:
    made = volumes.create(dir_pool.name, format="raw", capacity="4MiB", wipe_on_destroy="zero")
    write_at_both_ends(made.outs["path"], 4 * MiB)

    volumes.provider.delete(made.id, made.outs)
    dir_pool.pool.refresh(0)
    assert made.inputs["name"] not in dir_pool.pool.listVolumes()
    assert not pathlib.Path(made.outs["path"]).exists()


def test_delete_removes_the_volume(volumes, dir_pool) -> None:
    made = volumes.create(dir_pool.name, format="qcow2", capacity="4MiB")

    volumes.provider.delete(made.id, made.outs)
    assert made.inputs["name"] not in dir_pool.pool.listVolumes()
    assert not pathlib.Path(made.outs["path"]).exists()


# -- create: refusals and adoption ------------------------------------------------------------

def test_create_in_an_inactive_pool_fails_naming_the_pool(volumes, make_dir_pool) -> None:
    stopped = make_dir_pool(start=False)
    inputs = volumes.inputs(stopped.name, capacity="1MiB")

    with pytest.raises(LibvirtOpError) as failure:
        volumes.provider.create(inputs)
    assert stopped.name in str(failure.value) and "not active" in str(failure.value)


def test_create_in_a_missing_pool_fails_naming_the_pool(volumes) -> None:
    missing = unique("nopool")
    inputs = volumes.inputs(missing, capacity="1MiB")

    with pytest.raises(LibvirtOpError) as failure:
        volumes.provider.create(inputs)
    assert missing in str(failure.value) and "does not exist" in str(failure.value)


def test_create_refuses_an_existing_volume_name_unless_adopt(volumes, dir_pool) -> None:
    name = unique("vol")
    existing = dir_pool.pool.createXML(f"<volume><name>{name}</name><capacity unit='MiB'>2</capacity></volume>", 0)

    with pytest.raises(LibvirtOpError) as failure:
        volumes.create(dir_pool.name, name=name, capacity="1MiB")
    assert name in str(failure.value) and "adopt" in str(failure.value)

    adopted = volumes.create(dir_pool.name, name=name, capacity="2MiB", adopt=True)
    assert adopted.id == existing.key() and adopted.outs["adopted"] is True
    assert adopted.outs["current_capacity"] == 2 * MiB


def test_an_adopted_volume_is_kept_on_delete(volumes, dir_pool) -> None:
    name = unique("vol")
    existing = dir_pool.pool.createXML(f"<volume><name>{name}</name><capacity unit='MiB'>1</capacity></volume>", 0)
    adopted = volumes.create(dir_pool.name, name=name, adopt=True)

    volumes.provider.delete(adopted.id, adopted.outs)
    dir_pool.pool.refresh(0)
    assert name in dir_pool.pool.listVolumes()
    assert pathlib.Path(existing.path()).is_file()


# -- read -------------------------------------------------------------------------------------

def test_read_returns_an_empty_id_when_the_volume_was_deleted_with_virsh(volumes, dir_pool) -> None:
    made = volumes.create(dir_pool.name, format="raw", capacity="1MiB")
    virsh("vol-delete", "--pool", dir_pool.name, made.inputs["name"])

    result = volumes.provider.read(made.id, made.outs)
    assert result.id == "" and result.outs == {}


def test_read_returns_an_empty_id_when_the_file_was_removed_behind_libvirts_back(volumes, dir_pool) -> None:
    made = volumes.create(dir_pool.name, format="qcow2", capacity="1MiB")
    os.unlink(made.outs["path"])  # libvirt still lists it until its pool is refreshed

    result = volumes.provider.read(made.id, made.outs)
    assert result.id == "" and result.outs == {}


def test_read_reports_a_capacity_changed_with_qemu_img_behind_libvirts_back(volumes, dir_pool) -> None:
    made = volumes.create(dir_pool.name, format="qcow2", capacity="16MiB")
    subprocess.run(["qemu-img", "resize", "-q", made.outs["path"], "24M"], check=True)

    result = volumes.provider.read(made.id, made.outs)
    assert result.id == made.id
    assert result.outs["capacity"] == 24 * MiB and result.outs["current_capacity"] == 24 * MiB


def test_read_reports_a_capacity_changed_with_virsh_vol_resize(volumes, dir_pool) -> None:
    made = volumes.create(dir_pool.name, format="raw", capacity="16MiB")
    virsh("vol-resize", "--pool", dir_pool.name, made.inputs["name"], "24M")

    result = volumes.provider.read(made.id, made.outs)
    assert result.id == made.id
    assert result.outs["capacity"] == 24 * MiB and result.outs["current_capacity"] == 24 * MiB
    diff = volumes.provider.diff(made.id, result.outs, made.inputs)
    assert diff.changes and diff.replaces == []


def test_read_of_an_unchanged_volume_shows_no_drift(volumes, dir_pool) -> None:
    made = volumes.create(dir_pool.name, format="qcow2", capacity="64MiB")

    result = volumes.provider.read(made.id, made.outs)
    assert result.id == made.id and result.outs["capacity"] == 64 * MiB
    assert not volumes.provider.diff(made.id, result.outs, made.inputs).changes


def test_read_of_a_volume_in_a_stopped_pool_does_not_report_it_deleted(volumes, dir_pool) -> None:
    made = volumes.create(dir_pool.name, format="raw", capacity="1MiB")
    dir_pool.pool.destroy()

    try:
        result = volumes.provider.read(made.id, made.outs)
    except LibvirtOpError as e:  # refusing to refresh, saying why, is fine too
        assert dir_pool.name in str(e) and "not active" in str(e)
    else:
        assert result.id == made.id
    assert pathlib.Path(made.outs["path"]).is_file()


def test_read_of_an_unchanged_vpc_volume_shows_no_drift(volumes, dir_pool) -> None:
    made = volumes.create(dir_pool.name, format="vpc", capacity="64MiB")

    result = volumes.provider.read(made.id, made.outs)
    assert not volumes.provider.diff(made.id, result.outs, made.inputs).changes


# -- outputs ----------------------------------------------------------------------------------

def test_disk_outputs_describe_a_file_disk_at_the_volume_path(volumes, dir_pool) -> None:
    made = volumes.create(dir_pool.name, format="qcow2", capacity="1MiB")
    path = made.outs["path"]

    assert made.outs["type"] == "file"
    assert made.outs["disk"] == {"type": "file", "driver_type": "qcow2", "file": path}
    disk = xml_of(made.outs["disk_xml"])
    assert disk.tag == "disk" and disk.get("type") == "file" and disk.get("device") == "disk"
    assert disk.find("source").get("file") == path
    assert disk.find("driver").get("type") == "qcow2"
