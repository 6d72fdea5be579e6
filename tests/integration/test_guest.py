"""The test guest (tests/support/guest.py) really boots under QEMU TCG and writes its marker to
every disk it has, through the disk's format layer, so that later tests can prove a VM ran on the
volumes this provider made. libvirt-python alone: no Pulumi, no provider code.

Each test boots a transient domain, waits for the guest to power off by itself, and reads the
markers back on the host with qemu-io: the test's own token on each disk, under the serial the disk
XML gave it. Domains, secrets and files are removed whatever the outcome.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import uuid
from typing import Iterator

import libvirt
import pytest

from tests.conftest import unique
from tests.support import guest

DISK_BYTES = 8 * 1024 * 1024


@pytest.fixture(scope="module")
def boot_files() -> guest.GuestBoot:
    """Built once per machine (cached), found in about a second afterwards."""
    return guest.guest_boot_files()


@pytest.fixture
def workdir(boot_files: guest.GuestBoot) -> Iterator[pathlib.Path]:
    """A directory QEMU can reach, holding a copy of the kernel and initramfs."""
    with guest.qemu_workdir() as directory:
        yield directory


def qemu_img(*args: str) -> None:
    done = subprocess.run(["qemu-img", *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"qemu-img {' '.join(args)} failed: {done.stderr.strip()}"


def undefine_secret(conn, secret_uuid: str) -> None:
    """Looked up again through the test's connection, which reopens itself after a libvirtd restart
    (the secret object of a dropped connection could not undefine anything)."""
    try:
        conn.secretLookupByUUIDString(secret_uuid).undefine()
    except libvirt.libvirtError as e:
        if e.get_error_code() != libvirt.VIR_ERR_NO_SECRET:
            raise


def token() -> str:
    return uuid.uuid4().hex


def test_the_guest_writes_its_marker_to_a_raw_disk_and_a_qcow2_disk_over_a_backing_file(
        conn, boot_files: guest.GuestBoot, workdir: pathlib.Path) -> None:
    """Two virtio disks with serials: a raw file, and a qcow2 overlay of a raw base image. Each gets
    the marker naming its serial with this run's token; the base image stays unwritten (the write
    went into the overlay, and reading the overlay finds it through the chain)."""
    raw, base, overlay = workdir / "data.raw", workdir / "base.raw", workdir / "disk.qcow2"
    qemu_img("create", "-q", "-f", "raw", str(raw), str(DISK_BYTES))
    qemu_img("create", "-q", "-f", "raw", str(base), str(DISK_BYTES))
    qemu_img("create", "-q", "-f", "qcow2", "-b", str(base), "-F", "raw", str(overlay))
    name, run_token = unique("guest"), token()

    run = guest.run_guest(conn, name, boot_files.copied_to(workdir), run_token, [
        guest.file_disk_xml(raw, "raw", "vda", "pls-data"),
        guest.file_disk_xml(overlay, "qcow2", "vdb", "pls-root"),
    ], workdir)
    print(f"\nguest {boot_files.packages}: QEMU started in {run.start_seconds:.1f} s, "
          f"booted and powered off in {run.boot_seconds:.1f} s")

    assert guest.parse_marker(guest.read_marker_from_file(raw, "raw")) == guest.Marker("pls-data", run_token), \
        run.console
    assert guest.parse_marker(guest.read_marker_from_file(overlay, "qcow2")) == guest.Marker("pls-root", run_token), \
        run.console
    assert guest.read_marker_from_file(base, "raw") is None, "the guest wrote through the overlay into its base"
    assert "PLS-GUEST-ERROR" not in run.console, run.console


def test_the_guest_writes_through_a_luks_layer_libvirt_opens_with_a_secret(
        conn, boot_files: guest.GuestBoot, workdir: pathlib.Path, request: pytest.FixtureRequest) -> None:
    """A LUKS volume made by qemu-img, opened by libvirt with a volume secret holding its passphrase:
    the marker is found through the LUKS layer with that passphrase, and the file itself holds only
    ciphertext. The passphrase never appears in a process's arguments (0600 files only)."""
    passphrase = os.urandom(24).hex().encode()
    luks = workdir / f"{unique('luks')}.luks"
    with guest.secret_file(passphrase) as secret_path:
        qemu_img("create", "-q", "--object", f"secret,id=plssec0,file={secret_path}", "-f", "luks",
                 "-o", "key-secret=plssec0", str(luks), str(DISK_BYTES))

    secret = conn.secretDefineXML(
        "<secret ephemeral='no' private='yes'><description>plstest guest LUKS passphrase</description>"
        f"<usage type='volume'><volume>{luks}</volume></usage></secret>", 0)
    secret_uuid = secret.UUIDString()
    request.addfinalizer(lambda: undefine_secret(conn, secret_uuid))
    secret.setValue(passphrase, 0)
    disk = (f"<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
            f"<source file='{luks}'><encryption format='luks'><secret type='passphrase' uuid='{secret_uuid}'/>"
            f"</encryption></source><target dev='vda' bus='virtio'/><serial>pls-luks</serial></disk>")
    name, run_token = unique("guest"), token()

    run = guest.run_guest(conn, name, boot_files.copied_to(workdir), run_token, [disk], workdir)
    print(f"\nLUKS guest: QEMU started in {run.start_seconds:.1f} s, booted and powered off in "
          f"{run.boot_seconds:.1f} s")

    marker = guest.read_marker_from_file(luks, "luks", passphrase=passphrase)
    assert guest.parse_marker(marker) == guest.Marker("pls-luks", run_token), run.console
    assert run_token.encode() not in luks.read_bytes(), "the host file should hold only ciphertext"
    with pytest.raises(AssertionError, match="qemu-io could not read"):
        guest.read_marker_from_file(luks, "luks", passphrase=b"not the passphrase")
