"""What a resource does, independent of the Pulumi front end that serves it.

Both front ends (dynamic/: pulumi.dynamic ResourceProviders; plugin/: the gRPC provider plugin)
translate their protocol into these calls and nothing else. Everything here works on plain dicts
in the canonical form of spec/ (snake_case names, sizes in bytes, modes as four octal digits):

- `check(olds, news)`: canonical inputs, names and uuids chosen once and kept, or the failures;
- `diff(id, olds, news)`: which properties change and whether each updates or replaces;
- `predict(inputs, olds)`: the outputs knowable before any call to libvirt (for previews);
- `create`, `read`, `update`, `delete`: the life cycle, through ops/.

`olds` is what the engine stored: the old inputs for check, the old outputs everywhere else.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Any, Callable

from pulumi.runtime import rpc

from ..ops import connection
from ..spec.fields import Failures, Policy, ResourceSchema, Unknown, changed_paths, is_unknown, policy_for
from ..spec.units import SpecError

# Keys the SDK sends beside the inputs. They are part of the stored inputs and outputs.
NAME_PREFIX_KEY = "__name_prefix"  # the Pulumi resource name: the prefix of an auto-name
SEED_KEY = "__seed"  # the resource's identity in its stack: auto-names and uuids derive from it
POOL_KEY = "__pool"  # StorageVolume: its pool's definition, when the program holds the StoragePool
HIDDEN_KEYS = (NAME_PREFIX_KEY, SEED_KEY, POOL_KEY)


@dataclass(frozen=True)
class Context:
    """What the front end knows about the deployment."""

    default_uri: str | None = None  # stack config libvirt:uri (dynamic) or the provider's uri (plugin)

    def resolve(self, uri: str | None) -> str:
        return connection.resolve_uri(uri, self.default_uri)


@dataclass
class Checked:
    inputs: dict[str, Any]
    failures: list[SpecError] = field(default_factory=list)


class Change(enum.Enum):
    UPDATE = "update"
    REPLACE = "replace"


@dataclass
class Diff:
    changes: bool
    replaces: list[str]  # top-level input names whose change replaces the resource
    detailed: dict[str, Change]  # property path -> what its change does
    delete_before_replace: bool = True  # names are unique per host: the old object goes first


@dataclass
class Read:
    id: str  # "" when the object is gone
    outputs: dict[str, Any]


class ResourceLogic:
    """Shared plumbing of the three resources. Subclasses set `schema` and implement `validate`,
    `predict` and the life cycle."""

    schema: ResourceSchema
    name_key: str | None = "name"  # auto-named from the resource name when omitted
    uuid_key: str | None = None  # an optional uuid input, chosen from the seed when omitted
    # Optional inputs that are also outputs (filled from libvirt): only a given value is compared.
    optional_echoes: tuple[str, ...] = ()
    # Hidden inputs that are diffed, with the policy of a change.
    hidden_policies: dict[str, Policy] = {}

    # -- check ---------------------------------------------------------------------------------
    def validate(self, raw: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def input_names(self) -> set[str]:
        return {f.name for f in self.schema.inputs}

    def inputs_only(self, props: dict[str, Any]) -> dict[str, Any]:
        """The user's inputs and the SDK's hidden keys; computed outputs and engine keys dropped."""
        keep = self.input_names() | set(HIDDEN_KEYS)
        return {k: unwrap_secrets(v) for k, v in props.items() if k in keep}

    def canonical(self, props: dict[str, Any]) -> dict[str, Any]:
        """Inputs as check made them. Create and Update receive them back over the wire, where every
        number has become a float; normalising again (idempotent) restores ints."""
        raw = self.inputs_only(props)
        hidden = {k: raw.pop(k) for k in HIDDEN_KEYS if k in raw}
        spec = self.validate(raw)
        spec.update({k: whole_numbers(v) for k, v in hidden.items() if v is not None})
        return spec

    def check(self, olds: dict[str, Any], news: dict[str, Any], ctx: Context) -> Checked:
        raw = self.inputs_only(news)
        hidden = {k: self.canonical_hidden(k, whole_numbers(raw.pop(k))) for k in HIDDEN_KEYS if k in raw}
        try:
            spec = self.validate(raw)
        except Failures as f:
            return Checked(news, f.failures)
        self._choose_identity(olds, spec, hidden)
        spec.update({k: v for k, v in hidden.items() if v is not None})
        failures = self.check_transition(olds, spec, ctx)
        return Checked(news if failures else spec, failures)

    def canonical_hidden(self, key: str, value: Any) -> Any:
        """A hidden input in canonical form (so that another spelling of it is no change)."""
        return value

    def _choose_identity(self, olds: dict[str, Any], spec: dict[str, Any], hidden: dict[str, Any]) -> None:
        """Auto-name and uuid: kept from the old inputs; for a new resource (or a replacement, which
        the engine checks afresh) derived from the seed, so that a preview and the run after it
        choose the same ones."""
        prefix, seed = hidden.get(NAME_PREFIX_KEY), hidden.get(SEED_KEY)
        if self.name_key and spec.get(self.name_key) is None and isinstance(prefix, str) and not is_unknown(prefix):
            if olds.get(NAME_PREFIX_KEY) == prefix and isinstance(olds.get(self.name_key), str):
                spec[self.name_key] = olds[self.name_key]
            else:
                spec[self.name_key] = f"{prefix}-{derived_token(seed, 'name')}"
        if self.uuid_key and spec.get(self.uuid_key) is None:
            if isinstance(olds.get(self.uuid_key), str):
                spec[self.uuid_key] = olds[self.uuid_key]
            elif not olds and not spec.get("adopt"):  # an adopted object keeps the uuid it has
                # (An existing resource whose stored inputs have no uuid, from an older version of this
                # provider, keeps none: diff then ignores the uuid.)
                spec[self.uuid_key] = derived_uuid(seed)

    def check_transition(self, olds: dict[str, Any], spec: dict[str, Any], ctx: Context) -> list[SpecError]:
        """Rules about a change from the old inputs (no shrinking, no resize where impossible)."""
        return []

    # -- diff ----------------------------------------------------------------------------------
    def policy(self, path: str) -> Policy:
        top = path.split(".")[0]
        if top in self.hidden_policies:
            return self.hidden_policies[top]
        return policy_for(self.schema.policy, self.schema.name, path)

    def changed_inputs(self, olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
        paths: list[str] = []
        for key in sorted(self.input_names()):
            if key in self.optional_echoes and news.get(key) is None:
                continue
            paths += changed_paths(olds.get(key), news.get(key), f"{key}.")
        for key in sorted(self.hidden_policies):
            # Compared only when both sides have it: state written before the SDK sent it is no change.
            if key in olds and key in news:
                paths += changed_paths(olds.get(key), news.get(key), f"{key}.")
        return paths

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any], ctx: Context) -> Diff:
        olds = whole_numbers(olds)
        paths = self.changed_inputs(olds, news)
        if "uri" in paths and self.same_connection(id_, olds, news, ctx):
            paths.remove("uri")
        paths += self.diff_extra(olds, news, ctx)
        return self.diff_from_paths(paths, self.in_place(olds, news))

    def diff_extra(self, olds: dict[str, Any], news: dict[str, Any], ctx: Context) -> list[str]:
        """Changes that are not a plain comparison of inputs (a secret's value)."""
        return []

    def in_place(self, olds: dict[str, Any], news: dict[str, Any]) -> frozenset[str]:
        """Inputs (or input paths) whose change is an update here whatever their policy: the host
        already has the new value, or the host was changed outside Pulumi and the update refuses to undo
        it (update says why). A drift is never repaired by a replacement."""
        return frozenset()

    def diff_from_paths(self, paths: list[str], in_place: frozenset[str] = frozenset()) -> Diff:
        detailed = {p: Change.REPLACE if self.policy(p) & Policy.REPLACE and p not in in_place
                    and p.split(".")[0] not in in_place else Change.UPDATE for p in paths}
        replaces = sorted({p.split(".")[0].split("[")[0] for p, c in detailed.items() if c is Change.REPLACE})
        return Diff(changes=bool(paths), replaces=replaces, detailed=detailed)

    def same_connection(self, id_: str, olds: dict[str, Any], news: dict[str, Any], ctx: Context) -> bool:
        """Whether a changed `uri` still reaches the same object: the same URI once defaults are
        filled in, the URI libvirt reports for both connections, or the object itself seen through
        both. An unknown new uri is a change."""
        new = news.get("uri")
        if is_unknown(new):
            return False
        old_uri, new_uri = ctx.resolve(olds.get("uri")), ctx.resolve(new)
        return connection.same_host(old_uri, new_uri, lambda conn: self.identity(conn, id_, olds))

    def identity(self, conn: Any, id_: str, olds: dict[str, Any]) -> Any:
        """Something that names this very object on `conn` (None when it is not there): two
        connections that both return the same value reach the same object."""
        return None

    # -- previews --------------------------------------------------------------------------------
    # Outputs that are libvirt's live figures: unknown in the preview of a change that reaches the host.
    live_outputs: tuple[str, ...] = ()

    def predict(self, inputs: dict[str, Any], olds: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """Outputs that are known before anything is asked of libvirt, from the (checked) inputs and
        the old outputs: a preview shows them instead of unknowns."""
        return {}

    def public(self, spec: dict[str, Any]) -> dict[str, Any]:
        secret = self.schema.secret_inputs
        return {k: v for k, v in spec.items() if k not in secret}

    def preview_create(self, inputs: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """The outputs a preview of a create shows: the inputs, what `predict` can tell, and unknowns
        for the rest (for front ends whose engine asks the provider during previews)."""
        out: dict[str, Any] = {f.name: None for f in self.schema.inputs if not f.policy & Policy.SECRET}
        out.update({f.name: Unknown() for f in self.schema.outputs})
        out.update(self.public(inputs))
        out["uri"] = inputs.get("uri") or Unknown()  # the default is resolved at create
        out.update(self.predict(inputs, {}, ctx))
        return out

    def preview_update(self, id_: str, olds: dict[str, Any], news: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """The outputs a preview of an update shows: the old outputs with the new inputs; what the
        update cannot change stays known, so that dependents diff against real values."""
        olds = whole_numbers(olds)
        paths = self.changed_inputs(olds, news)
        out = {**olds, **self.public(news), "uri": olds.get("uri")}
        out.update(self.predict(news, olds, ctx))
        for key in self.changed_live_outputs(paths):
            out[key] = Unknown()
        return out

    def changed_live_outputs(self, paths: list[str]) -> tuple[str, ...]:
        """Live outputs an update of `paths` may change: all of them when the update reaches the host."""
        return self.live_outputs if any(not self.policy(p) & Policy.STATE for p in paths) else ()

    # -- import ----------------------------------------------------------------------------------
    def import_(self, id_: str, ctx: Context) -> tuple[Read, dict[str, Any]]:
        """The object with libvirt id `id_` as outputs, and the inputs that declare it as it is (what
        `pulumi import` turns into a program that previews with no changes). Read("", {}) when there
        is no such object."""
        raise NotImplementedError

    # -- life cycle --------------------------------------------------------------------------------
    def uri_of(self, props: dict[str, Any], ctx: Context) -> str:
        return ctx.resolve(props.get("uri"))

    def call(self, props: dict[str, Any], ctx: Context, fn: Callable[[Any], Any],
             on_reconnect: Callable[[Any], object] | None = None) -> Any:
        return connection.call(self.uri_of(props, ctx), fn, on_reconnect)

    @staticmethod
    def own_uuid(spec: dict[str, Any]) -> str | None:
        """The uuid this resource gives its object when it derives it from its seed (None when the
        program gave one, or there is no seed): an object with that uuid was made by this resource."""
        seed = spec.get(SEED_KEY)
        if isinstance(seed, str) and seed and spec.get("uuid") == derived_uuid(seed):
            return spec["uuid"]
        return None

    def outputs(self, spec: dict[str, Any], computed: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """Outputs = the canonical inputs + what libvirt reports. Every declared key is present (None
        when unset): an output missing from the state is unknown in the next preview. `uri` is the
        URI the object was reached through, with the defaults filled in."""
        secret = self.schema.secret_inputs
        out: dict[str, Any] = dict(self.schema.unset_outputs)
        out.update({k: v for k, v in spec.items() if k not in secret})
        out.update(computed)
        out["uri"] = connection.effective_uri(self.uri_of(spec, ctx))
        return out

    def create(self, inputs: dict[str, Any], ctx: Context) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def read(self, id_: str, props: dict[str, Any], ctx: Context) -> Read:
        raise NotImplementedError

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any], ctx: Context) -> dict[str, Any]:
        raise NotImplementedError

    def delete(self, id_: str, props: dict[str, Any], ctx: Context) -> None:
        raise NotImplementedError


def derived_token(seed: Any, purpose: str) -> str:
    """Eight hex digits: derived from the seed when there is one, random otherwise."""
    if isinstance(seed, str) and seed and not is_unknown(seed):
        return hashlib.sha256(f"{purpose}\0{seed}".encode()).hexdigest()[:8]
    return secrets.token_hex(4)


def derived_uuid(seed: Any) -> str:
    if isinstance(seed, str) and seed and not is_unknown(seed):
        return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"pulumi-libvirt-storage:{seed}"))
    return str(uuidlib.uuid4())


def unwrap_secrets(value: Any) -> Any:
    """Plain values from the wire form of secrets ({sig: secret, value: ...})."""
    value = rpc.unwrap_rpc_secret(value)
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
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


def overlay(stored: Any, live: Any) -> Any:
    """The live value of every field the user set; fields the user left out stay out, so
    libvirt's defaults never show up as drift."""
    if isinstance(stored, dict):
        live = live if isinstance(live, dict) else {}
        return {k: overlay(v, live.get(k)) if v is not None else None for k, v in stored.items()}
    if isinstance(stored, list) and isinstance(live, list) and len(stored) == len(live):
        return [overlay(s, lv) for s, lv in zip(stored, live)]
    return live
