"""results.json values and the typed results: dataclasses to JSON values and back, by their type hints.

:func:`from_dict` is strict: a key the dataclass does not have, a missing required key or a value of the wrong
type raises :class:`~hubtools.errors.ResultsError` naming its path (``results.export.variants[1].f1``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

from hubtools.errors import ResultsError

T = TypeVar("T")


def to_dict(obj: Any) -> Any:
    """JSON values of a dataclass tree (dataclasses become dicts; None values are kept)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return obj


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", str(hint))


def _convert(hint: Any, value: Any, path: str) -> Any:
    """``value`` as the type ``hint``, recursively; ResultsError naming ``path`` when it does not fit."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None:
            if type(None) in options:
                return None
            raise ResultsError(f"results.json: {path} is null, expected {hint}")
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _convert(option, value, path)
            except ResultsError as err:
                errors.append(str(err))
        raise ResultsError(errors[0] if len(errors) == 1 else f"results.json: {path} = {value!r} is not {hint}")
    if value is None:
        raise ResultsError(f"results.json: {path} is missing or null, expected {_type_name(hint)}")
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, path)
    if origin is list:
        if not isinstance(value, list):
            raise ResultsError(f"results.json: {path} must be a list, found {type(value).__name__}")
        (item,) = typing.get_args(hint)
        return [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ResultsError(f"results.json: {path} must be an object, found {type(value).__name__}")
        _, item = typing.get_args(hint)
        return {str(k): _convert(item, v, f"{path}.{k}") for k, v in value.items()}
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint in (str, bool) and isinstance(value, hint):
        return value
    raise ResultsError(f"results.json: {path} = {value!r} is not {_type_name(hint)}")


def from_dict(cls: type[T], data: Any, path: str) -> T:
    """A dataclass ``cls`` from a JSON object; unknown and missing keys raise ResultsError naming the path."""
    if not isinstance(data, dict):
        raise ResultsError(f"results.json: {path} must be an object, found {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ResultsError(f"results.json: {path} has unknown key(s) {unknown}; known: {sorted(fields)}")
    kwargs = {}
    for name, spec in fields.items():
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], f"{path}.{name}")
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise ResultsError(f"results.json: {path}.{name} is missing")
    return cls(**kwargs)

