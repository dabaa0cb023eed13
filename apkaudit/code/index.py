"""Index the watched catalogue items in an app's dex files: call sites, field reads, constants.

Only methods that reference a watched item are decoded (see dex/reader.py for why).
"""

from __future__ import annotations

import struct
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

from apkaudit.code.catalogue import Catalogue, WatchedItem
from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.disasm import excerpt
from apkaudit.code.dex.handles import CONST_METHOD_HANDLE, INVOKE_CUSTOM_OPS, site_targets
from apkaudit.code.dex.reader import ClassDef, Code, DexFile, Insn, MethodRef
from apkaudit.errors import DexFormatError
from apkaudit.limits import NO_DEADLINE, Deadline
from apkaudit.model import BlindSpot, BlindSpotKind, CodeIndex, CodeLocation, CodeRef, RefKind

_FIELD_READS = O.SGET_OPS | O.IGET_OPS
_HANDLE_OPS = INVOKE_CUSTOM_OPS | {CONST_METHOD_HANDLE}


def _refers(op: int) -> bool:
    """Can an instruction of opcode ``op`` be a reference _matches reports?"""
    pool = O.POOLS[op]
    return (
        op in _HANDLE_OPS
        or (pool == O.METHOD and op in O.INVOKE_OPS)
        or (pool == O.FIELD and op in _FIELD_READS)
        or pool == O.STRING
        or (pool == O.TYPE and op in (0x1C, 0x22, 0x1F))
    )


# The opcodes the reference search decodes; it steps over the rest of a method.
_REFERRING = bytes(map(_refers, range(256)))


@dataclass(frozen=True)
class DexSet:
    """All readable dex files of one app, in class-loading order. Read-only once built.

    ``files`` are those with a class that loads; ``opened`` adds, in order, the dex files
    every class of which is shadowed by an earlier one (dead code, never analysed).
    """

    files: tuple[DexFile, ...]
    opened: tuple[DexFile, ...] = ()
    _defined: dict = field(default_factory=dict, compare=False, repr=False)
    _constructors: dict = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def classes(self) -> dict[str, tuple[DexFile, ClassDef]]:
        """Class descriptor -> where it is defined. The first dex wins, as at run time."""
        out: dict[str, tuple[DexFile, ClassDef]] = {}
        for dex in self.files:
            for name, cdef in dex.classes.items():
                out.setdefault(name, (dex, cdef))
        return out

    def method_count(self) -> int:
        return sum(d.method_count for d in self.files)

    def defined_method(self, class_name: str, signature: str) -> tuple[DexFile, int] | None:
        """The dex and method index where ``class_name`` defines ``name+proto`` (not inherited)."""
        key = (class_name, signature)
        if key not in self._defined:
            self._defined[key] = self._find_defined(class_name, signature)
        return self._defined[key]

    def constructors(self, class_name: str) -> tuple[str, ...]:
        """The signatures of the constructors the dex defining ``class_name`` names on it
        (declared or referenced; empty for a class the app does not define)."""
        hit = self._constructors.get(class_name)
        if hit is None:
            found = self.classes.get(class_name)
            named = found[0].methods_named(class_name, ("<init>",)) if found else ()
            hit = self._constructors[class_name] = tuple(r.signature for _, r in named)
        return hit

    def _find_defined(self, class_name: str, signature: str) -> tuple[DexFile, int] | None:
        hit = self.classes.get(class_name)
        if hit is None:
            return None
        dex = hit[0]
        name, proto = signature.split("(", 1)
        idx = dex.find_method(class_name, name, "(" + proto)
        if idx is not None and idx in dex.defined_methods:
            return dex, idx
        return None

    def excerpt(self, loc: CodeLocation, before: int = 3, after: int = 2) -> tuple[str, ...]:
        """Disassembly around a code location (empty if the method cannot be decoded), from the
        dex the location names (an embedded dex may define a class the app's dex does too)."""
        try:
            found = self._in_dex(loc) or self.defined_method(loc.class_name, loc.method)
        except DexFormatError:
            return ()
        if found is None:
            return ()
        dex, idx = found
        code = self.code(dex, idx)
        return excerpt(dex, code, loc.offset, before, after) if code else ()

    def _in_dex(self, loc: CodeLocation) -> tuple[DexFile, int] | None:
        dex = next((d for d in self.files if d.name == loc.dex), None)
        if dex is None:
            return None
        name, proto = loc.method.split("(", 1)
        idx = dex.find_method(loc.class_name, name, "(" + proto)
        return (dex, idx) if idx is not None and idx in dex.defined_methods else None

    def marked_insns(self, dex: DexFile, method_idx: int, ops: bytes) -> tuple[Insn, ...] | None:
        """The instructions ``ops`` marks of a method (None if it cannot be decoded)."""
        try:
            return dex.marked_insns(method_idx, ops)
        except (DexFormatError, IndexError, ValueError):
            return None

    def code(self, dex: DexFile, method_idx: int) -> Code | None:
        try:
            return dex.code(method_idx)
        except (DexFormatError, IndexError, ValueError):
            return None


