"""The id tables of a dex file: header, strings, types, protos, type lists, method and field
ids, class definitions; and the lookups over them (binary search of the sorted tables).

:class:`DexTables` keeps the file as bytes and decodes each entry on first use; every decoder
is bounds-checked (:func:`~apkaudit.code.dex.primitives.guarded`) and strings and type lists
are decoded within a byte budget. Format reference: source.android.com/docs/core/runtime/dex-format.
"""

from __future__ import annotations

import bisect
import struct
import sys
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import islice
from operator import le

from apkaudit.code.dex.primitives import ByteBudget, guarded, mutf8, uleb
from apkaudit.errors import DexFormatError

HEADER = struct.Struct("<8sI20s20I")
NO_INDEX = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class MethodRef:
    class_name: str  # dex descriptor, e.g. Landroid/telephony/SmsManager;
    name: str
    proto: str  # (Ljava/lang/String;...)V

    @property
    def descriptor(self) -> str:
        return f"{self.class_name}->{self.name}{self.proto}"

    @property
    def signature(self) -> str:
        """name + proto, the way a method is named inside its class."""
        return self.name + self.proto

    @property
    def param_types(self) -> tuple[str, ...]:
        return split_params(self.proto)

    @property
    def return_type(self) -> str:
        return self.proto.rsplit(")", 1)[1]


@dataclass(frozen=True, slots=True)
class FieldRef:
    class_name: str
    name: str
    type: str

    @property
    def descriptor(self) -> str:
        return f"{self.class_name}->{self.name}:{self.type}"


@dataclass(frozen=True, slots=True)
class ClassDef:
    name: str
    access: int
    superclass: str | None
    interfaces: tuple[str, ...]
    class_data_off: int
    annotations_off: int


# Bounded: a dex has at most 65536 protos, and the analysis asks for the same few over and
# over (every call the data-flow interpreter steps through).
@lru_cache(maxsize=8192)
def split_params(proto: str) -> tuple[str, ...]:
    """``(I[Ljava/lang/String;J)V`` -> ``('I', '[Ljava/lang/String;', 'J')``.

    Tolerant of damaged descriptors (a class name without its ``;``, a dangling ``[``), which a
    hostile dex can hold: the rest of the list is then taken as one type.
    """
    close = proto.find(")")
    inner = proto[1:close] if proto.startswith("(") and close >= 0 else ""
    out: list[str] = []
    i, n = 0, len(inner)
    while i < n:
        j = i
        while j < n and inner[j] == "[":
            j += 1
        if j >= n:
            out.append(inner[i:])
            break
        if inner[j] == "L":
            end = inner.find(";", j)
            j = n - 1 if end < 0 else end
        out.append(inner[i : j + 1])
        i = j + 1
    return tuple(out)


