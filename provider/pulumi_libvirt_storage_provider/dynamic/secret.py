"""The providers of the secret resources (CephSecret, IscsiSecret, VolumeSecret, TlsSecret,
VtpmSecret). Their class paths are stored in state: never rename or move them."""

from __future__ import annotations

from ..resources.secret import ISCSI_SECRETS, SECRETS, TLS_SECRETS, VOLUME_SECRETS, VTPM_SECRETS
from .base import LibvirtProvider


class CephSecretProvider(LibvirtProvider):
    logic = SECRETS
    schema = SECRETS.schema


class IscsiSecretProvider(LibvirtProvider):
    logic = ISCSI_SECRETS
    schema = ISCSI_SECRETS.schema


class VolumeSecretProvider(LibvirtProvider):
    logic = VOLUME_SECRETS
    schema = VOLUME_SECRETS.schema


class TlsSecretProvider(LibvirtProvider):
    logic = TLS_SECRETS
    schema = TLS_SECRETS.schema


class VtpmSecretProvider(LibvirtProvider):
    logic = VTPM_SECRETS
    schema = VTPM_SECRETS.schema
