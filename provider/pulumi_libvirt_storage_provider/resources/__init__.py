"""The three resources, independent of the Pulumi front end that serves them (see base.py)."""

from .base import Change, Checked, Context, Diff, Read, ResourceLogic
from .pool import POOLS
from .secret import SECRETS
from .volume import VOLUMES

LOGIC: dict[str, ResourceLogic] = {"StoragePool": POOLS, "StorageVolume": VOLUMES, "CephSecret": SECRETS}

__all__ = ["Change", "Checked", "Context", "Diff", "Read", "ResourceLogic", "POOLS", "VOLUMES", "SECRETS", "LOGIC"]
