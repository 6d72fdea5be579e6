"""A real guest that proves a VM ran and wrote to its disks.

Direct kernel boot under QEMU TCG: Debian's cloud kernel (`vmlinuz`) and an initramfs of our own
holding Debian's static busybox as the shell of `/init` and the kernel modules virtio disks need.
The guest mounts /proc, /sys and /dev, loads the modules, and writes one marker line to every
virtio disk it sees (`/dev/vd?`) at byte `MARKER_OFFSET`:

    PLS-MARKER <serial, or the device name when the disk has none> <token>

where the token comes from the kernel command line (`pls.token=...`). It then syncs, prints
PLS-GUEST-DONE (`GUEST_DONE`) on the serial console and powers off, so a transient domain
disappears by itself: about 4 s from QEMU's start under TCG here.
A test reads the markers back from the host afterwards (`read_marker_*`): a marker with the test's
token on a volume proves that a guest really ran on it and wrote through whatever stack of qcow2
backing files, LUKS or rbd the volume is made of.

Nothing is installed into the host: the two .deb files are fetched with `apt-get download` and
unpacked with `dpkg-deb -x`, into a build directory under the cache that scripts/setup.sh uses
(`PLS_CACHE_DIR`, else `$XDG_CACHE_HOME` or `~/.cache`, then `pulumi-libvirt-storage`). The result
is cached in `guest-<hash>/`, the hash taken over every input (package versions, modules, the init
script, this builder's format): a warm call only asks apt-cache for the versions and finds it.

QEMU runs as libvirt-qemu and cannot reach root's cache or pytest's tmp_path (both under 0700
directories): `qemu_workdir()` gives a directory it can reach, and `GuestBoot.copied_to()` puts the
kernel and initramfs there.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import gzip
import hashlib
import io
import json
import lzma
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Iterable, Iterator
from xml.sax.saxutils import escape, quoteattr

import libvirt

# -- what the guest is made of: the one place for package names and module lists --------------

#: Debian's cloud kernel flavour: virtio as modules, none of the bare-metal driver zoo, boots fast.
#: The metapackage is resolved to its ABI package (linux-image-6.1.0-NN-cloud-amd64) and that
#: package's candidate version through the host's apt lists, never pinned: the security archive serves
#: only the newest ABI package, so a pinned one could not be downloaded a few weeks later. The cache
#: key holds the exact name and version used (`GuestBoot.packages`, manifest.json).
KERNEL_METAPACKAGE = "linux-image-cloud-amd64"
#: A statically linked busybox: the guest's only program.
BUSYBOX_PACKAGE = "busybox-static"
#: Kernel modules the guest loads, with their dependencies from the kernel's modules.dep.
GUEST_MODULES = ("virtio_pci", "virtio_blk")
#: Bumped whenever the builder changes what it puts in the initramfs in a way the other inputs miss.
BUILD_FORMAT = 1

# -- the marker protocol between /init and the host --------------------------------------------

MARKER_PREFIX = "PLS-MARKER"
GUEST_DONE = "PLS-GUEST-DONE"
#: Where the marker goes, in the disk as the guest sees it: clear of a partition table or a file
#: system's first sectors; a qcow2 or LUKS disk is written through its format layer, so its own
#: header is never in the way. Disks must be larger than MARKER_OFFSET + MARKER_BYTES.
MARKER_OFFSET = 1024 * 1024
MARKER_BYTES = 512
#: What the guest accepts as a token: it goes into a shell variable and the kernel command line.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")

INIT_SCRIPT = f"""#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
echo "PLS-GUEST-START $(uname -r)"
while read -r module; do
    insmod "/lib/modules/$module" || echo "PLS-GUEST-ERROR insmod $module"
done </lib/modules/load-order
token=
then=poweroff
for word in $(cat /proc/cmdline); do
    case "$word" in
        pls.token=*) token="${{word#pls.token=}}";;
        pls.then=*) then="${{word#pls.then=}}";;
    esac
