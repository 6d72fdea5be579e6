"""What the three dynamic providers share: check plumbing, policy-driven diff, the connection.

The provider classes are pickled *by reference* into every resource's state
(`pulumi_libvirt_storage_provider.dynamic.<module>.<Class>`): their module paths and class
names are part of the state format and must never change. Nothing unpicklable may live on
an instance; connections are in ops.connection's per-process cache.
"""

from __future__ import annotations

import secrets
from typing import Any, Callable

from pulumi.runtime import rpc
from pulumi.dynamic import CheckFailure, CheckResult, ConfigureRequest, DiffResult, ResourceProvider

from ..ops import connection
from ..spec.fields import Failures, Policy, ResourceSchema, changed_paths, policy_for

NAME_PREFIX_KEY = "__name_prefix"  # the resource name, sent by the SDK for auto-naming


class LibvirtProvider(ResourceProvider):
    schema: ResourceSchema
    # The provider holds no secret, so its serialised form need not be encrypted in state.
    serialize_as_secret_always = False

    def __init__(self) -> None:
        super().__init__()
        self._config_uri: str | None = None

    def configure(self, req: ConfigureRequest) -> None:
        self._config_uri = req.config.get("libvirt:uri") or None

    def uri(self, props: dict[str, Any]) -> str:
        return connection.resolve_uri(props.get("uri"), getattr(self, "_config_uri", None))

    def call(self, props: dict[str, Any], fn: Callable[[Any], Any]) -> Any:
        return connection.call(self.uri(props), fn)

    @staticmethod
    def validate(raw: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def canonical(self, props: dict[str, Any]) -> dict[str, Any]:
        """Inputs as check made them. Create and Update receive them back over the wire, where every
        number has become a float; normalising again (idempotent) restores ints."""
        raw = self.inputs_only(props)
        prefix = raw.pop(NAME_PREFIX_KEY, None)
        spec = self.validate(raw)
        if prefix:
            spec[NAME_PREFIX_KEY] = prefix
        return spec

    # -- check -------------------------------------------------------------------------
    def input_names(self) -> set[str]:
        return {f.name for f in self.schema.inputs}

    def inputs_only(self, props: dict[str, Any]) -> dict[str, Any]:
        """The user's inputs: computed outputs (declared by the SDK as None) and engine keys dropped,
        except the auto-naming prefix."""
        keep = self.input_names() | {NAME_PREFIX_KEY}
        return {k: _unwrap_secrets(v) for k, v in props.items() if k in keep}

    def run_check(self, olds: dict[str, Any], news: dict[str, Any],
                  validate: Callable[[dict[str, Any]], dict[str, Any]], name_key: str | None = "name"
                  ) -> CheckResult:
        raw = self.inputs_only(news)
        prefix = raw.pop(NAME_PREFIX_KEY, None)
        try:
            spec = validate(raw)
        except Failures as f:
            return CheckResult(news, [CheckFailure(e.prop, e.reason) for e in f.failures])
        if name_key and spec.get(name_key) is None and prefix:
            # Pulumi-style auto-naming, stable across runs: keep the name chosen before.
            if olds.get(NAME_PREFIX_KEY) == prefix and olds.get(name_key):
                spec[name_key] = olds[name_key]
            else:
                spec[name_key] = f"{prefix}-{secrets.token_hex(4)}"
        if prefix:
            spec[NAME_PREFIX_KEY] = prefix
        failures = self.check_transition(olds, spec)
        if failures:
            return CheckResult(news, failures)
        return CheckResult(spec, [])

    def check_transition(self, olds: dict[str, Any], spec: dict[str, Any]) -> list[CheckFailure]:
        """Rules about a change from the old inputs (e.g. no shrinking); none by default."""
        return []

    # -- diff --------------------------------------------------------------------------
    def changed_inputs(self, olds: dict[str, Any], news: dict[str, Any], skip: tuple[str, ...] = ()
                       ) -> list[str]:
        paths: list[str] = []
        for key in sorted(self.input_names()):
            if key in skip:
                continue
            paths += changed_paths(olds.get(key), news.get(key), f"{key}.")
        return paths

    def policy(self, path: str) -> Policy:
        return policy_for(self.schema.policy, self.schema.name, path)

    def diff_from_paths(self, paths: list[str]) -> DiffResult:
        replaces = sorted({p.split(".")[0].split("[")[0] for p in paths if self.policy(p) & Policy.REPLACE})
        return DiffResult(changes=bool(paths), replaces=replaces, stables=[], delete_before_replace=True)


def _unwrap_secrets(value: Any) -> Any:
    """Plain values from the wire form of secrets ({sig: secret, value: ...}). The engine strips
    secrets for this server (acceptSecrets=False), but a value may still arrive wrapped."""
    value = rpc.unwrap_rpc_secret(value)
    if isinstance(value, dict):
        return {k: _unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_secrets(v) for v in value]
    return value


def whole_numbers(value: Any) -> Any:
    """A value from the wire (where every number became a float) with its whole numbers as ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [whole_numbers(v) for v in value]
    return value


def merge_outputs(schema: ResourceSchema, spec: dict[str, Any], computed: dict[str, Any]) -> dict[str, Any]:
    """Outputs = the canonical inputs + what libvirt reports. Every declared key is present, None
    when unset: an output missing from the state is unknown in the next preview, and a resource that
    takes it as input (a volume's uri from its pool's) would be planned for replacement."""
    secret = _secret_names(schema)
    out: dict[str, Any] = {f.name: None for f in schema.inputs + schema.outputs if not f.policy & Policy.SECRET}
    out.update({k: v for k, v in spec.items() if k not in secret})
    out.update(computed)
    return out


def _secret_names(schema: ResourceSchema) -> set[str]:
    return {f.name for f in schema.inputs if f.policy & Policy.SECRET}


def overlay(stored: Any, live: Any) -> Any:
    """The live value of every field the user set; fields the user left out stay out, so
    libvirt's defaults never show up as drift."""
    if isinstance(stored, dict):
        live = live if isinstance(live, dict) else {}
        return {k: overlay(v, live.get(k)) if v is not None else None for k, v in stored.items()}
    if isinstance(stored, list) and isinstance(live, list) and len(stored) == len(live):
        return [overlay(s, lv) for s, lv in zip(stored, live)]
    return live
