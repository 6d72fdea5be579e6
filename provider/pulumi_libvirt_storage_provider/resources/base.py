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
import re
import secrets
import threading
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


# The seeds of the resources this process checked with old inputs: resources the stack's state holds.
# When one of them is replaced, the engine checks it again without its old inputs (so that defaults
# are chosen afresh) before the create: only this memo tells that create from the resource's first.
# (One process serves a whole deployment: the dynamic provider's host, or the plugin.)
_IN_STATE: set[str] = set()
_IN_STATE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Context:
    """What the front end knows about the deployment."""

    # The stack config libvirt:uri (dynamic) or the provider's uri (plugin); Unknown when the plugin's
    # provider uri depends on an output not known yet (then it is not the local default).
    default_uri: str | Unknown | None = None
    default_source: str = "the stack config libvirt:uri"  # where default_uri is set, for messages
    # The stack config libvirt-storage:allowUnsafeUris: URIs that run a program or weaken the host
    # check are allowed (ops/uri_safety.py).
    allow_unsafe_uris: bool = False
    how_to_allow: str | None = None  # the front end's way to allow them (None: the stack config key)

    def resolve(self, uri: str | None) -> str:
        """The URI to connect to: the resource's `uri`, else the default, else LIBVIRT_DEFAULT_URI, else
        "" (libvirt's default). Every connection of a resource takes its URI from here, the same-host
        checks and predictions of previews included, so this is where a URI that would run a program or
        weaken the host check is refused (UnsafeUri, before anything is opened) unless the stack allows
        it. A URI not known yet resolves to connection.NOT_KNOWN, which is never connected to."""
        if is_unknown(uri) or (not uri and is_unknown(self.default_uri)):
            return connection.NOT_KNOWN
        resolved, source = connection.resolve_uri_from(uri, self.default_uri, self.default_source)
        if not self.allow_unsafe_uris:
            connection.refuse_unsafe(resolved, source, self.how_to_allow)
        return resolved

    def uri_failures(self, uri: str | None) -> list[SpecError]:
        """Check's side of the same rule: a refused URI is a failure on the resource's `uri` that says
        why and how to allow it, so that a preview stops there, before anything connects."""
        try:
            self.resolve(uri)
        except connection.UnsafeUri as e:
            return [SpecError("uri", str(e))]
        return []


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
        seed = hidden.get(SEED_KEY)
        if olds and isinstance(seed, str) and not is_unknown(seed):
            with _IN_STATE_LOCK:
                _IN_STATE.add(seed)
        spec.update({k: v for k, v in hidden.items() if v is not None})
        failures = ctx.uri_failures(spec.get("uri")) or self.check_transition(olds, spec, ctx)
        return Checked(news if failures else spec, failures)

    def canonical_hidden(self, key: str, value: Any) -> Any:
        """A hidden input in canonical form (so that another spelling of it is no change)."""
        return value

    def _choose_identity(self, olds: dict[str, Any], spec: dict[str, Any], hidden: dict[str, Any]) -> None:
        """Auto-name and uuid: kept from the old inputs; for a new resource (or a replacement, which
        the engine checks afresh) derived from the seed, so that a preview and the run after it
        choose the same ones.

        An auto-name is kept whatever the resource is called now: a resource renamed with an alias
        (or moved under another parent, or its parent's type renamed) comes with the old inputs and a
        new resource name and seed, and is the same object; a new name would replace it, data and
        all. Only a name the program gave and no longer gives is chosen afresh."""
        prefix, seed = hidden.get(NAME_PREFIX_KEY), hidden.get(SEED_KEY)
        if self.name_key and spec.get(self.name_key) is None and isinstance(prefix, str) and not is_unknown(prefix):
            old_name = olds.get(self.name_key)
            if isinstance(old_name, str) and was_auto_named(old_name, olds.get(NAME_PREFIX_KEY)):
                spec[self.name_key] = old_name
                hidden[NAME_PREFIX_KEY] = olds[NAME_PREFIX_KEY]  # the prefix of the name it has
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
        self._recorded(olds, ctx)
        olds = whole_numbers(olds)
        paths = self.changed_inputs(olds, news)
        if "uri" in paths and self.same_connection(id_, olds, news, ctx):
            paths.remove("uri")
        paths += self.diff_extra(olds, news, ctx)
        return self.diff_from_paths(paths, self.in_place(olds, news))

    def _recorded(self, props: dict[str, Any], ctx: Context) -> None:
        """Called with the stored outputs by every call that shows the engine holds this resource (diff,
        read, update, delete): what its create recorded in case the engine never would (an intent,
        resources/intents.py) has served."""

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
        out.update(self.predict_all(inputs, {}, ctx))
        return out

    def predict_all(self, inputs: dict[str, Any], olds: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """`predict`, and the `uri` output a create will report: the URI it will connect through, with
        the stack's and libvirt's defaults filled in (unknown when that cannot be told without a host
        that answers). Known in a preview, so that a dependent given `uri=pool.uri` is not shown a
        replacement `up` will not do when the pool is replaced."""
        uri = inputs.get("uri")
        predicted: Any = Unknown()
        if not is_unknown(uri):
            try:
                predicted = connection.effective_uri(ctx.resolve(uri))
            except Exception:  # noqa: BLE001 - a prediction never fails a check or a preview
                predicted = Unknown()
        return {"uri": predicted, **self.predict(inputs, olds, ctx)}

    def preview_update(self, id_: str, olds: dict[str, Any], news: dict[str, Any], ctx: Context) -> dict[str, Any]:
        """The outputs a preview of an update shows: the old outputs with the new inputs; what the
        update cannot change stays known, so that dependents diff against real values."""
        olds = whole_numbers(olds)
        paths = self.changed_inputs(olds, news) + self.diff_extra(olds, news, ctx)
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
    def was_in_state(spec: dict[str, Any]) -> bool:
        """Whether this process checked this resource with a stored state (see _IN_STATE): its create
        then replaces an object the stack had, it is not the resource's first."""
        seed = spec.get(SEED_KEY)
        with _IN_STATE_LOCK:
            return isinstance(seed, str) and seed in _IN_STATE

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


def was_auto_named(name: str, prefix: Any) -> bool:
    """Whether `name` is an auto-name chosen for a resource called `prefix`: the prefix and eight hex
    digits (derived from the seed, or random before seeds existed)."""
    return isinstance(prefix, str) and re.fullmatch(re.escape(prefix) + "-[0-9a-f]{8}", name) is not None


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
