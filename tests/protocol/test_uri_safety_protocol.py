"""Issue 20, items 10 and 9c, over gRPC as the engine drives each front end: a resource or provider
URI that would run a program (or weaken the host check) is refused at check time with the config key
that allows it; the plugin configured with an unknown provider uri connects to nothing (no local
default) and its preview predicts nothing from a host. Against the real libvirtd."""

from __future__ import annotations

import pathlib
from typing import Iterator

import grpc
import libvirt
import pytest
from pulumi.runtime.proto import provider_pb2

from tests.conftest import URI
from tests.protocol.helpers import Client, libvirtd_clients_of
from tests.support.protocol import UNKNOWN, DynamicProviderProcess, PluginProcess, from_struct, to_struct

pytestmark = pytest.mark.libvirtd
ALLOW_KEY = "libvirt-storage:allowUnsafeUris"
MiB = 1024**2


def ext_uri(tmp_path: pathlib.Path) -> str:
    """A URI whose `command` would leave a marker if anything ran it."""
    script = tmp_path / "relay"
    script.write_text(f"#!/bin/sh\ntouch {tmp_path / 'ran'}\nexit 1\n")
    script.chmod(0o755)
    return f"qemu+ext:///system?command={script}"


def urn(kind: str, name: str) -> str:
    return f"urn:pulumi:test::plstest::libvirt-storage:index:{kind}::{name}"


def plugin_check(plugin: PluginProcess, kind: str, name: str, news: dict) -> provider_pb2.CheckResponse:
    return plugin.stub.Check(provider_pb2.CheckRequest(urn=urn(kind, name), name=name,
                                                       type=f"libvirt-storage:index:{kind}", news=to_struct(news)))


@pytest.fixture
def plugin() -> Iterator[PluginProcess]:
    server = PluginProcess()
    yield server
    assert "Traceback" not in server.close()


def test_plugin_check_refuses_a_resource_uri_that_runs_a_program(plugin: PluginProcess,
                                                                  tmp_path: pathlib.Path) -> None:
    news = {"name": "plstest-never", "type": "dir", "target": {"path": str(tmp_path / "p")},
            "uri": ext_uri(tmp_path)}
    resp = plugin_check(plugin, "StoragePool", "p", news)
    assert [f.property for f in resp.failures] == ["uri"]
    assert ALLOW_KEY in resp.failures[0].reason and "run" in resp.failures[0].reason
    assert not (tmp_path / "ran").exists()
    allowed = PluginProcess({"allowUnsafeUris": "true"})  # as the engine sends the stack config
    try:
        assert list(plugin_check(allowed, "StoragePool", "p", news).failures) == []
    finally:
        allowed.close()


def test_plugin_check_config_refuses_an_unsafe_provider_uri_unless_allowed(plugin: PluginProcess,
                                                                           tmp_path: pathlib.Path) -> None:
    def check_config(news: dict) -> dict[str, str]:
        resp = plugin.stub.CheckConfig(provider_pb2.CheckRequest(urn="urn:pulumi:test::plstest::pulumi:providers:"
                                                                     "libvirt-storage::default", news=to_struct(news)))
        return {f.property: f.reason for f in resp.failures}

    uri = ext_uri(tmp_path)
    found = check_config({"uri": uri})
    assert set(found) == {"uri"} and ALLOW_KEY in found["uri"] and "provider's uri" in found["uri"]
    assert check_config({"uri": uri, "allowUnsafeUris": "true"}) == {}
    assert check_config({"uri": uri, "allowUnsafeUris": True}) == {}
    assert set(check_config({"uri": URI, "allowUnsafeUris": "yes"})) == {"allowUnsafeUris"}
    assert check_config({"uri": URI}) == {} and check_config({"uri": UNKNOWN}) == {}
    assert not (tmp_path / "ran").exists()


def test_plugin_configured_with_an_unknown_uri_connects_nowhere(conn: libvirt.virConnect,
                                                                dir_pool: libvirt.virStoragePool) -> None:
    """The engine (v3.274.1) does not configure a provider whose inputs hold unknowns, but a plugin that
    is must not take the local host for it: reads fail saying so, and a preview predicts nothing."""
    plugin = PluginProcess({"uri": UNKNOWN})
    try:
        with pytest.raises(grpc.RpcError) as read:
            plugin.stub.Read(provider_pb2.ReadRequest(id=dir_pool.UUIDString(), urn=urn("StoragePool", "imp")))
        assert "not known" in read.value.details(), read.value.details()

        news = {"pool": dir_pool.name(), "name": "v.qcow2", "format": "qcow2", "capacity": 16 * MiB}
        checked = plugin_check(plugin, "StorageVolume", "v", news)
        assert list(checked.failures) == []
        preview = from_struct(plugin.stub.Create(provider_pb2.CreateRequest(
            urn=urn("StorageVolume", "v"), properties=checked.inputs, preview=True)).properties)
        assert type(preview["path"]).__name__ == "Unknown", "predicted from a host the provider may not reach"
        with pytest.raises(grpc.RpcError) as create:
            plugin.stub.Create(provider_pb2.CreateRequest(urn=urn("StorageVolume", "v"), properties=checked.inputs))
        assert "not known" in create.value.details(), create.value.details()
        assert dir_pool.listVolumes() == []
        clients = libvirtd_clients_of(plugin.proc.pid)
        assert clients in (0, None), f"the plugin holds {clients} connection(s) to the local libvirtd"
    finally:
        assert "Traceback" not in plugin.close()


def test_dynamic_check_refuses_a_resource_uri_that_runs_a_program_unless_the_stack_allows_it(
        pools: Client, tmp_path: pathlib.Path) -> None:
    news = pools.props(name="plstest-never", type="dir", target={"path": str(tmp_path / "p")}, uri=ext_uri(tmp_path))
    checked = pools.check(news)
    assert [p for p, _ in checked.failures] == ["uri"] and ALLOW_KEY in checked.failures[0][1]
    allowed = DynamicProviderProcess({"libvirt:uri": URI, ALLOW_KEY: "true"})
    try:
        assert Client(allowed, pools.provider, "StoragePool").check(news).failures == []
    finally:
        allowed.close()
    assert not (tmp_path / "ran").exists()
