"""A lean, bounds-checked DEX reader: :class:`DexFile`, and the reference search on top of it.

Why not androguard: its ``DEX()`` parse builds objects for every class, method and instruction
(seconds and hundreds of MB on a large app). We only need the handful of methods that touch
watched APIs and their neighbours, so we keep the file as bytes, decode tables lazily
(:mod:`.tables`), find candidate instructions by marking opcode bytes and looking their ids up
in sets (here), and decode only the methods that contain them (:mod:`.code_items`,
:mod:`.decode`). The reader's public names are importable from this module.
"""

from __future__ import annotations

import itertools
import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from functools import cached_property
from itertools import accumulate, compress, repeat
from operator import add, lshift, mul, or_

from apkaudit.code.dex.code_items import Code, DexCode, EncodedMethod, TryBlock
from apkaudit.code.dex.decode import Insn, decode, switch_targets
from apkaudit.code.dex.handles import (
    call_site_targets,
    find_site_operands,
    method_handle_targets,
    site_targets,
)
from apkaudit.code.dex.opcodes import STATIC_INVOKES
from apkaudit.code.dex.primitives import ByteBudget, guarded
from apkaudit.code.dex.tables import NO_INDEX, ClassDef, FieldRef, MethodRef, split_params
from apkaudit.errors import DexFormatError

__all__ = [
    "NO_INDEX",
    "ByteBudget",
    "ClassDef",
    "Code",
    "DexFile",
    "DexFormatError",
    "EncodedMethod",
    "FieldRef",
    "Insn",
    "MethodRef",
    "TryBlock",
    "arg_regs",
    "decode",
    "split_params",
    "switch_targets",
]


def arg_regs(insn: Insn, ref: MethodRef) -> list[int]:
    """Registers of an invoke's logical arguments (receiver first), skipping the second half of
    each wide (J, D) value; cut short, never raising, when the instruction names fewer registers."""
    regs = insn.regs
    out: list[int] = []
    i = 0
    if insn.op not in STATIC_INVOKES:
        if not regs:
            return out
        out.append(regs[0])
        i = 1
    for t in ref.param_types:
        if i >= len(regs):
            break
        out.append(regs[i])
        i += 2 if t in ("J", "D") else 1
    return out


# translate() tables marking opcodes with b"\x01" (every other byte becomes b"\x00"):
# invoke-virtual..invoke-interface (0x6e-0x72) and their /range forms (0x74-0x78); the field
# accesses iget..sput-short; const-string; const-string/jumbo; const-class, new-instance,
# check-cast.
_INVOKE_MARK = bytes(int(0x6E <= b <= 0x72 or 0x74 <= b <= 0x78) for b in range(256))
_FIELD_MARK = bytes(int(0x52 <= b <= 0x6D) for b in range(256))
_CONST_STRING_MARK = bytes(int(b == 0x1A) for b in range(256))
_CONST_STRING_JUMBO_MARK = bytes(int(b == 0x1B) for b in range(256))
_TYPE_MARK = bytes(int(b in (0x1C, 0x22, 0x1F)) for b in range(256))


_QUERIES_BEFORE_INDEX = 8  # callers() queries of one dex answered by a pass over its sites


def _position_code(size: int) -> str:
    """The array typecode that holds any file position of a file of ``size`` bytes."""
    return "I" if size < 1 << 32 else "q"


def _marked(ops: bytes, mark: bytes) -> list[int]:
    """Indices of the bytes of ``ops`` that ``mark`` maps to 1 (the others map to 0)."""
    # Index of the j-th mark: the lengths of the pieces before it, plus j marks.
    pieces = ops.translate(mark).split(b"\x01")[:-1]
    return list(map(add, accumulate(map(len, pieces)), itertools.count()))


