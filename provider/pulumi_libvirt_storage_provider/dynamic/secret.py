"""CephSecretProvider. The class path is stored in state: never rename or move it.

The key reaches this provider in plain text (the engine strips secrets before each call) and
leaves it only as bytes given to libvirt's setValue. Outputs never contain it: `value` is not
returned, and `value_fingerprint` is an HMAC keyed by the secret's uuid.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult

from ..ops import secrets
from ..spec.fields import is_unknown
from ..spec.secret import SECRET_SCHEMA, check_secret, fingerprint
from .base import LibvirtProvider, merge_outputs

_SECRET_INPUTS = ("value",)


class CephSecretProvider(LibvirtProvider):
    schema = SECRET_SCHEMA
    validate = staticmethod(check_secret)

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        result = self.run_check(olds, news, check_secret, name_key=None)
        spec = result.inputs
        if not result.failures and spec.get("uuid") is None and not spec.get("adopt"):
            # Choose the uuid here, once, and keep it: it is then an input, known in every preview.
            # Otherwise a key rotation would show the uuid as unknown in the preview, and every
            # pool whose auth refers to it as an update. (A replacement is checked afresh by the
            # engine, without olds, and so gets a new uuid, like a new auto-name.)
            spec["uuid"] = olds.get("uuid") if isinstance(olds.get("uuid"), str) else str(uuidlib.uuid4())
        return result

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # `uuid` is both an optional input and the output libvirt assigned: only a given one counts.
        skip = _SECRET_INPUTS + (() if news.get("uuid") is not None else ("uuid",))
        paths = self.changed_inputs(olds, news, skip=skip)
        value = news.get("value")
        if is_unknown(value) or (isinstance(value, str) and olds.get("uuid")
                                 and fingerprint(value, olds["uuid"]) != olds.get("value_fingerprint")):
            paths.append("value")
        return self.diff_from_paths(paths)

    def _outputs(self, spec: dict[str, Any], state: secrets.SecretState, fp: str, adopted: bool
                 ) -> dict[str, Any]:
        public = {k: v for k, v in spec.items() if k not in _SECRET_INPUTS}
        return merge_outputs(self.schema, public, {"uuid": state.uuid, "value_fingerprint": fp, "adopted": adopted})

    def create(self, props: dict[str, Any]) -> CreateResult:
        spec = self.canonical(props)
        state, adopted = self.call(spec, lambda conn: secrets.create(conn, spec))
        fp = fingerprint(spec["value"], state.uuid)
        return CreateResult(state.uuid, self._outputs(spec, state, fp, adopted))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        state = self.call(props, lambda conn: secrets.read(conn, id_))
        if state is None:
            return ReadResult(id_="", outs={})
        live = self.inputs_only(props)
        for key in ("usage_name", "private", "ephemeral"):
            live[key] = state.observed.get(key)
        if live.get("description") is not None:
            live["description"] = state.observed.get("description")
        # A private secret's value cannot be read back: keep the fingerprint we set.
        fp = state.fingerprint or props.get("value_fingerprint") or ""
        return ReadResult(id_=id_, outs=self._outputs(live, state, fp, bool(props.get("adopted"))))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        spec = self.canonical(news)
        fp = fingerprint(spec["value"], id_)
        value_changed = fp != olds.get("value_fingerprint")
        redefine = spec.get("description") != olds.get("description")
        state = self.call(spec, lambda conn: secrets.update(conn, id_, spec, value_changed=value_changed,
                                                            redefine=redefine))
        return UpdateResult(self._outputs(spec, state, fp, bool(olds.get("adopted"))))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        if props.get("adopted"):
            return
        self.call(props, lambda conn: secrets.delete(conn, id_))
