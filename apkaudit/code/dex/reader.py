"""A lean, bounds-checked DEX reader: :class:`DexFile`, and the reference search on top of it.

Why not androguard: its ``DEX()`` parse builds objects for every class, method and instruction
(seconds and hundreds of MB on a large app). We only need the handful of methods that touch
watched APIs and their neighbours, so we keep the file as bytes, decode tables lazily
(:mod:`.tables`), find candidate instructions by a byte-pattern search (here), and decode only
the methods that contain them (:mod:`.code_items`, :mod:`.decode`). The reader's public names
are importable from this module.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable
from functools import cached_property

from apkaudit.code.dex.code_items import Code, DexCode, EncodedMethod, TryBlock
from apkaudit.code.dex.decode import Insn, decode, switch_targets
from apkaudit.code.dex.handles import (
    call_site_targets,
    find_site_operands,
    method_handle_targets,
    site_targets,
)
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
    "decode",
    "split_params",
    "switch_targets",
]

_INVOKE_AHEAD = re.compile(rb"(?=[\x6e-\x72\x74-\x78].(..))", re.DOTALL)


class DexFile(DexCode):
    """Read-only view over one dex file's bytes. Tables are decoded on first use."""

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

    def invokers(self, method_ids: Iterable[int]) -> set[int]:
        """Candidate methods (defined here) that invoke any of ``method_ids``, directly or
        through a method handle or call site."""
        index, through = self._invoke_index, self._handle_invokers
        out: set[int] = set()
        for i in method_ids:
            out.update(index.get(i, ()))
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
