"""The libvirt floor: the same volume operations without Pulumi.

- `python_floor`: libvirt-python in one process over one connection, as lean as a tool can be:
  create = createXML; read = lookup by name + XMLDesc + info; grow = lookup + resize;
  delete = lookup + delete.
- `virsh_floor`: one `virsh` process per operation, the way an operator scripts it:
  vol-create-as, vol-dumpxml (the XML carries capacity and allocation, all vol-info adds),
  vol-resize, vol-delete.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field

import libvirt

MiB = 1024**2


@dataclass
class Phases:
    """Seconds per phase (create, read, grow, delete) for `n` volumes."""

    n: int
    seconds: dict[str, float] = field(default_factory=dict)

    def per_op_ms(self, phase: str) -> float | None:
        s = self.seconds.get(phase)
        return None if s is None else s / self.n * 1000


def volume_names(n: int, fmt: str | None) -> list[str]:
    return [f"vol{i}.{fmt}" if fmt else f"vol{i}" for i in range(n)]


def volume_xml(name: str, capacity: int, fmt: str | None) -> str:
    """A sparse file volume of format `fmt`; with fmt None, a plain (rbd) volume."""
    extra = f"<allocation>0</allocation><target><format type='{fmt}'/></target>" if fmt else ""
    return f"<volume><name>{name}</name><capacity unit='bytes'>{capacity}</capacity>{extra}</volume>"


def python_floor(uri: str, pool_name: str, n: int, *, fmt: str | None = "qcow2", capacity: int = 64 * MiB,
                 grown: int = 128 * MiB) -> Phases:
    conn = libvirt.open(uri)
    try:
        pool = conn.storagePoolLookupByName(pool_name)
        names = volume_names(n, fmt)
        out = Phases(n)
        t = time.perf_counter()
        for name in names:
            pool.createXML(volume_xml(name, capacity, fmt), 0)
        out.seconds["create"] = time.perf_counter() - t
        t = time.perf_counter()
        for name in names:
            vol = pool.storageVolLookupByName(name)
            vol.XMLDesc(0)
            vol.info()
        out.seconds["read"] = time.perf_counter() - t
        t = time.perf_counter()
        for name in names:
            pool.storageVolLookupByName(name).resize(grown, 0)
        out.seconds["grow"] = time.perf_counter() - t
        t = time.perf_counter()
        for name in names:
            pool.storageVolLookupByName(name).delete(0)
        out.seconds["delete"] = time.perf_counter() - t
        return out
    finally:
        conn.close()


def _virsh(uri: str, *args: str) -> None:
    proc = subprocess.run(["virsh", "-q", "-c", uri, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"virsh {' '.join(args)} failed: {proc.stderr.strip()}")


def virsh_floor(uri: str, pool_name: str, n: int, *, fmt: str | None = "qcow2", capacity: int = 64 * MiB,
                grown: int = 128 * MiB) -> Phases:
    names = volume_names(n, fmt)
    out = Phases(n)
    extra = ["--allocation", "0", "--format", fmt] if fmt else []
    t = time.perf_counter()
    for name in names:
        _virsh(uri, "vol-create-as", pool_name, name, f"{capacity}b", *extra)
    out.seconds["create"] = time.perf_counter() - t
    t = time.perf_counter()
    for name in names:
        _virsh(uri, "vol-dumpxml", "--pool", pool_name, name)
    out.seconds["read"] = time.perf_counter() - t
    t = time.perf_counter()
    for name in names:
        _virsh(uri, "vol-resize", "--pool", pool_name, name, f"{grown}b")
    out.seconds["grow"] = time.perf_counter() - t
    t = time.perf_counter()
    for name in names:
        _virsh(uri, "vol-delete", "--pool", pool_name, name)
    out.seconds["delete"] = time.perf_counter() - t
    return out
