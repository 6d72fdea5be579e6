"""A libvirtd restarted between two runs, or during one, must not fail the next operation."""

from __future__ import annotations

import pathlib
import subprocess
import time

import pytest
from pulumi.runtime.proto import provider_pb2

from pulumi_libvirt_storage_provider.dynamic import StoragePoolProvider
from tests.conftest import unique
from tests.e2e.test_dir_pool_engine import PROGRAM, pool_info
from tests.support.daemons import launch_libvirtd, libvirtd_answers, restart_libvirtd, stop_libvirtd, wait_until
from tests.support.protocol import DynamicProviderProcess, from_struct, provider_props, to_struct, urn

pytestmark = pytest.mark.engine


def test_up_after_libvirtd_restart_between_runs(project, conn, tmp_path: pathlib.Path) -> None:
    """A deployment right after a restart does not wait for QEMU's capability probe (what `virsh
    version` waits for): it needs the storage and secret drivers only. Prints what the restart cost."""
    name = unique("restart")
    p = project(PROGRAM, config={"name": name, "path": str(tmp_path / "r"), "mode": "0755", "autostart": "true"})
    p.up()
    p.run("config", "set", "autostart", "false")
    stop_libvirtd()
    started = time.monotonic()
    launch_libvirtd()
    qemu_probe = subprocess.Popen(["virsh", "-c", "qemu:///system", "version"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
    wait_until(libvirtd_answers, started + 60, "storage and secret drivers did not answer")
    answered = time.monotonic() - started
    p.up()
    up_done = time.monotonic() - started
    try:
        qemu_probe.wait(timeout=max(1.0, 60 - (time.monotonic() - started)))
        probe = f"{time.monotonic() - started:.1f} s"
    except subprocess.TimeoutExpired:
        qemu_probe.kill()
        probe = "more than 60 s"
    assert pool_info(name)["Autostart"] == "no"
    print(f"\nlibvirtd restart: storage and secrets answered after {answered:.2f} s; `pulumi up` done "
          f"{up_done:.1f} s after the start; `virsh version` (QEMU's capability probe) answered after {probe}")
    p.destroy()


def test_provider_process_reconnects_after_libvirtd_restart_during_a_deployment(tmp_path: pathlib.Path) -> None:
    """One provider process lives for a whole deployment: its cached connection dies with the
    daemon, and the next call must reopen it instead of failing."""
    import libvirt
    server = DynamicProviderProcess()
    name = unique("midrun")
    provider = StoragePoolProvider()
    props = provider_props(provider, {"name": name, "type": "dir", "target": {"path": str(tmp_path / "m")}})
    pool_id = None
    try:
        checked = server.stub.Check(provider_pb2.CheckRequest(urn=urn("StoragePool", "p"), olds=to_struct({}),
                                                              news=to_struct(props)))
        assert not checked.failures
        created = server.stub.Create(provider_pb2.CreateRequest(urn=urn("StoragePool", "p"),
                                                                properties=checked.inputs))
        pool_id = created.id
        restart_libvirtd()
        read = server.stub.Read(provider_pb2.ReadRequest(id=pool_id, urn=urn("StoragePool", "p"),
                                                         properties=created.properties))
        assert read.id == pool_id and from_struct(read.properties)["active"] is True
        server.stub.Delete(provider_pb2.DeleteRequest(id=pool_id, urn=urn("StoragePool", "p"),
                                                      properties=read.properties))
        pool_id = None
    finally:
        server.close()
        if pool_id:
            c = libvirt.open("qemu:///system")
            try:
                pool = c.storagePoolLookupByUUIDString(pool_id)
                if pool.isActive():
                    pool.destroy()
                pool.undefine()
            finally:
                c.close()
