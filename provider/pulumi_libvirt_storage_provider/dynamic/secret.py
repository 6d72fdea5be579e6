"""CephSecretProvider. The class path is stored in state: never rename or move it."""

from __future__ import annotations

from ..resources.secret import SECRETS
from .base import LibvirtProvider


class CephSecretProvider(LibvirtProvider):
    logic = SECRETS
    schema = SECRETS.schema
