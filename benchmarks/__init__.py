"""Benchmarks: what a deployment costs, measured against the libvirt floor.

`make bench` (or `.venv/bin/python -m benchmarks.run --help`) runs the same volume operations
(create, read, grow, delete) four ways and prints them side by side:

- the floor: libvirt-python in one process, and a `virsh` process per operation;
- the provider protocol: `python -m pulumi.dynamic` driven over gRPC as the engine drives it;
- the real engine: `pulumi up / preview / refresh / up (grow) / destroy` of a stack of N volumes;
- the engine's own share: the same stacks and calls with a trivial dynamic provider that does
  no libvirt work (benchmarks/trivial.py), so that our cost is the difference;
- the peers, opt-in: OpenTofu driving terraform-provider-libvirt v0.8.3 (benchmarks/peer.py), and
  pulumi-libvirt's own Volume, that provider bridged, through the same engine
  (benchmarks/pulumi_libvirt_peer.py).

Every pool it makes is named `plstest-bench-*` and is removed at the end, even on failure.
"""
