"""Property values on the provider protocol's wire (protobuf Struct) and back: numbers as floats,
unknowns as the engine's sentinel string, secrets as {sig: <secret signature>, value: ...}."""

from __future__ import annotations

from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime import rpc

from ..spec.fields import Unknown, is_unknown

SIG_KEY = rpc._special_sig_key  # type: ignore[attr-defined]
SECRET_SIG = rpc._special_secret_sig  # type: ignore[attr-defined]


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG


def _plain(value: Any) -> Any:
    if _is_secret(value):
        return _plain(value.get("value"))
    if value == rpc.UNKNOWN:
        return Unknown()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def decode(struct: struct_pb2.Struct | None) -> tuple[dict[str, Any], set[str]]:
    """(plain properties, the top-level keys that were secret). Unknowns become spec Unknowns."""
    if struct is None:
        return {}, set()
    raw = _struct(struct)
    secret = {k for k, v in raw.items() if _contains_secret(v)}
    return {k: _plain(v) for k, v in raw.items()}, secret


def _struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    """json_format.MessageToDict of a Struct, without its generic reflection (every call on the
    plugin decodes two or three property bags)."""
    return {k: _value(v) for k, v in struct.fields.items()}


def _value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "number_value":
        return value.number_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return _struct(value.struct_value)
    if kind == "list_value":
        return [_value(v) for v in value.list_value.values]
    return None  # null_value (or no kind at all)


def _contains_secret(value: Any) -> bool:
    if _is_secret(value):
        return True
    if isinstance(value, dict):
        return any(_contains_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_secret(v) for v in value)
    return False


def _wire(value: Any) -> Any:
    if is_unknown(value):
        return rpc.UNKNOWN
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    return str(value)


def encode(props: dict[str, Any], secret: set[str] = frozenset()) -> struct_pb2.Struct:  # type: ignore[assignment]
    """A Struct of `props`, the top-level keys in `secret` wrapped as secrets."""
    out = struct_pb2.Struct()
    out.update({k: ({SIG_KEY: SECRET_SIG, "value": _wire(v)} if k in secret and v is not None else _wire(v))
                for k, v in props.items()})
    return out
