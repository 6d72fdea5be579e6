"""StoragePoolProvider. The class path
`pulumi_libvirt_storage_provider.dynamic.pool.StoragePoolProvider` is stored in every pool's
state: never rename or move it."""

from __future__ import annotations

from ..resources.pool import POOLS
from .base import LibvirtProvider


class StoragePoolProvider(LibvirtProvider):
    logic = POOLS
    schema = POOLS.schema
