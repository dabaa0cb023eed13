"""The dex format's primitive encodings and the guards that bound hostile input.

LEB128 integers and (modified) UTF-8 strings; :func:`guarded`, which turns what lazy decoding
of a damaged file raises into the one :class:`~apkaudit.errors.DexFormatError` callers catch;
and :class:`ByteBudget`, which keeps every decoding pass linear in the file's size.
"""

from __future__ import annotations

import functools
import re
import struct
from collections.abc import Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from apkaudit.errors import DexFormatError


def uleb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 35:
            raise DexFormatError("bad uleb128")


def uleb_token(t: bytes) -> int:
    n = len(t)
    if n == 1:
        return t[0]
    if n == 2:
        return (t[0] & 0x7F) | (t[1] << 7)
    if n == 3:
        return (t[0] & 0x7F) | ((t[1] & 0x7F) << 7) | (t[2] << 14)
    return uleb(t, 0)[0]


_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_LONE = re.compile("[\ud800-\udfff]")


def _joined(m: re.Match[str]) -> str:
    pair = m[0]
    return chr(0x10000 + ((ord(pair[0]) - 0xD800) << 10) + (ord(pair[1]) - 0xDC00))


def mutf8(raw: bytes) -> str:
    """A dex string as text that encodes to UTF-8 everywhere (JSON, hashes, terminals).

    MUTF-8 writes a supplementary character (an emoji) as two 3-byte surrogates: each pair is
    joined into the one code point it stands for, and a lone surrogate (not valid text, but
    accepted by ART in strings) is spelled ``\\udXXX`` so that two names stay distinct.
    """
    try:
        text = raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        # Modified UTF-8: NUL as C0 80. Anything else undecodable is replaced, not fatal.
        plain = raw.replace(b"\xc0\x80", b"\x00")
        try:
            text = plain.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            text = plain.decode("utf-8", "replace")
    if b"\xed" not in raw:  # no surrogate can be there: the common case stays one decode
        return text
    text = _PAIR.sub(_joined, text)
    return _LONE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def sleb(data: bytes, pos: int) -> tuple[int, int]:
    result, new_pos = uleb(data, pos)
    bits = 7 * (new_pos - pos)
    if result & (1 << (bits - 1)):
        result -= 1 << bits
    return result, new_pos


class _Named(Protocol):
    name: str


_S = TypeVar("_S", bound=_Named)
_P = ParamSpec("_P")
_R = TypeVar("_R")

# What lazy decoding of a damaged dex raises: offsets past the end (struct.error, IndexError),
# impossible sizes (ValueError, OverflowError, MemoryError-free since every size is bounded by
# the file). Methods marked @guarded turn them into DexFormatError, the one error callers catch.
_DAMAGE = (struct.error, IndexError, ValueError, OverflowError, KeyError)


def guarded(fn: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[_S, _P], _R]:
    """Decorate a method of a dex reader: damage it raises becomes a DexFormatError."""

    @functools.wraps(fn)
    def wrapper(self: _S, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(self, *args, **kwargs)
        except _DAMAGE as exc:
            raise DexFormatError(f"{self.name}: damaged ({type(exc).__name__}: {exc})") from None

    return wrapper


class ByteBudget:
    """Bytes that the items of one kind may still claim. Sound items never share or overlap
    bytes, so together they fit in the file: a crafted dex whose items all point into one big
    run (each decode reading the whole run) is stopped once it has claimed a file's worth,
    which keeps every decoding pass linear in the file's size."""

    def __init__(self, left: int, what: str) -> None:
        self.left, self.what = left, what

    def take(self, n: int, name: str) -> None:
        self.left -= n
        if self.left < 0:
            raise DexFormatError(f"{name}: {self.what} claim more bytes than the file holds")
