"""A provider plugin that does no libvirt work, for the engine's own share of a deployment through
the plugin front end (the counterpart of benchmarks/trivial.py for the dynamic one).

It serves the same package (same schema, same type tokens) on the same gRPC server set-up as
`pulumi-resource-libvirt-storage` (plugin/__main__.py), so the engine, the generated SDK and the
program do exactly the same work; Check, Diff, Create, Read, Update and Delete only echo inputs and
add outputs of the same keys and about the same size as a real volume's.

    python -m benchmarks.probe --target benchmarks.trivial_plugin   (as benchmarks/engine.py runs it)
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import threading
from concurrent import futures
from typing import Any

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import grpc  # noqa: E402
from google.protobuf import empty_pb2  # noqa: E402
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc  # noqa: E402

from pulumi_libvirt_storage_provider import __version__  # noqa: E402
from pulumi_libvirt_storage_provider.package_schema import package_schema_json  # noqa: E402
from pulumi_libvirt_storage_provider.plugin.wire import decode, encode  # noqa: E402

_DISK_XML = ("<disk type=\"file\" device=\"disk\">\n  <driver name=\"qemu\" type=\"qcow2\"/>\n"
             "  <source file=\"{path}\"/>\n  <target dev=\"vda\" bus=\"virtio\"/>\n</disk>\n")


def _outputs(inputs: dict[str, Any]) -> dict[str, Any]:
    path = f"/var/lib/libvirt/images/{inputs.get('pool')}/{inputs.get('name')}"
    return {**inputs, "key": path, "path": path, "type": "file", "physical": 196616,
            "currentCapacity": inputs.get("capacity"), "currentAllocation": 196608,
            "currentFormat": inputs.get("format"), "poolType": "dir",
            "disk": {"type": "file", "driverType": inputs.get("format") or "raw", "file": path},
            "diskXml": _DISK_XML.format(path=path), "adopted": False}


class TrivialPlugin(provider_pb2_grpc.ResourceProviderServicer):
    def GetPluginInfo(self, request: Any, context: Any) -> Any:
        return plugin_pb2.PluginInfo(version=__version__)

    def GetSchema(self, request: Any, context: Any) -> Any:
        return provider_pb2.GetSchemaResponse(schema=package_schema_json())

    def CheckConfig(self, request: Any, context: Any) -> Any:
        return provider_pb2.CheckResponse(inputs=request.news)

    def DiffConfig(self, request: Any, context: Any) -> Any:
        return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE)

    def Configure(self, request: Any, context: Any) -> Any:
        return provider_pb2.ConfigureResponse(acceptSecrets=True, supportsPreview=True)

    def Cancel(self, request: Any, context: Any) -> Any:
        return empty_pb2.Empty()

    def Check(self, request: Any, context: Any) -> Any:
        return provider_pb2.CheckResponse(inputs=request.news)

    def Diff(self, request: Any, context: Any) -> Any:
        olds, _ = decode(request.old_inputs)
        news, _ = decode(request.news)
        changed = sorted(k for k, v in news.items() if olds.get(k) != v)
        return provider_pb2.DiffResponse(
            changes=provider_pb2.DiffResponse.DIFF_SOME if changed else provider_pb2.DiffResponse.DIFF_NONE,
            diffs=changed, detailedDiff={k: provider_pb2.PropertyDiff(kind=provider_pb2.PropertyDiff.UPDATE,
                                                                       inputDiff=True) for k in changed},
            hasDetailedDiff=True)

    def Create(self, request: Any, context: Any) -> Any:
        props, secret = decode(request.properties)
        outs = _outputs(props)
        return provider_pb2.CreateResponse(id=hashlib.sha1(outs["path"].encode()).hexdigest(),
                                           properties=encode(outs, secret))

    def Read(self, request: Any, context: Any) -> Any:
        return provider_pb2.ReadResponse(id=request.id, properties=request.properties, inputs=request.inputs)

    def Update(self, request: Any, context: Any) -> Any:
        news, secret = decode(request.news)
        return provider_pb2.UpdateResponse(properties=encode(_outputs(news), secret))

    def Delete(self, request: Any, context: Any) -> Any:
        return empty_pb2.Empty()


def main() -> int:
    from pulumi_libvirt_storage_provider.plugin.__main__ import WORKERS
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=WORKERS))
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(TrivialPlugin(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
