"""Loop devices over sparse files, for fs, disk and logical pools on real block devices."""

from __future__ import annotations

import contextlib
import os
import pathlib
import subprocess
from typing import Iterator


@contextlib.contextmanager
def loop_device(backing: pathlib.Path, size_bytes: int, alias_dir: pathlib.Path | None = None) -> Iterator[str]:
    """A loop device over a new sparse file. With `alias_dir`, the path returned is a symlink
    `<alias_dir>/loopNp` to it: libvirt 9.0's disk backend names partitions `loopNp1` but deletes
    them only when they start with the source path's name, so the source must be called `loopNp`.
    Detached at the end, whatever happened."""
    with open(backing, "wb") as f:
        f.truncate(size_bytes)
    device = subprocess.run(["losetup", "--find", "--show", str(backing)], check=True, capture_output=True,
                            text=True).stdout.strip()
    alias = alias_dir / (os.path.basename(device) + "p") if alias_dir is not None else None
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
