"""`--rbd`: the same benchmarks on an rbd pool of a one-node Ceph on 127.0.0.1, started with
scripts/ceph-test-cluster.sh in the run's work directory (on ports of its own, so that a test
cluster of the test suite can run beside it) and stopped at the end.

libvirt refuses two pools on the same Ceph pool, so each measurement's libvirt pool replaces the
previous one; the Ceph pool, the libvirt secret and the libvirt pools are all plstest-bench-*.
"""

from __future__ import annotations

import base64
import os
import pathlib
import shutil
import socket
import subprocess

import libvirt

from . import hosts

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "ceph-test-cluster.sh"
CEPH_POOL = f"{hosts.PREFIX}{hosts.RUN_ID}-rbd"
_state: dict[str, object] = {}


def unavailable() -> str | None:
    """Why --rbd cannot run here, or None."""
    if not SCRIPT.exists():
        return ("needs scripts/ceph-test-cluster.sh (start|stop DIR: a one-node Ceph on 127.0.0.1), which is not "
                "in this tree")
    for tool in ("ceph", "rbd", "ceph-mon", "ceph-mgr", "ceph-osd"):
        if shutil.which(tool) is None:
            return f"needs {tool} (scripts/setup.sh installs ceph-mon, ceph-mgr, ceph-osd and ceph-common)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ceph(directory: str, *args: str) -> str:
    done = subprocess.run(["ceph", "-c", os.path.join(directory, "ceph.conf"), "--connect-timeout", "20", *args],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"ceph {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def start(work: pathlib.Path) -> str:
    directory = str(work / "ceph")
    v2, v1 = _free_port(), _free_port()
    env = {**os.environ, "CEPH_TEST_MON_V2_PORT": str(v2), "CEPH_TEST_MON_V1_PORT": str(v1)}
    _state["dir"], _state["port"] = directory, v1
    done = subprocess.run(["bash", str(SCRIPT), "start", directory], capture_output=True, text=True, env=env,
                          timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/ceph-test-cluster.sh start failed ({done.returncode}):\n{done.stderr[-3000:]}")
    _ceph(directory, "osd", "pool", "create", CEPH_POOL, "8", "8")
    subprocess.run(["rbd", "-c", os.path.join(directory, "ceph.conf"), "pool", "init", CEPH_POOL], check=True,
                   capture_output=True, timeout=300)
    return directory


def pool(pools: hosts.Pools, directory: str, what: str) -> str:
    conn = pools.conn
    previous = _state.get("pool")
    if isinstance(previous, str):
        pools.remove(previous)
    if "secret" not in _state:
        key = _ceph(directory, "auth", "get-key", "client.admin").strip()
        secret = conn.secretDefineXML(
            f"<secret ephemeral='no' private='yes'><usage type='ceph'><name>{hosts.PREFIX}{hosts.RUN_ID} "
            "client.admin</name></usage></secret>", 0)
        secret.setValue(base64.b64decode(key), 0)
        _state["secret"] = secret.UUIDString()
    name = f"{hosts.PREFIX}{hosts.RUN_ID}-{what}"
    xml = (f"<pool type='rbd'><name>{name}</name><source><name>{CEPH_POOL}</name>"
           f"<host name='127.0.0.1' port='{_state['port']}'/><auth type='ceph' username='admin'>"
           f"<secret uuid='{_state['secret']}'/></auth></source></pool>")
    pools.track(name)
    p = conn.storagePoolDefineXML(xml, 0)
    p.create(0)
    _state["pool"] = name
    return name


def stop(directory: str) -> None:
    """After the pools are gone: the secret, the cluster, its directory."""
    uuid = _state.pop("secret", None)
    if isinstance(uuid, str):
        try:
            conn = libvirt.open(hosts.URI)
            conn.secretLookupByUUIDString(uuid).undefine()
            conn.close()
        except libvirt.libvirtError:
            pass
    subprocess.run(["bash", str(SCRIPT), "stop", directory], capture_output=True, text=True, timeout=300)
    shutil.rmtree(directory, ignore_errors=True)