done
[ -n "$token" ] || echo "PLS-GUEST-ERROR no pls.token= on the kernel command line"
for sys in /sys/block/vd*; do
    [ -e "$sys" ] && [ -n "$token" ] || continue
    dev="${{sys##*/}}"
    id=
    [ -r "$sys/serial" ] && id=$(tr -s ' ' _ <"$sys/serial")
    [ -n "$id" ] || id="$dev"
    waited=0
    while [ ! -b "/dev/$dev" ] && [ "$waited" -lt 50 ]; do usleep 100000; waited=$((waited + 1)); done
    if printf '%s %s %s\\n' "{MARKER_PREFIX}" "$id" "$token" |
        dd of="/dev/$dev" bs={MARKER_BYTES} seek={MARKER_OFFSET // MARKER_BYTES} count=1 conv=sync,notrunc,fsync 2>/dev/null
    then
        echo "PLS-GUEST-WROTE $dev $id"
    else
        echo "PLS-GUEST-ERROR writing $dev $id"
    fi
done
sync
echo "{GUEST_DONE}"
# pls.then=run: the guest stays up (a VM a stack manages, which must keep running), idle.
if [ "$then" = run ]; then
    while :; do sleep 3600; done
fi
poweroff -f
"""


class GuestBuildError(RuntimeError):
    """The guest could not be built: the message says which step and what it printed."""


class _DownloadFailed(GuestBuildError):
    """apt-get download failed: maybe the lists name a version the archive no longer serves."""


@dataclass(frozen=True)
class GuestBoot:
    """The files a direct kernel boot needs."""

    kernel: pathlib.Path
    initrd: pathlib.Path
    #: "name=version" of each Debian package the files come from
    packages: tuple[str, ...] = ()

    def copied_to(self, directory: pathlib.Path) -> GuestBoot:
        """The same files copied into `directory` (one from `qemu_workdir()`): libvirt relabels a
        domain's kernel and initrd for QEMU and back, which must not happen to the shared cache."""
        kernel, initrd = directory / "vmlinuz", directory / "initrd.gz"
        shutil.copyfile(self.kernel, kernel)
        shutil.copyfile(self.initrd, initrd)
        for path in (kernel, initrd):
            path.chmod(0o644)
        return GuestBoot(kernel, initrd, self.packages)


# -- building ---------------------------------------------------------------------------------

def cache_dir() -> pathlib.Path:
    """The cache scripts/setup.sh uses ("$CACHE" there)."""
    base = os.environ.get("PLS_CACHE_DIR")
    if base:
        return pathlib.Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(pathlib.Path.home() / ".cache")
    return pathlib.Path(xdg) / "pulumi-libvirt-storage"


def _run(argv: list[str], what: str, cwd: pathlib.Path | None = None, timeout: float = 600) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise GuestBuildError(f"{what}: {' '.join(argv)}: {e}") from e
    if done.returncode != 0:
        raise GuestBuildError(f"{what}: {' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def _candidates(*packages: str) -> list[str]:
    out = _run(["apt-cache", "policy", *packages], f"looking up {', '.join(packages)}")
    found = dict(re.findall(r"^(\S+):\n\s*Installed:.*\n\s*Candidate:\s*(\S+)", out, re.M))
    missing = [p for p in packages if found.get(p, "(none)") == "(none)"]
    if missing:
        raise GuestBuildError(f"apt knows no installable version of {missing} (run `apt-get update`?):\n{out}")
    return [found[p] for p in packages]


@functools.cache
def _resolve_packages() -> dict[str, tuple[str, str]]:
    """{"kernel": (name, version), "busybox": (name, version)} from the host's apt lists (no network)."""
    depends = _run(["apt-cache", "depends", "--no-recommends", "--no-suggests", KERNEL_METAPACKAGE],
                   f"resolving {KERNEL_METAPACKAGE}")
    abi = re.findall(r"^\s*Depends:\s*(linux-image-\S+)", depends, re.M)
    if len(abi) != 1:
        raise GuestBuildError(f"{KERNEL_METAPACKAGE} should depend on one linux-image package:\n{depends}")
    kernel_version, busybox_version = _candidates(abi[0], BUSYBOX_PACKAGE)
    return {"kernel": (abi[0], kernel_version), "busybox": (BUSYBOX_PACKAGE, busybox_version)}


def _key(packages: dict[str, tuple[str, str]]) -> str:
    inputs = {"packages": packages, "modules": GUEST_MODULES, "init": INIT_SCRIPT, "format": BUILD_FORMAT}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def _boot_of(directory: pathlib.Path) -> GuestBoot | None:
    manifest = directory / "manifest.json"
    if not manifest.is_file():
        return None
    packages = tuple(json.loads(manifest.read_text())["packages"])
    return GuestBoot(directory / "vmlinuz", directory / "initrd.gz", packages)


def guest_boot_files() -> GuestBoot:
    """The guest's kernel and initramfs, built on first use and cached (see the module's doc).
    Safe to call from concurrent processes: one builds, the others wait for it."""
    try:
        return _cached_or_built(_resolve_packages())
    except _DownloadFailed:
        pass
    # Lists older than the archive name a kernel the security archive no longer serves: refresh
    # them once (as scripts/setup.sh would) and build what they name now.
    _run(["apt-get", "update", "-qq", "-o", "DPkg::Lock::Timeout=120"], "updating apt's lists")
    _resolve_packages.cache_clear()
    return _cached_or_built(_resolve_packages())


def _cached_or_built(packages: dict[str, tuple[str, str]]) -> GuestBoot:
    cache = cache_dir()
    final = cache / f"guest-{_key(packages)}"
    boot = _boot_of(final)
    if boot is not None:
        return boot
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "guest.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        boot = _boot_of(final)
        if boot is not None:
            return boot
        work = pathlib.Path(tempfile.mkdtemp(prefix="guest-build-", dir=cache))
        try:
            _build(packages, work)
            os.rename(work / "out", final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    boot = _boot_of(final)
    assert boot is not None
    return boot


def _download(packages: dict[str, tuple[str, str]], into: pathlib.Path) -> dict[str, pathlib.Path]:
    # APT::Sandbox::User=root: apt would otherwise warn that _apt cannot write into root's cache.
    argv = ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root",
            *(f"{name}={version}" for name, version in packages.values())]
    done = subprocess.run(argv, cwd=into, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise _DownloadFailed(f"downloading the guest's packages: {' '.join(argv)} exited {done.returncode}: "
                              f"{done.stderr.strip()}")
    debs = {}
    for role, (name, _) in packages.items():
        found = sorted(into.glob(f"{name}_*.deb"))
        if len(found) != 1:
            raise GuestBuildError(f"apt-get download left {[p.name for p in into.iterdir()]}, not one {name}")
        debs[role] = found[0]
    return debs


def _module_closure(modules_dir: pathlib.Path) -> list[str]:
    """The .ko paths (relative to modules_dir) of GUEST_MODULES and their dependencies, each after
    everything it needs, read from modules.dep."""
    deps: dict[str, list[str]] = {}
    for line in (modules_dir / "modules.dep").read_text().splitlines():
        if ":" in line:
            path, _, needs = line.partition(":")
            deps[path.strip()] = needs.split()
    by_name = {re.sub(r"\.ko(\.(xz|gz|zst))?$", "", os.path.basename(p)).replace("-", "_"): p for p in deps}
    builtin = (modules_dir / "modules.builtin").read_text().split()
    ordered: list[str] = []

    def visit(path: str) -> None:
        if path in ordered:
            return
        for needed in deps[path]:
            visit(needed)
        ordered.append(path)

    for name in GUEST_MODULES:
        if name in by_name:
            visit(by_name[name])
        elif not any(os.path.basename(b).startswith(f"{name}.ko") for b in builtin):
            raise GuestBuildError(f"kernel module {name} is neither in modules.dep nor built in")
    return ordered


def _plain_module(path: pathlib.Path) -> bytes:
    """The module as insmod takes it: Debian's 6.1 kernels ship them uncompressed, later ones
    compress them, and busybox's insmod may not be built to decompress."""
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        return lzma.decompress(data)
    if path.name.endswith(".gz"):
        return gzip.decompress(data)
    if path.name.endswith(".zst"):
        raise GuestBuildError(f"{path.name} is zstd-compressed; add a zstd step to the guest's build")
    return data


class _Cpio:
    """An initramfs in the "newc" format the kernel unpacks, written in memory, reproducibly
    (mtime 0, inode numbers in order): the same inputs give the same bytes."""

    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.ino = 0

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        self.ino += 1
        encoded = name.encode() + b"\0"
        fields = (self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
        self.out.write(b"070701" + b"".join(b"%08x" % f for f in fields) + encoded)
        self.out.write(b"\0" * (-(110 + len(encoded)) % 4))
        self.out.write(data + b"\0" * (-len(data) % 4))

    def directory(self, name: str) -> None:
        self._entry(name, 0o040755)

    def file(self, name: str, data: bytes, perm: int = 0o644) -> None:
        self._entry(name, 0o100000 | perm, data)

    def char_device(self, name: str, major: int, minor: int) -> None:
        self._entry(name, 0o020600, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return gzip.compress(self.out.getvalue(), compresslevel=6, mtime=0)


def _build(packages: dict[str, tuple[str, str]], work: pathlib.Path) -> None:
    (work / "debs").mkdir()
    debs = _download(packages, work / "debs")
    kernel_root, busybox_root, out = work / "kernel", work / "busybox", work / "out"
    _run(["dpkg-deb", "-x", str(debs["kernel"]), str(kernel_root)], "unpacking the kernel")
    _run(["dpkg-deb", "-x", str(debs["busybox"]), str(busybox_root)], "unpacking busybox")
    busybox = busybox_root / "bin" / "busybox"
    versions = [p.name for p in (kernel_root / "lib" / "modules").iterdir()]
    if len(versions) != 1:
        raise GuestBuildError(f"the kernel package holds modules for {versions}, expected one version")
    kver = versions[0]
    modules_dir = kernel_root / "lib" / "modules" / kver
    if not (modules_dir / "modules.dep").exists():
        # Debian's package ships no modules.dep (its postinst runs depmod); busybox's depmod makes
        # one without installing kmod or touching the host's /lib/modules.
        _run([str(busybox), "depmod", "-b", str(kernel_root), kver], "making modules.dep")
    order = _module_closure(modules_dir)

    cpio = _Cpio()
    for d in (".", "bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "lib", "lib/modules"):
        cpio.directory(d)
    cpio.char_device("dev/console", 5, 1)
    cpio.file("bin/busybox", busybox.read_bytes(), 0o755)
    cpio.file("init", INIT_SCRIPT.encode(), 0o755)
    names = []
    for rel in order:
        name = re.sub(r"\.(xz|gz|zst)$", "", os.path.basename(rel))
        cpio.file(f"lib/modules/{name}", _plain_module(modules_dir / rel))
        names.append(name)
    cpio.file("lib/modules/load-order", "".join(f"{n}\n" for n in names).encode())

    out.mkdir()
    shutil.copyfile(kernel_root / "boot" / f"vmlinuz-{kver}", out / "vmlinuz")
    (out / "initrd.gz").write_bytes(cpio.finish())
    (out / "manifest.json").write_text(json.dumps({
        "packages": [f"{name}={version}" for name, version in packages.values()],
        "kernel_release": kver, "modules": names, "format": BUILD_FORMAT}, indent=1) + "\n")


# -- booting ----------------------------------------------------------------------------------

@contextlib.contextmanager
def qemu_workdir(prefix: str = "plstest-guest-") -> Iterator[pathlib.Path]:
    """A directory under /tmp that QEMU (user libvirt-qemu) can reach, for the guest's files and
    disks; removed with everything in it at the end."""
    directory = pathlib.Path(tempfile.mkdtemp(prefix=prefix))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def kernel_cmdline(token: str, then: str = "poweroff") -> str:
    """`then`: "poweroff" once the markers are written, or "run" to stay up, idle."""
    if not TOKEN_PATTERN.fullmatch(token):
        raise ValueError(f"token {token!r} must match {TOKEN_PATTERN.pattern}")
    if then not in ("poweroff", "run"):
        raise ValueError(f"then={then!r}: 'poweroff' or 'run'")
    # panic=-1: a kernel that panics reboots at once, and on_reboot=destroy ends the domain, instead
    # of a test waiting out its bound.
    return f"console=ttyS0 quiet panic=-1 pls.token={token} pls.then={then}"


def domain_os_xml(boot: GuestBoot, token: str) -> str:
    """The domain's <os> element: a direct kernel boot of the guest with this token."""
    return ("<os><type arch='x86_64' machine='pc'>hvm</type>"
            f"<kernel>{escape(str(boot.kernel))}</kernel><initrd>{escape(str(boot.initrd))}</initrd>"
            f"<cmdline>{escape(kernel_cmdline(token))}</cmdline></os>")


def domain_xml(name: str, boot: GuestBoot, token: str, disks_xml: Iterable[str],
               console_log: pathlib.Path, memory_mib: int = 256) -> str:
    """A whole transient domain: TCG, the guest booted directly, these <disk> elements, the serial
    console into `console_log` (written by virtlogd), nothing else that costs boot time. ACPI so that
    `poweroff -f` powers off; a reboot or crash ends the domain too."""
    return f"""<domain type='qemu'>
  <name>{escape(name)}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>1</vcpu>
  {domain_os_xml(boot, token)}
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    {''.join(disks_xml)}
    <serial type='pty'><log file={quoteattr(str(console_log))} append='off'/><target port='0'/></serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>"""


def file_disk_xml(path: pathlib.Path | str, fmt: str, target: str, serial: str) -> str:
    """A virtio <disk> of a file on the host (raw, qcow2, luks...)."""
    return (f"<disk type='file' device='disk'><driver name='qemu' type={quoteattr(fmt)}/>"
            f"<source file={quoteattr(str(path))}/><target dev={quoteattr(target)} bus='virtio'/>"
            f"<serial>{escape(serial)}</serial></disk>")


def domain_is_running(conn: libvirt.virConnect, name: str) -> bool:
    """Whether libvirt still has the domain `name` running (a transient one is gone once it ends)."""
    try:
        return bool(conn.lookupByName(name).isActive())
    except libvirt.libvirtError as e:
        if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return False
        raise


def console_text(console_log: pathlib.Path) -> str:
    return console_log.read_text(errors="replace") if console_log.exists() else "(no console log)"


def wait_until_powered_off(conn: libvirt.virConnect, name: str, console_log: pathlib.Path,
                           timeout_s: float = 180) -> float:
    """Wait for the domain `name` to end (the guest powered off) and return how long that took.
    Looks it up by name on every poll, so a connection that reopens itself after a libvirtd restart
    (tests/conftest.py's `conn`) keeps working. Fails with the serial console's log when the guest
    is still running after `timeout_s`, or ended without saying GUEST_DONE."""
    started = time.monotonic()
    while domain_is_running(conn, name):
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"the guest {name} did not power off within {timeout_s:.0f} s; its console:\n"
                                 f"{console_text(console_log)}")
        time.sleep(0.2)
    took = time.monotonic() - started
    console = console_text(console_log)
    if GUEST_DONE not in console:
        raise AssertionError(f"the guest {name} ended without {GUEST_DONE}; its console:\n{console}")
    return took


def remove_domain(conn: libvirt.virConnect, name: str) -> None:
    """Destroy the domain `name` if it still runs, undefine it if it is persistent, and remove the
    log libvirt kept of it (/var/log/libvirt/qemu/NAME.log)."""
    try:
        dom = conn.lookupByName(name)
        if dom.isActive():
            dom.destroy()
        if dom.isPersistent():
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
    except libvirt.libvirtError as e:
        if e.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
            raise
    pathlib.Path(f"/var/log/libvirt/qemu/{name}.log").unlink(missing_ok=True)


@dataclass(frozen=True)
class GuestRun:
    #: createXML, libvirt starting QEMU: about 50 s on this host, where libvirt 9.0 probes QEMU's
    #: capabilities again on every start ("KVM was enabled when probing ..., but it is not available
    #: now": /dev/kvm is root-only, so libvirt-qemu cannot use what the probe found)
    start_seconds: float
    boot_seconds: float  # from QEMU started to the guest powered off
    console: str


def run_guest(conn: libvirt.virConnect, name: str, boot: GuestBoot, token: str, disks_xml: Iterable[str],
              workdir: pathlib.Path, timeout_s: float = 180) -> GuestRun:
    """Boot the guest as the transient domain `name` with these disks, wait for it to power off, and
    remove whatever is left of it whatever happens. `boot` and the disks must be where QEMU can
    reach them (`workdir`, from `qemu_workdir()`); the console log goes there too."""
    console_log = workdir / f"{name}.console.log"
    xml = domain_xml(name, boot, token, disks_xml, console_log)
    started = time.monotonic()
    try:
        conn.createXML(xml, 0)
        created = time.monotonic()
        took = wait_until_powered_off(conn, name, console_log, timeout_s)
        return GuestRun(created - started, took, console_text(console_log))
    finally:
        remove_domain(conn, name)


# -- reading the markers back on the host -----------------------------------------------------

@dataclass(frozen=True)
class Marker:
    disk: str  # the disk's serial, or its device name in the guest when it has none
    token: str


def parse_marker(line: str | None) -> Marker | None:
    if not line:
        return None
    words = line.split()
    if len(words) != 3 or words[0] != MARKER_PREFIX:
        return None
    return Marker(words[1], words[2])


_HEXDUMP_LINE = re.compile(r"^[0-9a-f]{8}:\s+(.*)$")


def _qemu_io_read(argv: list[str]) -> str | None:
    """Run qemu-io (read-only, shared) with `read -v` of the marker's block; the marker line, or
    None when the block holds none."""
    argv = ["qemu-io", "-r", "-U", *argv, "-c", f"read -v {MARKER_OFFSET} {MARKER_BYTES}"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or "read " not in done.stdout:
        raise AssertionError(f"qemu-io could not read the marker: {done.stdout.strip()} {done.stderr.strip()}")
    data = bytearray()
    for line in done.stdout.splitlines():
        match = _HEXDUMP_LINE.match(line)
        if match:
            # 16 bytes a line, then the same bytes as text (which may itself hold blanks)
            data += bytes(int(b, 16) for b in match.group(1).split()[:16])
    text = bytes(data).split(b"\0", 1)[0].decode(errors="replace").strip()
    return text if text.startswith(MARKER_PREFIX) else None


@contextlib.contextmanager
def secret_file(secret: bytes) -> Iterator[str]:
    """A 0600 file holding `secret`, for qemu's `--object secret,file=`: never in an argument."""
    fd, path = tempfile.mkstemp(prefix="plstest-secret-")
    try:
        os.write(fd, secret)
        os.close(fd)
        yield path
    finally:
        os.unlink(path)


def read_marker_from_file(path: pathlib.Path | str, fmt: str, passphrase: bytes | str | None = None) -> str | None:
    """The marker line in a file volume: raw or qcow2 (through its backing chain), and with a
    `passphrase` a LUKS volume (fmt "luks") or a LUKS-encrypted qcow2 (fmt "qcow2"), decrypted by
    qemu-io with the passphrase in a 0600 file. None when the guest wrote no marker there."""
    if passphrase is None:
        return _qemu_io_read(["-f", fmt, str(path)])
    secret = passphrase.encode() if isinstance(passphrase, str) else passphrase
    with secret_file(secret) as secret_path:
        key = {"luks": "key-secret", "qcow2": "encrypt.key-secret"}[fmt]
        opts = f"driver={fmt},file.filename={str(path).replace(',', ',,')},{key}=plssec0"
        return _qemu_io_read(["--object", f"secret,id=plssec0,file={secret_path}", "--image-opts", opts])


def read_marker_from_rbd(pool: str, image: str, conf: pathlib.Path | str, client: str = "admin",
                         keyring: pathlib.Path | str | None = None) -> str | None:
    """The marker line in an rbd image, read through QEMU's rbd driver as `client`, its key from
    `keyring` or else from what `conf` names (the test cluster's ceph.conf gives client.admin's)."""
    spec = f"rbd:{pool}/{image}:conf={conf}:id={client}"
    if keyring is not None:
        spec += f":keyring={keyring}"
    return _qemu_io_read(["-f", "raw", spec])
