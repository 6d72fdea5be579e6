"""Issue 20, items 10 and 9c, in the core: a URI that would run a program or weaken the host check is
refused at check (a failure on `uri` that says why and how to allow it) and at the one place every
connection of a resource is resolved (Context.resolve), unless the stack allows such URIs; an unknown
default URI stays unknown and reaches no host. Offline: libvirt.open must never be called here."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_libvirt_storage_provider.ops import connection
from pulumi_libvirt_storage_provider.ops.errors import LibvirtOpError
from pulumi_libvirt_storage_provider.resources import POOLS, SECRETS, VOLUMES, Context
from pulumi_libvirt_storage_provider.spec.fields import Unknown

EXT = "qemu+ext:///system?command=/tmp/plstest-relay"
NO_VERIFY = "qemu+ssh://root@kvm1/system?no_verify=1"
ALLOW = "pulumi config set libvirt-storage:allowUnsafeUris true"
POOL = {"name": "p", "type": "dir", "target": {"path": "/srv/p"}}
VOL = {"pool": "p", "name": "v", "capacity": "1GiB", "pool_type": "dir"}
SECRET = {"usage_name": "plstest-u", "value": "c2VjcmV0"}


pytestmark = pytest.mark.usefixtures("no_connection")  # (tests/unit/conftest.py)


def failures(logic: Any, raw: dict[str, Any], ctx: Context) -> dict[str, str]:
    return {f.prop: f.reason for f in logic.check({}, raw, ctx).failures}


@pytest.mark.parametrize("logic, raw", [(POOLS, POOL), (VOLUMES, VOL), (SECRETS, SECRET)])
def test_check_refuses_a_resource_uri_that_runs_a_program(logic: Any, raw: dict[str, Any]) -> None:
    found = failures(logic, {**raw, "uri": EXT}, Context())
    assert set(found) == {"uri"}
    assert "this resource's uri" in found["uri"] and "ext" in found["uri"] and ALLOW in found["uri"]


def test_check_refuses_a_uri_that_skips_the_host_key_check() -> None:
    found = failures(POOLS, {**POOL, "uri": NO_VERIFY}, Context())
    assert "no_verify" in found["uri"] and ALLOW in found["uri"]


def test_check_refuses_a_stack_default_uri_naming_its_config_key() -> None:
    found = failures(POOLS, POOL, Context(default_uri=EXT))
    assert "the stack config libvirt:uri" in found["uri"] and ALLOW in found["uri"]


def test_check_accepts_them_when_the_stack_allows_them_and_a_plain_ssh_uri_always() -> None:
    assert failures(POOLS, {**POOL, "uri": EXT}, Context(allow_unsafe_uris=True)) == {}
    assert failures(POOLS, POOL, Context(default_uri=NO_VERIFY, allow_unsafe_uris=True)) == {}
    assert failures(POOLS, {**POOL, "uri": "qemu+ssh://root@kvm1/system?keyfile=/k&no_tty=1"}, Context()) == {}


def test_resolve_refuses_before_any_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every connection of a resource (create, read, previews' same-host checks and predictions) takes
    its URI from Context.resolve: a refused URI is never opened."""
    with pytest.raises(LibvirtOpError, match="libvirt-storage:allowUnsafeUris"):
        Context().resolve(EXT)
    with pytest.raises(LibvirtOpError, match="the stack config libvirt:uri"):
        Context(default_uri=EXT).resolve(None)
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", NO_VERIFY)
    with pytest.raises(LibvirtOpError, match="LIBVIRT_DEFAULT_URI"):
        Context().resolve(None)
    assert Context(allow_unsafe_uris=True).resolve(EXT) == EXT
    with pytest.raises(LibvirtOpError, match="libvirt-storage:allowUnsafeUris"):
        POOLS.call({"uri": EXT}, Context(), lambda conn: None)


def test_an_unknown_default_uri_stays_unknown_and_connects_nowhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin's provider uri may depend on another resource's output: it is not the local default."""
    monkeypatch.delenv("LIBVIRT_DEFAULT_URI", raising=False)
    ctx = Context(default_uri=Unknown())
    resolved = ctx.resolve(None)
    assert resolved not in ("", "qemu:///system")
    assert ctx.resolve("qemu:///system") == "qemu:///system"  # a resource's own uri still counts
    with pytest.raises(LibvirtOpError, match="not known"):
        POOLS.call({}, ctx, lambda conn: None)
    with pytest.raises(LibvirtOpError, match="not known"):
        connection.effective_uri(resolved)
    assert failures(POOLS, POOL, ctx) == {}  # nothing to refuse (yet): Check says so once it is known
    # a volume given its pool by name: the preview predicts nothing instead of reading a local pool
    assert "path" not in VOLUMES.predict({**VOL, "pool_type": None}, {}, ctx)
