"""An sshd of the tests' own on 127.0.0.1 with a key made for them, and the qemu+ssh:// URI that
reaches the local libvirtd through it (libvirt's ssh transport, virt-ssh-helper on the far end)."""

from __future__ import annotations

import pathlib
import socket
import subprocess
import time
from typing import Iterator

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ssh_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    d = tmp_path_factory.mktemp("sshd")
    port = free_port()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "host_key")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "client_key")], check=True)
    (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
    (d / "authorized_keys").chmod(0o600)
    (d / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {d / 'host_key'}\nPidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        "Subsystem sftp internal-sftp\n")
    pathlib.Path("/run/sshd").mkdir(exist_ok=True)
    subprocess.run(["/usr/sbin/sshd", "-f", str(d / "sshd_config"), "-E", str(d / "sshd.log")], check=True)
    deadline = time.monotonic() + 10
    while not (d / "sshd.pid").exists():
        assert time.monotonic() < deadline, (d / "sshd.log").read_text() if (d / "sshd.log").exists() else ""
        time.sleep(0.05)
    try:
        yield (f"qemu+ssh://root@127.0.0.1:{port}/system?keyfile={d / 'client_key'}"
               "&no_verify=1&no_tty=1&sshauth=privkey")
    finally:
        pid = int((d / "sshd.pid").read_text())
        subprocess.run(["kill", str(pid)], check=False)  # only the sshd this fixture started
