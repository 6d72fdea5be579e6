"""The provider protocol: `python -m pulumi.dynamic` (through benchmarks.probe) driven over gRPC
the way the engine drives it, one call at a time, every number sent as a float:

- create = Check(olds={}, news) + Create(checked inputs)
- read   = Read(id, outputs)                               (what `pulumi refresh` sends)
- grow   = Check(old inputs, news) + Diff(id, outputs, checked) + Update(id, outputs, checked)
- delete = Delete(id, outputs)
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from tests.support.protocol import to_struct

from .floor import MiB, Phases, volume_names
from .hosts import scratch

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _wire(s: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as the engine holds it between calls: plain JSON values, numbers as floats."""
    return dict(json_format.MessageToDict(s))


class ProbedProvider:
    """`python -u -m benchmarks.probe`: the pulumi.dynamic server with counters (see probe.py)."""

    def __init__(self, config: dict[str, str], *, profile: bool = False) -> None:
        self.probe_dir = tempfile.mkdtemp(prefix="probe-", dir=scratch())
        env = {**os.environ, "PLS_BENCH_PROBE_DIR": self.probe_dir, "PLS_BENCH_PROFILE": "1" if profile else "0",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self.proc = subprocess.Popen([sys.executable, "-u", "-m", "benchmarks.probe"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env, cwd=str(ROOT))
        self._stderr: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        stderr = self.proc.stderr
        threading.Thread(target=lambda: self._stderr.extend(iter(stderr.readline, "")), daemon=True).start()
        line = self.proc.stdout.readline().strip()
        if not line.isdigit():
            self.proc.kill()
            raise RuntimeError(f"the provider process did not print its port: {line!r}\n{''.join(self._stderr)}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        cfg = struct_pb2.Struct()
        cfg.update(config)
        self.stub.Configure(provider_pb2.ConfigureRequest(args=cfg, acceptSecrets=True, acceptResources=True))

    def close(self) -> dict[str, Any]:
        """Stop it as the engine does (SIGINT) and return its probe report."""
        self.channel.close()
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        report_path = pathlib.Path(self.probe_dir) / f"{self.proc.pid}.json"
        if not report_path.exists():
            raise RuntimeError(f"the provider process wrote no report:\n{''.join(self._stderr)}")
        report: dict[str, Any] = json.loads(report_path.read_text())
        return report


@dataclass
class ProtocolRun:
    phases: Phases
    report: dict[str, Any] = field(default_factory=dict)


def run(provider: Any, type_name: str, pool: str, n: int, uri: str, *, fmt: str | None = "qcow2",
        capacity: int = 64 * MiB, grown: int = 128 * MiB, profile: bool = False) -> ProtocolRun:
    server = ProbedProvider({"libvirt:uri": uri}, profile=profile)
    provider_str = serialize_provider(provider)
    stub = server.stub
    out = Phases(n)

    def urn(name: str) -> str:
        return f"urn:pulumi:bench::plsbench::pulumi-python:dynamic/libvirt-storage:{type_name}::{name}"

    def news(name: str, cap: int) -> dict[str, Any]:
        props: dict[str, Any] = {"pool": pool, "name": name, "capacity": cap, "__provider": provider_str,
                                 "__name_prefix": name}
        if fmt:
            props["format"] = fmt
        return props

    try:
        names = volume_names(n, fmt)
        made: list[tuple[str, dict[str, Any], dict[str, Any]]] = []  # (id, inputs, outputs)
        t = time.perf_counter()
        for name in names:
            checked = stub.Check(provider_pb2.CheckRequest(urn=urn(name), olds=to_struct({}),
                                                           news=to_struct(news(name, capacity))))
            if checked.failures:
                raise RuntimeError(f"Check failed: {checked.failures}")
            inputs = _wire(checked.inputs)
            created = stub.Create(provider_pb2.CreateRequest(urn=urn(name), properties=to_struct(inputs)))
            made.append((created.id, inputs, _wire(created.properties)))
        out.seconds["create"] = time.perf_counter() - t

        t = time.perf_counter()
        for (id_, inputs, outs), name in zip(made, names):
            req = provider_pb2.ReadRequest(id=id_, urn=urn(name), properties=to_struct(outs))
            req.inputs.CopyFrom(to_struct(inputs))
            read = stub.Read(req)
            if read.id != id_:
                raise RuntimeError(f"Read of {name} returned id {read.id!r}")
        out.seconds["read"] = time.perf_counter() - t

        t = time.perf_counter()
        grown_made = []
        for (id_, inputs, outs), name in zip(made, names):
            checked = stub.Check(provider_pb2.CheckRequest(urn=urn(name), olds=to_struct(inputs),
                                                           news=to_struct(news(name, grown))))
            if checked.failures:
                raise RuntimeError(f"Check failed: {checked.failures}")
            new_inputs = _wire(checked.inputs)
            diff = stub.Diff(provider_pb2.DiffRequest(id=id_, urn=urn(name), olds=to_struct(outs),
                                                      news=to_struct(new_inputs)))
            if diff.changes != provider_pb2.DiffResponse.DIFF_SOME or list(diff.replaces):
                raise RuntimeError(f"Diff of {name}: expected an update in place, got {diff}")
            updated = stub.Update(provider_pb2.UpdateRequest(id=id_, urn=urn(name), olds=to_struct(outs),
                                                             news=to_struct(new_inputs)))
            grown_made.append((id_, new_inputs, _wire(updated.properties)))
        out.seconds["grow"] = time.perf_counter() - t

        t = time.perf_counter()
        for (id_, _inputs, outs), name in zip(grown_made, names):
            stub.Delete(provider_pb2.DeleteRequest(id=id_, urn=urn(name), properties=to_struct(outs)))
        out.seconds["delete"] = time.perf_counter() - t
    finally:
        report = server.close()
    return ProtocolRun(out, report)