class DexTables:
    """Read-only view over one dex file's bytes: the header and the id tables, decoded on
    first use."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        self.data = data
        if len(data) < HEADER.size or not data.startswith(b"dex\n"):
            raise DexFormatError(f"{name}: not a dex file")
        h = HEADER.unpack_from(data, 0)
        (
            _magic, _checksum, _sig, self.file_size, header_size, endian, _link_size, _link_off,
            _map_off, self.string_ids_size, self.string_ids_off, self.type_ids_size,
            self.type_ids_off, self.proto_ids_size, self.proto_ids_off, self.field_ids_size,
            self.field_ids_off, self.method_ids_size, self.method_ids_off, self.class_defs_size,
            self.class_defs_off, _data_size, _data_off,
        ) = h  # fmt: skip
        if endian != 0x12345678:
            raise DexFormatError(f"{name}: unsupported endianness tag {endian:#x}")
        n = len(data)
        for off, count, width in (
            (self.string_ids_off, self.string_ids_size, 4),
            (self.type_ids_off, self.type_ids_size, 4),
            (self.proto_ids_off, self.proto_ids_size, 12),
            (self.field_ids_off, self.field_ids_size, 8),
            (self.method_ids_off, self.method_ids_size, 8),
            (self.class_defs_off, self.class_defs_size, 32),
        ):
            if count and (off < header_size or off + count * width > n):
                raise DexFormatError(f"{name}: id table out of bounds")
        self._string_offs = array("I")
        self._string_offs.frombytes(
            data[self.string_ids_off : self.string_ids_off + 4 * self.string_ids_size]
        )
        self._type_strings = array("I")
        self._type_strings.frombytes(
            data[self.type_ids_off : self.type_ids_off + 4 * self.type_ids_size]
        )
        self.string = lru_cache(maxsize=None)(self._string)
        self._strings_at: dict[int, str] = {}
        self._string_budget = ByteBudget(len(data), "string data items")
        self._type_lists_at: dict[int, tuple[str, ...]] = {}
        self._type_list_budget = ByteBudget(len(data), "type lists")
        # Bounded by the table sizes; many methods share a proto ("()V"), each decoded once.
        self.proto = lru_cache(maxsize=None)(self._proto)
        self.method_ref = lru_cache(maxsize=None)(self._method_ref)
        self.field_ref = lru_cache(maxsize=None)(self._field_ref)
        self._methods_by_class: dict[str, tuple[tuple[int, MethodRef], ...]] = {}
        self._columns: dict[tuple[int, str, int], array] = {}  # see _column
        self._string_ids: dict[str, int | None] = {}  # text -> string id (methods_named)

    # ------------------------------------------------------------------ id tables

    @guarded
    def _string(self, idx: int) -> str:
        off = self._string_offs[idx]
        hit = self._strings_at.get(off)
        if hit is None:
            hit = self._strings_at[off] = self._string_at(off, idx)
        return hit

    def _string_at(self, off: int, idx: int) -> str:
        data = self.data
        units = data[off]
        if units < 0x80:  # most strings are shorter than 128 units: a one-byte length
            start = off + 1
        else:
            units, start = uleb(data, off)
        # MUTF-8 takes 1-3 bytes per UTF-16 unit: the NUL is no further than that (ART checks).
        end = data.find(b"\x00", start, start + 3 * units + 1)
        if end < 0:
            raise DexFormatError(f"{self.name}: unterminated string {idx}")
        self._string_budget.take(end - start + 1, self.name)
        raw = data[start:end]
        return raw.decode("ascii") if raw.isascii() else mutf8(raw)  # ASCII is its own MUTF-8

    @guarded
    def type_name(self, idx: int) -> str:
        return self.string(self._type_strings[idx])

    @guarded
    def _proto(self, idx: int) -> str:
        off = self.proto_ids_off + 12 * idx
        _shorty, ret, params_off = struct.unpack_from("<III", self.data, off)
        params = "".join(self.type_list(params_off)) if params_off else ""
        return f"({params}){self.type_name(ret)}"

    @guarded
    def type_list(self, off: int) -> tuple[str, ...]:
        """A type_list (parameters, interfaces): decoded once per offset, within the budget."""
        hit = self._type_lists_at.get(off)
        if hit is None:
            (size,) = struct.unpack_from("<I", self.data, off)
            if off + 4 + 2 * size > len(self.data):
                raise DexFormatError(f"{self.name}: type list at {off:#x} runs past the end")
            self._type_list_budget.take(4 + 2 * size, self.name)
            types = struct.unpack_from(f"<{size}H", self.data, off + 4)
            hit = self._type_lists_at[off] = tuple(self.type_name(t) for t in types)
        return hit

    @guarded
    def _method_ref(self, idx: int) -> MethodRef:
        cls, proto, name = struct.unpack_from("<HHI", self.data, self.method_ids_off + 8 * idx)
        return MethodRef(self.type_name(cls), self.string(name), self.proto(proto))

    @guarded
    def _field_ref(self, idx: int) -> FieldRef:
        cls, typ, name = struct.unpack_from("<HHI", self.data, self.field_ids_off + 8 * idx)
        return FieldRef(self.type_name(cls), self.string(name), self.type_name(typ))

    @guarded
    def find_string(self, value: str) -> int | None:
        """Binary search of the sorted string table (the loop in C: ``bisect`` with the
        memoised decoder as key)."""
        n = self.string_ids_size
        i = bisect.bisect_left(range(n), value, key=self.string)
        return i if i < n and self.string(i) == value else None

    def find_type(self, descriptor: str) -> int | None:
        sidx = self.find_string(descriptor)
        if sidx is None:
            return None
        i = bisect.bisect_left(self._type_strings, sidx)
        if i < len(self._type_strings) and self._type_strings[i] == sidx:
            return i
        return None

    @guarded
    def _id_range(self, table_off: int, size: int, type_idx: int) -> range:
        """method_ids and field_ids are sorted by defining class: find that class's slice."""
        classes = self.id_classes(table_off, size)
        lo = bisect.bisect_left(classes, type_idx)
        return range(lo, bisect.bisect_right(classes, type_idx, lo))

    def id_classes(self, table_off: int, size: int) -> array:
        """The defining class (first 16-bit word) of each 8-byte method_id or field_id item."""
        return self._column(table_off, size, 8, "H", 0)

    def id_names(self, table_off: int, size: int) -> array:
        """The name, a string id (second 32-bit word), of each method_id or field_id item."""
        return self._column(table_off, size, 8, "I", 1)

    @cached_property
    def defined_types(self) -> tuple[int, ...]:
        """The class_idx of each class definition, in file order, each once."""
        return tuple(
            dict.fromkeys(self._column(self.class_defs_off, self.class_defs_size, 32, "I", 0))
        )

    def _column(self, off: int, items: int, width: int, typecode: str, index: int) -> array:
        """Word ``index`` (of type ``typecode``) of each ``width``-byte item of the table at
        ``off``, read once with C-level slicing (the dex is little-endian; its bounds were
        checked when the header was read)."""
        key = (off, typecode, index)
        hit = self._columns.get(key)
        if hit is None:
            words = array(typecode, self.data[off : off + width * items])
            if sys.byteorder == "big":
                words.byteswap()
            hit = self._columns[key] = words[index :: width // words.itemsize]
        return hit

    def methods_of(self, class_name: str) -> tuple[tuple[int, MethodRef], ...]:
        """Every method id whose defining class is ``class_name`` (declared or referenced)."""
        hit = self._methods_by_class.get(class_name)
        if hit is None:
            t = self.find_type(class_name)
            ids = () if t is None else self._id_range(self.method_ids_off, self.method_ids_size, t)
            hit = self._methods_by_class[class_name] = tuple((i, self.method_ref(i)) for i in ids)
        return hit

    def methods_named(self, class_name: str, names: Iterable[str]) -> list[tuple[int, MethodRef]]:
        """The method ids of ``class_name`` (as :meth:`methods_of`) whose name is one of
        ``names``, in id order. Only those are decoded: ART rejects a dex whose string ids are
        not strictly sorted, so a name is one string id, compared as a number."""
        hit = self._methods_by_class.get(class_name)
        if hit is not None:
            wanted = frozenset(names)
            return [(i, r) for i, r in hit if r.name in wanted]
        t = self.find_type(class_name)
        if t is None:
            self._methods_by_class[class_name] = ()
            return []
        ids = self._id_range(self.method_ids_off, self.method_ids_size, t)
        name_ids = {self._string_id(n) for n in names} - {None}
        if not ids or not name_ids:
            return []
        column = self.id_names(self.method_ids_off, self.method_ids_size)
        return [(i, self.method_ref(i)) for i in ids if column[i] in name_ids]

    def _string_id(self, text: str) -> int | None:
        if text not in self._string_ids:
            self._string_ids[text] = self.find_string(text)
        return self._string_ids[text]

    def fields_of(self, class_name: str) -> Iterator[tuple[int, FieldRef]]:
        t = self.find_type(class_name)
        if t is None:
            return
        for i in self._id_range(self.field_ids_off, self.field_ids_size, t):
            yield i, self.field_ref(i)

    def find_method(self, class_name: str, name: str, proto: str) -> int | None:
        for i, ref in self.methods_named(class_name, (name,)):
            if ref.proto == proto:
                return i
        return None

    def strings_containing(self, needle: str) -> Iterator[int]:
        """Indices of strings containing ``needle`` (searched in the raw bytes, then verified)."""
        raw = needle.encode("utf-8")
        offs, index = self._string_starts
        # Only a hit inside the string data can verify; a needle holding NUL (U+0000 is C0 80
        # in MUTF-8, so never a raw NUL) keeps the whole file, as it could only false-hit.
        lo, hi = self._string_span if b"\x00" not in raw else (0, len(self.data))
        seen: set[int] = set()
        pos = self.data.find(raw, lo, hi)
        while pos >= 0:
            i = bisect.bisect_right(offs, pos) - 1
            if i >= 0:
                idx = i if index is None else index[i]
                if idx not in seen:
                    seen.add(idx)
                    if needle in self.string(idx):
                        yield idx
            pos = self.data.find(raw, pos + 1, hi)

    @cached_property
    def _string_span(self) -> tuple[int, int]:
        """The bytes from the first string's start to the end of the last string's text (by
        offset): a hit past it falls in no string. The whole file when that end is unclear."""
        offs = self._string_starts[0]
        if not offs:
            return 0, 0
        data, last = self.data, offs[-1]
        try:
            units, start = uleb(data, last)
        except (DexFormatError, IndexError):
            return offs[0], len(data)
        end = data.find(b"\x00", start, start + 3 * units + 1)
        return offs[0], end if end >= 0 else len(data)

    @cached_property
    def _string_starts(self) -> tuple[array, array | None]:
        """String data offsets in increasing order, and the string index of each (None: the
        offsets' own order, as the writers lay strings out, ids sorted by content); for
        equal offsets the last index is found, as a (offset, index) sort would."""
        offs = self._string_offs
        if all(map(le, offs, islice(offs, 1, None))):
            return offs, None
        order = sorted(range(len(offs)), key=offs.__getitem__)  # stable: equal offsets by index
        return array("I", map(offs.__getitem__, order)), array("I", order)

    # ------------------------------------------------------------------ class definitions

    @cached_property
    def classes(self) -> dict[str, ClassDef]:
        return self._classes()

    @guarded
    def _classes(self) -> dict[str, ClassDef]:
        if self.class_defs_size > max(self.type_ids_size, 1):
            raise DexFormatError(f"{self.name}: more class definitions than types")
        out: dict[str, ClassDef] = {}
        for i in range(self.class_defs_size):
            (cls, access, sup, ifaces_off, _src, ann_off, data_off, _static) = struct.unpack_from(
                "<8I", self.data, self.class_defs_off + 32 * i
            )
            interfaces = self.type_list(ifaces_off) if ifaces_off else ()
            name = self.type_name(cls)
            out.setdefault(
                name,
                ClassDef(
                    name,
                    access,
                    None if sup == NO_INDEX else self.type_name(sup),
                    interfaces,
                    data_off,
                    ann_off,
                ),
            )
        return out
