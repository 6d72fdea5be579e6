"""An sshd of the tests' own on 127.0.0.1 with a key made for them, and the qemu+ssh:// URI that
reaches the local libvirtd through it (libvirt's ssh transport, virt-ssh-helper on the far end).

The URI is a plain one, as a user's would be: the provider refuses `no_verify=1` (it skips the host
key check, ops/uri_safety.py). ssh trusts this sshd's host key through a Host block of the fixture's
own in /etc/ssh/ssh_config.d (a unique alias naming 127.0.0.1, the port, and a known_hosts file beside
the keys), removed when the fixture ends; nothing is written to anyone's ~/.ssh."""

from __future__ import annotations

import pathlib
import secrets
import socket
import subprocess
import time
from typing import Iterator

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Read by ssh through /etc/ssh/ssh_config's `Include /etc/ssh/ssh_config.d/*.conf` (Debian 12).
SSH_CONFIG_DIR = pathlib.Path("/etc/ssh/ssh_config.d")


class Sshd:
    """An sshd of the tests' own: `uri` reaches the local libvirtd through it. `stop` takes the host
    away as a crash or a cut link would: the listener and every session it serves (with their
    virt-ssh-helper) are killed; `start` brings it back on the same port with the same keys."""

    def __init__(self, d: pathlib.Path) -> None:
        self.d = d
        self.port = free_port()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host_key")], check=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "client_key")], check=True)
        (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
        (d / "authorized_keys").chmod(0o600)
        (d / "sshd_config").write_text(
            f"ListenAddress 127.0.0.1\nPort {self.port}\nHostKey {d / 'host_key'}\nPidFile {d / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {d / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            "Subsystem sftp internal-sftp\n")
        self.alias = f"plstest-sshd-{self.port}-{secrets.token_hex(4)}"
        (d / "known_hosts").write_text(f"{self.alias} {(d / 'host_key.pub').read_text()}")
        self.ssh_config = SSH_CONFIG_DIR / f"{self.alias}.conf"
        self.ssh_config.write_text(
            f"Host {self.alias}\n  HostName 127.0.0.1\n  Port {self.port}\n  HostKeyAlias {self.alias}\n"
            f"  UserKnownHostsFile {d / 'known_hosts'}\n  StrictHostKeyChecking yes\n"
            f"  IdentityFile {d / 'client_key'}\n  IdentitiesOnly yes\n")
        self.uri = f"qemu+ssh://root@{self.alias}/system?keyfile={d / 'client_key'}&no_tty=1"
        self.start()

    def start(self) -> None:
        pathlib.Path("/run/sshd").mkdir(exist_ok=True)
        (self.d / "sshd.pid").unlink(missing_ok=True)
        subprocess.run(["/usr/sbin/sshd", "-f", str(self.d / "sshd_config"), "-E", str(self.d / "sshd.log")],
                       check=True)
        deadline = time.monotonic() + 10
        while not (self.d / "sshd.pid").exists():
            assert time.monotonic() < deadline, (self.d / "sshd.log").read_text() \
                if (self.d / "sshd.log").exists() else ""
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGKILL of this sshd and of everything under it (only what this fixture started)."""
        pid = int((self.d / "sshd.pid").read_text())
        for victim in [pid, *_descendants(pid)]:
            subprocess.run(["kill", "-KILL", str(victim)], check=False, capture_output=True)
        (self.d / "sshd.pid").unlink(missing_ok=True)

    def close(self) -> None:
        if (self.d / "sshd.pid").exists():
            self.stop()
        self.ssh_config.unlink(missing_ok=True)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def ssh_uri(sshd: Sshd) -> str:
    return sshd.uri