def open_dex_set(
    dex_entries: tuple[tuple[str, bytes], ...],
) -> tuple[DexSet, tuple[BlindSpot, ...]]:
    """Open every dex; one that cannot be parsed becomes a blind spot, not an error.

    In the app's class path (``classes.dex``, ``classes2.dex`` ... as the loader names them,
    see :func:`_class_path`) a class an earlier dex defines is shadowed: it never loads, so it
    is left out of the analysis (DexCode.shadowed) and named in a ``shadowed_classes`` notice.
    Embedded or decoded dex files are not shadowed: a class loader of their own may load them.
    """
    opened: list[DexFile] = []
    spots: list[BlindSpot] = []
    path = _class_path(tuple(name for name, _ in dex_entries))
    earlier: dict[str, str] = {}  # class -> the class-path dex defining it first
    for i, (name, data) in enumerate(dex_entries):
        try:
            dex = DexFile(name, data)
            classes = dex.classes  # validate the class table now rather than mid-analysis
            if i < path:
                shadowed = frozenset(c for c in classes if c in earlier) if earlier else None
                if shadowed:
                    dex = DexFile(name, data, shadowed)
                    _ = dex.classes
                    spots.append(_shadowed_spot(dex, earlier))
                if i + 1 < path:
                    for c in classes:
                        earlier.setdefault(c, name)
            opened.append(dex)
        except (DexFormatError, IndexError, ValueError, OverflowError, struct.error) as exc:
            spots.append(BlindSpot(BlindSpotKind.UNREADABLE_DEX, f"{name}: {exc}"))
    live = tuple(d for d in opened if not d.shadowed or len(d.shadowed) < len(d.classes))
    return DexSet(live, tuple(opened)), tuple(spots)


def _class_path(names: tuple[str, ...]) -> int:
    """How many of the leading dex entries are the base APK's class path: ``classes.dex``,
    ``classes2.dex`` ... in ART's order with no gap (load/collect.py reads them first; any
    other name, a duplicate ``#2`` copy included, ends the path)."""
    n = 0
    while n < len(names) and names[n] == f"classes{n + 1 if n else ''}.dex":
        n += 1
    return n


_SHOWN_SHADOWED = 3


def _shadowed_spot(dex: DexFile, earlier: dict[str, str]) -> BlindSpot:
    names = sorted(dex.shadowed)
    by = ", ".join(dict.fromkeys(earlier[c] for c in names))
    shown = ", ".join(c[1:-1].replace("/", ".") for c in names[:_SHOWN_SHADOWED])
    more = len(names) - _SHOWN_SHADOWED
    shown += f" and {more} more" if more > 0 else ""
    whole = " (every class of the file)" if len(names) == len(dex.classes) else ""
    return BlindSpot(
        BlindSpotKind.SHADOWED_CLASSES,
        f"{len(names)} class(es) in {dex.name}{whole} are shadowed by earlier definitions "
        f"({by}) and never load: {shown}; this dead code is not analysed",
    )


@dataclass
class _Watch:
    """Catalogue items resolved to one dex's pool indices."""

    methods: dict[int, list[WatchedItem]]
    fields: dict[int, list[WatchedItem]]
    strings: dict[int, list[WatchedItem]]
    types: dict[int, list[WatchedItem]]

    def __bool__(self) -> bool:
        return bool(self.methods or self.fields or self.strings or self.types)


def _resolve(dex: DexFile, catalogue: Catalogue) -> _Watch:
    w = _Watch(defaultdict(list), defaultdict(list), defaultdict(list), defaultdict(list))
    for item in catalogue.items:
        if item.kind == "invoke":
            for i, ref in dex.methods_of(item.class_name):
                if ref.name == item.name and (item.proto is None or ref.proto == item.proto):
                    w.methods[i].append(item)
        elif item.kind == "field":
            for i, fref in dex.fields_of(item.class_name):
                if fref.name == item.name:
                    w.fields[i].append(item)
        elif item.kind == "class":
            t = dex.find_type(item.class_name)
            if t is not None:
                w.types[t].append(item)
        elif item.match == "exact":
            s = dex.find_string(item.value)
            if s is not None:
                w.strings[s].append(item)
        else:
            for s in dex.strings_containing(item.value):
                if item.matches_string(dex.string(s)):
                    w.strings[s].append(item)
    return w


