"""A kernel command line in the shape pulumi-libvirt's Domain reads back, so that `cmdlines` shows no
drift on refresh.

`cmdlines` is a list of maps, replace-on-change. terraform-provider-libvirt 0.8 writes every `key=value`
(and every map's `_`, a key-less argument) into one line sorted as strings, and reads that line back
split into maps: arguments in order, a new map whenever a key repeats, and one last `{"_": ...}` with
the key-less arguments joined by spaces. Declared any other way, the same line reads back as other
maps and `pulumi refresh` then shows the Domain as to be replaced.
"""

from __future__ import annotations


def cmdline_maps(cmdline: str) -> list[dict[str, str]]:
    """`"console=ttyS0 quiet panic=-1"` -> `[{"console": "ttyS0", "panic": "-1"}, {"_": "quiet"}]`."""
    maps: list[dict[str, str]] = []
    current: dict[str, str] = {}
    keyless: list[str] = []
    for arg in sorted(cmdline.split()):
        if "=" not in arg:
            keyless.append(arg)
            continue
        key, value = arg.split("=", 1)
        if key in current:
            maps.append(current)
            current = {}
        current[key] = value
    if current:
        maps.append(current)
    if keyless:
        maps.append({"_": " ".join(keyless)})
    return maps
