"""pulumi-libvirt-storage: bring existing libvirt storage under management.

    pulumi-libvirt-storage import-args --xml pool.xml [--kind pool|volume|secret] [--pool NAME]
    pulumi-libvirt-storage import-args --uri qemu:///system
    pulumi-libvirt-storage import-program --uri qemu:///system > __main__.py

    pulumi-libvirt-storage guard preview.json [--allow NAME ...]
    pulumi-libvirt-storage migrate-state before.json > after.json

import-args prints the resource arguments as JSON; import-program prints a Pulumi Python program
that adopts every pool, volume and ceph secret of the host (keys are read from secret config).
guard reads the JSON of `pulumi preview --json` (a file, or - for stdin), lists every pool, volume
and secret it would delete or replace and what happens to its data, and exits 1 unless each one
is allowed by resource name or URN (glob patterns work). migrate-state rewrites the output of
`pulumi stack export` so that the stack's pools, volumes and secrets move from the dynamic provider
to the provider plugin (same objects, nothing recreated; see migrate.py), for `pulumi stack import`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from . import importer


def _from_xml(path: str, kind: str, pool: str | None) -> dict[str, Any] | None:
    with open(path) as f:
        xml = f.read()
    if kind == "pool":
        return importer.pool_args(xml)
    if kind == "volume":
        if not pool:
            raise SystemExit("--pool is required with --kind volume")
        return importer.volume_args(xml, pool)
    found = importer.secret_args(xml)
    return None if found is None else {"resource": found[0], **found[1]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pulumi-libvirt-storage", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    args_cmd = sub.add_parser("import-args", help="print resource arguments as JSON")
    args_cmd.add_argument("--xml", help="a libvirt XML file instead of a live host")
    args_cmd.add_argument("--kind", choices=("pool", "volume", "secret"), default="pool")
    args_cmd.add_argument("--pool", help="the pool of a volume read from --xml")
    args_cmd.add_argument("--uri", help="libvirt URI of the host (default: LIBVIRT_DEFAULT_URI)")
    prog_cmd = sub.add_parser("import-program", help="print a Pulumi program adopting the host's storage")
    prog_cmd.add_argument("--uri", help="libvirt URI of the host (default: LIBVIRT_DEFAULT_URI)")
    prog_cmd.add_argument("--no-volumes", action="store_true", help="pools and secrets only")
    guard_cmd = sub.add_parser("guard", help="refuse a preview that deletes or replaces storage unless allowed")
    guard_cmd.add_argument("preview", help="the output of `pulumi preview --json` (a file, or - for stdin)")
    guard_cmd.add_argument("--allow", action="append", default=[], metavar="NAME",
                           help="a resource name or URN (glob) whose deletion or replacement is intended")
    migrate_cmd = sub.add_parser("migrate-state", help="move an exported stack from the dynamic provider to "
                                 "the provider plugin (for pulumi stack import)")
    migrate_cmd.add_argument("export", help="the output of `pulumi stack export` (a file, or - for stdin)")
    ns = parser.parse_args(argv)

    if ns.command == "migrate-state":
        from . import migrate
        text = sys.stdin.read() if ns.export == "-" else open(ns.export).read()
        document, moved = migrate.migrate(json.loads(text))
        json.dump(document, sys.stdout, indent=2)
        print()
        print(f"migrate-state: {moved} resource(s) moved to the libvirt-storage provider plugin", file=sys.stderr)
        return 0
    if ns.command == "guard":
        from . import guard
        text = sys.stdin.read() if ns.preview == "-" else open(ns.preview).read()
        return guard.run(text, ns.allow, sys.stdout)

    if ns.command == "import-args" and ns.xml:
        json.dump(_from_xml(ns.xml, ns.kind, ns.pool), sys.stdout, indent=2)
        print()
        return 0
    import libvirt

    from .ops.connection import resolve_uri
    uri = resolve_uri(ns.uri)
    conn = libvirt.openReadOnly(uri or None)
    try:
        inventory = importer.read_host(conn, include_volumes=not getattr(ns, "no_volumes", False))
    finally:
        conn.close()
    if ns.command == "import-args":
        secrets = [{"resource": resource, **args} for resource, args in inventory.secrets]
        json.dump({"pools": inventory.pools, "volumes": inventory.volumes, "secrets": secrets},
                  sys.stdout, indent=2)
        print()
    else:
        sys.stdout.write(importer.program(inventory, uri=ns.uri))
    return 0


if __name__ == "__main__":
    sys.exit(main())
