"""Instruction decoding: the bytes of one method's code to :class:`Insn` values.

Bounds-checked throughout: a truncated final instruction ends decoding, a switch whose payload
lies outside the file has no case targets. Formats and sizes come from :mod:`.opcodes`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, replace

from apkaudit.code.dex import opcodes as O


@dataclass(slots=True, unsafe_hash=True)
class Insn:
    """One decoded instruction. Offsets are in bytes from the start of the method's code.

    Treated as immutable (hashable by value) but not ``frozen``: a frozen dataclass's
    ``__init__`` sets each field through ``object.__setattr__``, about twice the cost, and the
    decoder makes one per instruction of every method decoded."""

    offset: int
    op: int
    regs: tuple[int, ...] = ()
    idx: int | None = None  # pool index (see opcodes.POOLS)
    lit: int | None = None
    target: int | None = None  # branch target or payload offset
    targets: tuple[int, ...] = ()  # switch case targets (resolved from the payload)
    keys: tuple[int, ...] = ()  # the switch case values, one per target
    size: int = 2  # bytes

    @property
    def name(self) -> str:
        return O.NAMES[self.op]


def _s8(v: int) -> int:
    return v - 0x100 if v & 0x80 else v


def _s16(v: int) -> int:
    return v - 0x10000 if v & 0x8000 else v


def _s32(v: int) -> int:
    return v - 0x100000000 if v & 0x80000000 else v


# Formats by how often real code uses them (uiautomator2-server's 1.2 M instructions: 35c 21 %,
# 11x 19 %, 21c 13 %, 22c 10 %, ...): the decoder tests them in this order.
_ORDER = ("35c", "11x", "21c", "22c", "23x", "21s", "21t", "11n", "12x", "10t", "10x", "22t",
          "22b", "22x", "3rc", "31c", "20t", "31i", "22s", "31t", "21h", "51l", "45cc", "4rcc",
          "30t", "32x")  # fmt: skip
_FMT = [_ORDER.index(f) for f in O.FORMATS]  # opcode -> position of its format in _ORDER
_BYTES = [2 * u for u in O.UNITS]  # opcode -> size in bytes


def decode(data: bytes, start: int, end: int, first: int | None = None) -> Iterator[Insn]:
    """Decode the instructions in ``data[start:end]`` (from ``first``, an instruction's file
    position, if given: offsets stay relative to ``start``); payload pseudo-instructions are
    skipped.

    Bounds-checked: a truncated final instruction ends decoding instead of raising. One
    integer test per format, most frequent first, and operands read byte by byte (cheaper
    than a struct call for 16 bits): this runs once per instruction of every method decoded.
    """
    pos = start if first is None else first
    fmts, sizes = _FMT, _BYTES
    i32 = struct.Struct("<i").unpack_from
    while pos + 2 <= end:
        op = data[pos]
        b1 = data[pos + 1]
        if op == 0 and b1 in (1, 2, 3):
            size = _payload_size(data, pos, b1)
            if size <= 0:
                break
            pos += size
            continue
        size = sizes[op]
        if pos + size > end:
            break
        f = fmts[op]
        off = pos - start
        insn: Insn
        if f == 0:  # 35c
            idx = data[pos + 2] | data[pos + 3] << 8
            lo, hi = data[pos + 4], data[pos + 5]
            regs = (lo & 0xF, lo >> 4, hi & 0xF, hi >> 4, b1 & 0x0F)
            insn = Insn(off, op, regs[: min(b1 >> 4, 5)], idx, None, None, (), (), 6)
        elif f == 1:  # 11x
            insn = Insn(off, op, (b1,))
        elif f == 2:  # 21c
            insn = Insn(off, op, (b1,), data[pos + 2] | data[pos + 3] << 8, None, None, (), (), 4)
        elif f == 3:  # 22c
            idx = data[pos + 2] | data[pos + 3] << 8
            insn = Insn(off, op, (b1 & 0x0F, b1 >> 4), idx, None, None, (), (), 4)
        elif f == 4:  # 23x
            insn = Insn(off, op, (b1, data[pos + 2], data[pos + 3]), None, None, None, (), (), 4)
        elif f == 5:  # 21s
            lit = _s16(data[pos + 2] | data[pos + 3] << 8)
            insn = Insn(off, op, (b1,), None, lit, None, (), (), 4)
        elif f == 6:  # 21t
            to = off + 2 * _s16(data[pos + 2] | data[pos + 3] << 8)
            insn = Insn(off, op, (b1,), None, None, to, (), (), 4)
        elif f == 7:  # 11n
            b4 = b1 >> 4
            insn = Insn(off, op, (b1 & 0x0F,), None, b4 - 16 if b4 & 8 else b4)
        elif f == 8:  # 12x
            insn = Insn(off, op, (b1 & 0x0F, b1 >> 4))
        elif f == 9:  # 10t
            insn = Insn(off, op, (), None, None, off + 2 * _s8(b1))
        elif f == 10:  # 10x
            insn = Insn(off, op)
        elif f == 11:  # 22t
            to = off + 2 * _s16(data[pos + 2] | data[pos + 3] << 8)
            insn = Insn(off, op, (b1 & 0x0F, b1 >> 4), None, None, to, (), (), 4)
        elif f == 12:  # 22b
            insn = Insn(off, op, (b1, data[pos + 2]), None, _s8(data[pos + 3]), None, (), (), 4)
        elif f == 13:  # 22x
            insn = Insn(off, op, (b1, data[pos + 2] | data[pos + 3] << 8), size=4)
        elif f == 14:  # 3rc
            idx, first = struct.unpack_from("<HH", data, pos + 2)
            insn = Insn(off, op, tuple(range(first, first + b1)), idx=idx, size=6)
        elif f == 15:  # 31c
            insn = Insn(off, op, (b1,), idx=struct.unpack_from("<I", data, pos + 2)[0], size=6)
        elif f == 16:  # 20t
            to = off + 2 * _s16(data[pos + 2] | data[pos + 3] << 8)
            insn = Insn(off, op, target=to, size=4)
        elif f == 17:  # 31i
            insn = Insn(off, op, (b1,), lit=i32(data, pos + 2)[0], size=6)
        elif f == 18:  # 22s
            lit = _s16(data[pos + 2] | data[pos + 3] << 8)
            insn = Insn(off, op, (b1 & 0x0F, b1 >> 4), lit=lit, size=4)
        elif f == 19:  # 31t
            insn = Insn(off, op, (b1,), target=off + 2 * i32(data, pos + 2)[0], size=6)
            if op in O.SWITCH_OPS:
                targets, keys = switch_cases(data, start, insn)
                insn = replace(insn, targets=targets, keys=keys)
        elif f == 20:  # 21h
            shift = 16 if op == 0x15 else 48
            lit = _s16(data[pos + 2] | data[pos + 3] << 8) << shift
            insn = Insn(off, op, (b1,), lit=lit, size=4)
        elif f == 21:  # 51l
            insn = Insn(off, op, (b1,), lit=struct.unpack_from("<q", data, pos + 2)[0], size=10)
        elif f == 22:  # 45cc
            idx, regs16, _proto = struct.unpack_from("<HHH", data, pos + 2)
            regs = (regs16 & 0xF, (regs16 >> 4) & 0xF, (regs16 >> 8) & 0xF, regs16 >> 12, b1 & 0xF)
            insn = Insn(off, op, regs[: min(b1 >> 4, 5)], idx=idx, size=8)
        elif f == 23:  # 4rcc
            idx, first, _proto = struct.unpack_from("<HHH", data, pos + 2)
            insn = Insn(off, op, tuple(range(first, first + b1)), idx=idx, size=8)
        elif f == 24:  # 30t
            insn = Insn(off, op, target=off + 2 * i32(data, pos + 2)[0], size=6)
        else:  # 32x
            a, b = struct.unpack_from("<HH", data, pos + 2)
            insn = Insn(off, op, (a, b), size=6)
        yield insn
        pos += size


def decode_marked(data: bytes, start: int, end: int, ops: bytes) -> Iterator[Insn]:
    """The instructions of ``data[start:end]`` whose opcode ``ops`` (256 bytes) marks, as
    :func:`decode` gives them; the others are only stepped over by their size, which is all a
    reference search needs of most of a method.

    The stepping (payloads skipped, a truncated last instruction ends it) is decode's own, kept
    inline in both: a shared step generator would cost decode, the hot one, a call per
    instruction. tests/code/test_marked_insns.py holds the two to the same instructions."""
    pos = start
    sizes = _BYTES
    while pos + 2 <= end:
        op = data[pos]
        if op == 0 and data[pos + 1] in (1, 2, 3):
            size = _payload_size(data, pos, data[pos + 1])
            if size <= 0:
                break
            pos += size
            continue
        size = sizes[op]
        if pos + size > end:
            break
        if ops[op]:
            yield next(decode(data, start, end, pos))
        pos += size


def _payload_size(data: bytes, pos: int, kind: int) -> int:
    if pos + 8 > len(data):
        return -1
    if kind == 1:  # packed-switch: ident, size, first_key, targets[size]
        (size,) = struct.unpack_from("<H", data, pos + 2)
        return (size * 2 + 4) * 2
    if kind == 2:  # sparse-switch: ident, size, keys[size], targets[size]
        (size,) = struct.unpack_from("<H", data, pos + 2)
        return (size * 4 + 2) * 2
    width, size = struct.unpack_from("<HI", data, pos + 2)  # fill-array-data
    return ((size * width + 1) // 2 + 4) * 2


def switch_targets(data: bytes, code_start: int, insn: Insn) -> tuple[int, ...]:
    """Case targets (byte offsets) of a packed/sparse switch, read from its payload."""
    return switch_cases(data, code_start, insn)[0]


def switch_cases(
    data: bytes, code_start: int, insn: Insn
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(targets, keys) of a packed/sparse switch, read from its payload: ((), ()) when the
    payload is out of bounds or not a switch payload."""
    if insn.target is None:
        return (), ()
    p = code_start + insn.target
    if p + 4 > len(data):
        return (), ()
    ident, size = struct.unpack_from("<HH", data, p)
    if ident == 0x0100:
        base = p + 8
        if base > len(data):
            return (), ()
        (first,) = struct.unpack_from("<i", data, p + 4)
        keys = tuple(first + i for i in range(size))
    elif ident == 0x0200:
        base = p + 4 + 4 * size
        if base > len(data):
            return (), ()
        keys = struct.unpack_from(f"<{size}i", data, p + 4)
    else:
        return (), ()
    if base + 4 * size > len(data):
        return (), ()
    rel = struct.unpack_from(f"<{size}i", data, base)
    return tuple(insn.offset + 2 * r for r in rel), tuple(keys)
