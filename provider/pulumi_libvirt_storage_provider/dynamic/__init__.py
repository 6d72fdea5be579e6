"""pulumi.dynamic ResourceProviders. Their class paths are stored in state; see base.py."""

from .pool import StoragePoolProvider
from .secret import (CephSecretProvider, IscsiSecretProvider, TlsSecretProvider, VolumeSecretProvider,
                     VtpmSecretProvider)
from .volume import StorageVolumeProvider

__all__ = ["StoragePoolProvider", "StorageVolumeProvider", "CephSecretProvider", "IscsiSecretProvider",
           "VolumeSecretProvider", "TlsSecretProvider", "VtpmSecretProvider"]
