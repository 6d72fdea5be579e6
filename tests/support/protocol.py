"""Drive `python -m pulumi.dynamic` over gRPC as the engine does, with pulumi's own stubs."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
from typing import Any

import grpc
from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

UNKNOWN = rpc.UNKNOWN  # the sentinel the engine sends for unknown values during preview
SECRET_SIG = rpc._special_secret_sig  # type: ignore[attr-defined]


def secret(value: Any) -> dict[str, Any]:
    """A secret value as the engine puts it on the wire."""
    return {rpc._special_sig_key: SECRET_SIG, "value": value}  # type: ignore[attr-defined]


def to_struct(props: dict[str, Any]) -> struct_pb2.Struct:
    """Serialise like the engine: every number a float, secrets and unknowns as their wire forms."""
    def conv(v: Any) -> Any:
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, int):
            return float(v)
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        return v
    s = struct_pb2.Struct()
    s.update({k: conv(v) for k, v in props.items()})
    return s


def from_struct(s: struct_pb2.Struct) -> dict[str, Any]:
    return rpc.deserialize_properties(s, keep_unknowns=True)


class DynamicProviderProcess:
    """`python -u -m pulumi.dynamic`, the process the engine starts for dynamic resources."""

    def __init__(self, config: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.dynamic"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        port = int(self.proc.stdout.readline().strip())
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        cfg = struct_pb2.Struct()
        cfg.update(config or {})
        self.stub.Configure(provider_pb2.ConfigureRequest(args=cfg, acceptSecrets=False))

    def close(self) -> str:
        self.channel.close()
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err


def provider_props(provider: Any, props: dict[str, Any]) -> dict[str, Any]:
    return {**props, "__provider": serialize_provider(provider)}


def urn(type_name: str, name: str) -> str:
    return f"urn:pulumi:test::plstest::pulumi-python:dynamic/libvirt-storage:{type_name}::{name}"
