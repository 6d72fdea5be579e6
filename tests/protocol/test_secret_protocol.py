"""CephSecret over the real gRPC protocol of `python -m pulumi.dynamic`, against the real libvirtd:
the key goes into libvirt and never comes back out, not in any response, not on the server's stderr.

How the key travels: the dynamic server answers Configure with acceptSecrets=False, so the real engine
strips the secret marker and sends the key as a plain string. The provider also accepts the secret
wire form ({sig: secret, value: key}, tests/support/protocol.secret()), and both are tested."""

from __future__ import annotations

from typing import Any, Callable

import libvirt
import pytest
from pulumi.runtime.proto import provider_pb2

from tests.conftest import unique
from tests.protocol.helpers import Client, Leftovers, ceph_key
from tests.support.protocol import UNKNOWN, DynamicProviderProcess, secret

pytestmark = pytest.mark.libvirtd

DIFF_NONE, DIFF_SOME = provider_pb2.DiffResponse.DIFF_NONE, provider_pb2.DiffResponse.DIFF_SOME


def assert_no_key(blob: bytes | str, *keys: tuple[str, bytes]) -> None:
    """Fails without echoing `blob` (which would put the key in the test log)."""
    data = blob.encode() if isinstance(blob, str) else blob
    for text, raw in keys:
        for form, needle in (("base64", text.encode()), ("unpadded base64", text.rstrip("=").encode()),
                             ("raw bytes", raw), ("hex", raw.hex().encode())):
            if needle in data:
                pytest.fail(f"the key appears ({form}) in {len(data)} bytes checked", pytrace=False)


def plain(value: str) -> str:
    return value


WIRE_FORMS = [
    pytest.param(plain, id="stripped-by-the-engine"),
    pytest.param(secret, id="secret-wire-form"),
]


@pytest.mark.parametrize("form", WIRE_FORMS)
def test_ceph_secret_key_goes_into_libvirt_rotates_in_place_and_never_comes_back_out(
        server: DynamicProviderProcess, secrets: Client, conn: libvirt.virConnect, leftovers: Leftovers,
        form: Callable[[str], Any]) -> None:
    assert server.configure_response.acceptSecrets is False  # why the engine sends the key stripped
    key1, raw1 = ceph_key()
    key2, raw2 = ceph_key()
    usage = leftovers.secret(unique("ceph"))
    news = secrets.props(usage_name=usage, value=form(key1), private=False, description="protocol test")

    checked = secrets.check(news)
    assert_no_key(repr(checked.failures), (key1, raw1))
    assert checked.failures == []
    inputs = checked.inputs  # the inputs carry the key: they are the engine's to protect

    id_, outs, resp = secrets.create(inputs)
    assert_no_key(resp.SerializeToString(), (key1, raw1))
    assert set(outs) >= {"uuid", "value_fingerprint", "adopted", "usage_name"} and "value" not in outs
    host = conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_CEPH, usage)
    assert host.UUIDString() == id_ == outs["uuid"]
    assert host.value() == raw1

    # Read (refresh): the same fingerprint, still no key
    read_id, read_outs, resp = secrets.read(id_, outs, inputs)
    assert read_id == id_ and read_outs["value_fingerprint"] == outs["value_fingerprint"]
    assert_no_key(resp.SerializeToString(), (key1, raw1))

    # Diff: same key: nothing; a new key: in place; a key not known yet (preview): a change
    assert secrets.diff(id_, outs, inputs).changes == DIFF_NONE
    inputs2 = secrets.check_ok(secrets.props(usage_name=usage, value=form(key2), private=False,
                                             description="protocol test"), olds=inputs)
    diff = secrets.diff(id_, outs, inputs2)
    assert diff.changes == DIFF_SOME and list(diff.replaces) == []
    diff = secrets.diff(id_, outs, {**inputs, "value": UNKNOWN})
    assert diff.changes == DIFF_SOME and list(diff.replaces) == []
    assert host.value() == raw1

    # Update rotates the key: same secret (uuid), new fingerprint, new bytes in libvirt
    upd_outs, resp = secrets.update(id_, outs, inputs2)
    assert_no_key(resp.SerializeToString(), (key1, raw1), (key2, raw2))
    assert upd_outs["uuid"] == id_
    assert upd_outs["value_fingerprint"] != outs["value_fingerprint"]
    assert set(upd_outs) == set(outs)
    host = conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_CEPH, usage)
    assert host.UUIDString() == id_ and host.value() == raw2

    # Delete undefines
    secrets.delete(id_, upd_outs)
    assert id_ not in {s.UUIDString() for s in conn.listAllSecrets()}

    stderr = server.close()
    assert_no_key(stderr, (key1, raw1), (key2, raw2))


def test_check_failure_on_a_malformed_secret_value_never_quotes_it(secrets: Client) -> None:
    checked = secrets.check(secrets.props(usage_name=unique("ceph"), value=987654321987))
    assert [p for p, _ in checked.failures] == ["value"]
    assert "987654321987" not in repr(checked.failures)


def test_check_failure_on_an_invalid_base64_key_names_value_without_quoting_it(secrets: Client,
                                                                                conn: libvirt.virConnect) -> None:
    usage = unique("ceph")
    checked = secrets.check(secrets.props(usage_name=usage, value="not*base64*key-SECRETPART"))
    assert [p for p, _ in checked.failures] == ["value"]
    assert "SECRETPART" not in repr(checked.failures)
    assert usage not in {s.usageID() for s in conn.listAllSecrets()}
