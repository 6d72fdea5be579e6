"""ops/uri_safety.py: which libvirt URIs make the provider run a program or weaken the check of the
host's identity (libvirt 9.0's remote driver), read the way libvirt reads them. Offline, no libvirt."""

from __future__ import annotations

import pytest

from pulumi_libvirt_storage_provider.ops.uri_safety import (ALLOW_CONFIG_KEY, Risk, config_flag, findings,
                                                            query_params, refusal)

RUNS, SKIPS = Risk.RUNS_PROGRAM, Risk.SKIPS_HOST_CHECK

SAFE = [
    "",  # libvirt's own default (LIBVIRT_DEFAULT_URI or libvirt.conf: the machine's, not the program's)
    "qemu:///system",
    "qemu:///session",
    "test:///default",
    "qemu+unix:///system",
    "qemu+unix:///system?socket=/tmp/pytest-0/fleet0/libvirt-sock",  # tests/support/fleet.py
    "qemu+unix:///system?socket=/tmp/a%20b;c/sock",  # a local path, connected to, never given to a shell
    "qemu+ssh://root@kvm1/system",  # runs the user's own ssh, checking the host key as ssh does
    "qemu+ssh://root@kvm1:2222/system?keyfile=/root/.ssh/id_ed25519&no_tty=1&sshauth=privkey",
    "qemu+ssh://root@kvm1/system?socket=/run/libvirt/libvirt-sock",  # a plain path on the far end
    "qemu+ssh://root@kvm1/system?mode=direct&proxy=native",
    "qemu+libssh://root@kvm1/system?known_hosts_verify=normal",
    "qemu+libssh2://root@kvm1/system?known_hosts_verify=NORMAL&sshauth=agent",
    "qemu+tls://kvm1/system",
    "qemu://kvm1/system?tls_priority=NORMAL:-VERS-SSL3.0",  # algorithms; the certificate is still verified
    "qemu+tls://kvm1/system?no_sanity=1",  # checks of the client's own certificates, not of the host
    "qemu+tcp://kvm1/system",  # no host check to weaken: the transport says so, and libvirtd must allow it
    "qemu+tls://kvm1/system?no_verify=0",
    "qemu+tls://kvm1/system?no_verify=00",
    "qemu+ssh://kvm1/system#?command=/tmp/x",  # a fragment: libvirt never reads it
    "qemu+ssh://kvm1/system?socket=/x;touch%20/tmp/p",  # no '&': libvirt splits at ';' (socket=/x)
    "qemu+ssh://kvm1/system?name=qemu:///system",
    "kvm1",  # an alias of libvirt.conf: the machine's configuration
]

