"""Fixtures shared by every tier: a real libvirtd connection, unique names, and a guard that
fails any test which leaves a pool or secret behind."""

from __future__ import annotations

import os
import pathlib
import subprocess
import uuid
from typing import Any, Callable, Iterator

import libvirt
import pytest

URI = os.environ.get("LIBVIRT_DEFAULT_URI") or "qemu:///system"
PREFIX = "plstest-"  # every object a test creates carries this prefix


#: Names `unique()` gave out during the running test: the guard below looks at these only, since
#: other sessions may share this libvirtd and the prefix.
NAMED_BY_THIS_TEST: set[str] = set()


def unique(what: str) -> str:
    name = f"{PREFIX}{what}-{uuid.uuid4().hex[:8]}"
    NAMED_BY_THIS_TEST.add(name)
    return name


def made_by_this_test(item: str) -> bool:
    """`item` is "pool:NAME" or "secret:USAGE"; names derived from a unique() name count too."""
    name = item.split(":", 1)[1]
    return any(name.startswith(made) for made in NAMED_BY_THIS_TEST)


class _Reconnecting:
    """A libvirt connection that reopens itself when libvirtd was restarted under it (some tests
    restart the daemon on purpose)."""

    def __init__(self) -> None:
        self._conn = libvirt.open(URI)

    def _live(self) -> libvirt.virConnect:
        try:
            alive = self._conn.isAlive()
        except libvirt.libvirtError:
            alive = False
        if not alive:
            self._conn = libvirt.open(URI)
        return self._conn

    def __getattr__(self, name: str):
        attr = getattr(self._live(), name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            try:
                return getattr(self._live(), name)(*args, **kwargs)
            except libvirt.libvirtError:
                if self._conn.isAlive():
                    raise
            return getattr(self._live(), name)(*args, **kwargs)

        return call


@pytest.fixture(scope="session")
def conn() -> libvirt.virConnect:
    """The real libvirtd. Missing it is a failure, never a skip: `make test` starts it."""
    try:
        connection = _Reconnecting()
    except libvirt.libvirtError as e:
        pytest.fail(f"libvirtd does not answer on {URI}: {e}; run `make setup` (scripts/setup.sh) first")
    yield connection
    connection.close()


FRONTENDS = ("dynamic", "plugin")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `both_frontends` run once with the dynamic provider and once with the provider
    plugin: one set of tests for both front ends."""
    if "frontend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_frontends"):
        metafunc.parametrize("frontend", FRONTENDS)


@pytest.fixture
def frontend() -> str:
    """The front end a real-engine test runs against (see pytest_generate_tests)."""
    return "dynamic"


@pytest.fixture
def project(tmp_path: pathlib.Path, frontend: str) -> Iterator[Callable[..., Any]]:
    """Make real-engine Projects (tests/support/engine.py) with the test's front end; each is
    destroyed and its stack removed at the end of the test."""
    from tests.support.engine import Project

    made: list[Project] = []

    def make(program: str, **kw: Any) -> Project:
        p = Project(tmp_path / f"project{len(made)}", program, frontend=kw.pop("frontend", frontend), **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


@pytest.fixture
def small_file_system(tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    """A 16 MiB file system (tmpfs, size-limited), to be filled. Request it before `project` to have it
    unmounted after the stack is destroyed."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "plstest-small", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _leftovers(connection: libvirt.virConnect) -> set[str]:
    names = {f"pool:{p.name()}" for p in connection.listAllStoragePools() if p.name().startswith(PREFIX)}
    for s in connection.listAllSecrets():
        usage = s.usageID() or ""
        if PREFIX in usage:
            names.add(f"secret:{usage}")
    return names


@pytest.fixture(autouse=True)
def nothing_left_behind(request: pytest.FixtureRequest):
    """Tests clean up after themselves: fail a test that leaves a pool or secret it named. Runs its
    check after every other fixture of the test has torn down."""
    NAMED_BY_THIS_TEST.clear()
    from tests.support import engine
    engine.TEST_STACK[0] = f"test-{uuid.uuid4().hex[:8]}"
    if "conn" not in request.fixturenames:
        yield
        return
    connection = request.getfixturevalue("conn")
    yield
    from tests.support.daemons import ensure_libvirtd
    ensure_libvirtd()
    left = {item for item in _leftovers(connection) if made_by_this_test(item)}
    if left:
        removed = _remove(connection, left)
        pytest.fail(f"left behind on the host: {sorted(left)} (now undefined by the guard, so that later tests "
                    f"do not collide with them: {removed})")


def _remove(connection: libvirt.virConnect, items: set[str]) -> str:
    """Stop and undefine the pools, and undefine the secrets, that a failed test left: pool and secret
    uuids derive from the project, stack and resource name, which tests share, so one leftover would
    fail every later test that declares the same resource. The storage itself (under the test's
    tmp_path, or a test server's) is not deleted here: tests.support.cleanup.remove_pool deletes
    every volume first, and stops at the first one libvirt cannot delete (a LUN) before undefining."""
    done = []
    for item in sorted(items):
        kind, name = item.split(":", 1)
        try:
            if kind == "pool":
                pool = connection.storagePoolLookupByName(name)
                if pool.isActive():
                    pool.destroy()
                pool.undefine()
            else:
                for secret in connection.listAllSecrets():
                    if (secret.usageID() or "") == name:
                        secret.undefine()
            done.append(f"{item} removed")
        except libvirt.libvirtError as e:
            done.append(f"{item}: {e.get_error_message()}")
    return "; ".join(done)



def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    """Say how many tests ran through the real Pulumi engine: none may be skipped."""
    stats = terminalreporter.stats
    ran = sum(1 for outcome in ("passed", "failed") for r in stats.get(outcome, [])
              if r.when == "call" and "engine" in r.keywords)
    skipped = sum(1 for r in stats.get("skipped", []) if "engine" in r.keywords)
    terminalreporter.write_line(f"real Pulumi engine tests run: {ran}, skipped: {skipped}")
