"""A provider process exits once the engine that launched it is gone (measured before: after a
SIGKILL of the CLI, pulumi.dynamic's host went on with its creates, serving nobody). Real processes:
an "engine" that launches a provider through a shell, as pulumi-resource-pulumi-python does."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap
import time

from pulumi_libvirt_storage_provider import lifeline

PROVIDER = textwrap.dedent("""
    import os, sys, time
    from pulumi_libvirt_storage_provider import lifeline
    with open(sys.argv[1], "w") as f:
        f.write(f"{os.getpid()} {lifeline.engine()[0]}")
    lifeline.watch(interval=0.05)
    time.sleep(60)
""")
ENGINE = textwrap.dedent("""
    import subprocess, sys, time
    subprocess.Popen(["sh", "-c", f'"{sys.executable}" -c "$0" "$1"; true', sys.argv[1], sys.argv[2]])
    time.sleep(float(sys.argv[3]))
""")


def _alive(pid: int) -> bool:
    stat = pathlib.Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_a_provider_under_a_shell_watches_the_engine_and_exits_once_it_is_gone(tmp_path) -> None:
    report = tmp_path / "pids"
    engine = subprocess.Popen([sys.executable, "-c", ENGINE, PROVIDER, str(report), "1.5"])
    deadline = time.monotonic() + 10
    while not (report.exists() and report.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    provider, watched = map(int, report.read_text().split())
    assert watched == engine.pid, "the engine, not the shell between them"
    assert _alive(provider), "alive while the engine is"
    engine.wait()  # the engine ends (and is reaped)
    deadline = time.monotonic() + 5
    while _alive(provider) and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        assert not _alive(provider), "the provider outlived its engine"
    finally:
        if _alive(provider):
            os.kill(provider, 9)


def test_a_zombie_engine_is_gone() -> None:
    child = subprocess.Popen(["true"])
    start = lifeline._stat(child.pid)
    assert start is not None
    time.sleep(0.2)  # exited, not reaped yet: a zombie
    assert not lifeline.alive(child.pid, start[3])
    child.wait()
    assert not lifeline.alive(child.pid, start[3])
    me = lifeline._stat(os.getpid())
    assert me is not None and lifeline.alive(os.getpid(), me[3])
