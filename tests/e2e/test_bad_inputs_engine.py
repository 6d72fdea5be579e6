"""A sample of the bad-input corpus (tests/protocol/test_bad_inputs.py) through the real engine on
both front ends: `pulumi preview` fails, names the property and the way out, and changes nothing on
the host. (The engine stops at the first failed check, so one bad resource per program.)"""

from __future__ import annotations

import pytest

from tests.protocol.test_bad_inputs import host_snapshot

pytestmark = [pytest.mark.engine, pytest.mark.both_frontends]

HEAD = "import pulumi\nfrom pulumi_libvirt_storage import CephSecret, StoragePool, StorageVolume\n"
# resource declaration, a word of the property as each front end spells it, a word of the way out
SAMPLE = {
    "pool-path": ('StoragePool("pool", name="plstest-bad-pool", type="dir", target={"path": "relative/images"})',
                  "path", "absolute path"),
    "volume-capacity": ('StorageVolume("v", pool="default", pool_type="dir", name="plstest-bad.qcow2", '
                        'format="qcow2", capacity="lots")', "capacity", "512MiB"),
    "volume-cluster": ('StorageVolume("v", pool="default", pool_type="dir", name="plstest-bad.qcow2", '
                       'format="qcow2", capacity="1GiB", qcow2={"cluster_size": 3})', "cluster", "power of two"),
    "secret-value": ('CephSecret("key", usage_name="client.plstest-bad", value="not base64!!")', "value",
                     "ceph auth get-key"),
}


@pytest.mark.parametrize("case", sorted(SAMPLE))
def test_a_preview_of_a_bad_input_fails_naming_the_property_and_the_host_is_unchanged(case, project, conn) -> None:
    declaration, prop, word = SAMPLE[case]
    before = host_snapshot(conn)
    p = project(HEAD + declaration + "\n")
    proc = p.preview(check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert any(prop in line.lower() and word in line for line in output.splitlines()), \
        f"no failure naming {prop!r} with {word!r}:\n{output}"
    assert "Traceback" not in output, "errors come without a traceback, on both front ends"
    assert host_snapshot(conn) == before, "a failed preview changed the host"
    p.destroyed = True  # nothing was made
