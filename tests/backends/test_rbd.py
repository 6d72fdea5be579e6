"""rbd pools on a real one-node Ceph cluster (tests/backends/conftest.py: `ceph`).

The whole rbd workflow: a CephSecret holding the client's cephx key, an rbd StoragePool that
authenticates with it, raw volumes created, grown, cloned and deleted, the key rotated in Ceph and
in the CephSecret in place, and a volume's `disk_xml` attached to a running QEMU domain. Once
through the provider classes (as the engine calls them), once through `pulumi up / preview /
destroy`, with the state and every line of output searched for the key.

Every check looks at what the host and the cluster really have: libvirt, `virsh`, `rbd info`,
`rbd ls`, `rbd status` (QEMU's watch on an image it opened), `qemu-io` reading the bytes.
Quirks of libvirt 9.0's rbd backend the assertions take into account: a volume's allocation is
reported equal to its capacity; a clone is a copy-on-write child of a snapshot libvirt takes of
the source (`libvirt-NNNN`), so the source cannot go while the clone lives.
"""

from __future__ import annotations

import base64
import contextlib
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import libvirt
import pytest
from lxml import etree

from pulumi_libvirt_storage_provider.dynamic import (CephSecretProvider, StoragePoolProvider,
                                                     StorageVolumeProvider)
from tests.conftest import NAMED_BY_THIS_TEST, URI, unique
from tests.support.engine import Project

from .conftest import CephCluster

pytestmark = pytest.mark.libvirtd

MiB = 1024**2

# -- names, and a guard narrowed to what this test made ---------------------------------------

@pytest.fixture(autouse=True)
def nothing_left_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    """No domain, pool or secret this test named is left in libvirt, and no image in Ceph.
    Runs after every other fixture of the test has torn down; whatever is still there is removed
    (so that one failure does not spill into the next test) and fails the test. Narrowed to this
    test's names: other sessions share this libvirtd and the "plstest-" prefix."""
    NAMED_BY_THIS_TEST.clear()
    conn = request.getfixturevalue("conn")
    cluster = request.getfixturevalue("ceph") if "ceph" in request.fixturenames else None
    yield
    left = sweep(conn, cluster, NAMED_BY_THIS_TEST)
    if left:
        pytest.fail(f"left behind (removed now): {sorted(left)}")


def sweep(conn: libvirt.virConnect, cluster: CephCluster | None, names: set[str]) -> list[str]:
    """Remove the domains, pools, secrets and rbd images called `names`; what was removed."""
    removed = []
    for dom in conn.listAllDomains():
        if dom.name() in names:
            with contextlib.suppress(libvirt.libvirtError):
                if dom.isActive():
                    dom.destroy()
            dom.undefine()
            removed.append(f"domain:{dom.name()}")
    for pool in conn.listAllStoragePools():
        if pool.name() in names:
            if pool.isActive():
                pool.destroy()
            if pool.isPersistent():
                pool.undefine()
            removed.append(f"pool:{pool.name()}")
    for secret in conn.listAllSecrets():
        if (secret.usageID() or "") in names:
            secret.undefine()
            removed.append(f"secret:{secret.usageID()}")
    if cluster is not None:
        for _ in range(3):  # clones go before the images they were cloned from
            for image in sorted(cluster.images() & names):
                with contextlib.suppress(AssertionError):
                    for snap in cluster.snapshots(image):
                        if snap.get("protected") == "true":
                            cluster.rbd("snap", "unprotect", f"{cluster.pool}/{image}@{snap['name']}")
                    cluster.rbd("snap", "purge", f"{cluster.pool}/{image}")
                    cluster.rbd("rm", f"{cluster.pool}/{image}")
                    removed.append(f"rbd image:{cluster.pool}/{image}")
        removed += [f"rbd image (could not remove):{cluster.pool}/{i}" for i in cluster.images() & names]
    return removed


# -- looking at the host ----------------------------------------------------------------------

