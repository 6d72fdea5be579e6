"""Host-side helpers for tests whose stacks declare pulumi-libvirt networks and domains."""

from __future__ import annotations

import hashlib
import ipaddress
import subprocess
import time

import libvirt

from tests.support.guest import remove_domain


def free_subnet(seed: str) -> str:
    """A 10.x.y.0/24 derived from `seed` (a unique name: two runs of this test at once get two subnets)
    that no route of this host overlaps; libvirt refuses to start a network on a subnet in use."""
    routes = subprocess.run(["ip", "-4", "-o", "route", "show", "table", "all"], check=True, capture_output=True,
                            text=True).stdout
    used = []
    for line in routes.splitlines():
        words = line.split()
        dest = words[1] if words[0] in ("local", "broadcast", "unicast", "unreachable", "blackhole") else words[0]
        if dest != "default":
            used.append(ipaddress.ip_network(dest, strict=False))
    digest = hashlib.sha256(seed.encode()).digest()
    for i in range(0, len(digest), 2):
        subnet = ipaddress.ip_network(f"10.{digest[i]}.{digest[i + 1]}.0/24")
        if not any(subnet.overlaps(u) for u in used):
            return str(subnet)
    raise AssertionError(f"no free 10.x.y.0/24 derived from {seed!r}")


def remove_domain_and_network(conn: libvirt.virConnect, domain: str, network: str) -> None:
    """Stop and undefine them if they exist (tests.support.guest.remove_domain, which also removes
    the domain's log); waits out a libvirtd that another test is restarting."""
    for attempt in range(30):
        try:
            remove_domain(conn, domain)
            for net in conn.listAllNetworks():
                if net.name() == network:
                    if net.isActive():
                        net.destroy()
                    net.undefine()
            return
        except libvirt.libvirtError:
            if attempt == 29:
                raise
            time.sleep(1)
