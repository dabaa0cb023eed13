"""Method handles and call sites (dex 038+): which methods a ``const-method-handle`` or an
``invoke-custom`` really calls.

``const-method-handle vA, handle@BBBB`` followed by ``invoke-polymorphic`` on
``MethodHandle.invoke*`` calls the handle's method, and ``invoke-custom`` calls whatever its
call site's bootstrap links (for ``LambdaMetafactory``, the implementation handle among the
call site's arguments). Without this, ``SmsManager.sendTextMessage`` reached through a handle is
no call at all. Every method handle of an invoke kind named by the instruction (directly or in
its call site's arguments) counts as a call of its method at that instruction.

Tables read here (dex format, "method_handle_item" and "call_site_id_item"): the map list gives
the method handle section (type 0x0008, 8 bytes each: u16 kind, u16 unused, u16 member id, u16
unused) and the call site ids (type 0x0007, u32 offset each, to an ``encoded_array_item``).
"""

from __future__ import annotations

import re
import struct
from typing import Protocol

from apkaudit.code.dex.primitives import uleb
from apkaudit.errors import DexFormatError

METHOD_HANDLE_ITEM = 0x0008
CALL_SITE_ID_ITEM = 0x0007
# method_handle_type values that call a method (0x00-0x03 get or put a field).
INVOKE_HANDLE_KINDS = frozenset(range(0x04, 0x09))
CONST_METHOD_HANDLE = 0xFE
INVOKE_CUSTOM_OPS = frozenset({0xFC, 0xFD})
_SITE_OPS = re.compile(rb"(?=[\xfc-\xfe].(..))", re.DOTALL)
_VALUE_METHOD_HANDLE = 0x16
_VALUE_METHOD = 0x1A
_FIXED_WIDTH = frozenset(
    {0x00, 0x02, 0x03, 0x04, 0x06, 0x10, 0x11, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1B}
)
_NO_PAYLOAD = frozenset({0x1E, 0x1F})  # null, boolean (the value is in value_arg)
MAX_CALL_SITE_ARGS = 256  # a call site's arguments read at most (real ones have 3 to 6)


class _Sections(Protocol):
    data: bytes
    method_ids_size: int

    def _section(self, item_type: int) -> tuple[int, int, int] | None: ...


def method_handle_targets(dex: _Sections) -> dict[int, int]:
    """handle index -> method id, for every method handle of an invoke kind."""
    sec = dex._section(METHOD_HANDLE_ITEM)
    if sec is None:
        return {}
    off, count, end = sec
    out: dict[int, int] = {}
    for i in range(min(count, max(0, (end - off) // 8))):
        kind, _, member, _ = struct.unpack_from("<HHHH", dex.data, off + 8 * i)
        if kind in INVOKE_HANDLE_KINDS and member < dex.method_ids_size:
            out[i] = member
    return out


def call_site_targets(dex: _Sections, handles: dict[int, int]) -> dict[int, tuple[int, ...]]:
    """call site index -> the method ids of the method handles (and methods) among its
    bootstrap and arguments. A damaged encoded array ends that call site's list, silently:
    what was read before stays."""
    sec = dex._section(CALL_SITE_ID_ITEM)
    if sec is None:
        return {}
    off, count, end = sec
    data = dex.data
    out: dict[int, tuple[int, ...]] = {}
    for i in range(min(count, max(0, (end - off) // 4))):
        (array_off,) = struct.unpack_from("<I", data, off + 4 * i)
        found = _array_methods(data, array_off, handles, dex.method_ids_size)
        if found:
            out[i] = found
    return out


def _array_methods(
    data: bytes, pos: int, handles: dict[int, int], method_count: int
) -> tuple[int, ...]:
    found: list[int] = []
    try:
        size, pos = uleb(data, pos)
        for _ in range(min(size, MAX_CALL_SITE_ARGS)):
            head = data[pos]
            vtype, varg = head & 0x1F, head >> 5
            pos += 1
            if vtype in _NO_PAYLOAD:
                continue
            if vtype not in _FIXED_WIDTH:
                break  # an array or annotation: not part of a valid call site; stop here
            width = varg + 1
            value = int.from_bytes(data[pos : pos + width], "little")
            pos += width
            if vtype == _VALUE_METHOD_HANDLE and value in handles:
                found.append(handles[value])
            elif vtype == _VALUE_METHOD and value < method_count:
                found.append(value)
    except (IndexError, ValueError, DexFormatError):
        pass
    return tuple(dict.fromkeys(found))


def site_targets(
    op: int, idx: int, handles: dict[int, int], sites: dict[int, tuple[int, ...]]
) -> tuple[int, ...]:
    """The methods an instruction calls through a handle (empty for any other instruction)."""
    if op == CONST_METHOD_HANDLE:
        target = handles.get(idx)
        return () if target is None else (target,)
    if op in INVOKE_CUSTOM_OPS:
        return sites.get(idx, ())
    return ()


def find_site_operands(data: bytes, start: int, stop: int) -> list[tuple[int, int, int]]:
    """(file offset, opcode, index operand) of every even-aligned const-method-handle or
    invoke-custom candidate in ``data[start:stop]`` (candidates: confirm by decoding)."""
    out = []
    for hit in _SITE_OPS.finditer(data, start, stop):
        pos = hit.start()
        if pos & 1 or pos + 4 > stop:
            continue
        out.append((pos, data[pos], int.from_bytes(hit.group(1), "little")))
    return out