def virsh(*args: str) -> str:
    done = subprocess.run(["virsh", "-c", URI, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"virsh {' '.join(args)} failed: {done.stderr.strip()}"
    return done.stdout


def qemu_io(cluster: CephCluster, image: str, *commands: str) -> subprocess.CompletedProcess[str]:
    """qemu-io on the image through QEMU's own rbd driver, as client.admin (keyring from the
    cluster's ceph.conf, not from the command line)."""
    argv = ["qemu-io", "-f", "raw", f"rbd:{cluster.pool}/{image}:conf={cluster.conf}:id=admin"]
    for command in commands:
        argv += ["-c", command]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def domain_xml(name: str, disk_xml: str) -> str:
    """A small QEMU guest, software-emulated, with nothing to boot: the firmware keeps retrying
    the disk, so the domain stays running. Enough for QEMU to open the disk through librbd."""
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
{disk_xml}
  </devices>
</domain>"""


@contextlib.contextmanager
def running_domain(conn: libvirt.virConnect, disk_xml: str) -> Iterator[libvirt.virDomain]:
    """Define and start a domain with this disk; destroyed and undefined at the end."""
    name = unique("dom")
    dom = conn.defineXML(domain_xml(name, disk_xml))
    try:
        dom.create()
        yield dom
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            if dom.isActive():
                dom.destroy()
        dom.undefine()


def assert_domain_runs_on_the_image(conn: libvirt.virConnect, cluster: CephCluster, disk_xml: str,
                                    image: str) -> None:
    """The disk element attaches: QEMU starts, shows the rbd source, and has the image open."""
    disk = etree.fromstring(disk_xml.encode())
    assert disk.get("type") == "network" and disk.find("source").get("protocol") == "rbd"
    assert disk.find("auth/secret").get("type") == "ceph"
    assert not cluster.watchers(image)
    with running_domain(conn, disk_xml) as dom:
        state, _reason = dom.state()
        assert state == libvirt.VIR_DOMAIN_RUNNING
        assert virsh("domstate", dom.name()).strip() == "running"
        blocks = [line.split() for line in virsh("domblklist", dom.name()).splitlines()[2:] if line.strip()]
        assert ["vda", f"{cluster.pool}/{image}"] in blocks, blocks
        live = etree.fromstring(dom.XMLDesc(0).encode())
        source = live.find("devices/disk/source")
        assert source.get("protocol") == "rbd" and source.get("name") == f"{cluster.pool}/{image}"
        assert source.find("host").get("name") == cluster.mon_host
        # QEMU's librbd, authenticated with the key from the libvirt secret, holds a watch on the image.
        assert cluster.watchers(image), "QEMU does not have the image open"
    # QEMU closes the image when it stops; a watch it could not close would expire in 30 s.
    deadline = time.monotonic() + 45
    while cluster.watchers(image):
        assert time.monotonic() < deadline, f"{image} is still open after the domain stopped"
        time.sleep(0.5)


def live_config_opts(pool: libvirt.virStoragePool) -> etree._Element:
    """The pool's <rbd:config_opts> element, as libvirt holds it."""
    found = etree.fromstring(pool.XMLDesc(0).encode()).find(
        "{http://libvirt.org/schemas/storagepool/rbd/1.0}config_opts")
    assert found is not None, "the pool has no rbd:config_opts"
    return found


# -- driving the providers as the engine does -------------------------------------------------

@dataclass
class Created:
    """One resource as the engine holds it: id, the checked inputs, the outputs."""

    provider: Any
    id: str
    inputs: dict[str, Any]
    outs: dict[str, Any]
    deleted: bool = False


def checked(provider: Any, raw: dict[str, Any], olds: dict[str, Any] | None = None) -> dict[str, Any]:
    result = provider.check(olds or {}, raw)
    assert not result.failures, [(f.property, f.reason) for f in result.failures]
    return result.inputs


@dataclass
class RbdStack:
    """CephSecret, rbd StoragePool and StorageVolumes made through the providers. Whatever a test
    does not delete itself is deleted at teardown, newest first."""

    conn: libvirt.virConnect
    ceph: CephCluster
    secrets: CephSecretProvider = field(default_factory=CephSecretProvider)
    pools: StoragePoolProvider = field(default_factory=StoragePoolProvider)
    volumes: StorageVolumeProvider = field(default_factory=StorageVolumeProvider)
    made: list[Created] = field(default_factory=list)

    def _create(self, provider: Any, inputs: dict[str, Any]) -> Created:
        result = provider.create(inputs)
        created = Created(provider, result.id, inputs, result.outs)
        self.made.append(created)
        return created

    def secret(self, key: str | None = None) -> Created:
        usage = unique("client.libvirt-secret")
        return self._create(self.secrets, checked(self.secrets, {
            "usage_name": usage, "value": key or self.ceph.key, "uri": URI}))

    def pool_inputs(self, secret_uuid: str, **extra: Any) -> dict[str, Any]:
        name = unique("rbdpool")
        return checked(self.pools, {
            "name": name, "type": "rbd", "uri": URI,
            "source": {"name": self.ceph.pool, "hosts": [{"name": self.ceph.mon_host, "port": self.ceph.mon_port}],
                       "auth": {"type": "ceph", "username": self.ceph.client, "secret_uuid": secret_uuid}},
            **extra})

    def pool(self, secret_uuid: str, **extra: Any) -> Created:
        return self._create(self.pools, self.pool_inputs(secret_uuid, **extra))

    def volume(self, pool: Created, **raw: Any) -> Created:
        raw.setdefault("name", unique("vol"))
        return self._create(self.volumes, checked(self.volumes, {
            "pool": pool.inputs["name"], "pool_type": "rbd", "uri": URI, **raw}))

    def update(self, made: Created, **changes: Any) -> Created:
        """Update as the engine does: new inputs through check (with the old inputs), then update
        with the old outputs; the state becomes what update returns."""
        news = checked(made.provider, {**made.inputs, **changes}, made.inputs)
        result = made.provider.update(made.id, made.outs, news)
        made.inputs, made.outs = news, result.outs
        return made

    def read(self, made: Created) -> Any:
        return made.provider.read(made.id, made.outs)

    def delete(self, made: Created) -> None:
        made.provider.delete(made.id, made.outs)
        made.deleted = True

    def teardown(self) -> list[str]:
        """Delete what the test did not, newest first, through the providers; the problems.
        (The guard sweeps whatever this leaves.)"""
        problems = []
        for made in reversed(self.made):
            if not made.deleted:
                try:
                    self.delete(made)
                except Exception as e:
                    problems.append(f"{made.id}: {e}")
        return problems


@pytest.fixture
def rbd(conn: libvirt.virConnect, ceph: CephCluster) -> Iterator[RbdStack]:
    stack = RbdStack(conn, ceph)
    yield stack
    problems = stack.teardown()
    assert not problems, f"deleting what the test made failed: {problems}"


# -- check, before anything exists --------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["qcow2", "vmdk", "qed"])
def test_check_refuses_a_non_raw_volume_format_on_an_rbd_pool(fmt: str) -> None:
    result = StorageVolumeProvider().check({}, {"pool": "ceph", "pool_type": "rbd", "name": "disk0",
                                                "format": fmt, "capacity": "1GiB"})
    failures = {f.property: f.reason for f in result.failures}
    assert set(failures) == {"format"}
    assert "rbd pool" in failures["format"] and "raw" in failures["format"]


# -- the providers, step by step ----------------------------------------------------------------

def test_rbd_pool_starts_with_the_ceph_secret_and_reports_the_cluster(rbd: RbdStack, ceph: CephCluster,
                                                                      conn: libvirt.virConnect) -> None:
    secret = rbd.secret()
    pool = rbd.pool(secret.id)

    assert pool.outs["active"] is True and pool.outs["target_path"] is None
    live = conn.storagePoolLookupByUUIDString(pool.id)
    assert live.isActive() and live.autostart()
    auth = etree.fromstring(live.XMLDesc(0).encode()).find("source/auth")
    assert auth.get("type") == "ceph" and auth.get("username") == ceph.client
    assert auth.find("secret").get("uuid") == secret.id
    # libvirt asked the cluster: its raw capacity is the OSD's 4 GiB block file
    assert pool.outs["capacity"] == 4 * 1024 * MiB and 0 < pool.outs["available"] < pool.outs["capacity"]

    read = rbd.read(pool)
    assert read.id == pool.id and read.outs["source"] == pool.inputs["source"]
    assert read.outs["active"] is True

    rbd.delete(pool)
    with pytest.raises(libvirt.libvirtError):
        conn.storagePoolLookupByUUIDString(pool.id)
    assert ceph.pool in ceph.ceph("osd", "pool", "ls").split(), "undefining the pool must keep the Ceph pool"


def test_rbd_volume_is_a_raw_image_that_grows_in_place_and_is_deleted(rbd: RbdStack, ceph: CephCluster) -> None:
    pool = rbd.pool(rbd.secret().id)
    vol = rbd.volume(pool, capacity="64MiB")
    name = vol.inputs["name"]

    assert name in ceph.images()
    info = ceph.image_info(name)
    assert info["size"] == 64 * MiB and info["format"] == 2
    assert vol.id == vol.outs["key"] == vol.outs["path"] == f"{ceph.pool}/{name}"
    assert vol.outs["type"] == "network" and vol.outs["current_format"] == "raw"
    assert vol.outs["current_capacity"] == 64 * MiB
    assert vol.outs["current_allocation"] == 64 * MiB  # libvirt reports an rbd image's allocation as its size
    assert vol.outs["disk"] == {
        "type": "network", "driver_type": "raw", "protocol": "rbd", "name": f"{ceph.pool}/{name}",
        "hosts": [{"name": ceph.mon_host, "port": ceph.mon_port}],
        "auth": {"username": ceph.client, "secret_type": "ceph", "secret_uuid": pool.inputs["source"]["auth"]
                 ["secret_uuid"]}}

    rbd.update(vol, capacity="128MiB")
    assert ceph.image_info(name)["size"] == 128 * MiB
    assert vol.outs["key"] == vol.id and vol.outs["current_capacity"] == 128 * MiB
    read = rbd.read(vol)
    assert read.id == vol.id and read.outs["capacity"] == 128 * MiB

    rbd.delete(vol)
    assert name not in ceph.images()
    assert rbd.read(vol).id == ""


def test_rbd_clone_copies_the_source_image_to_a_larger_size(rbd: RbdStack, ceph: CephCluster) -> None:
    pool = rbd.pool(rbd.secret().id)
    base = rbd.volume(pool, capacity="64MiB")
    base_name = base.inputs["name"]
    wrote = qemu_io(ceph, base_name, "write -P 0x5a 0 1M", "write -P 0xa5 63M 1M")
    assert wrote.returncode == 0, wrote.stderr

    clone = rbd.volume(pool, clone_from={"pool": pool.inputs["name"], "name": base_name}, capacity="128MiB")
    clone_name = clone.inputs["name"]

    info = ceph.image_info(clone_name)
    assert info["size"] == 128 * MiB and clone.outs["current_capacity"] == 128 * MiB
    assert info["parent"]["image"] == base_name  # copy-on-write child of a snapshot libvirt took
    read_back = qemu_io(ceph, clone_name, "read -P 0x5a 0 1M", "read -P 0xa5 63M 1M", "read -P 0 64M 64M")
    assert read_back.returncode == 0 and "Pattern verification failed" not in read_back.stdout, read_back.stdout

    rbd.delete(clone)
    assert clone_name not in ceph.images()
    # the snapshot libvirt took for the clone goes with the source
    rbd.delete(base)
    assert base_name not in ceph.images()


def test_rbd_pool_keeps_working_after_the_ceph_key_is_rotated_in_place(rbd: RbdStack, ceph: CephCluster,
                                                                       conn: libvirt.virConnect) -> None:
    old_key = ceph.key
    secret = rbd.secret(old_key)
    # librados keeps retrying a refused key until client_mount_timeout (libvirt sets 30 s)
    pool = rbd.pool(secret.id, rbd_config_options={"client_mount_timeout": "5"})
    vol = rbd.volume(pool, capacity="16MiB")
    fingerprint = secret.outs["value_fingerprint"]
    live = conn.storagePoolLookupByUUIDString(pool.id)
    assert 'name="client_mount_timeout" value="5"' in etree.tostring(live_config_opts(live)).decode()

    new_key = ceph.rotate_key()
    assert new_key != old_key
    # Ceph refuses the old key: libvirt cannot refresh the pool and stops it
    started = time.monotonic()
    with pytest.raises(libvirt.libvirtError):
        live.refresh(0)
    assert time.monotonic() - started < 20, "rbd_config_options did not reach librados"
    assert not live.isActive()
    assert rbd.read(pool).outs["start"] is False  # a refresh would show it

    rbd.update(secret, value=new_key)
    assert secret.outs["uuid"] == secret.id, "rotation keeps the secret: the pool refers to its uuid"
    assert secret.outs["value_fingerprint"] != fingerprint
    assert old_key not in repr(secret.outs) and new_key not in repr(secret.outs)

    pool.outs = rbd.read(pool).outs  # what `pulumi refresh` stores
    rbd.update(pool)  # the program still says start=True: `pulumi up` starts it again
    assert live.isActive() and pool.outs["active"] is True
    live.refresh(0)
    assert vol.inputs["name"] in live.listVolumes()
    again = rbd.volume(pool, capacity="16MiB")
    assert again.inputs["name"] in ceph.images()


def test_rbd_volume_disk_xml_runs_a_qemu_domain_that_opens_the_image(rbd: RbdStack, ceph: CephCluster,
                                                                     conn: libvirt.virConnect, virtlogd: None) -> None:
    pool = rbd.pool(rbd.secret().id)
    vol = rbd.volume(pool, capacity="16MiB")

    assert_domain_runs_on_the_image(conn, ceph, vol.outs["disk_xml"], vol.inputs["name"])


# -- the real engine ------------------------------------------------------------------------------

PROGRAM = '''
import pulumi
from pulumi_libvirt_storage import CephSecret, StoragePool, StorageVolume

cfg = pulumi.Config()
key = CephSecret("ceph", usage_name=cfg.require("usage"), value=cfg.require_secret("cephKey"),
                 description="rbd test key")
pool = StoragePool("rbd", name=cfg.require("pool"), type="rbd", source={
    "name": cfg.require("cephPool"),
    "hosts": [{"name": cfg.require("monHost"), "port": cfg.require_int("monPort")}],
    "auth": {"type": "ceph", "username": cfg.require("client"), "secret_uuid": key.uuid},
})
base = StorageVolume("base", pool=pool, name=cfg.require("base"), capacity=cfg.require("capacity"),
                     format=cfg.get("format"))
pulumi.export("secret_uuid", key.uuid)
pulumi.export("fingerprint", key.value_fingerprint)
pulumi.export("pool_uuid", pool.uuid)
pulumi.export("base_key", base.key)
pulumi.export("base_capacity", base.current_capacity)
pulumi.export("base_disk_xml", base.disk_xml)
if cfg.get_bool("clone"):
    clone = StorageVolume("clone", pool=pool, name=cfg.require("cloneName"),
                          clone_from={"pool": pool.name, "name": base.name})
    pulumi.export("clone_key", clone.key)
'''


def program_config(ceph: CephCluster, **extra: str) -> dict[str, str]:
    return {"libvirt:uri": URI, "usage": unique("client.libvirt-secret"), "pool": unique("rbdpool"),
            "cephPool": ceph.pool, "monHost": ceph.mon_host, "monPort": str(ceph.mon_port), "client": ceph.client,
            "base": unique("base"), "capacity": "64MiB", **extra}


def planned(preview_stdout: str) -> str:
    """The resource summary at the end of a preview."""
    return preview_stdout.split("Resources:")[-1]


@pytest.mark.engine
def test_rbd_workflow_through_the_engine_never_reveals_the_key(project: Callable[..., Project], ceph: CephCluster,
                                                               conn: libvirt.virConnect, virtlogd: None) -> None:
    first_key = ceph.key
    config = program_config(ceph, cloneName=unique("clone"))
    base, clone = config["base"], config["cloneName"]
    p = project(PROGRAM, config=config, secrets={"cephKey": first_key})

    # secret -> pool -> volume
    p.up()
    out = p.outputs()
    assert ceph.image_info(base)["size"] == 64 * MiB and out["base_capacity"] == 64 * MiB
    assert out["base_key"] == f"{ceph.pool}/{base}"
    pool_xml = etree.fromstring(conn.storagePoolLookupByUUIDString(out["pool_uuid"]).XMLDesc(0).encode())
    assert pool_xml.find("source/auth/secret").get("uuid") == out["secret_uuid"]
    assert pool_xml.find("source/host").get("port") == str(ceph.mon_port)
    p.preview("--expect-no-changes")

    # grow in place: same image, new size
    p.run("config", "set", "capacity", "128MiB")
    assert "replace" not in planned(p.preview("--diff").stdout)
    p.up()
    grown = p.outputs()
    assert grown["base_key"] == out["base_key"] and ceph.image_info(base)["size"] == 128 * MiB
    p.preview("--expect-no-changes")

    # clone, then delete the clone
    p.run("config", "set", "clone", "true")
    p.up()
    assert p.outputs()["clone_key"] == f"{ceph.pool}/{clone}"
    assert ceph.image_info(clone)["parent"]["image"] == base
    assert ceph.image_info(clone)["size"] == 128 * MiB
    p.preview("--expect-no-changes")
    p.run("config", "set", "clone", "false")
    p.up()
    assert clone not in ceph.images() and base in ceph.images()
    p.preview("--expect-no-changes")

    # rotation: a new key for the same client in Ceph, then in the CephSecret, in place
    second_key = ceph.rotate_key()
    p.run("config", "set", "--secret", "cephKey", stdin=second_key)
    preview = p.preview("--diff").stdout
    assert "replace" not in planned(preview) and "CephSecret: (update)" in preview, preview
    # The secret's uuid is chosen at check and kept, so the preview knows it: only the secret
    # changes, the pool that refers to it is not planned at all.
    assert "StoragePool: (update)" not in preview and "1 to update" in planned(preview), preview
    assert "1 updated" in planned(p.up().stdout)
    rotated = p.outputs()
    assert rotated["secret_uuid"] == out["secret_uuid"] and rotated["fingerprint"] != out["fingerprint"]
    live = conn.storagePoolLookupByUUIDString(out["pool_uuid"])
    live.destroy()  # a restart connects to Ceph again, with the key libvirt now holds
    live.create(0)
    assert base in live.listVolumes()
    p.refresh()
    p.preview("--expect-no-changes")

    # the volume's disk_xml output attaches to a running QEMU domain (with the rotated key)
    assert_domain_runs_on_the_image(conn, ceph, rotated["base_disk_xml"], base)

    p.destroy()
    assert base not in ceph.images()
    with pytest.raises(libvirt.libvirtError):
        conn.storagePoolLookupByUUIDString(out["pool_uuid"])
    with pytest.raises(libvirt.libvirtError):
        conn.secretLookupByUUIDString(out["secret_uuid"])

    everything = p.state_text() + "\n".join(p.log)
    for key in (first_key, second_key):
        assert key not in everything
        assert base64.b64decode(key).hex() not in everything


@pytest.mark.engine
def test_preview_refuses_a_qcow2_volume_on_an_rbd_pool_and_creates_nothing(project: Callable[..., Project],
                                                                          ceph: CephCluster,
                                                                          conn: libvirt.virConnect) -> None:
    config = program_config(ceph, format="qcow2")
    p = project(PROGRAM, config=config, secrets={"cephKey": ceph.key})

    proc = p.preview(check=False)
    assert proc.returncode != 0
    assert "format" in proc.stdout and "a rbd pool takes one of raw" in proc.stdout, proc.stdout
    assert config["pool"] not in [x.name() for x in conn.listAllStoragePools()]
    assert config["usage"] not in [s.usageID() for s in conn.listAllSecrets()]
    assert config["base"] not in ceph.images()
