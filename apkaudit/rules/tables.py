"""Strict decoding of TOML tables into frozen dataclasses: the schema of the rule and policy files.

The dataclass is the schema. Each field is a key; a field without a default is required, one
with a default is optional and takes it when absent; the annotation is the type the value must
have (``str``, ``int``, ``bool``, a ``StrEnum``, a ``Literal``, ``tuple[X, ...]`` from a TOML
array, ``X | None`` for an optional key that defaults to ``None``). An unknown key fails, so a
misspelt ``severty`` or ``tag`` is an error at load time instead of a check silently switched
off. Errors are :class:`RuleError` messages that start with ``where`` (file, rule) and name the
key.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import types
from collections.abc import Callable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from apkaudit.errors import RuleError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")
# A field's own decoder: (raw TOML value, "where: key") -> the field's value.
Decoder = Callable[[Any, str], Any]

# Field metadata: the text's whitespace is folded to single spaces (TOML """...""" texts).
FOLD: Mapping[str, object] = types.MappingProxyType({"fold": True})


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    # get_type_hints evaluates every (string) annotation anew: ~2 ms a class, ~120 calls a load
    return get_type_hints(cls)


def key(name: str, **metadata: object) -> Mapping[str, object]:
    """Field metadata: the field is read from the table key ``name`` (``rule`` -> ``rules``)."""
    return types.MappingProxyType({"key": name, **metadata})


def decode(
    cls: type[T],
    raw: object,
    where: str,
    *,
    given: Mapping[str, Any] | None = None,
    decoders: Mapping[str, Decoder] | None = None,
) -> T:
    """``cls`` built from the TOML table ``raw``.

    ``given`` supplies fields that do not come from the table (they are not keys of it);
    ``decoders`` replace the type-driven decoding of the named fields (by field name).
    """
    if not isinstance(raw, dict):
        raise RuleError(f"{where}: expected a table, got {_kind(raw)}")
    given = given or {}
    decoders = decoders or {}
    # table key -> field (a field's key is its name unless its metadata says otherwise)
    fields = {
        f.metadata.get("key", f.name): f for f in dataclasses.fields(cls) if f.name not in given
    }
    unknown = [k for k in raw if k not in fields]
    if unknown:
        raise RuleError(f"{where}: unknown key {unknown[0]!r}{_suggest(unknown[0], fields)}")
    hints = _hints(cls)
    values = dict(given)
    for key, f in fields.items():
        if key not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise RuleError(f"{where}: missing required key {key!r}")
            continue
        here = f"{where}: {key}"
        decoder = decoders.get(f.name)
        value = decoder(raw[key], here) if decoder else value_of(hints[f.name], raw[key], here)
        if f.metadata.get("fold"):
            value = " ".join(value.split())
        values[f.name] = value
    return cls(**values)


def value_of(tp: Any, raw: object, where: str) -> Any:
    """``raw`` checked against the annotation ``tp`` (and converted, for enums and tuples)."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        # ``X | None``: None is not a TOML value, so a present key is always an X.
        (inner,) = [a for a in get_args(tp) if a is not type(None)]
        return value_of(inner, raw, where)
    if origin is tuple:
        item, _ellipsis = get_args(tp)
        if not isinstance(raw, list):
            raise RuleError(f"{where}: expected an array, got {_kind(raw)}")
        return tuple(value_of(item, x, f"{where}[{i}]") for i, x in enumerate(raw))
    if origin is Literal:
        if raw not in get_args(tp):
            allowed = ", ".join(repr(a) for a in get_args(tp))
            raise RuleError(f"{where}: expected one of {allowed}, got {raw!r}")
        return raw
    if isinstance(tp, type) and issubclass(tp, Enum):
        values = [m.value for m in tp]
        if not isinstance(raw, str) or raw not in values:
            allowed = ", ".join(repr(v) for v in values)
            raise RuleError(f"{where}: expected one of {allowed}, got {raw!r}")
        return tp(raw)
    if tp is bool or tp is str:
        if not isinstance(raw, tp):
            raise RuleError(f"{where}: expected {_NAMES[tp]}, got {_kind(raw)}")
        return raw
    if tp is int:
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise RuleError(f"{where}: expected an integer, got {_kind(raw)}")
        return raw
    raise TypeError(f"{where}: no decoder for {tp!r}")  # a schema bug, not a data error


_NAMES: dict[type, str] = {str: "a string", bool: "true or false"}


def _kind(raw: object) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "a boolean"}
    names |= {list: "an array", dict: "a table"}
    return f"{names.get(type(raw), type(raw).__name__)} {raw!r}"[:80]


def _suggest(key: str, known: Mapping[str, object]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f" (expected {', '.join(known)}){hint}"
