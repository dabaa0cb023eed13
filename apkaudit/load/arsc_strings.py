"""The global string pool of resources.arsc: every string value of the app's resources.

A minimal, bounded reader of the ResTable header and its first ResStringPool chunk (AOSP
frameworks/base/libs/androidfw/include/androidfw/ResourceTypes.h): UTF-8 and UTF-16 pools.
Damaged or hostile tables give what could be read, never an error.
"""

from __future__ import annotations

import struct

RES_TABLE_TYPE = 0x0002
RES_STRING_POOL_TYPE = 0x0001
UTF8_FLAG = 0x100
MAX_STRINGS = 200_000
MAX_CHARS = 4096  # one string longer than this is clipped


def pool_strings(arsc: bytes | None, limit: int = MAX_STRINGS) -> tuple[str, ...]:
    if not arsc or len(arsc) < 12 + 28:
        return ()
    try:
        rtype, header, _size = struct.unpack_from("<HHI", arsc, 0)
        if rtype != RES_TABLE_TYPE or header < 12:
            return ()
        base = header
        ptype, pheader, psize, count, _styles, flags, start, _sstart = struct.unpack_from(
            "<HHIIIIII", arsc, base
        )
        if ptype != RES_STRING_POOL_TYPE or base + psize > len(arsc) or pheader < 28:
            return ()
        end = base + psize
        count = min(count, limit, (psize - pheader) // 4)
        offsets = struct.unpack_from(f"<{count}I", arsc, base + pheader)
        data = base + start
        utf8 = bool(flags & UTF8_FLAG)
        out: list[str] = []
        for off in offsets:
            pos = data + off
            if pos >= end:
                continue
            out.append(_utf8(arsc, pos, end) if utf8 else _utf16(arsc, pos, end))
        return tuple(out)
    except (struct.error, ValueError):
        return ()


def _length(arsc: bytes, pos: int, wide: bool) -> tuple[int, int]:
    if wide:
        (n,) = struct.unpack_from("<H", arsc, pos)
        if n & 0x8000:
            (low,) = struct.unpack_from("<H", arsc, pos + 2)
            return ((n & 0x7FFF) << 16) | low, pos + 4
        return n, pos + 2
    n = arsc[pos]
    if n & 0x80:
        return ((n & 0x7F) << 8) | arsc[pos + 1], pos + 2
    return n, pos + 1


def _utf8(arsc: bytes, pos: int, end: int) -> str:
    _chars, pos = _length(arsc, pos, False)
    size, pos = _length(arsc, pos, False)
    raw = arsc[pos : min(pos + size, end, pos + 4 * MAX_CHARS)]
    return raw.decode("utf-8", "replace")[:MAX_CHARS]


def _utf16(arsc: bytes, pos: int, end: int) -> str:
    n, pos = _length(arsc, pos, True)
    raw = arsc[pos : min(pos + 2 * n, end, pos + 2 * MAX_CHARS)]
    return raw.decode("utf-16-le", "replace")
