"""CephSecret: check, diff, previews and the life cycle.

The key reaches this layer in plain text and leaves it only as bytes given to libvirt's
setValue. Outputs never contain it: `value` is not returned, and `value_fingerprint` is an HMAC
keyed by the secret's uuid.
"""

from __future__ import annotations

from typing import Any

from .. import importer
from ..ops import secrets
from ..spec.fields import is_unknown
from ..spec.secret import SECRET_SCHEMA, check_secret, fingerprint
from ..spec.units import SpecError
from .base import Context, Read, ResourceLogic

SECRET_INPUTS = ("value",)


class SecretLogic(ResourceLogic):
    schema = SECRET_SCHEMA
    name_key = None
    uuid_key = "uuid"
    # `uuid` is both an optional input and the uuid libvirt holds; the value is compared by fingerprint.
    optional_echoes = ("uuid",)

    def validate(self, raw: dict[str, Any]) -> dict[str, Any]:
        return check_secret(raw)

    def check_transition(self, olds: dict[str, Any], spec: dict[str, Any], ctx: Context) -> list[SpecError]:
        if not olds and spec.get("value") is None and not spec.get("adopt"):
            return [SpecError("value", "is required for a new secret: give the cephx key (pulumi config set --secret "
                              "...); only an adopted or imported secret may leave it out")]
        return []

    def diff_extra(self, olds: dict[str, Any], news: dict[str, Any], ctx: Context) -> list[str]:
        value = news.get("value")
        if is_unknown(value) or (isinstance(value, str) and olds.get("uuid")
                                 and fingerprint(value, olds["uuid"]) != olds.get("value_fingerprint")):
            return ["value"]
        return []

    def changed_inputs(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        # The value is never in the outputs: it is compared through its fingerprint (diff_extra).
        return [p for p in super().changed_inputs(olds, {**news, "value": None}) if p != "value"]

    def identity(self, conn: Any, id_: str, olds: dict[str, Any]) -> Any:
        state = secrets.read(conn, id_)
        return None if state is None else (state.uuid, state.observed.get("usage_name"))

    live_outputs = ()

    def predict(self, inputs: dict[str, Any], olds: dict[str, Any], ctx: Context) -> dict[str, Any]:
        predicted: dict[str, Any] = {"adopted": False} if inputs.get("adopt") is False else {}
        value, uuid = inputs.get("value"), inputs.get("uuid") or olds.get("uuid")
        if isinstance(value, str) and isinstance(uuid, str) and not is_unknown(value) and not is_unknown(uuid):
            predicted["value_fingerprint"] = fingerprint(value, uuid)
        return predicted

    def import_(self, id_: str, ctx: Context) -> tuple[Read, dict[str, Any]]:
        def run(conn: Any) -> tuple[Any, Any] | None:
            state = secrets.read(conn, id_)
            if state is None:
                return None
            return state, importer.secret_args(conn.secretLookupByUUIDString(id_).XMLDesc(0))

        found = self.call({}, ctx, run)
        if found is None or found[1] is None:
            return Read("", {}), {}
        state, args = found
        spec = self.validate(dict(args))
        return Read(state.uuid, self._outputs(spec, state, state.fingerprint or "", False, ctx)), args

    def _outputs(self, spec: dict[str, Any], state: secrets.SecretState, fp: str, adopted: bool, ctx: Context
                 ) -> dict[str, Any]:
        public = {k: v for k, v in spec.items() if k not in SECRET_INPUTS}
        return self.outputs(public, {"uuid": state.uuid, "value_fingerprint": fp, "adopted": adopted}, ctx)

    def create(self, inputs: dict[str, Any], ctx: Context) -> tuple[str, dict[str, Any]]:
        spec = self.canonical(inputs)
        own = self.own_uuid(spec)
        state, adopted = self.call(spec, ctx, lambda conn: secrets.create(conn, spec, own_uuid=own))
        fp = fingerprint(spec["value"], state.uuid) if spec.get("value") else (state.fingerprint or "")
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
        fp = fingerprint(spec["value"], id_) if spec.get("value") else olds.get("value_fingerprint") or ""
        value_changed = spec.get("value") is not None and fp != olds.get("value_fingerprint")
        redefine = spec.get("description") != olds.get("description")
        state = self.call(olds, ctx, lambda conn: secrets.update(conn, id_, spec, value_changed=value_changed,
                                                                 redefine=redefine))
        return self._outputs(spec, state, fp, bool(olds.get("adopted")), ctx)

    def delete(self, id_: str, props: dict[str, Any], ctx: Context) -> None:
        if props.get("adopted"):
            return
        self.call(props, ctx, lambda conn: secrets.delete(conn, id_))


SECRETS = SecretLogic()
