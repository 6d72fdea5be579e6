"""Fixtures of the integration tier: the dynamic providers driven as the engine drives them,
against the real libvirtd, with every pool, volume, secret and file a test makes removed at
teardown whatever the test's outcome."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any, Iterator

import libvirt
import pytest
from lxml import etree

from pulumi_libvirt_storage_provider.dynamic import (CephSecretProvider, StoragePoolProvider,
                                                     StorageVolumeProvider)
from tests.support.cleanup import remove_pool
from tests.conftest import URI, unique  # noqa: F401  (re-exported for the tier's tests)

MiB = 1024**2

# -- names: tests.conftest.unique, whose names the root guard (nothing_left_behind) watches --------


# -- looking at the host ----------------------------------------------------------------------

def virsh(*args: str) -> str:
    done = subprocess.run(["virsh", "-c", URI, *args], capture_output=True, text=True)
    assert done.returncode == 0, f"virsh {' '.join(args)} failed: {done.stderr.strip()}"
    return done.stdout


def virsh_info(*args: str) -> dict[str, str]:
    """`virsh pool-info NAME` / `virsh vol-info ...` as a dict ("State" -> "running")."""
    lines = [line.split(":", 1) for line in virsh(*args).splitlines() if ":" in line]
    return {k.strip(): v.strip() for k, v in lines}


def qemu_img_info(path: str | pathlib.Path) -> dict[str, Any]:
    return json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", str(path)], check=True,
                                     capture_output=True, text=True).stdout)


def allocated_bytes(path: str | pathlib.Path) -> int:
    return pathlib.Path(path).stat().st_blocks * 512


def xml_of(text: str) -> etree._Element:
    return etree.fromstring(text.encode())


def pool_names(conn: libvirt.virConnect) -> set[str]:
    return {p.name() for p in conn.listAllStoragePools()}


def secret_usages(conn: libvirt.virConnect) -> set[str]:
    return {s.usageID() for s in conn.listAllSecrets()}


# -- driving a provider as the engine does ----------------------------------------------------

@dataclass
class Created:
    """One resource as the engine holds it after create: id, the checked inputs, the outputs."""

    id: str
    inputs: dict[str, Any]
    outs: dict[str, Any]


def checked(provider: Any, raw: dict[str, Any], olds: dict[str, Any] | None = None) -> dict[str, Any]:
    """The canonical inputs check returns; fails the test when check reports a failure."""
    result = provider.check(olds or {}, raw)
    assert not result.failures, [(f.property, f.reason) for f in result.failures]
    return result.inputs


def check_failures(provider: Any, raw: dict[str, Any], olds: dict[str, Any] | None = None
                   ) -> dict[str, str]:
    result = provider.check(olds or {}, raw)
    return {f.property: f.reason for f in result.failures}


# -- cleaning up ------------------------------------------------------------------------------

@dataclass
class Cleanup:
    """What a test made on the host; `run` removes whatever of it still exists."""

    conn: libvirt.virConnect
    pools: list[str] = field(default_factory=list)
    secret_usages: list[str] = field(default_factory=list)
    paths: list[pathlib.Path] = field(default_factory=list)

    def run(self) -> list[str]:
        problems: list[str] = []
        for name in reversed(self.pools):
            try:
                remove_pool(self.conn, name)
            except libvirt.libvirtError as e:
                problems.append(f"pool {name}: {e}")
        for usage in self.secret_usages:
            try:
                self.conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_CEPH, usage).undefine()
            except libvirt.libvirtError as e:
                if e.get_error_code() != libvirt.VIR_ERR_NO_SECRET:
                    problems.append(f"secret {usage}: {e}")
        for path in self.paths:
            shutil.rmtree(path, ignore_errors=True)
        return problems


@pytest.fixture
def cleanup(conn: libvirt.virConnect) -> Iterator[Cleanup]:
    made = Cleanup(conn)
    yield made
    problems = made.run()
    assert not problems, f"cleanup failed: {problems}"


# -- pools made directly (the ground for volume tests) ---------------------------------------

@dataclass
class DirPool:
    name: str
    path: pathlib.Path
    pool: libvirt.virStoragePool


@pytest.fixture
def make_dir_pool(conn: libvirt.virConnect, cleanup: Cleanup, tmp_path: pathlib.Path):
    """Define, build and start a dir pool with plain libvirt calls (not through the provider)."""

    def make(what: str = "pool", *, start: bool = True) -> DirPool:
        name = unique(what)
        path = tmp_path / name
        cleanup.paths.append(path)
        cleanup.pools.append(name)
        pool = conn.storagePoolDefineXML(
            f"<pool type='dir'><name>{name}</name><target><path>{path}</path></target></pool>", 0)
        pool.build(0)
        if start:
            pool.create(0)
        return DirPool(name, path, pool)

    return make


@pytest.fixture
def dir_pool(make_dir_pool) -> DirPool:
    return make_dir_pool()


# -- the three providers ----------------------------------------------------------------------

class PoolDriver:
    """StoragePoolProvider with names, paths and cleanup taken care of."""

    def __init__(self, cleanup: Cleanup, tmp_path: pathlib.Path) -> None:
        self.provider = StoragePoolProvider()
        self.cleanup = cleanup
        self.tmp_path = tmp_path

    def raw(self, **raw: Any) -> dict[str, Any]:
        """Raw inputs of a dir pool named with unique(), its directory under tmp_path."""
        name = raw.pop("name", None) or unique("pool")
        path = raw.pop("path", None) or self.tmp_path / name
        target = {"path": str(path), **raw.pop("target", {})}
        return {"name": name, "type": "dir", "uri": URI, "target": target, **raw}

    def inputs(self, **raw: Any) -> dict[str, Any]:
        return checked(self.provider, self.raw(**raw))

    def create_checked(self, inputs: dict[str, Any]) -> Created:
        self.track(inputs)
        result = self.provider.create(inputs)
        return Created(result.id, inputs, result.outs)

    def create(self, **raw: Any) -> Created:
        return self.create_checked(self.inputs(**raw))

    def track(self, inputs: dict[str, Any]) -> None:
        if inputs["name"] not in self.cleanup.pools:
            self.cleanup.pools.append(inputs["name"])
        self.cleanup.paths.append(pathlib.Path(inputs["target"]["path"]))


class VolumeDriver:
    def __init__(self) -> None:
        self.provider = StorageVolumeProvider()

    def inputs(self, pool: str, **raw: Any) -> dict[str, Any]:
        raw.setdefault("name", unique("vol"))
        return checked(self.provider, {"pool": pool, "uri": URI, **raw})

    def create(self, pool: str, **raw: Any) -> Created:
        inputs = self.inputs(pool, **raw)
        result = self.provider.create(inputs)  # the pool's cleanup deletes the volume
        return Created(result.id, inputs, result.outs)


class SecretDriver:
    def __init__(self, cleanup: Cleanup) -> None:
        self.provider = CephSecretProvider()
        self.cleanup = cleanup

    def inputs(self, **raw: Any) -> dict[str, Any]:
        raw.setdefault("usage_name", unique("secret"))
        return checked(self.provider, {"uri": URI, **raw})

    def create_checked(self, inputs: dict[str, Any]) -> Created:
        self.cleanup.secret_usages.append(inputs["usage_name"])
        result = self.provider.create(inputs)
        return Created(result.id, inputs, result.outs)

    def create(self, **raw: Any) -> Created:
        return self.create_checked(self.inputs(**raw))


@pytest.fixture
def pools(cleanup: Cleanup, tmp_path: pathlib.Path) -> PoolDriver:
    return PoolDriver(cleanup, tmp_path)


@pytest.fixture
def volumes() -> VolumeDriver:
    return VolumeDriver()


@pytest.fixture
def secrets(cleanup: Cleanup) -> SecretDriver:
    return SecretDriver(cleanup)
