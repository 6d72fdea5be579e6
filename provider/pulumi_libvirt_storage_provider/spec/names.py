"""Property names as the Pulumi package schema spells them (camelCase, `deleteStorageOnDestroy`)
and as the specs do (snake_case, `delete_storage_on_destroy`), converted by walking the field trees.

Only declared field names are converted: the keys of map-valued fields (rbd_config_options, a
volume's disk) are data, and keys starting with "__" are the SDKs' hidden inputs; both pass as
they are.
"""

from __future__ import annotations

import functools
from typing import Any

from .fields import Field, Kind, ResourceSchema


@functools.lru_cache(maxsize=1024)
def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


# The schema's field tuples are fixed: each one's lookup table is built once (every call on the plugin
# converts every property both ways).
_TABLES: dict[tuple[int, bool], tuple[tuple[Field, ...], dict[str, Field]]] = {}


def _fields_by(fields: tuple[Field, ...], wire: bool) -> dict[str, Field]:
    kept = _TABLES.get((id(fields), wire))
    if kept is not None and kept[0] is fields:
        return kept[1]
    table = {camel(f.name) if wire else f.name: f for f in fields}
    if len(_TABLES) > 4096:  # (only ever the schema's own tuples, a few dozen; a bound all the same)
        _TABLES.clear()
    _TABLES[(id(fields), wire)] = (fields, table)
    return table


def _convert(fields: tuple[Field, ...], value: Any, to_wire: bool) -> Any:
    if not isinstance(value, dict):
        return value
    known = _fields_by(fields, wire=not to_wire)
    out: dict[str, Any] = {}
    for key, item in value.items():
        f = known.get(key)
        if f is None:
            out[key] = item  # hidden inputs, engine keys, unknown properties (check reports those)
            continue
        name = camel(f.name) if to_wire else f.name
        if f.kind is Kind.OBJECT:
            out[name] = _convert(f.fields, item, to_wire)
        elif f.kind is Kind.LIST and f.fields and isinstance(item, list):
            out[name] = [_convert(f.fields, x, to_wire) for x in item]
        else:
            out[name] = item
    return out


def to_wire(schema: ResourceSchema, props: dict[str, Any]) -> dict[str, Any]:
    """snake_case (specs) -> camelCase (package schema), inputs and outputs alike."""
    return _convert(schema.fields, props, to_wire=True)


def from_wire(schema: ResourceSchema, props: dict[str, Any]) -> dict[str, Any]:
    """camelCase (package schema) -> snake_case (specs)."""
    return _convert(schema.fields, props, to_wire=False)


def path_to_wire(schema: ResourceSchema, path: str) -> str:
    """"source.initiator_iqn" -> "source.initiatorIqn"; list indexes kept ("source.hosts[0].port")."""
    parts = []
    fields = schema.fields
    for part in path.split("."):
        name, bracket, index = part.partition("[")
        f = _fields_by(fields, wire=False).get(name)
        parts.append((camel(name) if f is not None else name) + (bracket + index if bracket else ""))
        fields = f.fields if f is not None else ()
    return ".".join(parts)
