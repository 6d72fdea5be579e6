"""The secret scan (issue 11): canary values of every kind of secret the provider handles (a cephx
key, a CHAP password, a LUKS passphrase) go through a whole life cycle — create, a rotation, two
failures, destroy — with the engine logging at -v=9 to stderr (and the providers' logs flowing into
it) and libvirtd logging at debug level. Secret material outside a secret's value (issue 20, item 6)
too: a CIFS password in a pool's mount_options and a cephx key in its rbd_config_options, written by
the program (check refuses them) and held by pools defined on the host by hand (imported with
import-args and, through the plugin, `pulumi import`; adopted; compared by adopt). Then every place a
secret could leak is searched: the state, its history and backups, every file of the project, every
command's output and error message, the engine's log, libvirtd's logs, and the arguments of every
process sampled during the runs. Zero hits, in plain text, in hex or as base64."""

from __future__ import annotations

import base64
import os
import pathlib
import subprocess
import sys
import threading
import time

import libvirt
import pytest

from tests.conftest import unique

pytestmark = [pytest.mark.engine, pytest.mark.both_frontends]

PROGRAM = '''
import pulumi
from pulumi_libvirt_storage import CephSecret, IscsiSecret, StoragePool, StorageVolume, VolumeSecret

cfg = pulumi.Config()
usage = cfg.require("usage")
CephSecret("scan-ceph", usage_name=usage + "-ceph", value=cfg.require_secret("cephKey"))
CephSecret("scan-taken", usage_name=cfg.get("takenUsage") or usage + "-ceph2", value=cfg.require_secret("cephKey"))
IscsiSecret("scan-chap", usage_name=usage + "-chap", value=cfg.require_secret("chapPassword"))
luks = VolumeSecret("scan-luks", usage_name=cfg.require("path") + "/secure.qcow2", value=cfg.require_secret("passphrase"))
pool = StoragePool("scan-pool", name=cfg.require("pool"), type="dir", target={"path": cfg.require("path")})
StorageVolume("scan-secure", pool=pool, name="secure.qcow2", format="qcow2", capacity="16MiB",
              encryption={"format": "luks", "secret_uuid": luks.uuid})

if cfg.get("secretOption") == "cifs":  # refused by check, naming the option
    StoragePool("scan-cifs", type="netfs", target={"path": cfg.require("path") + "-cifs"},
                source={"hosts": [{"name": "127.0.0.1"}], "dir": "share", "format": "cifs"},
                mount_options=["vers=3.0", cfg.require_secret("cifsPassword").apply(lambda p: "password=" + p)])
if cfg.get("secretOption") == "rbd":
    StoragePool("scan-rbd", type="rbd", source={"hosts": [{"name": "127.0.0.1"}], "name": "rbd"},
                rbd_config_options={"key": cfg.require_secret("rbdKey")})
if cfg.get("handCifs"):  # pools defined by hand, holding them: adopted as they are (stopped)
    CIFS = {"hosts": [{"name": "127.0.0.1"}], "dir": "share", "format": "cifs"}
    StoragePool("scan-hand-cifs", name=cfg.require("handCifs"), type="netfs", source=CIFS,
                target={"path": cfg.require("handPath")}, start=False, adopt=True,
                mount_options=["vers=3.0"] if cfg.get_bool("handMismatch") else None)
    StoragePool("scan-hand-rbd", name=cfg.require("handRbd"), type="rbd", start=False, adopt=True,
                source={"hosts": [{"name": "127.0.0.1", "port": 1}], "name": "rbd"},
                rbd_config_options={"client_mount_timeout": "5"} if cfg.get_bool("handMismatch") else None)
'''
DEBUG_LOG = pathlib.Path("/var/log/libvirt")
CLI = pathlib.Path(sys.executable).with_name("pulumi-libvirt-storage")


