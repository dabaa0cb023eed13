"""A lean, bounds-checked DEX reader: id tables, class defs, code items, and a reference search.

Why not androguard: its ``DEX()`` parse builds objects for every class, method and instruction
(seconds and hundreds of MB on a large app). We only need the handful of methods that touch
watched APIs and their neighbours, so we keep the file as bytes, decode tables lazily, find
candidate instructions by a byte-pattern search, and decode only the methods that contain them.
Format reference: source.android.com/docs/core/runtime/dex-format.
"""

from __future__ import annotations

import bisect
import functools
import re
import struct
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import NamedTuple

from apkaudit.code.dex import opcodes as O
from apkaudit.errors import DexFormatError

_HEADER = struct.Struct("<8sI20s20I")
NO_INDEX = 0xFFFFFFFF
_INVOKE_AHEAD = re.compile(rb"(?=[\x6e-\x72\x74-\x78].(..))", re.DOTALL)
_ULEB_TOKEN = re.compile(rb"[\x80-\xff]{0,4}[\x00-\x7f]")


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


class EncodedMethod(NamedTuple):  # a tuple: tens of thousands are built per dex
    method_idx: int
    access: int
    code_off: int  # 0 for abstract/native


@dataclass(frozen=True, slots=True)
class Insn:
    """One decoded instruction. Offsets are in bytes from the start of the method's code."""

    offset: int
    op: int
    regs: tuple[int, ...] = ()
    idx: int | None = None  # pool index (see opcodes.POOLS)
    lit: int | None = None
    target: int | None = None  # branch target or payload offset
    targets: tuple[int, ...] = ()  # switch case targets (resolved from the payload)
    size: int = 2  # bytes

    @property
    def name(self) -> str:
        return O.NAMES[self.op]


@dataclass(frozen=True, slots=True)
class TryBlock:
    start: int  # bytes
    end: int
    handlers: tuple[int, ...]  # handler byte offsets (including catch-all)


@dataclass(frozen=True, slots=True)
class Code:
    registers: int
    ins: int
    insns: tuple[Insn, ...]
    tries: tuple[TryBlock, ...] = ()

    def at(self, offset: int) -> Insn | None:
        i = bisect.bisect_left(self.insns, offset, key=lambda x: x.offset)
        if i < len(self.insns) and self.insns[i].offset == offset:
            return self.insns[i]
        return None

    def index_of(self, offset: int) -> int:
        return bisect.bisect_left(self.insns, offset, key=lambda x: x.offset)


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


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
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


def _uleb_token(t: bytes) -> int:
    n = len(t)
    if n == 1:
        return t[0]
    if n == 2:
        return (t[0] & 0x7F) | (t[1] << 7)
    if n == 3:
        return (t[0] & 0x7F) | ((t[1] & 0x7F) << 7) | (t[2] << 14)
    return _uleb(t, 0)[0]


def _mutf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        # Modified UTF-8: NUL as C0 80. Anything else undecodable is replaced, not fatal.
        return raw.replace(b"\xc0\x80", b"\x00").decode("utf-8", "replace")


# What lazy decoding of a damaged dex raises: offsets past the end (struct.error, IndexError),
# impossible sizes (ValueError, OverflowError, MemoryError-free since every size is bounded by
# the file). Methods marked @_guarded turn them into DexFormatError, the one error callers catch.
_DAMAGE = (struct.error, IndexError, ValueError, OverflowError, KeyError)


def _guarded(fn):
    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
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


