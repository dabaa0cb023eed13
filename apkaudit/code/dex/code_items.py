"""Code items of a dex file: the methods of each class (class_data_item), the span of every
method's instructions, a method's code decoded with its try blocks and handlers, and method
annotations.

Sound items never overlap; a crafted file that makes them overlap or claim more than the file
holds is cut short here (byte budgets, span limits), so decoding stays linear in its size.
"""

from __future__ import annotations

import bisect
import re
import struct
from array import array
from dataclasses import dataclass
from functools import cached_property, lru_cache, partial
from itertools import accumulate, chain, islice, repeat
from operator import add, and_, gt, itemgetter, mul
from typing import NamedTuple

from apkaudit.code.dex.decode import Insn, decode, decode_marked
from apkaudit.code.dex.primitives import ByteBudget, guarded, sleb, uleb, uleb_token
from apkaudit.code.dex.tables import HEADER, ClassDef, DexTables
from apkaudit.errors import DexFormatError

_ULEB_TOKEN = re.compile(rb"[\x80-\xff]{0,4}[\x00-\x7f]")


class EncodedMethod(NamedTuple):  # a tuple: tens of thousands are built per dex
    method_idx: int
    access: int
    code_off: int  # 0 for abstract/native


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


class DexCode(DexTables):
    """The id tables plus the code: class data, code item spans, decoded methods."""

    def __init__(self, name: str, data: bytes, shadowed: frozenset[str] = frozenset()) -> None:
        super().__init__(name, data)
        # Classes an earlier dex of the app's class path defines: ART loads the first
        # definition, so these never run. Their methods are left out of the code spans, and
        # so of every method lookup, reference search and caller index built on them.
        self.shadowed = shadowed
        self.damaged_classes = 0  # classes whose class_data could not be decoded (skipped)
        self.code = self._code
        self._code_item = lru_cache(maxsize=4096)(self._code_item)  # type: ignore[method-assign]

    def _class_data_header(self, cdef: ClassDef) -> tuple[int, int, int, int, int]:
        """A class_data_item's four counts (static and instance fields, direct and virtual
        methods) and the offset just past them."""
        pos = cdef.class_data_off
        counts = []
        for _ in range(4):
            n, pos = uleb(self.data, pos)
            counts.append(n)
        return counts[0], counts[1], counts[2], counts[3], pos

    @guarded
    def class_methods(
        self, cdef: ClassDef, budget: ByteBudget | None = None
    ) -> tuple[EncodedMethod, ...]:
        """The methods of one class_data_item. Its declared counts must fit in the rest of the
        file and are taken from ``budget`` before any is read: a damaged count fails at once
        instead of reading to the end of the file for every class."""
        if not cdef.class_data_off:
            return ()
        data = self.data
        sf, inf, dm, vm, pos = self._class_data_header(cdef)
        need = 2 * (sf + inf) + 3 * (dm + vm)  # each field takes >= 2 bytes, each method >= 3
        if need > len(data) - pos:
            raise DexFormatError(f"{self.name}: class_data of {cdef.name} is larger than the file")
        if budget is not None:
            budget.take(need + 4, self.name)
        for _ in range(sf + inf):  # skip fields: field_idx_diff, access_flags
            _, pos = uleb(data, pos)
            _, pos = uleb(data, pos)
        out: list[EncodedMethod] = []
        for count in (dm, vm):
            midx = 0
            for _ in range(count):
                diff, pos = uleb(data, pos)
                access, pos = uleb(data, pos)
                code_off, pos = uleb(data, pos)
                midx += diff
                out.append(EncodedMethod(midx, access, code_off))
        return tuple(out)

    @guarded
    def class_fields(self, cdef: ClassDef) -> tuple[int, ...]:
        """The field ids one class_data_item declares (static, then instance fields). A field
        reference names the class it was accessed through (``Sub->f``), which may inherit it:
        the data flow resolves the reference to the declaring class with this list."""
        if not cdef.class_data_off:
            return ()
        data = self.data
        sf, inf, _dm, _vm, pos = self._class_data_header(cdef)
        if 2 * (sf + inf) > len(data) - pos:
            raise DexFormatError(f"{self.name}: class_data of {cdef.name} is larger than the file")
        out: list[int] = []
        for count in (sf, inf):
            fidx = 0
            for _ in range(count):
                diff, pos = uleb(data, pos)
                _, pos = uleb(data, pos)
                fidx += diff
                out.append(fidx)
        return tuple(out)

    @cached_property
    def _code_spans(self) -> tuple[array, array, list[EncodedMethod]]:
        return self._build_code_spans()

    @guarded
    def _build_code_spans(self) -> tuple[array, array, list[EncodedMethod]]:
        """Sorted code item spans over every method defined here (by a class that loads), to map
        byte hits to methods."""
        if self.shadowed and self.shadowed.issuperset(self.classes):
            return _spans(self.data, [])  # every class shadowed: no class data is decoded
        methods = self._methods_from_class_data_section()
        if methods is None:  # no usable map: walk class by class (slower, same result)
            methods = []
            # Sound class_data items never share or overlap bytes, so all of them fit in the
            # file once: a shared offset is decoded once, and the declared counts of all items
            # together must fit in the file, which keeps a crafted dex linear (not classes x size).
            seen: set[int] = set()
            budget = ByteBudget(len(self.data), "class_data items")
            for cdef in self.classes.values():
                if cdef.class_data_off in seen or cdef.name in self.shadowed:
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
        if self.shadowed:
            methods = self._loaded_only(methods)
        return _spans(self.data, methods)

    def _loaded_only(self, methods: list[EncodedMethod]) -> list[EncodedMethod]:
        """``methods`` without those of shadowed classes (a method belongs to the class its
        method_id names; ART rejects class data listing another class's methods)."""
        dead = {t for n in self.shadowed if (t := self.find_type(n)) is not None}
        owners = self.id_classes(self.method_ids_off, self.method_ids_size)
        n = len(owners)
        return [m for m in methods if m.method_idx >= n or owners[m.method_idx] not in dead]

    def _section(self, item_type: int) -> tuple[int, int, int] | None:
        """(offset, item count, end offset) of one section of the map_list, if present."""
        map_off = HEADER.unpack_from(self.data, 0)[8]
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

        One regex splits the section into uleb128 tokens and a table maps them to numbers; the
        items are then walked by their counts, a class at a time (each class's methods are
        three strided slices of the numbers). Any inconsistency returns None and the caller
        falls back to per-class parsing.
        """
        section = self._section(0x2000)  # TYPE_CLASS_DATA_ITEM
        if section is None:
            return None
        off, count, end = section
        vals = list(map(_uleb_values().__getitem__, _ULEB_TOKEN.findall(self.data, off, end)))
        nvals = len(vals)
        idxs: list[int] = []
        accs: list[int] = []
        offs: list[int] = []
        i = 0
        for _ in range(count):
            if i + 4 > nvals:  # ran out of tokens
                return None
            sf, inf, dm, vm = vals[i : i + 4]
            i += 4 + 2 * (sf + inf)
            for c in (dm, vm):
                if c:
                    j = i + 3 * c
                    if j > nvals:
                        return None
                    idxs += accumulate(vals[i:j:3])  # method_idx_diff, from 0 for each list
                    accs += vals[i + 1 : j : 3]
                    offs += vals[i + 2 : j : 3]
                    i = j
        if any(vals[i:]):  # bytes after the last item other than zero padding
            return None
        if offs and (max(offs) >= len(self.data) or any(map(and_, offs, repeat(3)))):
            return None  # a code item past the end or not 4-aligned
        return list(map(_new_method, zip(idxs, accs, offs, strict=True)))

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

    def marked_insns(self, method_idx: int, ops: bytes) -> tuple[Insn, ...] | None:
        """The instructions of a method whose opcode ``ops`` (256 bytes) marks, decoded as
        :meth:`code` decodes them (None when it has no code; damage raises as there)."""
        m = self.defined_methods.get(method_idx)
        if m is None or not m.code_off:
            return None
        return self._marked_insns(m.code_off, ops)

    @guarded
    def _marked_insns(self, code_off: int, ops: bytes) -> tuple[Insn, ...]:
        _regs, _ins, _tries, start, end, _limit = self._code_header(code_off)
        return tuple(decode_marked(self.data, start, end, ops))

    def _code_header(self, code_off: int) -> tuple[int, int, int, int, int, int]:
        """(registers, ins, tries_size, first instruction, end, end of the room it may use)."""
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
        return registers, ins, tries_size, start, end, limit

    @guarded
    def _code_item(self, code_off: int) -> Code:
        registers, ins, tries_size, start, end, limit = self._code_header(code_off)
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
        count, pos = uleb(data, base)
        if not 0 < count < 65536:
            raise DexFormatError(f"{self.name}: {count} catch handlers")
        out: dict[int, tuple[int, ...]] = {}
        for _ in range(count):
            at = pos - base
            size, pos = sleb(data, pos)
            if 2 * abs(size) > limit - pos:  # each (type, address) pair takes >= 2 bytes
                raise DexFormatError(f"{self.name}: catch handler larger than its code item")
            addrs = []
            for _ in range(abs(size)):
                _type, pos = uleb(data, pos)
                addr, pos = uleb(data, pos)
                addrs.append(2 * addr)
            if size <= 0:
                addr, pos = uleb(data, pos)
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
                    type_idx, _ = uleb(self.data, item_off + 1)
                    types.append(self.type_name(type_idx))
                out[midx] = tuple(types)
        except (struct.error, IndexError, DexFormatError):
            pass  # damaged directory: keep what was read
        return out


_new_method = partial(tuple.__new__, EncodedMethod)  # EncodedMethod from a 3-tuple, at C level
_unpack_u32 = struct.Struct("<I").unpack_from


@lru_cache(maxsize=1)
def _uleb_values() -> dict[bytes, int]:
    """uleb128 token -> value: every 1- and 2-byte token (nearly all of them in class data)
    precomputed, longer ones decoded when first seen."""
    table = _UlebTable({bytes([b]): b for b in range(0x80)})
    for lo in range(0x80, 0x100):
        for hi in range(0x80):
            table[bytes([lo, hi])] = (lo & 0x7F) | (hi << 7)
    return table


class _UlebTable(dict[bytes, int]):
    def __missing__(self, token: bytes) -> int:
        # Code offsets past 16 KiB take 3 bytes, past 2 MiB 4: one expression each, not a loop
        # (tens of thousands per large dex; their values are all different, so none is kept).
        if len(token) == 4:
            a, b, c, d = token
            return (a & 0x7F) | (b & 0x7F) << 7 | (c & 0x7F) << 14 | d << 21
        if len(token) == 3:
            a, b, c = token
            return (a & 0x7F) | (b & 0x7F) << 7 | c << 14
        return uleb_token(token)


def _spans(data: bytes, methods: list[EncodedMethod]) -> tuple[array, array, list[EncodedMethod]]:
    """Sorted code item spans (instruction start, end, method) of ``methods``, at C level."""
    n = len(data)
    with_code = [m for m in methods if m.code_off and m.code_off + 16 <= n]
    offs = [m.code_off for m in with_code]
    sizes = map(itemgetter(0), map(_unpack_u32, repeat(data), map(add, offs, repeat(12))))
    starts = list(map(add, offs, repeat(16)))
    ends = list(map(add, starts, map(mul, sizes, repeat(2))))
    if any(map(gt, starts, islice(starts, 1, None))):  # not in file order: sort (stable)
        order = sorted(range(len(starts)), key=starts.__getitem__)
        starts = [starts[k] for k in order]
        ends = [ends[k] for k in order]
        with_code = [with_code[k] for k in order]
    # Code items never overlap in a sound dex; a damaged size must not make one span cover
    # the file for every method (the invoke index scans each span: keep the total linear).
    nexts = chain(islice(starts, 1, None), (n,))
    clipped = map(min, ends, repeat(n), nexts)
    return array("q", starts), array("q", clipped), with_code