class ArgvSampler:
    """Every distinct command line of every process on the machine, sampled until stopped."""

    def __init__(self) -> None:
        self.seen: set[bytes] = set()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for cmdline in pathlib.Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    self.seen.add(cmdline.read_bytes())
                except OSError:
                    pass
            self.samples += 1
            time.sleep(0.005)

    def __enter__(self) -> "ArgvSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def forms(value: str) -> list[bytes]:
    """The spellings a leaked value could take."""
    raw = value.encode()
    out = [raw, raw.hex().encode(), base64.b64encode(raw)]
    try:
        decoded = base64.b64decode(value, validate=True)
        out += [decoded, decoded.hex().encode()]
    except ValueError:
        pass
    return out


def define_by_hand(conn: libvirt.virConnect, password: str, key: str, path: pathlib.Path
                   ) -> dict[str, libvirt.virStoragePool]:
    """A netfs cifs pool whose mount options hold `password` and an rbd pool whose options hold `key`,
    defined as a user would have before any stack, and never started (nothing serves them here)."""
    cifs = (f"<pool type='netfs' xmlns:fs='http://libvirt.org/schemas/storagepool/fs/1.0'><name>{unique('hand')}"
            f"</name><source><host name='127.0.0.1'/><dir path='share'/><format type='cifs'/></source><target><path>"
            f"{path}</path></target><fs:mount_opts><fs:option name='username=scan'/><fs:option name='password="
            f"{password}'/></fs:mount_opts></pool>")
    rbd = (f"<pool type='rbd' xmlns:rbd='http://libvirt.org/schemas/storagepool/rbd/1.0'><name>{unique('hand')}</name>"
           "<source><host name='127.0.0.1' port='1'/><name>rbd</name></source><rbd:config_opts><rbd:option "
           f"name='client_mount_timeout' value='1'/><rbd:option name='key' value='{key}'/></rbd:config_opts></pool>")
    return {kind: conn.storagePoolDefineXML(xml, 0) for kind, xml in (("cifs", cifs), ("rbd", rbd))}


@pytest.fixture
def libvirtd_debug_log(request: pytest.FixtureRequest) -> pathlib.Path:
    """libvirtd logs at debug level (secret, storage, rpc, remote) into a file of this test, beside
    its usual log, for the test's duration."""
    log = DEBUG_LOG / f"{unique('secretscan')}-debug.log"
    outputs = subprocess.run(["virt-admin", "daemon-log-outputs"], capture_output=True, text=True, check=True)
    filters = subprocess.run(["virt-admin", "daemon-log-filters"], capture_output=True, text=True, check=True)
    old_outputs = outputs.stdout.split(":", 1)[1].strip()
    old_filters = filters.stdout.split(":", 1)[1].strip()
    subprocess.run(["virt-admin", "daemon-log-filters", "1:secret 1:storage 1:rpc 1:remote 1:util.command 3:*"],
                   check=True)
    subprocess.run(["virt-admin", "daemon-log-outputs", f"1:file:{log} {old_outputs}"], check=True)

    def restore() -> None:
        subprocess.run(["virt-admin", "daemon-log-outputs", old_outputs], check=False)
        subprocess.run(["virt-admin", "daemon-log-filters", old_filters], check=False)
        log.unlink(missing_ok=True)
    request.addfinalizer(restore)
    return log


