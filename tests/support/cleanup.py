"""Removing what a test made on the host, shared by the tiers' cleanup fixtures."""

from __future__ import annotations

import libvirt


def remove_pool(conn: libvirt.virConnect, name: str) -> bool:
    """Delete the pool's volumes, stop and undefine it; False when there was no such pool. Its
    directory is the caller's to remove."""
    try:
        pool = conn.storagePoolLookupByName(name)
    except libvirt.libvirtError as e:
        if e.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL:
            return False
        raise
    if not pool.isActive():
        try:
            pool.create(0)
        except libvirt.libvirtError:
            pass  # e.g. its directory is gone: nothing to delete inside it
    if pool.isActive():
        pool.refresh(0)
        for vol in pool.listAllVolumes():
            vol.delete(0)
        pool.destroy()
    if pool.isPersistent():
        pool.undefine()
    return True
