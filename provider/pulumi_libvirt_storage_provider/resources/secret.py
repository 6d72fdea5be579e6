"""CephSecret, IscsiSecret, VolumeSecret: one implementation for libvirt secrets of any usage type.

The value reaches this layer in plain text and leaves it only as bytes given to libvirt's
setValue. Outputs never contain it: `value` is not returned, and `value_fingerprint` (a secret
output) is a slow salted hash keyed by the secret's uuid.
"""

from __future__ import annotations

from typing import Any

from .. import importer
from ..ops import connection, secrets
from ..ops.errors import LibvirtOpError
from ..spec.fields import Failures, Policy, contains_unknown, is_unknown
from ..spec.secret import SECRET_KINDS, SECRET_SCHEMAS, SecretKind, check_secret, fingerprint, fingerprint_matches
from ..spec.units import SpecError
from . import intents
from .base import SEED_KEY, Context, Read, ResourceLogic

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
        return self._replacement_refusals(olds, spec, ctx)

    def _replacement_refusals(self, olds: dict[str, Any], spec: dict[str, Any], ctx: Context) -> list[SpecError]:
        """A replacement defines a new secret with the program's value; without one (an imported or
        adopted secret, whose value the program never gave) the new secret would be empty, and libvirt
        never gives a value back to carry over: refused, with the way out."""
        if not olds or spec.get("value") is not None:
            return []
        try:  # (the old inputs with their defaults, as check made them)
            olds = {**olds, **self.validate(self.inputs_only({**olds, "value": None}))}
        except Failures:
            pass
        replaced = [p for p in self.changed_inputs(olds, spec) if self.policy(p) & Policy.REPLACE
                    and not contains_unknown(spec.get(p.split(".")[0]))]
        if "uri" in replaced and _same_uri(olds.get("uri"), spec.get("uri"), ctx):
            replaced.remove("uri")  # (the same host, written another way: no replacement)
        if not replaced:
            return []
        return [SpecError(replaced[0], f"changing {', '.join(replaced)} replaces this {self.kind.resource}, and the "
                          f"program gives no value: the secret made in its place would be empty (libvirt never "
                          f"gives a value back to carry over), and whatever uses it would fail. Give value (the "
                          f"{self.kind.value_noun} it holds, as a secret: pulumi config set --secret ...), or keep "
                          f"{', '.join(replaced)} as {'it is' if len(replaced) == 1 else 'they are'}")]

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
        seed, usage, kind = spec.get(SEED_KEY), spec["usage_name"], self.kind
        intent = self._intent(spec, ctx)

        def run(conn: Any) -> tuple[secrets.SecretState, bool]:
            existing = secrets.by_usage(conn, kind, usage)
            record = intents.recorded(intent) if existing is not None and seed else None
            if existing is not None and record is not None and not record.get("made") \
                    and record.get("uuid") == existing.UUIDString():
                # An interrupted create of this very resource defined it and never returned: nothing can
                # have used it (its dependents wait for its uuid).
                secrets.undefine(existing, "left by an interrupted create")
                existing = None
            if existing is None:
                if seed:
                    intents.begin(intent, uuid=spec.get("uuid"))
                return secrets.define(conn, kind, spec), False
            if spec.get("adopt"):
                return secrets.adopt(existing, kind, spec), True
            if spec.get("uuid") and existing.UUIDString() == spec["uuid"]:
                made_here = bool(record and record.get("made") and record.get("uuid") == spec["uuid"])
                return self._take_over(existing, spec, made_here), False
            raise LibvirtOpError(f"a {kind.usage_type} secret with usage {usage!r} already exists (uuid "
                                 f"{existing.UUIDString()}); choose another usage_name or set adopt=true")

        state, adopted = self.call(spec, ctx, run, on_reconnect=lambda conn: None)
        if seed and not adopted:
            intents.made(intent, uuid=state.uuid)  # until a call shows the state holds it (intents.py)
        fp = fingerprint(spec["value"], state.uuid, self.kind) if spec.get("value") else (state.fingerprint or "")
        return state.uuid, self._outputs(spec, state, fp, adopted, ctx)

    def _take_over(self, existing: Any, spec: dict[str, Any], made_here: bool) -> secrets.SecretState:
        """A secret with this usage and this resource's own uuid (derived from the stack and resource
        name, or given) that this stack's state does not hold: left by an earlier stack of the same
        name (`pulumi stack rm`, `pulumi state delete`), another checkout or backend, or a run whose
        state was lost after it returned. It is managed as it is when it is provably what the program
        declares; otherwise it is left alone and refused with the way out. Never redefined, and never
        given another value: a LUKS volume encrypted with the old one would no longer open."""
        kind, value, uuid = self.kind, spec.get("value"), existing.UUIDString()
        current = secrets.state_of(existing).observed
        differences = [f"{k}: host has {current.get(k)!r}" for k in ("private", "ephemeral")
                       if current.get(k) != spec.get(k)]
        if (current.get("description") or None) != (spec.get("description") or None):
            differences.append("description differs")
        holds = secrets.holds_value(existing, kind, value) if isinstance(value, str) else None
        empty = secrets.has_value(existing) is False
        if not differences and (holds or empty or (made_here and not kind.value_change_loses)):
            # Its value is the program's, or it has none (nothing can use it), or a run of this resource
            # set it and the value is only presented to a server (rotated beside it): set it.
            return secrets.take_over(existing, kind, spec, set_value=not holds)
        if holds is False:
            why = "holds another value"
        elif holds is None and value is not None:
            why = "holds a value that cannot be read back (private), so it may not be the program's"
        else:
            why = "differs from the program"
        detail = f" ({'; '.join(differences)})" if differences else ""
        raise LibvirtOpError(
            f"a {kind.usage_type} secret with usage {spec['usage_name']!r} and this resource's uuid {uuid} already "
            f"exists but this stack's state does not hold it (an earlier stack of the same name, `pulumi state "
            f"delete`, another checkout or state backend); it {why}{detail}, and is left as it is"
            + (f": setting it, {kind.value_change_loses}" if kind.value_change_loses else "")
            + ". Set adopt=true to manage it as it is (leave value out to keep its value), or, if nothing uses it, "
            f"`virsh secret-undefine {uuid}` and run again.")

    def _intent(self, props: dict[str, Any], ctx: Context) -> dict[str, Any]:
        # (the URI as the outputs hold it: libvirt's default filled in)
        return {"seed": props.get(SEED_KEY), "uri": connection.effective_uri(self.uri_of(props, ctx)),
                "kind": "secret", "usage_type": self.kind.usage_type, "usage": props.get("usage_name")}

    def _recorded(self, props: dict[str, Any], ctx: Context) -> None:
        """The engine holds this resource: its create's intent has served (see intents.py)."""
        if props.get(SEED_KEY) and props.get("usage_name"):
            try:
                intents.end(self._intent(props, ctx))
            except Exception:  # noqa: BLE001 - a host that does not answer: the intent expires on its own
                pass

    def read(self, id_: str, props: dict[str, Any], ctx: Context) -> Read:
        self._recorded(props, ctx)
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
        self._recorded(olds, ctx)
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
        self._recorded(props, ctx)
        if props.get("adopted"):
            return
        self.call(props, ctx, lambda conn: secrets.delete(conn, id_))


def _same_uri(old: Any, new: Any, ctx: Context) -> bool:
    """Whether two `uri` inputs reach the same host once the stack's and libvirt's defaults are filled
    in (a host that cannot be asked counts as the same: the diff decides then, against the host)."""
    try:
        return bool(connection.effective_uri(ctx.resolve(old)) == connection.effective_uri(ctx.resolve(new)))
    except Exception:  # noqa: BLE001 - see above
        return True


SECRETS = SecretLogic(SECRET_KINDS["CephSecret"])
ISCSI_SECRETS = SecretLogic(SECRET_KINDS["IscsiSecret"])
VOLUME_SECRETS = SecretLogic(SECRET_KINDS["VolumeSecret"])
TLS_SECRETS = SecretLogic(SECRET_KINDS["TlsSecret"])
VTPM_SECRETS = SecretLogic(SECRET_KINDS["VtpmSecret"])