def test_no_secret_in_state_logs_errors_or_process_arguments(project, conn, libvirtd_debug_log, tmp_path, frontend,
                                                             request: pytest.FixtureRequest) -> None:
    usage = unique("client.scan")
    canaries = {
        "cephKey": base64.b64encode(b"canary-cephx-" + os.urandom(16)).decode(),
        "chapPassword": "canary-chap-" + os.urandom(8).hex(),
        "passphrase": "canary passphrase " + os.urandom(8).hex(),
        "cifsPassword": "canary-cifs-" + os.urandom(8).hex(),
        "rbdKey": base64.b64encode(b"canary-rbdkey-" + os.urandom(16)).decode(),
    }
    rotated = {"cephKey": base64.b64encode(b"canary-rotated-" + os.urandom(16)).decode(),
               "chapPassword": "canary-chap2-" + os.urandom(8).hex()}
    path = tmp_path / "pool"
    libvirtd_log = DEBUG_LOG / "libvirtd.log"
    log_start = libvirtd_log.stat().st_size if libvirtd_log.exists() else 0
    p = project(PROGRAM, config={"usage": usage, "pool": unique("scan"), "path": str(path)}, secrets=canaries)
    verbose = ("-v=9", "--logtostderr", "--logflow")

    # A secret of a usage the stack's second CephSecret will ask for, outside the stack: its create fails.
    taken = unique("client.taken")
    outside = conn.secretDefineXML(f"<secret ephemeral='no' private='yes'><usage type='ceph'><name>{taken}</name>"
                                   "</usage></secret>")
    request.addfinalizer(lambda: outside.undefine())
    # Pools holding secret material in their options, defined by hand, and their XML as a file a user
    # would import. libvirtd's debug log records the definitions it is given: the scan starts after ours.
    hand = define_by_hand(conn, canaries["cifsPassword"], canaries["rbdKey"], tmp_path / "hand-cifs")
    request.addfinalizer(lambda: [pool.undefine() for pool in hand.values()])
    hand_files = {kind: tmp_path / f"hand-{kind}.xml" for kind in hand}
    for kind, pool in hand.items():
        hand_files[kind].write_text(pool.XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE))
    debug_start = libvirtd_debug_log.stat().st_size if libvirtd_debug_log.exists() else 0

    with ArgvSampler() as argv:
        p.run("up", "--yes", "--skip-preview", *verbose)
        for key, value in rotated.items():
            p.run("config", "set", "--secret", key, stdin=value)
        p.run("preview", "--diff", *verbose)
        p.run("up", "--yes", "--skip-preview", *verbose)
        p.run("refresh", "--yes", "--skip-preview", *verbose)
        # Failure 1, at preview: a new passphrase would lock the volume out (allow_value_change unset).
        p.run("config", "set", "--secret", "passphrase", stdin=canaries["passphrase"] + "-new")
        failed = p.run("preview", *verbose, check=False)
        assert failed.returncode != 0 and "allow_value_change" in failed.stdout + failed.stderr
        p.run("config", "set", "--secret", "passphrase", stdin=canaries["passphrase"])
        # Failure 2, at apply: a usage already taken on the host.
        p.run("config", "set", "--plaintext", "takenUsage", taken)
        failed = p.run("up", "--yes", "--skip-preview", *verbose, check=False)
        assert failed.returncode != 0
        p.run("config", "rm", "takenUsage")
        p.run("up", "--yes", "--skip-preview", *verbose)
        # Failures 3 and 4, at preview: a password in mount_options, a key in rbd_config_options.
        for kind, named, fix in (("cifs", ("mount_options[1]", "mountOptions[1]"), "credentials="),
                                 ("rbd", ("rbd_config_options.key", "rbdConfigOptions.key"), "CephSecret")):
            p.run("config", "set", "--plaintext", "secretOption", kind)
            for command in (("preview",), ("up", "--yes", "--skip-preview")):
                failed = p.run(*command, *verbose, check=False)
                said = failed.stdout + failed.stderr
                assert failed.returncode != 0 and any(n in said for n in named) and fix in said, said[-3000:]
        p.run("config", "rm", "secretOption")
        # Pools defined by hand holding them: import-args prints them redacted; `pulumi import` (the plugin's
        # Read by id) is refused naming the option.
        for kind, xml_file in hand_files.items():
            printed = subprocess.run([str(CLI), "import-args", "--xml", str(xml_file)], capture_output=True,
                                     text=True, check=True)
            p.log.append(printed.stdout + printed.stderr)
            assert "(redacted)" in printed.stdout
        if frontend == "plugin":
            for kind, pool in hand.items():
                failed = p.run("import", "libvirt-storage:index:StoragePool", f"imported-{kind}", pool.UUIDString(),
                               "--yes", "--protect=false", *verbose, check=False)
                option = "mount_options[1]" if kind == "cifs" else "rbd_config_options.key"
                assert failed.returncode != 0 and option in failed.stdout + failed.stderr
        # Failure 5, at apply: adopting them with other options; the comparison names the host's options.
        for key, value in (("handCifs", hand["cifs"].name()), ("handRbd", hand["rbd"].name()),
                           ("handPath", str(tmp_path / "hand-cifs")), ("handMismatch", "true")):
            p.run("config", "set", "--plaintext", key, value)
        failed = p.run("up", "--yes", "--skip-preview", *verbose, check=False)
        said = failed.stdout + failed.stderr  # (or, once adopt refuses secret material, naming the option)
        assert failed.returncode != 0 and ("another definition" in said or "mount_options[1]" in said), said[-3000:]
        p.run("config", "rm", "handMismatch")
        # Adopted as they are (stopped): their xml outputs are redacted. (Refusing to adopt a definition that
        # holds secret material, naming the option, would be as good: see issue 20, item 6.)
        adopted = p.run("up", "--yes", "--skip-preview", *verbose, check=False)
        if adopted.returncode == 0:
            xml_outputs = [r["outputs"]["xml"] for r in p.resources() if r["urn"].endswith(("::scan-hand-cifs",
                                                                                           "::scan-hand-rbd"))]
            assert len(xml_outputs) == 2 and all("(redacted)" in x for x in xml_outputs), xml_outputs
            p.run("refresh", "--yes", "--skip-preview", *verbose)
            hand_outcome = "adopted, xml outputs redacted"
        else:
            assert "mount_options[1]" in adopted.stdout + adopted.stderr
            hand_outcome = "adopt refused naming the option"
        assert not any(pool.isActive() for pool in hand.values())
        p.run("destroy", "--yes", "--skip-preview", *verbose)  # (adopted pools are released, not undefined)
        p.destroyed = True

    places: dict[str, bytes] = {
        "command output, errors and the engine's -v=9 log": "\n".join(p.log).encode(),
        "libvirtd's debug log": libvirtd_debug_log.read_bytes()[debug_start:],
        "libvirtd's log": libvirtd_log.read_bytes()[log_start:] if libvirtd_log.exists() else b"",
        "process arguments": b"\n".join(argv.seen),
    }
    for f in sorted(x for x in p.workdir.rglob("*") if x.is_file() and not x.is_symlink()):
        if ".venv" not in f.parts and "plugins" not in f.parts:
            places[str(f.relative_to(p.workdir))] = f.read_bytes()
    assert any("history" in k for k in places) and any("backups" in k for k in places), sorted(places)
    assert len(places["libvirtd's debug log"]) > 10_000 and b"virSecretSetValue" in places["libvirtd's debug log"], \
        "libvirtd logged the runs at debug level"
    assert len(places["command output, errors and the engine's -v=9 log"]) > 100_000, "the engine logged at -v=9"
    values = {**{f"{k} (first)": v for k, v in canaries.items()}, **{f"{k} (rotated)": v for k, v in rotated.items()}}

    def leaks(where: dict[str, bytes]) -> list[str]:
        return [f"{what} in {place}" for what, value in values.items() for form in forms(value)
                for place, text in where.items() if form in text]

    # The search finds a value where it is in plain text (the CLI shows it when asked, outside the scan).
    shown = subprocess.run(["pulumi", "config", "get", "cephKey"], cwd=p.workdir, env=p.env, capture_output=True)
    assert leaks({"control": shown.stdout}) == ["cephKey (rotated) in control"], "the search can find a leak"
    hits = leaks(places)
    assert not hits, hits
    scanned = sum(len(t) for t in places.values())
    print(f"\nsecret scan: {len(values)} canary values x {len(forms(canaries['cephKey']))} spellings searched in "
          f"{len(places)} places ({scanned / 1e6:.1f} MB: state, history, backups, project files, engine -v=9 "
          f"log, libvirtd debug log, {len(argv.seen)} distinct process command lines from {argv.samples} samples): "
          f"0 hits; pools defined by hand holding a password and a key: {hand_outcome}")