class DexFile:
    """Read-only view over one dex file's bytes. Tables are decoded on first use."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        self.data = data
        self.damaged_classes = 0  # classes whose class_data could not be decoded (skipped)
        if len(data) < _HEADER.size or not data.startswith(b"dex\n"):
            raise DexFormatError(f"{name}: not a dex file")
        h = _HEADER.unpack_from(data, 0)
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
        self.method_ref = lru_cache(maxsize=None)(self._method_ref)
        self.field_ref = lru_cache(maxsize=None)(self._field_ref)
        self.code = self._code
        self._code_item = lru_cache(maxsize=4096)(self._code_item)  # type: ignore[method-assign]
        self._methods_by_class: dict[str, tuple[tuple[int, MethodRef], ...]] = {}

    # ------------------------------------------------------------------ id tables

    @_guarded
    def _string(self, idx: int) -> str:
        off = self._string_offs[idx]
        hit = self._strings_at.get(off)
        if hit is None:
            hit = self._strings_at[off] = self._string_at(off, idx)
        return hit

    def _string_at(self, off: int, idx: int) -> str:
        units, start = _uleb(self.data, off)
        # MUTF-8 takes 1-3 bytes per UTF-16 unit: the NUL is no further than that (ART checks).
        end = self.data.find(b"\x00", start, start + 3 * units + 1)
        if end < 0:
            raise DexFormatError(f"{self.name}: unterminated string {idx}")
        self._string_budget.take(end - start + 1, self.name)
        return _mutf8(self.data[start:end])

    @_guarded
    def type_name(self, idx: int) -> str:
        return self.string(self._type_strings[idx])

    @_guarded
    def proto(self, idx: int) -> str:
        off = self.proto_ids_off + 12 * idx
        _shorty, ret, params_off = struct.unpack_from("<III", self.data, off)
        params = "".join(self.type_list(params_off)) if params_off else ""
        return f"({params}){self.type_name(ret)}"

    @_guarded
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

    @_guarded
    def _method_ref(self, idx: int) -> MethodRef:
        cls, proto, name = struct.unpack_from("<HHI", self.data, self.method_ids_off + 8 * idx)
        return MethodRef(self.type_name(cls), self.string(name), self.proto(proto))

    @_guarded
    def _field_ref(self, idx: int) -> FieldRef:
        cls, typ, name = struct.unpack_from("<HHI", self.data, self.field_ids_off + 8 * idx)
        return FieldRef(self.type_name(cls), self.string(name), self.type_name(typ))

    @_guarded
    def find_string(self, value: str) -> int | None:
        """Binary search of the sorted string table."""
        lo, hi = 0, self.string_ids_size
        while lo < hi:
            mid = (lo + hi) // 2
            s = self.string(mid)
            if s < value:
                lo = mid + 1
            elif s > value:
                hi = mid
            else:
                return mid
        return None

    def find_type(self, descriptor: str) -> int | None:
        sidx = self.find_string(descriptor)
        if sidx is None:
            return None
        i = bisect.bisect_left(self._type_strings, sidx)
        if i < len(self._type_strings) and self._type_strings[i] == sidx:
            return i
        return None

    @_guarded
    def _id_range(self, table_off: int, size: int, type_idx: int) -> range:
        """method_ids and field_ids are sorted by defining class: find that class's slice."""

        def cls_at(i: int) -> int:
            return struct.unpack_from("<H", self.data, table_off + 8 * i)[0]

        lo, hi = 0, size
        while lo < hi:
            mid = (lo + hi) // 2
            if cls_at(mid) < type_idx:
                lo = mid + 1
            else:
                hi = mid
        start = lo
        hi = size
        while lo < hi:
            mid = (lo + hi) // 2
            if cls_at(mid) <= type_idx:
                lo = mid + 1
            else:
                hi = mid
        return range(start, lo)

    def methods_of(self, class_name: str) -> tuple[tuple[int, MethodRef], ...]:
        """Every method id whose defining class is ``class_name`` (declared or referenced)."""
        hit = self._methods_by_class.get(class_name)
        if hit is None:
            t = self.find_type(class_name)
            ids = () if t is None else self._id_range(self.method_ids_off, self.method_ids_size, t)
            hit = self._methods_by_class[class_name] = tuple((i, self.method_ref(i)) for i in ids)
        return hit

    def fields_of(self, class_name: str) -> Iterator[tuple[int, FieldRef]]:
        t = self.find_type(class_name)
        if t is None:
            return
        for i in self._id_range(self.field_ids_off, self.field_ids_size, t):
            yield i, self.field_ref(i)

    def find_method(self, class_name: str, name: str, proto: str) -> int | None:
        for i, ref in self.methods_of(class_name):
            if ref.name == name and ref.proto == proto:
                return i
        return None

    def strings_containing(self, needle: str) -> Iterator[int]:
        """Indices of strings containing ``needle`` (searched in the raw bytes, then verified)."""
        raw = needle.encode("utf-8")
        starts = self._sorted_string_starts
        seen: set[int] = set()
        pos = self.data.find(raw)
        while pos >= 0:
            i = bisect.bisect_right(starts, (pos, 1 << 32)) - 1
            if i >= 0:
                idx = starts[i][1]
                if idx not in seen:
                    seen.add(idx)
                    if needle in self.string(idx):
                        yield idx
            pos = self.data.find(raw, pos + 1)

    @cached_property
    def _sorted_string_starts(self) -> list[tuple[int, int]]:
        return sorted((off, i) for i, off in enumerate(self._string_offs))

    # ------------------------------------------------------------------ classes and code

    @cached_property
    def classes(self) -> dict[str, ClassDef]:
        return self._classes()

    @_guarded
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

    @_guarded
    def class_methods(
        self, cdef: ClassDef, budget: ByteBudget | None = None
    ) -> tuple[EncodedMethod, ...]:
        """The methods of one class_data_item. Its declared counts must fit in the rest of the
        file and are taken from ``budget`` before any is read: a damaged count fails at once
        instead of reading to the end of the file for every class."""
        if not cdef.class_data_off:
            return ()
        data = self.data
        pos = cdef.class_data_off
        sf, pos = _uleb(data, pos)
        inf, pos = _uleb(data, pos)
        dm, pos = _uleb(data, pos)
        vm, pos = _uleb(data, pos)
        need = 2 * (sf + inf) + 3 * (dm + vm)  # each field takes >= 2 bytes, each method >= 3
        if need > len(data) - pos:
            raise DexFormatError(f"{self.name}: class_data of {cdef.name} is larger than the file")
        if budget is not None:
            budget.take(need + 4, self.name)
        for _ in range(sf + inf):  # skip fields: field_idx_diff, access_flags
            _, pos = _uleb(data, pos)
            _, pos = _uleb(data, pos)
        out: list[EncodedMethod] = []
        for count in (dm, vm):
            midx = 0
            for _ in range(count):
                diff, pos = _uleb(data, pos)
                access, pos = _uleb(data, pos)
                code_off, pos = _uleb(data, pos)
                midx += diff
                out.append(EncodedMethod(midx, access, code_off))
        return tuple(out)

    @cached_property
    def _code_spans(self) -> tuple[array, array, list[EncodedMethod]]:
        return self._build_code_spans()

    @_guarded
    def _build_code_spans(self) -> tuple[array, array, list[EncodedMethod]]:
        """Sorted code item spans over every method defined here, to map byte hits to methods."""
        methods = self._methods_from_class_data_section()
        if methods is None:  # no usable map: walk class by class (slower, same result)
            methods = []
            # Sound class_data items never share or overlap bytes, so all of them fit in the
            # file once: a shared offset is decoded once, and the declared counts of all items
            # together must fit in the file, which keeps a crafted dex linear (not classes x size).
            seen: set[int] = set()
            budget = ByteBudget(len(self.data), "class_data items")
            for cdef in self.classes.values():
                if cdef.class_data_off in seen:
                    continue
                seen.add(cdef.class_data_off)
                try:
                    methods.extend(self.class_methods(cdef, budget))
                except (IndexError, DexFormatError):
                    self.damaged_classes += 1  # skip the class, keep the rest
                    if budget.left <= 0:  # the items declared so far already fill the file
                        self.damaged_classes += sum(
                            1 for c in self.classes.values() if c.class_data_off not in seen
                        )
                        break
        spans: list[tuple[int, int, EncodedMethod]] = []
        n = len(self.data)
        size_at = struct.Struct("<I").unpack_from
        for m in methods:
            if not m.code_off or m.code_off + 16 > n:
                continue
            start = m.code_off + 16
            spans.append((start, start + 2 * size_at(self.data, m.code_off + 12)[0], m))
        spans.sort(key=lambda s: s[0])
        starts = array("q", (s[0] for s in spans))
        # Code items never overlap in a sound dex; a damaged size must not make one span cover
        # the file for every method (the invoke index scans each span: keep the total linear).
        ends = array(
            "q",
            (
                min(end, n, starts[i + 1] if i + 1 < len(spans) else n)
                for i, (_start, end, _m) in enumerate(spans)
            ),
        )
        return starts, ends, [s[2] for s in spans]

    def _section(self, item_type: int) -> tuple[int, int, int] | None:
        """(offset, item count, end offset) of one section of the map_list, if present."""
        map_off = _HEADER.unpack_from(self.data, 0)[8]
        if not map_off or map_off + 4 > len(self.data):
            return None
        (size,) = struct.unpack_from("<I", self.data, map_off)
        if map_off + 4 + 12 * size > len(self.data):
            return None
        items = [struct.unpack_from("<HHII", self.data, map_off + 4 + 12 * i) for i in range(size)]
        for typ, _, count, off in items:
            if typ == item_type:
                end = min((o for _, _, _, o in items if o > off), default=len(self.data))
                return off, count, min(end, len(self.data))
        return None

    def _methods_from_class_data_section(self) -> list[EncodedMethod] | None:
        """Decode every class_data_item in one pass over its section (fast path).

        One regex splits the section into uleb128 tokens; the items are then walked by their
        counts. Any inconsistency returns None and the caller falls back to per-class parsing.
        """
        section = self._section(0x2000)  # TYPE_CLASS_DATA_ITEM
        if section is None:
            return None
        off, count, end = section
        vals = [_uleb_token(t) for t in _ULEB_TOKEN.findall(self.data, off, end)]
        out: list[EncodedMethod] = []
        i = 0
        n = len(self.data)
        try:
            for _ in range(count):
                sf, inf, dm, vm = vals[i : i + 4]
                i += 4 + 2 * (sf + inf)
                for c in (dm, vm):
                    midx = 0
                    for _ in range(c):
                        diff, access, code_off = vals[i : i + 3]
                        i += 3
                        midx += diff
                        if code_off and (code_off & 3 or code_off >= n):
                            return None
                        out.append(EncodedMethod(midx, access, code_off))
        except ValueError:  # ran out of tokens
            return None
        if any(vals[i:]) or len(vals) - i > 3:
            return None
        return out

    @cached_property
    def defined_methods(self) -> dict[int, EncodedMethod]:
        return {m.method_idx: m for m in self._code_spans[2]}

    @property
    def method_count(self) -> int:
        return len(self._code_spans[2])

    def method_at(self, pos: int) -> EncodedMethod | None:
        """The method whose instructions contain file position ``pos``."""
        starts, ends, methods = self._code_spans
        i = bisect.bisect_right(starts, pos) - 1
        if i >= 0 and pos < ends[i]:
            return methods[i]
        return None

    def _code(self, method_idx: int) -> Code | None:
        m = self.defined_methods.get(method_idx)
        if m is None or not m.code_off:
            return None
        return self._code_item(m.code_off)

    @_guarded
    def _code_item(self, code_off: int) -> Code:
        registers, ins, _outs, tries_size, _dbg, insns_size = struct.unpack_from(
            "<HHHHII", self.data, code_off
        )
        start = code_off + 16
        end = start + 2 * insns_size
        # Sound code items never overlap: one that runs into the next is damage or a trap (many
        # methods sharing one huge item), not something to decode, and keep, once per method.
        starts = self._code_spans[0]
        nxt = bisect.bisect_right(starts, start)
        limit = starts[nxt] - 16 if nxt < len(starts) else len(self.data)
        if end > limit:
            raise DexFormatError(f"{self.name}: code item at {code_off:#x} overlaps the next one")
        insns = tuple(decode(self.data, start, end))
        tries: tuple[TryBlock, ...] = ()
        if tries_size:
            tries = self._tries(end, tries_size, limit)
        return Code(registers, ins, insns, tries)

    def _tries(self, insns_end: int, count: int, limit: int) -> tuple[TryBlock, ...]:
        pos = insns_end + (insns_end % 4)  # padding to 4 bytes
        handlers_base = pos + 8 * count
        handlers = self._handler_list(handlers_base, limit)
        out = []
        for i in range(count):
            start_addr, insn_count, handler_off = struct.unpack_from("<IHH", self.data, pos + 8 * i)
            found = handlers.get(handler_off)
            if found is None:
                raise DexFormatError(f"{self.name}: try block names no handler at {handler_off}")
            out.append(TryBlock(2 * start_addr, 2 * (start_addr + insn_count), found))
        return tuple(out)

    def _handler_list(self, base: int, limit: int) -> dict[int, tuple[int, ...]]:
        """encoded_catch_handler_list, read once in order: offset from ``base`` -> handler
        addresses. Try blocks name a handler by that offset (ART checks it is one), so each
        byte is read once however many try blocks there are, and never past ``limit``."""
        data = self.data
        count, pos = _uleb(data, base)
        if not 0 < count < 65536:
            raise DexFormatError(f"{self.name}: {count} catch handlers")
        out: dict[int, tuple[int, ...]] = {}
        for _ in range(count):
            at = pos - base
            size, pos = _sleb(data, pos)
            if 2 * abs(size) > limit - pos:  # each (type, address) pair takes >= 2 bytes
                raise DexFormatError(f"{self.name}: catch handler larger than its code item")
            addrs = []
            for _ in range(abs(size)):
                _type, pos = _uleb(data, pos)
                addr, pos = _uleb(data, pos)
                addrs.append(2 * addr)
            if size <= 0:
                addr, pos = _uleb(data, pos)
                addrs.append(2 * addr)
            if pos > limit:
                raise DexFormatError(f"{self.name}: catch handlers overlap the next code item")
            out[at] = tuple(addrs)
        return out

    def method_annotations(self, cdef: ClassDef) -> dict[int, tuple[str, ...]]:
        """method_idx -> annotation type descriptors (e.g. Landroid/webkit/JavascriptInterface;)."""
        if not cdef.annotations_off or cdef.annotations_off + 16 > len(self.data):
            return {}
        _cls_off, fields, methods, _params = struct.unpack_from(
            "<4I", self.data, cdef.annotations_off
        )
        pos = cdef.annotations_off + 16 + 8 * fields
        out: dict[int, tuple[str, ...]] = {}
        try:
            for i in range(min(methods, 65536)):
                midx, set_off = struct.unpack_from("<II", self.data, pos + 8 * i)
                (size,) = struct.unpack_from("<I", self.data, set_off)
                types = []
                for j in range(min(size, 256)):
                    (item_off,) = struct.unpack_from("<I", self.data, set_off + 4 + 4 * j)
                    # annotation_item: visibility (ubyte), encoded_annotation (type_idx uleb, ...)
                    type_idx, _ = _uleb(self.data, item_off + 1)
                    types.append(self.type_name(type_idx))
                out[midx] = tuple(types)
        except (struct.error, IndexError, DexFormatError):
            pass  # damaged directory: keep what was read
        return out

    @cached_property
    def _invoke_index(self) -> dict[int, list[int]]:
        """method id -> methods whose code may invoke it (candidates; verify by decoding).

        One pass over every code item with an overlapping search for invoke opcodes at even
        offsets: cheaper than one alternation search per query when callers are asked for
        many methods (reachability, call-graph neighbourhoods).
        """
        index: dict[int, list[int]] = {}
        starts, ends, methods = self._code_spans
        n = len(starts)
        if not n:
            return index
        # One scan over the whole code region; matches are walked alongside the sorted spans,
        # so gaps between code items (headers, try tables, payloads) are skipped cheaply.
        i = 0
        for hit in _INVOKE_AHEAD.finditer(self.data, starts[0], max(ends)):
            pos = hit.start()
            if pos & 1:
                continue
            while i < n and ends[i] <= pos:
                i += 1
            j = i
            while j < n and starts[j] <= pos:  # more than one span only in hostile files
                if pos + 4 <= ends[j]:
                    midx = methods[j].method_idx
                    target = int.from_bytes(hit.group(1), "little")
                    lst = index.get(target)
                    if lst is None:
                        index[target] = [midx]
                    elif lst[-1] != midx:
                        lst.append(midx)
                j += 1
        return index

    def invokers(self, method_ids) -> set[int]:
        """Candidate methods (defined here) that invoke any of ``method_ids``."""
        index = self._invoke_index
        out: set[int] = set()
        for i in method_ids:
            out.update(index.get(i, ()))
        return out

    # ------------------------------------------------------------------ reference search

    @_guarded
    def find_refs(
        self,
        methods: Iterable[int] = (),
        fields: Iterable[int] = (),
        strings: Iterable[int] = (),
        types: Iterable[int] = (),
    ) -> set[int]:
        """Method indices (defined here) whose code *may* reference any of the given ids.

        Invokes come from the invoke index; fields, strings and types from a byte-pattern
        search over the whole file: an iget/sget/const-string/const-class opcode and the id.
        Hits in non-code bytes are dropped by ``method_at``; hits
        that are not instruction boundaries are dropped later when the method is decoded.
        """
        alts: list[bytes] = []

        def add(ops: bytes, ids: Iterable[int], width: str = "<H") -> None:
            packed = [
                re.escape(struct.pack(width, i))
                for i in set(ids)
                if i < 1 << (8 * struct.calcsize(width))
            ]
            if packed:
                alts.append(b"[" + ops + b"]." + b"(?:" + b"|".join(packed) + b")")

        out: set[int] = self.invokers(methods)
        add(re.escape(bytes(range(0x52, 0x6E))), fields)  # iget*/iput*/sget*/sput*
        string_ids = list(strings)
        add(b"\\x1a", string_ids)
        add(b"\\x1b", string_ids, "<I")
        add(re.escape(bytes([0x1C, 0x22, 0x1F])), types)
        if not alts:
            return out
        pattern = re.compile(b"|".join(alts), re.DOTALL)
        pos = 0
        # Instructions sit at even file offsets. A match at an odd offset may hide an aligned
        # one a byte later, so search again from the next byte rather than after the match.
        while (m := pattern.search(self.data, pos)) is not None:
            start = m.start()
            if start & 1:
                pos = start + 1
                continue
            em = self.method_at(start)
            if em is not None:
                out.add(em.method_idx)
            pos = start + 2
        return out


