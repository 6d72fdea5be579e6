"""Which libvirt connection URIs make this provider run a program, or weaken the check that the host
is the one the URI names, read as libvirt 9.0's remote driver reads them. Pure: no libvirt here.

Why it matters: `pulumi preview` opens the URIs of a program (the same-host check of a changed `uri`,
the volume predictions that read a pool from the host, refresh). A URI can come from a pull request
(a YAML program, `Pulumi.<stack>.yaml`, a stack reference), and a CI job previews pull requests with
its own credentials. A URI that names a program would run it there; one that skips the host key
check would connect to whoever answers and may record that answer as trusted for later runs. Such
URIs are refused unless the stack allows them (`libvirt-storage:allowUnsafeUris`, ALLOW_CONFIG_KEY).

What libvirt 9.0 does with a URI `driver[+transport]://[user@][host][:port]/path[?params]`
(src/remote/remote_driver.c doRemoteOpen, src/rpc/virnetclient.c, src/rpc/virnetsocket.c):

Runs a program:
- transport `ext`: runs the parameter `command` (no shell, no arguments) and speaks libvirt's RPC over
  its stdin/stdout. Whatever the command is, it runs on this machine.
- `command` with the `ssh` transport: the program run instead of `ssh` (the same argv, so any
  program). Other transports ignore it today; it is refused on all, which costs nothing and keeps the
  rule from depending on libvirt's transport parsing.
- `netcat` with the ssh transports (`ssh`, `libssh`, `libssh2`): the program the far end's shell runs
  to reach libvirtd (`'<netcat>' -U <socket>`), with the user's ssh identity on that host.
- `socket` with the ssh transports: the far end's socket path is written *unquoted* into that shell
  command line (virNetClientSSHHelperCommand: `'%s' $ARG -U %s`, checked in libvirt.so 9.0), so a
  value with shell characters runs commands on the host. A plain path (letters, digits, `/._+-=:,@%`)
  stays allowed; with the `unix` transport `socket` is a local socket connected to, never a shell word.
- `name`: the URI the far end's daemon opens itself; it is read by the same rules (a remote daemon
  asked to open `qemu+ext://...` would run that command there).

Weakens the host check (the host may be an impostor, and the run would not notice):
- `no_verify` other than 0: ssh gets `StrictHostKeyChecking=no` (an unknown host key is accepted and
  written to known_hosts, so later runs trust it too); tls skips the server certificate check. Any
  value but a plain 0 is refused (libvirt itself refuses non-numbers).
- `known_hosts_verify` other than `normal` (libssh, libssh2): `auto` accepts and records unknown keys,
  `ignore` checks nothing.
- `known_hosts` (libssh, libssh2) and `pkipath` (tls): the URI chooses the file (or directory of CA
  certificates) that decides whether the host is genuine; a URI from a pull request could name a file
  the pull request adds. The defaults (`~/.config/libvirt/known_hosts`, `/etc/pki/CA/cacert.pem`,
  `~/.pki/libvirt`) are the machine's, not the URI's.

Deliberately not refused:
- a plain `qemu+ssh://user@host/...`: it runs the user's own `ssh` (argv only: host after `--`, user
  after `-l`, key after `-i`, nothing through a shell), which checks the host key as ssh always does.
- `keyfile`, `sshauth`, `no_tty` (stricter), `mode`, `proxy`, `auth`, `authfile`: they choose how this
  machine proves who it is, or which daemon answers; nothing runs and the host is still checked.
- `tls_priority`: chooses TLS algorithms; the certificate chain and host name are still verified.
- `no_sanity`: checks of the client's own certificate files, not of the host.
- transport `tcp`: it has no host check to weaken, says so in its name, and libvirtd must be set up to
  accept it.
- a URI without a transport or host (`qemu:///system`, an alias of libvirt.conf, ""): local, or the
  machine's own configuration.
- a query after `#` (a fragment): libvirt never reads it.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from urllib.parse import unquote

#: The stack config key that allows such URIs, the same for both front ends.
ALLOW_CONFIG_KEY = "libvirt-storage:allowUnsafeUris"
ALLOW_PROPERTY = "allowUnsafeUris"  # the provider plugin's config variable and provider input
HOW_TO_ALLOW = (f"If you trust it, allow such URIs for this stack: `pulumi config set {ALLOW_CONFIG_KEY} true` "
                "(a change a reviewer sees).")
ALLOW_DOC = ("Allow connection URIs that make the provider run a program (the ext transport; command=, netcat= "
             "or shell characters in socket= of the ssh transports) or weaken the host check (no_verify, "
             "known_hosts_verify=auto|ignore, known_hosts, pkipath). Off by default: `pulumi preview` opens "
             "these URIs too.")


class Risk(enum.Enum):
    RUNS_PROGRAM = "runs a program"
    SKIPS_HOST_CHECK = "weakens the host check"


@dataclass(frozen=True)
class Finding:
    part: str  # what in the URI: "transport ext", or a parameter's name
    risk: Risk
    why: str  # one clause: what libvirt does with it


SSH_TRANSPORTS = frozenset({"ssh", "libssh", "libssh2"})
#: A `socket` value the far end's shell reads as one plain word.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/._+=:,@%-]*")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_ZERO = re.compile(r"\s*[+-]?0+")  # what strtol reads as 0 with nothing after it (virStrToLong_i)


def transport(uri: str) -> str | None:
    """The transport after the first '+' of the scheme, lowercased as libvirt does; None without one."""
    scheme = _SCHEME.match(uri)
    if scheme is None or "+" not in scheme.group(1):
        return None
    return scheme.group(1).split("+", 1)[1].lower()


def query_params(query: str) -> list[tuple[str, str]]:
    """Name and value of each parameter, split exactly as libvirt's virURIParseParams splits them: at
    the next '&', or when no '&' is left at the next ';' (so in "a=1;b=2&c=3" `a` is "1;b=2"); names and
    values URI-unescaped; "name" alone has the value ""; "=value" is dropped. Getting this exactly right
    matters: a looser split would read `socket=/x;touch /y&...` as a harmless `socket=/x`."""
    params: list[tuple[str, str]] = []
    rest = query
    while rest:
        end = rest.find("&")
        if end < 0:
            end = rest.find(";")
        if end < 0:
            end = len(rest)
        section, rest = rest[:end], rest[end + 1:]
        name, eq, value = section.partition("=")
        if section and name:
            params.append((unquote(name), unquote(value) if eq else ""))
    return params


def _query(uri: str) -> str:
    """The raw query: after the first '?', before a '#' (a fragment libvirt never reads)."""
    return uri.split("#", 1)[0].partition("?")[2]


def findings(uri: str) -> tuple[Finding, ...]:
    """What in `uri` makes libvirt run a program or weaken the host check (see the module's doc)."""
    found: list[Finding] = []
    kind = transport(uri)
    if kind == "ext":
        found.append(Finding("transport ext", Risk.RUNS_PROGRAM,
                             "the ext transport runs the URI's `command` on this machine as the connection"))
    for name, value in query_params(_query(uri)):
        name = name.lower()  # libvirt compares names case-insensitively
        if name == "command" and kind != "ext":
            found.append(Finding("command", Risk.RUNS_PROGRAM,
                                 f"`command={value}` is the program libvirt runs on this machine instead of ssh"))
        elif name == "netcat":
            found.append(Finding("netcat", Risk.RUNS_PROGRAM,
                                 f"`netcat={value}` is a program the host's shell runs for this connection"))
        elif name == "socket" and kind in SSH_TRANSPORTS and not _PLAIN_PATH.fullmatch(value):
            found.append(Finding("socket", Risk.RUNS_PROGRAM,
                                 "`socket` goes unquoted into the command line the host's shell runs, and "
                                 "this one holds shell characters"))
        elif name == "name" and (inner := findings(value)):
            risk = Risk.RUNS_PROGRAM if any(f.risk is Risk.RUNS_PROGRAM for f in inner) else Risk.SKIPS_HOST_CHECK
            found.append(Finding("name", risk, "`name` is a URI the host's daemon opens itself, where "
                                 + "; ".join(f.why for f in inner)))
        elif name == "no_verify" and not _ZERO.fullmatch(value):
            found.append(Finding("no_verify", Risk.SKIPS_HOST_CHECK,
                                 f"`no_verify={value}` accepts a host key (ssh, recording it as trusted) or "
                                 "certificate (tls) that libvirt cannot verify"))
        elif name == "known_hosts_verify" and value.lower() != "normal":
            found.append(Finding("known_hosts_verify", Risk.SKIPS_HOST_CHECK,
                                 f"`known_hosts_verify={value}` accepts a host key that is not known (auto "
                                 "records it as trusted, ignore checks nothing)"))
        elif name == "known_hosts":
            found.append(Finding("known_hosts", Risk.SKIPS_HOST_CHECK,
                                 "`known_hosts` makes a file the URI names decide which host keys are trusted"))
        elif name == "pkipath":
            found.append(Finding("pkipath", Risk.SKIPS_HOST_CHECK,
                                 "`pkipath` makes certificates the URI names decide which host is genuine"))
    return tuple(dict.fromkeys(found))  # (a parameter given twice the same way is one finding)


def refusal(uri: str, source: str, how_to_allow: str = HOW_TO_ALLOW) -> str | None:
    """Why `uri` (from `source`, e.g. "this resource's uri") is refused and how to allow it; None when
    there is nothing to refuse."""
    found = findings(uri)
    if not found:
        return None
    risks = {f.risk for f in found}
    consequence = []
    if Risk.RUNS_PROGRAM in risks:
        consequence.append("run that program wherever the preview runs (a pull request's preview, in CI)")
    if Risk.SKIPS_HOST_CHECK in risks:
        consequence.append("connect to a host whose key or certificate is not checked")
    return (f"{source} is refused: {'; '.join(f.why for f in found)}. `pulumi preview` opens this URI too "
            f"(to compare hosts and predict volumes), so a preview would {' and '.join(consequence)}. "
            f"{how_to_allow}")


def config_flag(value: object) -> bool | None:
    """The allow flag as the front ends receive it: a boolean, or the string Pulumi's config holds
    ("true"/"false", any case); absent or "" is False; anything else None (not a flag)."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", ""):
        return value.strip().lower() == "true"
    return None
