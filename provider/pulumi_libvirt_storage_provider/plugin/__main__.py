"""`pulumi-resource-libvirt-storage`: serve the provider protocol on 127.0.0.1 and print the port,
as the Pulumi engine expects of a plugin it launches. Arguments (the engine's address, logging
flags) are accepted and not needed."""

from __future__ import annotations

import os

# libvirt forks (ssh for qemu+ssh://, helpers); gRPC's fork handlers then run in the child and write
# their complaints where libvirt reads the transport's stderr, which fails the connection. This
# process never forks gRPC work, so the handlers are switched off before gRPC is loaded.
os.environ["GRPC_ENABLE_FORK_SUPPORT"] = "false"

import signal  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from concurrent import futures  # noqa: E402

import grpc  # noqa: E402
from pulumi.runtime.proto import provider_pb2_grpc  # noqa: E402

from .. import lifeline  # noqa: E402
from .server import LibvirtStorageProvider  # noqa: E402

#: Calls served at once. The engine runs up to `--parallel` steps at a time (16 by default; more
#: with --parallel), each one call here; libvirt's client library is thread-safe.
WORKERS = int(os.environ.get("PULUMI_LIBVIRT_STORAGE_WORKERS", "32"))
_MAX_MESSAGE = 400 * 1024 * 1024


def main(argv: list[str] | None = None) -> int:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=WORKERS),
                         options=[("grpc.max_receive_message_length", _MAX_MESSAGE),
                                  ("grpc.max_send_message_length", _MAX_MESSAGE)])
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(LibvirtStorageProvider(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    lifeline.watch()  # a killed engine leaves its plugins running: exit with it
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
