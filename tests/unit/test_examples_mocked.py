"""Every example program builds its resource graph under Pulumi's mocks (no provider code runs):
the arguments our resources receive are well-formed, and what other resources receive from ours
is our outputs, not strings rebuilt by hand. vm-composition's pulumi-libvirt route runs only here:
its provider plugin (pulumi-resource-libvirt) is a binary that cannot be downloaded on our machines."""

from __future__ import annotations

import pathlib
import runpy
from typing import Any

import pulumi
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CEPH_KEY = "AQBzd2ZkAAAAABAA1ZzqJfB4tI7w9pB0ZoUKxA=="


class Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: dict[str, tuple[str, dict[str, Any]]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        outs = dict(inputs)
        if "libvirt-storage" in args.typ:
            assert "__provider" in inputs, "dynamic resources carry their provider"
            outs.update(key=f"/fake/{args.name}", path=f"/fake/{args.name}", uuid=f"uuid-{args.name}",
                        disk_xml=f"<disk>{args.name}</disk>", target_path="/fake")
        self.resources[args.name] = (args.typ, inputs)
        return f"{args.name}-id", outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def run_example(name: str, config: dict[str, str]) -> Mocks:
    mocks = Mocks()
    pulumi.runtime.set_mocks(mocks, project=name, stack="test", preview=False)
    pulumi.runtime.set_all_config({f"{name}:{k}": v for k, v in config.items()},
                                  [f"{name}:cephKey"] if "cephKey" in config else [])

    @pulumi.runtime.test
    def program() -> None:
        runpy.run_path(str(ROOT / "examples" / name / "__main__.py"), run_name="__main__")

    program()
    return mocks


def test_quickstart_backs_the_disk_with_the_base_image() -> None:
    m = run_example("quickstart", {})
    assert m.resources["disk"][1]["backing_store"] == {"path": "/fake/base", "format": "qcow2"}
    assert m.resources["images"][1]["type"] == "dir"


def test_vm_composition_gives_the_vm_our_volume_key_as_its_volume_id() -> None:
    m = run_example("vm-composition", {"route": "pulumi-libvirt"})
    typ, vm = m.resources["vm"]
    assert typ == "libvirt:index/domain:Domain"
    assert vm["disks"] == [{"volumeId": "/fake/disk"}]
    assert m.resources["net"][0] == "libvirt:index/network:Network"


def test_vm_composition_pure_libvirt_route_takes_our_disk_xml() -> None:
    m = run_example("vm-composition", {"route": "libvirt-python"})
    assert m.resources["vm"][1]["disk_xml"] == "<disk>disk</disk>"


def test_ceph_rbd_pool_authenticates_with_the_secrets_uuid_and_the_key_stays_secret() -> None:
    m = run_example("ceph-rbd", {"cephKey": CEPH_KEY, "monitors": "127.0.0.1:6789,127.0.0.2:3300"})
    pool = m.resources["rbd"][1]
    assert pool["source"]["auth"] == {"type": "ceph", "username": "libvirt", "secret_uuid": "uuid-ceph-key"}
    assert pool["source"]["hosts"] == [{"name": "127.0.0.1", "port": 6789}, {"name": "127.0.0.2", "port": 3300}]
    # the key reaches the engine wrapped as a secret (the secret signature), never as a plain string
    value = m.resources["ceph-key"][1]["value"]
    assert value == {pulumi.runtime.rpc._special_sig_key: pulumi.runtime.rpc._special_secret_sig,  # type: ignore
                     "value": CEPH_KEY}


def test_gluster_example_declares_a_mounted_and_a_native_pool() -> None:
    m = run_example("gluster", {"host": "gluster1.example.org", "volume": "gv0"})
    assert m.resources["mounted"][1]["source"]["format"] == "glusterfs"
    assert m.resources["native"][1]["type"] == "gluster"


def test_fs_on_device_never_formats_a_device_with_data() -> None:
    m = run_example("fs-on-device", {"device": "/dev/sdz"})
    assert m.resources["fs"][1]["build_mode"] == "no_overwrite"


def test_encrypted_volume_refers_to_its_passphrase_secret_by_uuid() -> None:
    m = run_example("encrypted-volume", {"passphrase": "correct horse"})
    assert m.resources["secure-disk"][1]["encryption"] == {"format": "luks", "secret_uuid": "uuid-disk-passphrase"}
    assert m.resources["disk-passphrase"][1]["usage_name"] == "/var/lib/libvirt/encrypted-images/vm1-secure.qcow2"
