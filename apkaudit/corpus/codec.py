"""The batch's own encoding of an :class:`~apkaudit.model.AppResult`: lossless and versioned.

The worker sends it to the driver and the results store keeps it, so that every output of a
batch (JSON v1, SARIF, HTML, the summary, the gate) is rendered from the same ``AppResult`` a
fresh audit gives: ``decode(encode(r)) == r``. It is not JSON v1, which is an output format
only (zizmor's lesson: a public format that is a dump of internals breaks its users).

The encoding follows the dataclasses of :mod:`apkaudit.model` field by field (enums by value,
tuples as lists, bytes as base64), so a new field needs no code here. Its :data:`VERSION` is
derived from the shape of those dataclasses: any change to a field's name or type gives a new
version, and rows of another version are never decoded (the store audits those apps again).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import types
import typing
from collections.abc import Callable, Mapping
from enum import Enum
from functools import cache
from typing import Any

from apkaudit.model import AppResult, JsonDict

FORMAT = 1  # the encoding rules of this module; bump when they change

_SCALARS: tuple[type, ...] = (str, int, float, bool)
_PLAIN = frozenset((*_SCALARS, type(None)))


class CodecError(ValueError):
    """The data is not an encoding of this version's AppResult."""


# --------------------------------------------------------------------------- encoding


def encode(result: AppResult) -> JsonDict:
    """``result`` as plain JSON values."""
    out = _encode(result)
    assert isinstance(out, dict)
    return out


def _encode(value: Any) -> Any:
    if type(value) in _PLAIN:  # exact types: an enum member that is also a str is not plain
        return value
    cls = type(value)
    names = _FIELDS[cls] if cls in _FIELDS else _FIELDS.setdefault(cls, _init_fields(cls))
    if names is not None:
        return {n: _encode(getattr(value, n)) for n in names}
    if isinstance(value, Enum):  # before str: StrEnum members are strings too
        return _encode(value.value)
    if value is None or isinstance(value, _SCALARS):
        return value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, tuple | list | frozenset):
        items = sorted(value) if isinstance(value, frozenset) else value
        return [_encode(v) for v in items]
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return {k: _encode(v) for k, v in value.items()}
    raise TypeError(f"the batch codec cannot encode {type(value).__name__}")


_FIELDS: dict[type, tuple[str, ...] | None] = {}  # per type: a corpus holds millions of values


def _init_fields(cls: type) -> tuple[str, ...] | None:
    """The fields a dataclass's constructor takes, or None for any other type."""
    if not dataclasses.is_dataclass(cls):
        return None
    return tuple(f.name for f in dataclasses.fields(cls) if f.init)


