"""pulumi.dynamic ResourceProviders. Their class paths are stored in state; see base.py."""

from .pool import StoragePoolProvider
from .secret import CephSecretProvider
from .volume import StorageVolumeProvider

__all__ = ["StoragePoolProvider", "StorageVolumeProvider", "CephSecretProvider"]