UNSAFE = [
    # a program of the URI's choosing, run on this machine
    ("qemu+ext:///system?command=/tmp/relay", {("transport ext", RUNS)}),
    ("QEMU+EXT:///system?command=/tmp/relay", {("transport ext", RUNS)}),  # libvirt lowercases the transport
    ("remote+ext:///?command=/tmp/relay", {("transport ext", RUNS)}),
    ("qemu+ext:///system", {("transport ext", RUNS)}),
    ("qemu+ssh://root@kvm1/system?command=/tmp/not-ssh", {("command", RUNS)}),
    ("qemu+ssh://root@kvm1/system?COMMAND=/tmp/not-ssh", {("command", RUNS)}),  # names: case-insensitive
    ("qemu+ssh://root@kvm1/system?%63ommand=/tmp/not-ssh", {("command", RUNS)}),  # and URI-unescaped
    ("qemu+tls://kvm1/system?command=/tmp/x", {("command", RUNS)}),  # ignored by tls today: refused anyway
    # a program of the URI's choosing, run through a shell on the host
    ("qemu+ssh://root@kvm1/system?netcat=/tmp/not-nc", {("netcat", RUNS)}),
    ("qemu+libssh://root@kvm1/system?netcat=nc", {("netcat", RUNS)}),
    ("qemu+ssh://kvm1/system?socket=/x;touch%20/tmp/p&no_tty=1", {("socket", RUNS)}),  # '&': socket=/x;touch..
    ("qemu+ssh://kvm1/system?socket=/x%3Btouch%20/tmp/p", {("socket", RUNS)}),
    ("qemu+libssh2://kvm1/system?socket=$(touch%20/tmp/p)", {("socket", RUNS)}),
    ("qemu+libssh://kvm1/system?socket=/x'y", {("socket", RUNS)}),
    ("qemu+ssh://kvm1/system?name=qemu%2Bext://h/system%3Fcommand%3D/x", {("name", RUNS)}),  # the far end opens it
    # the host's identity not checked, or checked against what the URI names
    ("qemu+ssh://root@kvm1/system?no_verify=1", {("no_verify", SKIPS)}),
    ("qemu+tls://kvm1/system?no_verify=1", {("no_verify", SKIPS)}),
    ("qemu+ssh://kvm1/system?NO_VERIFY=2", {("no_verify", SKIPS)}),
    ("qemu+ssh://kvm1/system?no_verify=yes", {("no_verify", SKIPS)}),  # libvirt refuses it: so do we
    ("qemu+ssh://kvm1/system?no_verify=1&no_verify=0", {("no_verify", SKIPS)}),  # any occurrence
    ("qemu+libssh://kvm1/system?known_hosts_verify=ignore", {("known_hosts_verify", SKIPS)}),
    ("qemu+libssh2://kvm1/system?known_hosts_verify=Auto", {("known_hosts_verify", SKIPS)}),
    ("qemu+libssh://kvm1/system?known_hosts=/tmp/checkout/known_hosts", {("known_hosts", SKIPS)}),
    ("qemu+tls://kvm1/system?pkipath=/tmp/checkout/pki", {("pkipath", SKIPS)}),
    # several at once
    ("qemu+ssh://kvm1/system?command=/x&netcat=y&no_verify=1",
     {("command", RUNS), ("netcat", RUNS), ("no_verify", SKIPS)}),
]


@pytest.mark.parametrize("uri", SAFE)
def test_uris_that_run_nothing_and_keep_the_host_check_are_safe(uri: str) -> None:
    assert findings(uri) == ()
    assert refusal(uri, "this resource's uri") is None


@pytest.mark.parametrize("uri, expected", UNSAFE)
def test_uris_that_run_a_program_or_weaken_the_host_check_are_found(uri: str, expected: set) -> None:
    assert {(f.part, f.risk) for f in findings(uri)} == expected
    assert all(f.why for f in findings(uri))


def test_parameters_are_split_as_libvirt_splits_them() -> None:
    """virURIParseParams: the next '&', or when none is left the next ';'; names and values URI-unescaped;
    a name without '=' has the value ""; "=value" is ignored."""
    assert query_params("a=1&b=2") == [("a", "1"), ("b", "2")]
    assert query_params("a=1;b=2") == [("a", "1"), ("b", "2")]
    assert query_params("a=1;b=2&c=3") == [("a", "1;b=2"), ("c", "3")]
    assert query_params("a&&=x&b=%2F%20") == [("a", ""), ("b", "/ ")]


def test_the_refusal_says_why_and_how_to_allow() -> None:
    runs = refusal("qemu+ext:///system?command=/tmp/relay", "this resource's uri")
    assert runs is not None
    assert runs.startswith("this resource's uri ") and "`pulumi preview`" in runs and "run" in runs
    assert f"pulumi config set {ALLOW_CONFIG_KEY} true" in runs
    skips = refusal("qemu+ssh://kvm1/system?no_verify=1", "the stack config libvirt:uri")
    assert skips is not None and "no_verify" in skips and "host key" in skips
    assert refusal("qemu+ssh://kvm1/system?no_verify=1", "x", how_to_allow="ALLOW IT SO") .endswith("ALLOW IT SO")


@pytest.mark.parametrize("value, expected", [(None, False), (True, True), (False, False), ("true", True),
                                             ("True", True), (" TRUE ", True), ("false", False), ("", False),
                                             ("yes", None), ("1", None), (1, None)])
def test_the_allow_flag_is_a_boolean_or_its_config_string(value: object, expected: bool | None) -> None:
    assert config_flag(value) is expected