def _sleb(data: bytes, pos: int) -> tuple[int, int]:
    result, new_pos = _uleb(data, pos)
    bits = 7 * (new_pos - pos)
    if result & (1 << (bits - 1)):
        result -= 1 << bits
    return result, new_pos


# --------------------------------------------------------------------------- decoder


def _s8(v: int) -> int:
    return v - 0x100 if v & 0x80 else v


def _s16(v: int) -> int:
    return v - 0x10000 if v & 0x8000 else v


def _s32(v: int) -> int:
    return v - 0x100000000 if v & 0x80000000 else v


def decode(data: bytes, start: int, end: int) -> Iterator[Insn]:
    """Decode the instructions in ``data[start:end]``; payload pseudo-instructions are skipped.

    Bounds-checked: a truncated final instruction ends decoding instead of raising.
    """
    pos = start
    u16 = struct.Struct("<H").unpack_from
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
        fmt = O.FORMATS[op]
        units = O.UNITS[op]
        if pos + 2 * units > end:
            break
        off = pos - start
        a4, b4 = b1 & 0x0F, b1 >> 4
        insn: Insn
        if fmt == "10x":
            insn = Insn(off, op)
        elif fmt == "12x":
            insn = Insn(off, op, (a4, b4))
        elif fmt == "11n":
            insn = Insn(off, op, (a4,), lit=(b4 - 16 if b4 & 8 else b4))
        elif fmt == "11x":
            insn = Insn(off, op, (b1,))
        elif fmt == "10t":
            insn = Insn(off, op, target=off + 2 * _s8(b1))
        elif fmt == "20t":
            insn = Insn(off, op, target=off + 2 * _s16(u16(data, pos + 2)[0]), size=4)
        elif fmt == "22x":
            insn = Insn(off, op, (b1, u16(data, pos + 2)[0]), size=4)
        elif fmt == "21t":
            insn = Insn(off, op, (b1,), target=off + 2 * _s16(u16(data, pos + 2)[0]), size=4)
        elif fmt == "21s":
            insn = Insn(off, op, (b1,), lit=_s16(u16(data, pos + 2)[0]), size=4)
        elif fmt == "21h":
            shift = 16 if op == 0x15 else 48
            insn = Insn(off, op, (b1,), lit=_s16(u16(data, pos + 2)[0]) << shift, size=4)
        elif fmt == "21c":
            insn = Insn(off, op, (b1,), idx=u16(data, pos + 2)[0], size=4)
        elif fmt == "23x":
            insn = Insn(off, op, (b1, data[pos + 2], data[pos + 3]), size=4)
        elif fmt == "22b":
            insn = Insn(off, op, (b1, data[pos + 2]), lit=_s8(data[pos + 3]), size=4)
        elif fmt == "22t":
            insn = Insn(off, op, (a4, b4), target=off + 2 * _s16(u16(data, pos + 2)[0]), size=4)
        elif fmt == "22s":
            insn = Insn(off, op, (a4, b4), lit=_s16(u16(data, pos + 2)[0]), size=4)
        elif fmt == "22c":
            insn = Insn(off, op, (a4, b4), idx=u16(data, pos + 2)[0], size=4)
        elif fmt == "30t":
            insn = Insn(off, op, target=off + 2 * i32(data, pos + 2)[0], size=6)
        elif fmt == "32x":
            insn = Insn(off, op, (u16(data, pos + 2)[0], u16(data, pos + 4)[0]), size=6)
        elif fmt == "31i":
            insn = Insn(off, op, (b1,), lit=i32(data, pos + 2)[0], size=6)
        elif fmt == "31t":
            insn = Insn(off, op, (b1,), target=off + 2 * i32(data, pos + 2)[0], size=6)
            if op in O.SWITCH_OPS:
                insn = replace(insn, targets=switch_targets(data, start, insn))
        elif fmt == "31c":
            insn = Insn(off, op, (b1,), idx=struct.unpack_from("<I", data, pos + 2)[0], size=6)
        elif fmt == "35c":
            count = b4
            g = a4
            idx, regs16 = struct.unpack_from("<HH", data, pos + 2)
            regs = (regs16 & 0xF, (regs16 >> 4) & 0xF, (regs16 >> 8) & 0xF, regs16 >> 12, g)
            insn = Insn(off, op, regs[: min(count, 5)], idx=idx, size=6)
        elif fmt == "3rc":
            idx, first = struct.unpack_from("<HH", data, pos + 2)
            insn = Insn(off, op, tuple(range(first, first + b1)), idx=idx, size=6)
        elif fmt == "45cc":
            count, g = b4, a4
            idx, regs16, _proto = struct.unpack_from("<HHH", data, pos + 2)
            regs = (regs16 & 0xF, (regs16 >> 4) & 0xF, (regs16 >> 8) & 0xF, regs16 >> 12, g)
            insn = Insn(off, op, regs[: min(count, 5)], idx=idx, size=8)
        elif fmt == "4rcc":
            idx, first, _proto = struct.unpack_from("<HHH", data, pos + 2)
            insn = Insn(off, op, tuple(range(first, first + b1)), idx=idx, size=8)
        else:  # 51l
            insn = Insn(off, op, (b1,), lit=struct.unpack_from("<q", data, pos + 2)[0], size=10)
        yield insn
        pos += 2 * units


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
    if insn.target is None:
        return ()
    p = code_start + insn.target
    if p + 4 > len(data):
        return ()
    ident, size = struct.unpack_from("<HH", data, p)
    if ident == 0x0100:
        base = p + 8
    elif ident == 0x0200:
        base = p + 4 + 4 * size
    else:
        return ()
    if base + 4 * size > len(data):
        return ()
    rel = struct.unpack_from(f"<{size}i", data, base)
    return tuple(insn.offset + 2 * r for r in rel)