def dumps(result: AppResult) -> str:
    return json.dumps(encode(result), ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------- decoding


def decode(data: Any) -> AppResult:
    """The AppResult ``data`` encodes; :class:`CodecError` if it is not one of this version."""
    try:
        result = _decode(AppResult, data)
    except (KeyError, TypeError, ValueError) as exc:
        raise CodecError(f"not an encoded AppResult of codec {VERSION}: {exc}") from None
    assert isinstance(result, AppResult)
    return result


def loads(text: str) -> AppResult:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CodecError(f"not JSON: {exc}") from None
    return decode(data)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


Decoder = Callable[[Any], Any]


def _decode(tp: Any, value: Any) -> Any:
    return _decoder(tp)(value)


@cache
def _decoder(tp: Any) -> Decoder:
    """A function decoding values of type ``tp``, built once per type (decoding a stored corpus
    calls them millions of times)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        return _union_decoder(args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _decoder(args[0])
            return lambda v: tuple(map(item, _of(v, list, tp)))
        items = tuple(_decoder(a) for a in args)

        def fixed(v: Any) -> tuple[Any, ...]:
            if len(_of(v, list, tp)) != len(items):
                raise ValueError(f"{tp} needs {len(items)} items, got {len(v)}")
            return tuple(d(x) for d, x in zip(items, v, strict=True))

        return fixed
    if origin is frozenset:
        item = _decoder(args[0])
        return lambda v: frozenset(map(item, _of(v, list, tp)))
    if origin is not None and issubclass(origin, Mapping):
        item = _decoder(args[1])
        return lambda v: types.MappingProxyType({k: item(x) for k, x in _of(v, dict, tp).items()})
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass_decoder(tp)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp
    if tp is bytes:
        return lambda v: base64.b64decode(_of(v, str, tp), validate=True)
    if tp is float:
        return lambda v: float(_number(v, tp))
    if tp is int:
        return lambda v: _of(_number(v, tp), int, tp)
    if tp in (str, bool):
        return lambda v: _of(v, tp, tp)
    if tp is type(None):
        return lambda v: _of(v, type(None), tp)
    raise TypeError(f"the batch codec cannot decode {tp!r}")


def _union_decoder(args: tuple[Any, ...]) -> Decoder:
    others = [a for a in args if a is not type(None)]
    nullable = len(others) < len(args)
    if len(others) == 1:
        inner = _decoder(others[0])
        return (lambda v: None if v is None else inner(v)) if nullable else inner
    if not all(a in _SCALARS for a in others):
        raise TypeError(f"the batch codec cannot decode a union of {others}")

    def scalar(v: Any) -> Any:  # a union of scalars (``int | str``): the JSON type decides
        if v is None and nullable:
            return None
        if type(v) in others:
            return v
        raise TypeError(f"cannot decode {type(v).__name__} as any of {others}")

    return scalar


def _dataclass_decoder(cls: type) -> Decoder:
    hints = _hints(cls)
    names = tuple(f.name for f in dataclasses.fields(cls) if f.init)
    wanted = frozenset(names)
    fields: list[tuple[str, Decoder]] = []

    def decode(v: Any) -> Any:
        if not fields:  # filled on first use: a dataclass may refer to itself
            fields.extend((n, _decoder(hints[n])) for n in names)
        if not isinstance(v, dict) or v.keys() != wanted:
            _of(v, dict, cls)
            extra, missing = sorted(set(v) - wanted), sorted(wanted - set(v))
            raise KeyError(f"{cls.__name__}: unexpected {extra}, missing {missing}")
        return cls(**{n: d(v[n]) for n, d in fields})

    return decode


def _number(value: Any, tp: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{tp}: expected a number, got {type(value).__name__}")
    return value


def _of(value: Any, kind: type, tp: Any) -> Any:
    if not isinstance(value, kind):
        raise TypeError(f"{tp}: expected {kind.__name__}, got {type(value).__name__}")
    return value


# --------------------------------------------------------------------------- version


def _shape(tp: Any, seen: set[Any]) -> str:
    """A text describing ``tp`` down to the last field: what the encoding depends on."""
    origin = typing.get_origin(tp)
    if origin is not None:
        inner = ",".join(_shape(a, seen) for a in typing.get_args(tp))
        name = "union" if origin in (types.UnionType, typing.Union) else origin.__name__
        return f"{name}[{inner}]"
    if tp is Ellipsis:
        return "..."
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if tp in seen:
            return tp.__name__
        seen.add(tp)
        hints = _hints(tp)
        body = ",".join(
            f"{f.name}:{_shape(hints[f.name], seen)}" for f in dataclasses.fields(tp) if f.init
        )
        return f"{tp.__name__}{{{body}}}"
    if isinstance(tp, type) and issubclass(tp, Enum):
        return f"{tp.__name__}<{','.join(str(m.value) for m in tp)}>"
    return getattr(tp, "__name__", repr(tp))


def _version() -> str:
    digest = hashlib.sha256(_shape(AppResult, set()).encode()).hexdigest()[:12]
    return f"{FORMAT}.{digest}"


VERSION = _version()
