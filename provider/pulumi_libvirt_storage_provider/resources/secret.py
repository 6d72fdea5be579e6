"""CephSecret, IscsiSecret, VolumeSecret: one implementation for libvirt secrets of any usage type.

The value reaches this layer in plain text and leaves it only as bytes given to libvirt's
setValue. Outputs never contain it: `value` is not returned, and `value_fingerprint` (a secret
output) is a slow salted hash keyed by the secret's uuid.
"""

from __future__ import annotations

from typing import Any

from .. import importer
from ..ops import secrets
from ..spec.fields import is_unknown
from ..spec.secret import SECRET_KINDS, SECRET_SCHEMAS, SecretKind, check_secret, fingerprint, fingerprint_matches
from ..spec.units import SpecError
from .base import Context, Read, ResourceLogic

SECRET_INPUTS = ("value",)


class SecretLogic(ResourceLogic):
    name_key = None
    uuid_key = "uuid"
    # `uuid` is both an optional input and the uuid libvirt holds; the value is compared by fingerprint.
    optional_echoes = ("uuid",)
    live_outputs = ("value_fingerprint",)

    def __init__(self, kind: SecretKind) -> None:
        self.kind = kind
        self.schema = SECRET_SCHEMAS[kind.resource]

    def validate(self, raw: dict[str, Any]) -> dict[str, Any]:
        return check_secret(raw, self.kind)

    def check_transition(self, olds: dict[str, Any], spec: dict[str, Any], ctx: Context) -> list[SpecError]:
        if not olds and spec.get("value") is None and not spec.get("adopt"):
            return [SpecError("value", f"is required for a new secret: give the {self.kind.value_noun} "
                              "(pulumi config set --secret ...); only an adopted or imported secret may leave it "
                              "out")]
        old_value, value = olds.get("value"), spec.get("value")
        # (An existing secret adopted without a value holds one this resource never saw: a first value
        # is a change too.)
        if (self.kind.value_change_loses and olds and isinstance(value, str) and not is_unknown(value)
                and not is_unknown(old_value) and old_value != value and not spec.get("allow_value_change")):
            return [SpecError("value", f"a new {self.kind.value_noun} for this {self.kind.resource}: "
                              f"{self.kind.value_change_loses}. Re-encrypt that data with the new value first "
                              "(qemu-img amend for LUKS volumes), then set allow_value_change=true; or keep the "
                              "old value")]
        return []

    def diff_extra(self, olds: dict[str, Any], news: dict[str, Any], ctx: Context) -> list[str]:
        value = news.get("value")
        if is_unknown(value) or (isinstance(value, str) and olds.get("uuid") and not fingerprint_matches(
                value, olds["uuid"], olds.get("value_fingerprint"), self.kind)):
            return ["value"]
        return []

    def changed_inputs(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        # The value is never in the outputs: it is compared through its fingerprint (diff_extra).
        return [p for p in super().changed_inputs(olds, {**news, "value": None}) if p != "value"]

    def changed_live_outputs(self, paths: list[str]) -> tuple[str, ...]:
        return self.live_outputs if "value" in paths else ()

    def identity(self, conn: Any, id_: str, olds: dict[str, Any]) -> Any:
        state = secrets.read(conn, id_)
        return None if state is None else (state.uuid, state.observed.get("usage_name"))

    def predict(self, inputs: dict[str, Any], olds: dict[str, Any], ctx: Context) -> dict[str, Any]:
        # (No fingerprint: with the dynamic front end predictions ride with the inputs, which the state
        # keeps in plain text.)
        return {"adopted": False} if inputs.get("adopt") is False else {}

    def import_(self, id_: str, ctx: Context) -> tuple[Read, dict[str, Any]]:
        def run(conn: Any) -> tuple[Any, Any] | None:
            state = secrets.read(conn, id_)
            if state is None:
                return None
            return state, importer.secret_args(conn.secretLookupByUUIDString(id_).XMLDesc(0))

        found = self.call({}, ctx, run)
        if found is None or found[1] is None or found[1][0] != self.kind.resource:
            return Read("", {}), {}
        state, (_, args) = found
        spec = self.validate(dict(args))
        return Read(state.uuid, self._outputs(spec, state, state.fingerprint or "", False, ctx)), args

    def _outputs(self, spec: dict[str, Any], state: secrets.SecretState, fp: str, adopted: bool, ctx: Context
                 ) -> dict[str, Any]:
        public = {k: v for k, v in spec.items() if k not in SECRET_INPUTS}
        return self.outputs(public, {"uuid": state.uuid, "value_fingerprint": fp, "adopted": adopted}, ctx)

    def create(self, inputs: dict[str, Any], ctx: Context) -> tuple[str, dict[str, Any]]:
        spec = self.canonical(inputs)
        own = self.own_uuid(spec)
        state, adopted = self.call(spec, ctx, lambda conn: secrets.create(conn, self.kind, spec, own_uuid=own))
        fp = fingerprint(spec["value"], state.uuid, self.kind) if spec.get("value") else (state.fingerprint or "")
        return state.uuid, self._outputs(spec, state, fp, adopted, ctx)

    def read(self, id_: str, props: dict[str, Any], ctx: Context) -> Read:
        state = self.call(props, ctx, lambda conn: secrets.read(conn, id_))
        if state is None:
            return Read("", {})
        live = self.inputs_only(props)
        for key in ("usage_name", "private", "ephemeral"):
            live[key] = state.observed.get(key)
        if live.get("description") is not None:
            live["description"] = state.observed.get("description")
        # A private secret's value cannot be read back: keep the fingerprint we set.
        fp = state.fingerprint or props.get("value_fingerprint") or ""
        return Read(id_, self._outputs(live, state, fp, bool(props.get("adopted")), ctx))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any], ctx: Context) -> dict[str, Any]:
        spec = self.canonical(news)
        value = spec.get("value")
        value_changed = value is not None and not fingerprint_matches(value, id_, olds.get("value_fingerprint"),
                                                                      self.kind)
        fp = fingerprint(value, id_, self.kind) if value is not None else olds.get("value_fingerprint") or ""
        redefine = spec.get("description") != olds.get("description")
        state = self.call(olds, ctx, lambda conn: secrets.update(conn, self.kind, id_, spec,
                                                                 value_changed=value_changed, redefine=redefine))
        return self._outputs(spec, state, fp, bool(olds.get("adopted")), ctx)

    def delete(self, id_: str, props: dict[str, Any], ctx: Context) -> None:
        if props.get("adopted"):
            return
        self.call(props, ctx, lambda conn: secrets.delete(conn, id_))


SECRETS = SecretLogic(SECRET_KINDS["CephSecret"])
ISCSI_SECRETS = SecretLogic(SECRET_KINDS["IscsiSecret"])
VOLUME_SECRETS = SecretLogic(SECRET_KINDS["VolumeSecret"])
TLS_SECRETS = SecretLogic(SECRET_KINDS["TlsSecret"])
VTPM_SECRETS = SecretLogic(SECRET_KINDS["VtpmSecret"])
