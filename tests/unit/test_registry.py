"""The registry of resources (spec/registry.py) is the one list: the core, the dynamic package, the
package schema, the SDK, the guard (test_guard.py) and migrate-state all follow it."""

from __future__ import annotations

import importlib
import inspect
import json
import pathlib
import pkgutil
import subprocess
import sys

from pulumi.dynamic import ResourceProvider

import pulumi_libvirt_storage_provider.dynamic as dynamic_package
from pulumi_libvirt_storage_provider.package_schema import package_schema
from pulumi_libvirt_storage_provider.resources import LOGIC
from pulumi_libvirt_storage_provider.spec.registry import RESOURCES, resource_of_type
from pulumi_libvirt_storage_provider.spec.secret import SECRET_KINDS

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_every_class_path_imports_to_a_provider_of_the_registered_schema() -> None:
    """The class paths are in users' states: each must keep importing to its resource's provider."""
    for r in RESOURCES.values():
        cls = getattr(importlib.import_module(r.provider_module), r.provider_class_name)
        assert issubclass(cls, ResourceProvider), r.provider_class
        assert cls.logic.schema is r.schema, r.provider_class
        assert getattr(dynamic_package, r.provider_class_name) is cls  # (the SDK imports it from the package)


def test_the_dynamic_package_defines_no_provider_the_registry_lacks() -> None:
    defined = set()
    for module in pkgutil.iter_modules(dynamic_package.__path__, dynamic_package.__name__ + "."):
        for name, cls in inspect.getmembers(importlib.import_module(module.name), inspect.isclass):
            if issubclass(cls, ResourceProvider) and cls.__module__ == module.name and hasattr(cls, "logic"):
                defined.add(f"{module.name}.{name}")
    assert defined == {r.provider_class for r in RESOURCES.values()}


def test_the_core_serves_the_registry_in_its_order() -> None:
    assert list(LOGIC) == list(RESOURCES)
    assert all(LOGIC[name].schema is r.schema for name, r in RESOURCES.items())
    assert set(SECRET_KINDS) <= set(RESOURCES)


def test_the_package_schema_and_the_sdks_have_every_registered_resource() -> None:
    assert list(package_schema()["resources"]) == [r.plugin_type for r in RESOURCES.values()]
    for r in RESOURCES.values():
        assert (ROOT / "sdk/python/pulumi_libvirt_storage" / f"{r.sdk_module}.py").is_file(), r.name
        assert (ROOT / "sdk/python-native/pulumi_libvirt_storage_native" / f"{r.sdk_module}.py").is_file(), r.name


def test_type_tokens_of_both_front_ends_and_nothing_else_name_a_resource() -> None:
    for r in RESOURCES.values():
        assert resource_of_type(r.dynamic_type) is r and resource_of_type(r.plugin_type) is r
        assert resource_of_type(f"libvirt:index/x:{r.name}") is None
    assert resource_of_type("pulumi:pulumi:Stack") is None


def test_migrate_state_runs_where_libvirt_cannot_be_imported(tmp_path) -> None:
    """Like the guard, migrate-state rewrites a document: it reads the registry, never resources/."""
    urn = "urn:pulumi:dev::proj::pulumi-python:dynamic/libvirt-storage:TlsSecret::tls"
    export = {"version": 3, "deployment": {"resources": [
        {"urn": "urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev", "type": "pulumi:pulumi:Stack"},
        {"urn": urn, "type": "pulumi-python:dynamic/libvirt-storage:TlsSecret", "id": "u",
         "inputs": {"usage_name": "vm-tls", "__provider": "x"}, "outputs": {"usage_name": "vm-tls"}}]}}
    before = tmp_path / "before.json"
    before.write_text(json.dumps(export))
    program = ("import sys; sys.modules['libvirt'] = None\n"  # `import libvirt` now raises ImportError
               "from pulumi_libvirt_storage_provider.cli import main\n"
               f"sys.exit(main(['migrate-state', {str(before)!r}]))\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    moved = json.loads(done.stdout)["deployment"]["resources"]
    tls = next(r for r in moved if r["type"] == "libvirt-storage:index:TlsSecret")
    assert tls["inputs"] == {"usageName": "vm-tls"} and tls["urn"].endswith("libvirt-storage:index:TlsSecret::tls")