class DexFile(DexCode):
    """Read-only view over one dex file's bytes. Tables are decoded on first use."""

    def _code_units(self) -> tuple[int, array, bytes]:
        """The code region as 16-bit units from an even file offset ``base`` (two zero units
        past its end, so a unit's two successors can always be read), and the low byte of
        each unit: where an opcode would be."""
        starts, ends, _ = self._code_spans
        base = starts[0] & ~1  # instructions sit at even file offsets
        count = (max(ends) - base + 1) // 2
        raw = self.data[base : base + 2 * count + 4].ljust(2 * count + 4, b"\0")
        units = array("H", raw)
        if sys.byteorder == "big":
            units.byteswap()
        return base, units, raw[: 2 * count : 2]

    @cached_property
    def _invoke_sites(self) -> tuple[array, array]:
        """(file position, method id) of every 16-bit code unit at an even offset whose low byte
        is an invoke opcode: candidate call sites (verify by decoding), in file order.

        Built without per-unit Python work: the opcode bytes are one slice, marked by
        ``translate`` and located by splitting on the marks; the ids are C-level maps.
        """
        starts = self._code_spans[0]
        if not len(starts):
            return array("I"), array("H")
        base, units, ops = self._code_units()
        ks = _marked(ops, _INVOKE_MARK)
        positions = array(
            _position_code(len(self.data)), map(add, repeat(base), map(mul, ks, repeat(2)))
        )
        ids = array("H", map(units.__getitem__, map(add, ks, repeat(1))))
        if self.shadowed:  # the code of shadowed classes lies outside every span: not a site
            keep = [self.method_at(p) is not None for p in positions]
            positions = array(positions.typecode, compress(positions, keep))
            ids = array("H", compress(ids, keep))
        return positions, ids

    def callers(self, method_ids: Iterable[int]) -> dict[int, list[int]]:
        """method id -> methods (defined here) whose code may invoke it, in file order.

        A few queries cost a pass over the sites each (one set lookup per site, C-level; only
        the sites of wanted ids are mapped to their method). A dex asked many times (the
        call-graph walks of a large app) gets the sites sorted by target once, and each query
        is then a binary search; only the sites it finds are mapped to their method.
        """
        wanted = set(method_ids)
        self._caller_queries = getattr(self, "_caller_queries", 0) + 1
        if self._caller_queries <= _QUERIES_BEFORE_INDEX:
            return self._callers_of(wanted)
        targets, positions = self._sites_by_target
        starts, ends, methods = self._code_spans
        out: dict[int, list[int]] = {}
        for t in wanted:
            lo = bisect_left(targets, t)
            hi = bisect_right(targets, t, lo)
            found: list[int] | None = None
            for pos in positions[lo:hi]:  # file order
                i = bisect_right(starts, pos) - 1
                # the span holding pos (spans are clipped not to overlap), with room for the id
                if i < 0 or pos + 4 > ends[i]:
                    continue
                midx = methods[i].method_idx
                if found is None:
                    found = out[t] = [midx]
                elif found[-1] != midx:
                    found.append(midx)
        return out

    @cached_property
    def _sites_by_target(self) -> tuple[array, array]:
        """(target method id, file position) of every candidate call site, sorted by target and
        in file order for one target; built without a Python step per site."""
        positions, ids = self._invoke_sites
        order = sorted(range(len(ids)), key=ids.__getitem__)  # stable: file order kept
        by_target = array("H", map(ids.__getitem__, order))
        return by_target, array(positions.typecode, map(positions.__getitem__, order))

    def _callers_of(self, wanted: set[int]) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        positions, ids = self._invoke_sites
        if not wanted or not positions:
            return out
        starts, ends, methods = self._code_spans
        hits = compress(zip(positions, ids, strict=True), map(wanted.__contains__, ids))
        for pos, target in hits:
            i = bisect_right(starts, pos) - 1
            # the span holding pos (spans are clipped not to overlap), with room for the id
            if i < 0 or pos + 4 > ends[i]:
                continue
            midx = methods[i].method_idx
            lst = out.get(target)
            if lst is None:
                out[target] = [midx]
            elif lst[-1] != midx:
                lst.append(midx)
        return out

    def invokers(self, method_ids: Iterable[int]) -> set[int]:
        """Candidate methods (defined here) that invoke any of ``method_ids``, directly or
        through a method handle or call site."""
        wanted = set(method_ids)
        through = self._handle_invokers
        out: set[int] = set()
        for found in self.callers(wanted).values():
            out.update(found)
        for i in wanted:
            out.update(through.get(i, ()))
        return out

    @cached_property
    def handle_targets(self) -> tuple[dict[int, int], dict[int, tuple[int, ...]]]:
        """(method handle -> method id, call site -> method ids): see :mod:`.handles`."""
        return self._read_handles()

    @guarded
    def _read_handles(self) -> tuple[dict[int, int], dict[int, tuple[int, ...]]]:
        handles = method_handle_targets(self)
        return handles, call_site_targets(self, handles)

    @cached_property
    def _handle_invokers(self) -> dict[int, set[int]]:
        """method id -> methods holding a const-method-handle or invoke-custom that calls it
        (empty, at no cost, for the dex files without method handles: nearly all)."""
        handles, sites = self.handle_targets
        out: dict[int, set[int]] = {}
        starts, ends, _ = self._code_spans
        if not (handles or sites) or not len(starts):
            return out
        for pos, op, idx in find_site_operands(self.data, starts[0], max(ends)):
            em = self.method_at(pos)
            if em is None:
                continue
            for target in site_targets(op, idx, handles, sites):
                out.setdefault(target, set()).add(em.method_idx)
        return out

    # ------------------------------------------------------------------ reference search

    @guarded
    def find_refs(
        self,
        methods: Iterable[int] = (),
        fields: Iterable[int] = (),
        strings: Iterable[int] = (),
        types: Iterable[int] = (),
    ) -> set[int]:
        """Method indices (defined here) whose code *may* reference any of the given ids.

        Invokes come from the invoke index; fields, strings and types from every code unit
        whose low byte is an iget/sput/const-string/const-class... opcode and whose id is in
        the wanted set (a set lookup per candidate, whatever the number of ids). Hits that are
        not instruction boundaries are dropped later when the method is decoded.
        """
        out: set[int] = self.invokers(methods)
        starts = self._code_spans[0]
        if not len(starts):
            return out
        base, units, ops = self._code_units()
        wanted_strings = set(strings)
        checks = (
            (_FIELD_MARK, set(fields), False),  # iget*/iput*/sget*/sput* field@BBBB
            (_CONST_STRING_MARK, wanted_strings, False),  # const-string string@BBBB
            (_CONST_STRING_JUMBO_MARK, wanted_strings, True),  # const-string/jumbo string@BBBBBBBB
            (_TYPE_MARK, set(types), False),  # const-class, new-instance, check-cast type@BBBB
        )
        size = len(self.data)
        for mark, wanted, wide in checks:
            if not wanted:
                continue
            ks = _marked(ops, mark)
            after = map(add, ks, repeat(1))
            ids: Iterable[int] = map(units.__getitem__, after)
            if wide:
                high = map(units.__getitem__, map(add, ks, repeat(2)))
                ids = map(or_, ids, map(lshift, high, repeat(16)))
            need = 6 if wide else 4  # opcode byte, register byte, the id
            for k in compress(ks, map(wanted.__contains__, ids)):
                pos = base + 2 * k
                if pos + need <= size:  # the whole id lies inside the file
                    em = self.method_at(pos)
                    if em is not None:
                        out.add(em.method_idx)
        return out
