"""Dataclasses to JSON values and back, for the inference service's queries and results.

Queries and results are plain frozen dataclasses; their type annotations say how to decode them, so the
HTTP client gets back exactly the objects the in-process client returns (floats round-trip exactly through
JSON's shortest repr). Decoding checks every field's type and names the field in its error, because the
server decodes what strangers send.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, TypeVar, Union, cast

from featurepedia.errors import UsageError

T = TypeVar("T")


def to_wire(obj: Any) -> Any:
    """A dataclass (or a list of them) as JSON values: dicts, lists, str, int, float, bool, None."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_wire(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_wire(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_wire(v) for v in obj]
    return obj


def from_wire(kind: type[T] | Any, data: Any, where: str = "request") -> T:
    """Decode JSON values into ``kind`` (a dataclass, or a type such as ``list[X]``), checking types.

    Raises:
        UsageError: a field is missing, unknown or of the wrong type; the message names it.
    """
    return cast(T, _decode(kind, data, where))


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(kind: Any, data: Any, where: str) -> Any:
    origin = typing.get_origin(kind)
    if kind is Any:
        return data
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return _decode_dataclass(kind, data, where)
    if origin in (Union, types.UnionType):
        return _decode_union(typing.get_args(kind), data, where)
    if origin in (list, Sequence):
        (item,) = typing.get_args(kind)
        if not isinstance(data, list):
            raise UsageError(f"{where} must be a list; got {_shown(data)}")
        return [_decode(item, v, f"{where}[{i}]") for i, v in enumerate(data)]
    if origin is tuple:
        args = typing.get_args(kind)
        if not isinstance(data, list) or len(data) != len(args):
            raise UsageError(f"{where} must be a list of {len(args)} values; got {_shown(data)}")
        return tuple(_decode(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, data, strict=True)))
    if origin in (dict, Mapping):
        key, value = typing.get_args(kind)
        if not isinstance(data, dict):
            raise UsageError(f"{where} must be an object; got {_shown(data)}")
        return {_decode(key, k, f"{where} key"): _decode(value, v, f"{where}[{k!r}]") for k, v in data.items()}
    return _decode_scalar(kind, data, where)


def _decode_dataclass(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise UsageError(f"{where} must be an object with fields {_field_names(cls)}; got {_shown(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise UsageError(f"{where} has unknown field(s) {', '.join(map(repr, unknown))}; "
                         f"its fields are {_field_names(cls)}")
    hints = _hints(cls)
    values = {}
    for name, f in fields.items():
        if name in data:
            values[name] = _decode(hints[name], data[name], f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise UsageError(f"{where} is missing the field {name!r}")
    return cls(**values)


def _decode_union(options: tuple[Any, ...], data: Any, where: str) -> Any:
    if data is None and type(None) in options:
        return None
    kinds = [o for o in options if o is not type(None)]
    for option in kinds:  # the option whose JSON kind the value has decides, so its own error is shown
        if _json_kind(option) == _json_kind(type(data)):
            return _decode(option, data, where)
    names = [_KIND_NAMES[_json_kind(o)] for o in kinds] + (["null"] if type(None) in options else [])
    raise UsageError(f"{where} must be {' or '.join(names)}; got {_shown(data)}")


_KIND_NAMES = {"list": "a list", "object": "an object", "number": "a number", "string": "a string",
               "bool": "true or false", "null": "null"}


def _json_kind(kind: Any) -> str:
    origin = typing.get_origin(kind) or kind
    if origin in (list, tuple, Sequence):
        return "list"
    if origin in (dict, Mapping) or dataclasses.is_dataclass(origin):
        return "object"
    if origin is bool:
        return "bool"
    if origin in (int, float):
        return "number"
    if origin is str:
        return "string"
    return "null"


def _decode_scalar(kind: Any, data: Any, where: str) -> Any:
    if kind is float:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return float(data)
    elif kind is int:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
    elif kind in (str, bool):
        if isinstance(data, kind):
            return data
    elif kind is type(None):
        if data is None:
            return None
    else:
        raise TypeError(f"cannot decode {kind!r} (at {where})")
    name = {float: "a number", int: "an integer", str: "a string", bool: "true or false"}.get(kind, "null")
    raise UsageError(f"{where} must be {name}; got {_shown(data)}")


def _field_names(cls: type) -> str:
    return ", ".join(f.name for f in dataclasses.fields(cls))


def _shown(data: Any) -> str:
    text = repr(data)
    return text if len(text) <= 60 else text[:57] + "..."
