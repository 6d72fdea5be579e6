"""`python -m tests.support.fork_connects FRONT_END URI N`: N connects over a forking libvirt transport
(qemu+ssh://) beside a gRPC server kept busy by 4 client threads, in a process set up as the front
end's provider process is. Prints one JSON line: connects, failures (the first few messages), and the
gRPC calls served meanwhile.

- `dynamic`: gRPC's fork support stays as pulumi.dynamic's host has it (on, grpcio's default); each
  connect goes the way the dynamic front end sends it, through its worker process (dynamic/worker.py).
- `inprocess`: the same process, but libvirt forks in it directly: what the dynamic front end did
  before the worker (for the measurement of the cause, not for a test that must pass).
- `plugin`: the process turns gRPC's fork support off as the plugin's __main__ does, by importing it
  first; connects happen in-process, as in the plugin."""

from __future__ import annotations

import sys

FRONT_END, URI, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
if FRONT_END == "plugin":
    import pulumi_libvirt_storage_provider.plugin.__main__  # noqa: F401  (its environment, before gRPC)

import json  # noqa: E402
import os  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from concurrent import futures  # noqa: E402

import grpc  # noqa: E402

from pulumi_libvirt_storage_provider.dynamic import worker  # noqa: E402
from pulumi_libvirt_storage_provider.ops import connection  # noqa: E402


#: Connects at a time (each one its own fork of ssh, as when a deployment opens several hosts at once).
CONCURRENCY = int(os.environ.get("PLSTEST_CONCURRENCY", "8"))


def main() -> None:
    fork_support = os.environ.get("GRPC_ENABLE_FORK_SUPPORT", "").lower() not in ("0", "false", "no")
    assert fork_support == (FRONT_END != "plugin"), (FRONT_END, os.environ.get("GRPC_ENABLE_FORK_SUPPORT"))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    echo = grpc.unary_unary_rpc_method_handler(lambda request, _context: request)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("plstest.Echo", {"Echo": echo}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    stop = threading.Event()
    calls = [0]

    def busy() -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary("/plstest.Echo/Echo")
            while not stop.is_set():
                call(b"x")
                calls[0] += 1

    threads = [threading.Thread(target=busy) for _ in range(int(os.environ.get("PLSTEST_BUSY_THREADS", "4")))]
    for t in threads:
        t.start()
    failed: list[str] = []
    started = time.monotonic()

    def connect(i: int) -> None:
        try:
            if FRONT_END == "dynamic":
                worker.worker().call("pulumi_libvirt_storage_provider.ops.connection:probe", URI)
            else:
                connection.probe(URI)
        except connection.LibvirtOpError as e:
            failed.append(f"connect {i}: {e}")

    try:
        with futures.ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            list(pool.map(connect, range(N)))
    finally:
        stop.set()
        for t in threads:
            t.join()
        server.stop(None)
    print(json.dumps({"front_end": FRONT_END, "connects": N, "failed": len(failed), "first_failures": failed[:5],
                      "grpc_calls": calls[0], "seconds": round(time.monotonic() - started, 1)}))


if __name__ == "__main__":
    main()
