"""StorageVolumeProvider. The class path is stored in state: never rename or move it."""

from __future__ import annotations

from ..resources.volume import VOLUMES
from .base import LibvirtProvider


class StorageVolumeProvider(LibvirtProvider):
    logic = VOLUMES
    schema = VOLUMES.schema
