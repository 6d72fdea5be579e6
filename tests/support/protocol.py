"""Drive `python -m pulumi.dynamic` over gRPC as the engine does, with pulumi's own stubs."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import threading
from typing import Any

import grpc
from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

UNKNOWN = rpc.UNKNOWN  # the sentinel the engine sends for unknown values during preview
SECRET_SIG = rpc._special_secret_sig  # type: ignore[attr-defined]


def secret(value: Any) -> dict[str, Any]:
    """A secret value in its wire form. Note: the real engine sends this form only to providers that
    answered Configure with acceptSecrets=True; pulumi.dynamic answers False, so the engine strips
    secrets and the provider sees plain values (see FACTS.md)."""
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


class ProviderProcess:
    """A provider server the engine would start (`argv`), driven over gRPC with pulumi's own stubs.

    stderr is drained by a thread from the start (a full pipe would block the server) and kept:
    `stderr_text()` so far, or everything from `close()`, which may be called more than once."""

    what = "the provider"

    def __init__(self, argv: list[str], config: dict[str, Any] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})
        self._stderr: list[str] = []
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()
        line = self.proc.stdout.readline().strip()
        if not line.isdigit():
            self.close()
            raise RuntimeError(f"{self.what} did not print its port (got {line!r}):\n{self.stderr_text()}")
        port = int(line)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        cfg = struct_pb2.Struct()
        cfg.update(config or {})
        self._closed = False
        try:
            self.configure_response = self.stub.Configure(
                provider_pb2.ConfigureRequest(args=cfg, acceptSecrets=True, acceptResources=True))
        except BaseException:
            self.close()
            raise


    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for chunk in iter(self.proc.stderr.readline, ""):
            self._stderr.append(chunk)

    def stderr_text(self) -> str:
        return "".join(self._stderr)

    def close(self) -> str:
        """Stop the server; returns all it wrote to stderr."""
        if getattr(self, "_closed", False):
            return self.stderr_text()
        self._closed = True
        if hasattr(self, "channel"):
            self.channel.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._drain.join(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.stderr_text()


class DynamicProviderProcess(ProviderProcess):
    """`python -u -m pulumi.dynamic`, the process the engine starts for dynamic resources. (The engine
    offers secrets; the dynamic server answers acceptSecrets=False, after which the engine strips
    secrets from what it sends.)"""

    what = "pulumi.dynamic"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__([sys.executable, "-u", "-m", "pulumi.dynamic"], config)


class PluginProcess(ProviderProcess):
    """`pulumi-resource-libvirt-storage`, the provider plugin, as the engine launches it."""

    what = "pulumi-resource-libvirt-storage"

    def __init__(self, config: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> None:
        binary = pathlib.Path(sys.executable).parent / "pulumi-resource-libvirt-storage"
        super().__init__([str(binary), "127.0.0.1:1"], config, env)


def provider_props(provider: Any, props: dict[str, Any]) -> dict[str, Any]:
    return {**props, "__provider": serialize_provider(provider)}


def urn(type_name: str, name: str) -> str:
    return f"urn:pulumi:test::plstest::pulumi-python:dynamic/libvirt-storage:{type_name}::{name}"
