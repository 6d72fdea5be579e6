"""A dynamic provider that does no libvirt work, for the engine's own share of a deployment.

It takes the same inputs as StorageVolume and returns outputs of the same keys and about the same
size, so that the engine, the program and the gRPC server move the same amount of data; it only
skips what our provider does (checking, libvirt). Defined in an importable module so that dill
pickles it by reference, as ours is.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

_INPUTS = ("pool", "pool_type", "name", "uri", "capacity", "allocation", "allow_shrink", "format", "backing_store",
           "clone_from", "upload_from", "permissions", "qcow2", "wipe_on_destroy", "adopt")
_OUTPUTS = ("key", "path", "type", "physical", "current_capacity", "current_allocation", "current_format", "disk",
            "disk_xml", "adopted")
_DISK_XML = ("<disk type=\"file\" device=\"disk\">\n  <driver name=\"qemu\" type=\"qcow2\"/>\n"
             "  <source file=\"{path}\"/>\n  <target dev=\"vda\" bus=\"virtio\"/>\n</disk>\n")


def _outputs(inputs: dict[str, Any]) -> dict[str, Any]:
    path = f"/var/lib/libvirt/images/{inputs.get('pool')}/{inputs.get('name')}"
    capacity = inputs.get("capacity")
    return {**{k: inputs.get(k) for k in _INPUTS if not k.startswith("__")},
            "key": path, "path": path, "type": "file", "physical": 196616, "current_capacity": capacity,
            "current_allocation": 196608, "current_format": inputs.get("format"), "pool_type": "dir",
            "disk": {"type": "file", "driver_type": inputs.get("format") or "raw", "file": path},
            "disk_xml": _DISK_XML.format(path=path), "adopted": False}


class TrivialVolumeProvider(ResourceProvider):
    serialize_as_secret_always = False

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult({k: v for k, v in news.items() if v is not None}, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k in _INPUTS if news.get(k) is not None and olds.get(k) != news.get(k)]
        return DiffResult(changes=bool(changed), replaces=[], stables=[], delete_before_replace=True)

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = _outputs(props)
        return CreateResult(hashlib.sha1(outs["path"].encode()).hexdigest(), outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, {k: v for k, v in props.items() if k != "__provider"})

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(_outputs(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


class TrivialVolume(pulumi.dynamic.Resource, module="bench", name="TrivialVolume"):
    def __init__(self, resource_name: str, opts: pulumi.ResourceOptions | None = None, **inputs: Any) -> None:
        props: dict[str, Any] = {k: inputs.get(k) for k in _INPUTS}
        props.update({k: None for k in _OUTPUTS})
        props["__name_prefix"] = resource_name
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(delete_before_replace=True))
        super().__init__(TrivialVolumeProvider(), resource_name, props, opts)
