"""Constant data a dex keeps outside the code: annotation element values and static field
initial values (encoded_value, encoded_array, annotation items; source.android.com/docs/core/
runtime/dex-format). Bounded and tolerant: a damaged item gives nothing rather than an error.

Used to read Retrofit's ``@POST("path")`` method annotations, its ``@Url`` / ``@Query("name")``
parameter annotations, and ``static String BASE = "https://…"``
fields whose value the dex stores in the class definition instead of a ``<clinit>``.
"""

from __future__ import annotations

import struct

from apkaudit.code.dex.primitives import uleb
from apkaudit.code.dex.reader import ClassDef, DexFile
from apkaudit.errors import DexFormatError

_MAX_ITEMS = 512  # elements, annotations or fields read from one structure
_DEPTH = 4  # nesting of arrays and annotations

# encoded_value types (the low 5 bits of the first byte)
_INT_TYPES = {0x00, 0x02, 0x03, 0x04, 0x06}  # byte, short, char, int, long
_STRING, _TYPE, _ARRAY, _ANNOTATION, _NULL, _BOOLEAN = 0x17, 0x18, 0x1C, 0x1D, 0x1E, 0x1F


class _Damaged(Exception):
    pass


def _value(dex: DexFile, pos: int, depth: int) -> tuple[object, int]:
    """One encoded_value at ``pos``: str (string), ("type", desc), int, bool, None, list, dict
    (an annotation's elements), or ("other",)."""
    data = dex.data
    if pos >= len(data) or depth > _DEPTH:
        raise _Damaged
    head = data[pos]
    vtype, arg = head & 0x1F, head >> 5
    pos += 1
    if vtype in (_ARRAY,):
        size, pos = uleb(data, pos)
        if size > _MAX_ITEMS:
            raise _Damaged
        out = []
        for _ in range(size):
            v, pos = _value(dex, pos, depth + 1)
            out.append(v)
        return out, pos
    if vtype == _ANNOTATION:
        _type, pos = uleb(data, pos)
        return _elements(dex, pos, depth + 1)
    if vtype == _NULL:
        return None, pos
    if vtype == _BOOLEAN:
        return bool(arg), pos
    size = arg + 1
    raw = data[pos : pos + size]
    if len(raw) != size:
        raise _Damaged
    pos += size
    n = int.from_bytes(raw, "little")
    if vtype == _STRING:
        return dex.string(n), pos
    if vtype == _TYPE:
        return ("type", dex.type_name(n)), pos
    if vtype in _INT_TYPES:
        if vtype != 0x03 and raw[-1] & 0x80:  # sign-extended (char is unsigned)
            n -= 1 << (8 * size)
        return n, pos
    return ("other",), pos


# (annotation type, {element name: value}) for each annotation of one annotation_set_item
Annotations = tuple[tuple[str, dict[str, object]], ...]


def _elements(dex: DexFile, pos: int, depth: int) -> tuple[dict[str, object], int]:
    size, pos = uleb(dex.data, pos)
    if size > _MAX_ITEMS:
        raise _Damaged
    out: dict[str, object] = {}
    for _ in range(size):
        name_idx, pos = uleb(dex.data, pos)
        v, pos = _value(dex, pos, depth)
        out[dex.string(name_idx)] = v
    return out, pos


def _annotation_set(dex: DexFile, set_off: int) -> Annotations:
    data = dex.data
    (size,) = struct.unpack_from("<I", data, set_off)
    items = []
    for j in range(min(size, 64)):
        (item_off,) = struct.unpack_from("<I", data, set_off + 4 + 4 * j)
        type_idx, pos = uleb(data, item_off + 1)  # after the visibility byte
        elements, _ = _elements(dex, pos, 1)
        items.append((dex.type_name(type_idx), elements))
    return tuple(items)


def method_annotation_values(dex: DexFile, cdef: ClassDef) -> dict[int, Annotations]:
    """method_idx -> ((annotation type, {element name: value}), ...) for one class."""
    off = cdef.annotations_off
    data = dex.data
    if not off or off + 16 > len(data):
        return {}
    out: dict[int, Annotations] = {}
    try:
        _cls, fields, methods, _params = struct.unpack_from("<4I", data, off)
        base = off + 16 + 8 * fields
        for i in range(min(methods, _MAX_ITEMS)):
            midx, set_off = struct.unpack_from("<II", data, base + 8 * i)
            out[midx] = _annotation_set(dex, set_off)
    except (struct.error, IndexError, ValueError, DexFormatError, _Damaged):
        return out  # damaged directory: keep what was read
    return out


def parameter_annotation_values(dex: DexFile, cdef: ClassDef) -> dict[int, tuple[Annotations, ...]]:
    """method_idx -> for each declared parameter, ((annotation type, {element: value}), ...)."""
    off = cdef.annotations_off
    data = dex.data
    if not off or off + 16 > len(data):
        return {}
    out: dict[int, tuple[Annotations, ...]] = {}
    try:
        _cls, fields, methods, params = struct.unpack_from("<4I", data, off)
        base = off + 16 + 8 * fields + 8 * methods
        for i in range(min(params, _MAX_ITEMS)):
            midx, list_off = struct.unpack_from("<II", data, base + 8 * i)
            (size,) = struct.unpack_from("<I", data, list_off)
            sets = []
            for k in range(min(size, 255)):  # a method has at most 255 parameter registers
                (set_off,) = struct.unpack_from("<I", data, list_off + 4 + 4 * k)
                sets.append(_annotation_set(dex, set_off) if set_off else ())
            out[midx] = tuple(sets)
    except (struct.error, IndexError, ValueError, DexFormatError, _Damaged):
        return out  # damaged directory: keep what was read
    return out


def static_values(dex: DexFile, class_name: str) -> dict[int, object]:
    """field_idx -> initial value of the static fields of ``class_name`` that the dex
    initialises in place (``static_values_off`` of its class_def)."""
    data = dex.data
    type_idx = dex.find_type(class_name)
    if type_idx is None:
        return {}
    try:
        for i in range(dex.class_defs_size):
            if struct.unpack_from("<I", data, dex.class_defs_off + 32 * i)[0] == type_idx:
                break
        else:
            return {}
        (_c, _a, _s, _i, _src, _ann, data_off, values_off) = struct.unpack_from(
            "<8I", data, dex.class_defs_off + 32 * i
        )
        if not values_off or not data_off:
            return {}
        sf, pos = uleb(data, data_off)
        _inf, pos = uleb(data, pos)
        _dm, pos = uleb(data, pos)
        _vm, pos = uleb(data, pos)
        field_ids = []
        idx = 0
        for _ in range(min(sf, _MAX_ITEMS)):
            diff, pos = uleb(data, pos)
            _acc, pos = uleb(data, pos)
            idx += diff
            field_ids.append(idx)
        values, _ = _array(dex, values_off)
    except (struct.error, IndexError, ValueError, DexFormatError, _Damaged):
        return {}
    return {f: v for f, v in zip(field_ids, values, strict=False)}


def _array(dex: DexFile, pos: int) -> tuple[list[object], int]:
    size, pos = uleb(dex.data, pos)
    if size > _MAX_ITEMS:
        raise _Damaged
    out = []
    for _ in range(size):
        v, pos = _value(dex, pos, 1)
        out.append(v)
    return out, pos
