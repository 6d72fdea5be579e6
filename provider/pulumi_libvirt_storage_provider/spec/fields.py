"""The field model: one declaration per property, read by check, diff, docs and the SDK.

A `Field` says what a property is (kind, enum values, nested fields), how it behaves on
change (its `Policy`) and what it means (`doc`). `normalize` turns raw inputs, as the
engine sends them (numbers as floats, unknowns during preview), into the canonical form
that is stored and diffed.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from typing import Any, Callable

from . import units
from .units import SpecError


class Policy(enum.Flag):
    """What a change of the field does."""

    REPLACE = enum.auto()  # a new object: delete, then create (names are unique per host)
    UPDATE = enum.auto()  # changed in place through libvirt
    RESTART = enum.auto()  # changed in place by redefinition; an active pool is restarted
    STATE = enum.auto()  # a setting of ours (e.g. what destroy does): only the state changes
    COMPUTED = enum.auto()  # an output read from libvirt, never an input
    SECRET = enum.auto()  # never stored or shown in plain text


class Kind(enum.Enum):
    STRING = "string"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    SIZE = "size"  # bytes, or a string with a unit
    MODE = "mode"  # octal permission mode
    UID = "uid"  # numeric uid/gid
    PATH = "path"  # absolute path
    ENUM = "enum"
    OBJECT = "object"
    LIST = "list"  # of `item` objects or of strings
    MAP = "map"  # string -> string


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    doc: str
    policy: Policy = Policy.REPLACE
    default: Any = None
    values: tuple[str, ...] = ()  # for ENUM
    fields: tuple["Field", ...] = ()  # for OBJECT, and LIST of objects
    item: Kind | None = None  # for LIST of scalars
    required: bool = False
    check: Callable[[Any, str], Any] | None = None  # extra normalisation/validation


class Unknown:
    """Stands for a value that is not known yet (another resource's output in a preview)."""


def is_unknown(value: Any) -> bool:
    # pulumi.dynamic passes pulumi.output.Unknown instances during preview; the protocol
    # sentinel string is what rpc.UNKNOWN holds.
    if isinstance(value, Unknown):
        return True
    cls = type(value).__name__
    return cls == "Unknown" or value == "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def contains_unknown(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_unknown(v) for v in value)
    return False


class Failures(Exception):
    """All the problems found in one set of inputs, each with its property path."""

    def __init__(self, failures: list[SpecError]) -> None:
        super().__init__("; ".join(str(f) for f in failures))
        self.failures = failures

    def __reduce__(self) -> tuple[type, tuple[list[SpecError]]]:  # (pickled by the dynamic front end's worker)
        return type(self), (self.failures,)


def _scalar(f: Field, value: Any, prop: str) -> Any:
    if f.kind is Kind.STRING:
        if not isinstance(value, str):
            raise SpecError(prop, f"expected a string, got {value!r}")
        return value
    if f.kind is Kind.INTEGER:
        return units.parse_int(value, prop)
    if f.kind is Kind.BOOLEAN:
        if not isinstance(value, bool):
            raise SpecError(prop, f"expected true or false, got {value!r}")
        return value
    if f.kind is Kind.SIZE:
        return units.parse_size(value, prop)
    if f.kind is Kind.MODE:
        return units.parse_mode(value, prop)
    if f.kind is Kind.UID:
        return units.parse_id(value, prop)
    if f.kind is Kind.PATH:
        return units.clean_path(value, prop)
    if f.kind is Kind.ENUM:
        if hasattr(value, "value") and not isinstance(value, str):
            value = value.value  # an SDK enum member
        if value not in f.values:
            raise SpecError(prop, f"must be one of {', '.join(repr(v) for v in f.values)}; got {value!r}")
        return str(value)
    raise AssertionError(f.kind)


def normalize(fields: tuple[Field, ...], raw: dict[str, Any] | None, prefix: str = "",
              errors: list[SpecError] | None = None) -> dict[str, Any]:
    """Canonical inputs: defaults applied, unknown keys refused, units normalised.
    Unknown values pass unchanged. Raises `Failures` listing every problem found."""
    top = errors is None
    errors = [] if errors is None else errors
    raw = dict(raw or {})
    known = {f.name for f in fields}
    for key in sorted(raw):
        if key not in known and not key.startswith("__"):
            errors.append(SpecError(f"{prefix}{key}", f"unknown property; known ones are {', '.join(sorted(known))}"))
    out: dict[str, Any] = {}
    for f in fields:
        prop = f"{prefix}{f.name}"
        value = raw.get(f.name)
        if value is None:
            if f.required:
                errors.append(SpecError(prop, "is required"))
            if f.default is not None:
                out[f.name] = f.default
            continue
        if is_unknown(value):
            out[f.name] = value
            continue
        try:
            out[f.name] = _normalize_value(f, value, prop, errors)
            if f.check is not None and not contains_unknown(out[f.name]):
                out[f.name] = f.check(out[f.name], prop)
        except SpecError as e:
            if f.policy & Policy.SECRET:
                # Messages quote the bad value; a secret's is never quoted.
                e = SpecError(prop, f"expected a {f.kind.value}; the value is not shown because it is secret")
            errors.append(e)
    if top and errors:
        raise Failures(errors)
    return out


def _normalize_value(f: Field, value: Any, prop: str, errors: list[SpecError]) -> Any:
    if f.kind is Kind.OBJECT:
        if not isinstance(value, dict):
            raise SpecError(prop, f"expected an object with {', '.join(x.name for x in f.fields)}")
        return normalize(f.fields, value, prop + ".", errors)
    if f.kind is Kind.LIST:
        if not isinstance(value, (list, tuple)):
            raise SpecError(prop, "expected a list")
        items = []
        for i, item in enumerate(value):
            item_prop = f"{prop}[{i}]"
            if is_unknown(item):
                items.append(item)
            elif f.fields:
                if not isinstance(item, dict):
                    raise SpecError(item_prop, f"expected an object with {', '.join(x.name for x in f.fields)}")
                items.append(normalize(f.fields, item, item_prop + ".", errors))
            else:
                items.append(_scalar(Field(f.name, f.item or Kind.STRING, ""), item, item_prop))
        return items
    if f.kind is Kind.MAP:
        if not isinstance(value, dict):
            raise SpecError(prop, "expected a map of names to strings")
        result = {}
        for k, v in value.items():
            if not is_unknown(v) and not isinstance(v, str):
                raise SpecError(f"{prop}.{k}", f"expected a string, got {v!r}")
            result[str(k)] = v
        return result
    return _scalar(f, value, prop)


def flatten_policy(resource: str, fields: tuple[Field, ...], prefix: str = "") -> dict[str, Policy]:
    """{"StoragePool.target.path": Policy.REPLACE, ...} for every field, nested ones too."""
    table: dict[str, Policy] = {}
    for f in fields:
        path = f"{prefix}{f.name}"
        table[f"{resource}.{path}"] = f.policy
        if f.fields:
            table.update(flatten_policy(resource, f.fields, path + "."))
    return table


def policy_for(table: dict[str, Policy], resource: str, path: str) -> Policy:
    """The policy of the most specific declared field on `path` (list indexes dropped)."""
    parts = [p.split("[")[0] for p in path.split(".")]
    while parts:
        key = f"{resource}." + ".".join(parts)
        if key in table:
            return table[key]
        parts.pop()
    return Policy.REPLACE


def changed_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Property paths whose canonical values differ (objects compared key by key)."""
    if isinstance(old, dict) and isinstance(new, dict):
        paths: list[str] = []
        for key in sorted(set(old) | set(new)):
            if key.startswith("__"):
                continue
            paths += changed_paths(old.get(key), new.get(key), f"{prefix}{key}.")
        return paths
    if old != new or is_unknown(new):
        return [prefix.rstrip(".")]
    return []


@dataclass(frozen=True)
class ResourceSchema:
    name: str  # StoragePool, StorageVolume, CephSecret
    doc: str
    inputs: tuple[Field, ...]
    outputs: tuple[Field, ...]  # computed outputs beside the inputs
    secret_outputs: tuple[str, ...] = ()
    example: str = ""
    policy: dict[str, Policy] = field(default_factory=dict)

    def __post_init__(self) -> None:
        table = flatten_policy(self.name, self.inputs)
        table.update(flatten_policy(self.name, self.outputs))
        object.__setattr__(self, "policy", table)

    @functools.cached_property
    def fields(self) -> tuple[Field, ...]:
        """Inputs, then computed outputs."""
        return self.inputs + self.outputs

    @functools.cached_property
    def secret_inputs(self) -> frozenset[str]:
        """The inputs never written to the outputs (a Ceph key)."""
        return frozenset(f.name for f in self.inputs if f.policy & Policy.SECRET)

    @functools.cached_property
    def secret_fields(self) -> frozenset[str]:
        """Every property, input or output, that travels as a secret."""
        return frozenset(f.name for f in self.fields if f.policy & Policy.SECRET)

    @functools.cached_property
    def unset_outputs(self) -> dict[str, None]:
        """Every output key but the secret inputs, None: the base of a resource's outputs (copy it)."""
        return {f.name: None for f in self.fields if f.name not in self.secret_inputs}
