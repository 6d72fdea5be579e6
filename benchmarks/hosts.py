"""The pools the benchmarks work in: each one made for one measurement, named plstest-bench-*,
and every one of them removed (volumes, pool, directory) when the run ends, even on failure."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid

import libvirt

URI = os.environ.get("LIBVIRT_DEFAULT_URI") or "qemu:///system"
PREFIX = "plstest-bench-"
RUN_ID = uuid.uuid4().hex[:6]


def scratch() -> str:
    """This run's directory for probe reports, profiles and shims; removed by `remove_scratch`."""
    path = os.path.join(tempfile.gettempdir(), f"{PREFIX}{RUN_ID}")
    os.makedirs(path, exist_ok=True)
    return path


def remove_scratch() -> None:
    shutil.rmtree(os.path.join(tempfile.gettempdir(), f"{PREFIX}{RUN_ID}"), ignore_errors=True)


def _quiet(_ctx: object, _err: object) -> None:
    pass


libvirt.registerErrorHandler(_quiet, None)


def remove_pool(conn: libvirt.virConnect, name: str) -> None:
    """Remove pool `name` with its volumes, if it exists; errors of the single steps are ignored
    (this is the last resort after a run, whatever state it left)."""
    try:
        pool = conn.storagePoolLookupByName(name)
    except libvirt.libvirtError:
        return
    try:
        if pool.isActive():
            pool.refresh(0)
            for vol in pool.listAllVolumes():
                try:
                    vol.delete(0)
                except libvirt.libvirtError:
                    pass
            pool.destroy()
    except libvirt.libvirtError:
        pass
    try:
        pool.undefine()
    except libvirt.libvirtError:
        pass


class Pools:
    """Dir pools made for this run; `remove_all` undoes every one of them."""

    def __init__(self, uri: str = URI) -> None:
        self.uri = uri
        self.conn = libvirt.open(uri)
        self.made: list[tuple[str, str | None]] = []  # (pool name, directory we made)
        self.root = tempfile.mkdtemp(prefix=PREFIX, dir="/var/tmp")
        os.chmod(self.root, 0o755)

    def dir_pool(self, what: str) -> tuple[str, str]:
        name = f"{PREFIX}{RUN_ID}-{what}"
        path = os.path.join(self.root, name)
        self.made.append((name, path))
        xml = f"<pool type='dir'><name>{name}</name><target><path>{path}</path></target></pool>"
        pool = self.conn.storagePoolDefineXML(xml, 0)
        pool.build(0)
        pool.create(0)
        return name, path

    def track(self, name: str) -> None:
        """A pool made elsewhere (the rbd pool) that must go at the end too."""
        self.made.append((name, None))

    def remove(self, name: str) -> None:
        remove_pool(self.conn, name)

    def remove_all(self) -> list[str]:
        removed = []
        for name, _path in reversed(self.made):
            self.remove(name)
            removed.append(name)
        self.made.clear()
        shutil.rmtree(self.root, ignore_errors=True)
        return removed

    def leftovers(self) -> list[str]:
        return [p.name() for p in self.conn.listAllStoragePools() if p.name().startswith(f"{PREFIX}{RUN_ID}")]

    def close(self) -> None:
        try:
            self.conn.close()
        except libvirt.libvirtError:
            pass