def _matches(
    dex: DexFile, w: _Watch, insns: tuple[Insn, ...]
) -> Iterator[tuple[int, WatchedItem, str]]:
    handles, sites = dex.handle_targets
    for insn in insns:
        if insn.idx is None:
            continue
        if insn.op in _HANDLE_OPS:  # a call through a method handle or call site
            for midx in site_targets(insn.op, insn.idx, handles, sites):
                items = w.methods.get(midx)
                if items:
                    target = dex.method_ref(midx).descriptor
                    for item in items:
                        yield insn.offset, item, target
            continue
        pool = O.POOLS[insn.op]
        if pool == O.METHOD and insn.op in O.INVOKE_OPS:
            items = w.methods.get(insn.idx)
            if items:
                target = dex.method_ref(insn.idx).descriptor
                for item in items:
                    yield insn.offset, item, target
        elif pool == O.FIELD and insn.op in _FIELD_READS:
            items = w.fields.get(insn.idx)
            if items:
                target = dex.field_ref(insn.idx).descriptor
                for item in items:
                    yield insn.offset, item, target
        elif pool == O.STRING:
            items = w.strings.get(insn.idx)
            if items:
                for item in items:
                    yield insn.offset, item, dex.string(insn.idx)
        elif pool == O.TYPE and insn.op in (0x1C, 0x22, 0x1F):
            items = w.types.get(insn.idx)
            if items:
                for item in items:
                    yield insn.offset, item, dex.type_name(insn.idx)


# Sites kept per watched API (real apps have at most a few hundred: 215 Log.e calls in
# appium-settings); a crafted dex with a million sends would otherwise fill memory and time with
# sites no report can show. The rest are counted in a ``limit`` blind spot.
MAX_REFS_PER_API = 5_000
_KIND = {"invoke": RefKind.INVOKE, "field": RefKind.FIELD, "string": RefKind.STRING,
         "class": RefKind.CLASS}  # fmt: skip


def build_code_index(
    dexset: DexSet,
    catalogue: Catalogue,
    origin_of: Callable[[str], str],
    *,
    max_methods: int = 200_000,
    deadline: Deadline = NO_DEADLINE,
) -> tuple[CodeIndex, tuple[BlindSpot, ...]]:
    refs: list[CodeRef] = []
    spots: list[BlindSpot] = []
    per_api: Counter[str] = Counter()
    decoded = 0
    for dex in dexset.files:
        try:
            watch = _resolve(dex, catalogue)
            if not watch:
                continue
            candidates = dex.find_refs(watch.methods, watch.fields, watch.strings, watch.types)
        except DexFormatError as exc:
            # Tables that looked sound at open time but break when followed: keep the other
            # dex files, report this one.
            spots.append(BlindSpot(BlindSpotKind.UNREADABLE_DEX, f"{dex.name}: not indexed: {exc}"))
            continue
        for midx in sorted(candidates):
            if decoded >= max_methods:
                spots.append(
                    BlindSpot(
                        BlindSpotKind.LIMIT, f"stopped after decoding {max_methods} methods (limit)"
                    )
                )
                break
            if deadline.check("code index"):
                spots.append(
                    BlindSpot(
                        BlindSpotKind.TIME_LIMIT,
                        f"code index stopped at the {deadline.seconds} s time limit in {dex.name}",
                    )
                )
                break
            insns = dexset.marked_insns(dex, midx, _REFERRING)
            decoded += 1
            if insns is None:
                spots.append(
                    BlindSpot(BlindSpotKind.UNREADABLE_METHOD, f"{dex.name}: method #{midx}")
                )
                continue
            try:
                owner: MethodRef = dex.method_ref(midx)
                origin = origin_of(owner.class_name)
                found = []
                for offset, item, target in _matches(dex, watch, insns):
                    per_api[item.id] += 1
                    if per_api[item.id] > MAX_REFS_PER_API:
                        continue  # counted, not kept: no report lists a million sites
                    loc = CodeLocation(dex.name, owner.class_name, owner.signature, offset)
                    found.append(
                        CodeRef(
                            item.id,
                            _KIND[item.kind],
                            target,
                            loc,
                            origin,
                            item.tags,
                        )
                    )
            except DexFormatError:
                spots.append(
                    BlindSpot(BlindSpotKind.UNREADABLE_METHOD, f"{dex.name}: method #{midx}")
                )
                continue
            refs.extend(found)
        else:
            continue
        break  # the method limit was hit
    over = sorted((n, api) for api, n in per_api.items() if n > MAX_REFS_PER_API)
    if over:
        shown = ", ".join(f"{api} ({n:,} sites)" for n, api in over[::-1][:3])
        spots.append(
            BlindSpot(
                BlindSpotKind.LIMIT,
                f"only the first {MAX_REFS_PER_API:,} sites of a watched API are kept: {shown}",
            )
        )
    refs.sort(key=lambda r: (r.location, r.api_id))
    method_count = dexset.method_count()  # decodes every class_data item: damage shows here
    spots.extend(
        BlindSpot(
            BlindSpotKind.UNREADABLE_DEX,
            f"{d.name}: {d.damaged_classes} class(es) with damaged class data skipped",
        )
        for d in dexset.files
        if d.damaged_classes
    )
    index = CodeIndex(
        dex_files=tuple(d.name for d in dexset.opened or dexset.files),
        refs=tuple(refs),
        class_count=len(dexset.classes),
        method_count=method_count,
        methods_decoded=decoded,
    )
    return index, tuple(dict.fromkeys(spots))
