"""Client side of the protocol tier: calls shaped as the engine makes them, and host helpers.

The engine's side of the conversation is reproduced here:
- Check gets the old *inputs* and the new inputs; what it returns is what the engine stores as inputs
  and sends to Diff/Create/Update.
- Diff, Update and Delete get the old *outputs* (what Create/Update/Read returned).
- Everything travels as a protobuf Struct: every number a float, unknowns as rpc.UNKNOWN.
Values are kept in their wire form (google.protobuf.json_format) between calls, as the engine keeps them.
"""

from __future__ import annotations

import base64
import os
import subprocess
from dataclasses import dataclass, field
from typing import Any

import libvirt
from google.protobuf import json_format, struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime.proto import provider_pb2

from tests.conftest import PREFIX
from tests.support.protocol import DynamicProviderProcess, to_struct, urn
from tests.support.cleanup import remove_pool


def wire(s: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as the engine holds it: plain JSON values, numbers as floats, sentinels as strings."""
    return dict(json_format.MessageToDict(s))


@dataclass
class Checked:
    inputs: dict[str, Any]
    failures: list[tuple[str, str]]
    response: Any


@dataclass
class Client:
    """Calls for one resource type, each carrying `__provider` and a urn, as the engine sends them."""

    server: DynamicProviderProcess
    provider: Any
    type_name: str
    provider_str: str = field(init=False)

    def __post_init__(self) -> None:
        self.provider_str = serialize_provider(self.provider)

    @property
    def stub(self) -> Any:
        return self.server.stub

    def urn(self, name: str = "res") -> str:
        return urn(self.type_name, name)

    def props(self, **props: Any) -> dict[str, Any]:
        return {**props, "__provider": self.provider_str}

    def check(self, news: dict[str, Any], olds: dict[str, Any] | None = None, name: str = "res") -> Checked:
        resp = self.stub.Check(provider_pb2.CheckRequest(urn=self.urn(name), olds=to_struct(olds or {}),
                                                         news=to_struct(news)))
        return Checked(wire(resp.inputs), [(f.property, f.reason) for f in resp.failures], resp)

    def check_ok(self, news: dict[str, Any], olds: dict[str, Any] | None = None, name: str = "res"
                 ) -> dict[str, Any]:
        checked = self.check(news, olds, name)
        assert checked.failures == [], checked.failures
        return checked.inputs

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any], name: str = "res") -> Any:
        return self.stub.Diff(provider_pb2.DiffRequest(id=id_, urn=self.urn(name), olds=to_struct(olds),
                                                       news=to_struct(news)))

    def create(self, inputs: dict[str, Any], name: str = "res") -> tuple[str, dict[str, Any], Any]:
        resp = self.stub.Create(provider_pb2.CreateRequest(urn=self.urn(name), properties=to_struct(inputs)))
        return resp.id, wire(resp.properties), resp

    def read(self, id_: str, props: dict[str, Any], inputs: dict[str, Any] | None = None, name: str = "res"
             ) -> tuple[str, dict[str, Any], Any]:
        req = provider_pb2.ReadRequest(id=id_, urn=self.urn(name), properties=to_struct(props))
        if inputs is not None:
            req.inputs.CopyFrom(to_struct(inputs))
        resp = self.stub.Read(req)
        return resp.id, wire(resp.properties), resp

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any], name: str = "res"
               ) -> tuple[dict[str, Any], Any]:
        resp = self.stub.Update(provider_pb2.UpdateRequest(id=id_, urn=self.urn(name), olds=to_struct(olds),
                                                           news=to_struct(news)))
        return wire(resp.properties), resp

    def delete(self, id_: str, props: dict[str, Any], name: str = "res") -> None:
        self.stub.Delete(provider_pb2.DeleteRequest(id=id_, urn=self.urn(name), properties=to_struct(props)))


class Leftovers:
    """What a test created; whatever is still on the host at teardown is removed through `conn`."""

    def __init__(self, conn: libvirt.virConnect) -> None:
        self.conn = conn
        self.pools: list[str] = []
        self.secrets: list[str] = []

    def pool(self, name: str) -> str:
        assert name.startswith(PREFIX)
        self.pools.append(name)
        return name

    def secret(self, usage: str) -> str:
        assert usage.startswith(PREFIX)
        self.secrets.append(usage)
        return usage

    def remove(self) -> list[str]:
        removed = []
        for usage in self.secrets:
            try:
                self.conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_CEPH, usage).undefine()
                removed.append(f"secret:{usage}")
            except libvirt.libvirtError:
                pass
        for name in self.pools:
            try:
                if remove_pool(self.conn, name):
                    removed.append(f"pool:{name}")
            except libvirt.libvirtError:
                removed.append(f"pool:{name}")
        return removed


def ceph_key() -> tuple[str, bytes]:
    """A cephx-like key: base64 text and the raw bytes libvirt stores."""
    raw = b"\x01\x00" + os.urandom(26)
    return base64.b64encode(raw).decode(), raw


def libvirtd_clients_of(pid: int) -> int | None:
    """How many libvirtd client connections process `pid` holds, per virt-admin; None without virt-admin."""
    try:
        listing = subprocess.run(["virt-admin", "-c", "libvirtd:///system", "srv-clients-list", "libvirtd"],
                                 capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return None
    if listing.returncode != 0:
        return None
    count = 0
    for line in listing.stdout.splitlines():
        parts = line.split()
        if not parts or not parts[0].isdigit():
            continue
        info = subprocess.run(["virt-admin", "-c", "libvirtd:///system", "client-info", "libvirtd", parts[0]],
                              capture_output=True, text=True, timeout=30)
        for row in info.stdout.splitlines():
            key, _, value = row.partition(":")
            if key.strip() == "unix_process_id" and value.strip() == str(pid):
                count += 1
    return count
