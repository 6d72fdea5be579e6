"""Loop devices over sparse files, for fs, disk and logical pools on real block devices."""

from __future__ import annotations

import contextlib
import os
import pathlib
import subprocess
from typing import Iterator


@contextlib.contextmanager
def loop_device(backing: pathlib.Path, size_bytes: int, alias: pathlib.Path | None = None) -> Iterator[str]:
    """A loop device over a new sparse file; `alias` is a symlink to it (libvirt's disk backend names
    partitions from the source path, and 9.0 deletes partitions correctly only when that path ends
    in 'p'). Detached at the end, whatever happened."""
    with open(backing, "wb") as f:
        f.truncate(size_bytes)
    device = subprocess.run(["losetup", "--find", "--show", str(backing)], check=True, capture_output=True,
                            text=True).stdout.strip()
    try:
        if alias is not None:
            os.symlink(device, alias)
        yield str(alias) if alias is not None else device
    finally:
        if alias is not None and alias.is_symlink():
            alias.unlink()
        subprocess.run(["umount", "-l", device], capture_output=True)
        # partitions first; then the device (retry: udev may still hold it for a moment)
        for _ in range(20):
            if subprocess.run(["losetup", "-d", device], capture_output=True).returncode == 0:
                break
            subprocess.run(["sleep", "0.2"])
        backing.unlink(missing_ok=True)
