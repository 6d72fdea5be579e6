"""The resources, independent of the Pulumi front end that serves them (see base.py).

LOGIC holds one ResourceLogic per resource of the registry (spec/registry.py), in its order; a
resource with logic but no registry row, or a row without logic, fails here at import rather than
being served by one front end and missed by the other tools."""

from ..spec.registry import RESOURCES
from .base import Change, Checked, Context, Diff, Read, ResourceLogic
from .pool import POOLS
from .secret import ISCSI_SECRETS, SECRETS, TLS_SECRETS, VOLUME_SECRETS, VTPM_SECRETS
from .volume import VOLUMES

_ALL: tuple[ResourceLogic, ...] = (POOLS, VOLUMES, SECRETS, ISCSI_SECRETS, VOLUME_SECRETS, TLS_SECRETS, VTPM_SECRETS)
_BY_NAME = {logic.schema.name: logic for logic in _ALL}
if set(_BY_NAME) != set(RESOURCES) or any(_BY_NAME[r.name].schema is not r.schema for r in RESOURCES.values()):
    raise ImportError(f"resources/ and spec/registry.py disagree: logic for {sorted(_BY_NAME)}, registered "
                      f"{sorted(RESOURCES)} (each registered resource needs its logic, with the registry's schema)")
LOGIC: dict[str, ResourceLogic] = {name: _BY_NAME[name] for name in RESOURCES}

__all__ = ["Change", "Checked", "Context", "Diff", "Read", "ResourceLogic", "POOLS", "VOLUMES", "SECRETS", "ISCSI_SECRETS",
           "VOLUME_SECRETS", "TLS_SECRETS", "VTPM_SECRETS", "LOGIC"]
