"""The three resources, independent of the Pulumi front end that serves them (see base.py)."""

from .base import Change, Checked, Context, Diff, Read, ResourceLogic
from .pool import POOLS
from .secret import ISCSI_SECRETS, SECRETS, TLS_SECRETS, VOLUME_SECRETS, VTPM_SECRETS
from .volume import VOLUMES

LOGIC: dict[str, ResourceLogic] = {"StoragePool": POOLS, "StorageVolume": VOLUMES, "CephSecret": SECRETS,
                                   "IscsiSecret": ISCSI_SECRETS, "VolumeSecret": VOLUME_SECRETS,
                                   "TlsSecret": TLS_SECRETS, "VtpmSecret": VTPM_SECRETS}

__all__ = ["Change", "Checked", "Context", "Diff", "Read", "ResourceLogic", "POOLS", "VOLUMES", "SECRETS", "ISCSI_SECRETS",
           "VOLUME_SECRETS", "LOGIC"]
