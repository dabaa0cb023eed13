"""Resolve symbolic values across methods: parameters from call sites, fields from their
writers (and dex static values), app methods' return values, string resources.

``Resolver`` evaluates methods on demand (symbolic.MethodEval, memoised per binding) and
``expand`` replaces every ``Sym`` inside a value by what the code shows for it, within a depth
and a total budget of evaluated methods, so a deep field chain or a huge app stays cheap.
A call context (the call hops of a data-flow chain) pins a parameter to the call site the data
came through, so ``post(url, body)`` called twice resolves to the URL of the call that carried
the data (micro-case Endpoint1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from apkaudit.behaviour.edges import EDGES as HANDOFF_EDGES
from apkaudit.behaviour.reachability import find_callers
from apkaudit.behaviour.symbolic import (
    UNKNOWN,
    Alt,
    MethodEval,
    MethodKey,
    Mutation,
    Num,
    Obj,
    Sym,
    Text,
    alt,
    concat,
    element,
    options,
)
from apkaudit.behaviour.symbolic_models import is_resource_read, model_call
from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.reader import DexFile, Insn, MethodRef
from apkaudit.code.dex.values import static_values
from apkaudit.code.index import DexSet
from apkaudit.errors import DexFormatError
from apkaudit.limits import NO_DEADLINE, Deadline
from apkaudit.model import CodeLocation

MAX_DEPTH = 8  # nested expansions (a field written from a getter of a field ...)
MAX_EVALS = 400  # method evaluations per app
MAX_STEPS = 1_500_000  # instructions interpreted per app (replays included), ~1-2 s at worst
MAX_CALLERS = 6  # call sites followed for one parameter
MAX_WRITERS = 8  # writers followed for one field
ACC_STATIC = 0x8
# Framework and library classes whose constructors take the address: an app subclass passes
# its own constructor's arguments up (class ContactsRequest extends StringRequest).
ADDRESS_BASES = frozenset({
    "Lcom/android/volley/Request;",
    "Lcom/android/volley/toolbox/StringRequest;",
    "Lcom/android/volley/toolbox/JsonRequest;",
    "Lcom/android/volley/toolbox/JsonObjectRequest;",
    "Lcom/android/volley/toolbox/JsonArrayRequest;",
    "Lorg/apache/http/client/methods/HttpPost;",
    "Lorg/apache/http/client/methods/HttpGet;",
    "Lorg/apache/http/client/methods/HttpPut;",
    "Ljava/net/Socket;",
})  # fmt: skip


@dataclass
class Resolver:
    dex: DexSet
    resource: Callable[[int], str | None] = lambda _rid: None
    evals: int = 0
    limit: int = MAX_EVALS  # raise or lower it per phase (see destinations.app_destinations)
    # Look for a field's writers in the whole app (one byte search per dex and field), or only
    # in its own class (cheap; private fields and most "set once" fields live there).
    global_fields: bool = True
    deadline: Deadline = NO_DEADLINE
    steps: int = 0  # instructions interpreted so far (MethodEval adds to it)
    _cache: dict[tuple, MethodEval | None] = field(default_factory=dict)
    _syms: dict[tuple, object] = field(default_factory=dict)
    _busy: set[tuple] = field(default_factory=set)
    _writers: dict[str, list[tuple[MethodKey, int]]] = field(default_factory=dict)

    # ------------------------------------------------------------------ symbolic.Context

    def string(self, dex: DexFile, idx: int) -> str:
        return dex.string(idx)

    def model(self, ev: MethodEval, insn: Insn, ref: MethodRef, args: list[object]) -> object:
        out = model_call(ref, args)
        if out is not NotImplemented:
            return out
        if is_resource_read(ref) and len(args) > 1:
            rid = args[1]
            value = self.resource(rid.value) if isinstance(rid, Num) else None
            if isinstance(rid, Num) and value is not None:
                loc = CodeLocation(ev.dex.name, ev.key[0], ev.key[1], insn.offset)
                return Text((value,), frozenset({loc}), resource=f"{rid.value:#010x}")
            return Text((None,))
        target = self.defined(ref.class_name, ref.signature)
        if target is None:
            return NotImplemented
        if ref.name == "<init>" and args and isinstance(args[0], Obj):
            if self._extends_address_type(ref.class_name):
                return self._constructed(target, args)
            return NotImplemented
        if ref.return_type[:1] in ("L", "["):
            return Sym("ret", (ref.class_name, ref.signature, tuple(args)))
        return NotImplemented

    def _extends_address_type(self, cls: str) -> bool:
        for _ in range(8):
            hit = self.dex.classes.get(cls)
            if hit is None or not hit[1].superclass:
                return False
            cls = hit[1].superclass
            if cls in ADDRESS_BASES:
                return True
        return False

    def _constructed(self, target: MethodKey, args: list[object]) -> object:
        """An app constructor that hands an address to its superclass (a Volley or Apache
        request subclass, a socket wrapper): the new object carries what ``this`` became."""
        ev = self.evaluate(target, tuple(args))
        this = ev.this_at_return if ev else None
        recv = args[0]
        if not isinstance(this, Obj) or not isinstance(recv, Obj) or this.get("url") is None:
            return NotImplemented
        return Mutation(recv, Obj(this.kind, recv.site, this.attrs))

    def out_of_budget(self) -> bool:
        return self.steps > MAX_STEPS or self.deadline.check("behaviour")

    # ------------------------------------------------------------------ methods

    def defined(self, cls: str, sig: str) -> tuple[str, str] | None:
        """The app method a call on ``cls`` runs: defined there or in a superclass."""
        seen = 0
        while cls and seen < 12:
            try:
                if self.dex.defined_method(cls, sig):
                    return cls, sig
            except DexFormatError:
                return None
            hit = self.dex.classes.get(cls)
            if hit is None:
                return None
            cls = hit[1].superclass or ""
            seen += 1
        return None

    def evaluate(
        self, key: MethodKey, bindings: tuple[object, ...] | None = None
    ) -> MethodEval | None:
        ck = (key, bindings)
        if ck in self._cache:
            return self._cache[ck]
        ev = None
        if self.out_of_budget():
            self._cache[ck] = None
            return None
        if self.evals < self.limit:
            self.evals += 1
            try:
                found = self.dex.defined_method(*key)
                if found is not None:
                    dex, idx = found
                    code = self.dex.code(dex, idx)
                    if code is not None:
                        ref = dex.method_ref(idx)
                        static = bool(dex.defined_methods[idx].access & ACC_STATIC)
                        ev = MethodEval(self, key, dex, code, static, ref.param_types, bindings)
                        ev.run()
            except (DexFormatError, IndexError, ValueError):
                ev = None
        self._cache[ck] = ev
        return ev

    # ------------------------------------------------------------------ expansion

    def expand(self, v: object, depth: int = MAX_DEPTH, calls: dict | None = None) -> object:
        """``v`` with its Syms replaced by what the code shows (UNKNOWN when out of budget)."""
        calls = calls or {}
        if isinstance(v, Sym):
            return self.expand(self.resolve(v, depth, calls), depth - 1, calls)
        if isinstance(v, Alt):
            return alt(self.expand(o, depth, calls) for o in v.options)
        if isinstance(v, Text):
            if not any(isinstance(p, Sym) for p in v.parts):
                return v
            pieces: list[object] = []
            for p in v.parts:
                if isinstance(p, Sym):
                    pieces.append(self.expand(p, depth, calls))
                else:
                    pieces.append(Text((p,)))
            out = concat(*pieces)
            return alt(_merge_meta(o, v) for o in options(out))
        if isinstance(v, Obj):
            if depth <= 0:
                return v
            new = {
                k: self.expand(a, depth - 1, calls)
                for k, a in v.attrs
                if isinstance(a, (Sym, Alt, Text, Obj))
            }
            return v.with_attrs(**new) if new else v
        return v

    def resolve(self, sym: Sym, depth: int, calls: dict) -> object:
        if depth <= 0:
            return UNKNOWN
        ck = (sym, tuple(sorted(calls.items())) if sym.kind == "param" else ())
        if ck in self._syms:
            return self._syms[ck]
        if ck in self._busy:
            return UNKNOWN  # a cycle (a field written from itself)
        self._busy.add(ck)
        try:
            if sym.kind == "param":
                out = self._param(sym, depth, calls)
            elif sym.kind == "field":
                out = self._field(sym.key[0], depth, calls)
            elif sym.kind == "elem":
                arr = self.expand(sym.key[0], depth - 1, calls)
                out = alt(element(o, Num(sym.key[1])) for o in options(arr))
            else:
                out = self._ret(sym, depth, calls)
        finally:
            self._busy.discard(ck)
        self._syms[ck] = out
        return out

    def _param(self, sym: Sym, depth: int, calls: dict) -> object:
        cls, sig, index = sym.key
        sites: list[CodeLocation] = []
        pinned = calls.get((cls, sig))
        if pinned is not None:
            sites = [pinned]
        else:
            try:
                callers = find_callers(self.dex, [(cls, sig)]).get((cls, sig), set())
            except DexFormatError:
                callers = set()
            for ckey in sorted(callers)[:MAX_CALLERS]:
                sites.extend(self._invokes_in(ckey, cls, sig))
        argmap: tuple[int | None, ...] | None = None  # None: the call's own arguments
        if not sites:  # an override the framework runs: the hand-off call's arguments
            sites, argmap = self._handoff_sites(cls, sig)
            pinned_sites = set(calls.values())
            # the hand-off the chain's data went through, when it is one of them
            sites = [loc for loc in sites if loc in pinned_sites] or sites
        if argmap is not None:
            index = argmap[index] if index < len(argmap) and argmap[index] is not None else -1
        values: list[object] = []
        for loc in sites[: MAX_CALLERS * 2]:
            ev = self.evaluate((loc.class_name, loc.method))
            got = ev.arg_values(loc.offset) if ev else None
            if got is None or not 0 <= index < len(got[1]):
                values.append(UNKNOWN)
                continue
            values.append(self.expand(got[1][index], depth - 1, calls))
        return alt(values) if values else UNKNOWN

    def _handoff_sites(
        self, cls: str, sig: str
    ) -> tuple[list[CodeLocation], tuple[int | None, ...] | None]:
        """Where the app hands an object of ``cls`` to the framework that then runs ``sig``
        on it (``new Task().execute(url)`` runs ``Task.doInBackground``), and which call
        argument each parameter gets. The call is made on the app class's reference, or on
        the framework class's by a method that creates the object and passes it as receiver
        (``AsyncTask.execute`` on a ``new Task()``)."""
        name = sig.split("(")[0]
        for edge in HANDOFF_EDGES:
            if name not in edge.targets or edge.on != 0:
                continue
            own = self._refs_named(cls, edge.calls)
            sites = self._sites_of(own)
            makers = {k for ks in self._callers(self._refs_named(cls, {"<init>"})) for k in ks}
            if makers:
                for loc in self._sites_of(
                    [r for o in edge.owner for r in self._refs_named(o, edge.calls)], makers
                ):
                    ev = self.evaluate((loc.class_name, loc.method))
                    got = ev.arg_values(loc.offset) if ev else None
                    recv = got[1][0] if got and got[1] else UNKNOWN
                    if any(isinstance(o, Obj) and o.get("type") == cls for o in options(recv)):
                        sites.append(loc)
            if sites:
                return sites, edge.args
        return [], None

    def _refs_named(self, cls: str, names: frozenset[str] | set[str]) -> list[MethodKey]:
        return sorted(
            {
                (cls, ref.signature)
                for dex in self.dex.files
                for _i, ref in dex.methods_of(cls)
                if ref.name in names
            }
        )

    def _callers(self, targets: list[MethodKey]) -> list[set[MethodKey]]:
        if not targets:
            return []
        try:
            return list(find_callers(self.dex, targets).values())
        except DexFormatError:
            return []

    def _sites_of(
        self, targets: list[MethodKey], within: set[MethodKey] | None = None
    ) -> list[CodeLocation]:
        """The invokes of ``targets`` in their callers (only callers in ``within`` if given)."""
        if not targets:
            return []
        try:
            callers = find_callers(self.dex, targets)
        except DexFormatError:
            return []
        return [
            loc
            for target, keys in sorted(callers.items())
            for ckey in sorted(k for k in keys if within is None or k in within)[:MAX_CALLERS]
            for loc in self._invokes_in(ckey, *target)
        ]

    def _invokes_in(self, caller: MethodKey, cls: str, sig: str) -> list[CodeLocation]:
        found = self.dex.defined_method(*caller)
        if found is None:
            return []
        dex, idx = found
        code = self.dex.code(dex, idx)
        if code is None:
            return []
        out = []
        for insn in code.insns:
            if insn.op in O.INVOKE_OPS and insn.idx is not None:
                ref = dex.method_ref(insn.idx)
                if ref.class_name == cls and ref.signature == sig:
                    out.append(CodeLocation(dex.name, caller[0], caller[1], insn.offset))
        return out

    def _field(self, fdesc: str, depth: int, calls: dict) -> object:
        values: list[object] = []
        cls, rest = fdesc.split("->", 1)
        name = rest.split(":", 1)[0]
        hit = self.dex.classes.get(cls)
        if hit is not None:
            dex = hit[0]
            init = static_values(dex, cls)
            for fidx, fref in dex.fields_of(cls):
                initial = init.get(fidx)
                if fref.name == name and isinstance(initial, str):
                    where = CodeLocation(dex.name, cls, "<clinit>()V", 0)
                    values.append(Text((initial,), frozenset({where})))
        for key, offset in self.writers(fdesc)[:MAX_WRITERS]:
            ev = self.evaluate(key)
            regs = ev.state_at(offset) if ev else None
            if ev is None or regs is None:
                values.append(UNKNOWN)
                continue
            insn = ev.code.insns[ev.code.index_of(offset)]
            values.append(self.expand(regs.get(insn.regs[0], UNKNOWN), depth - 1, {}))
        return alt(values) if values else UNKNOWN

    def writers(self, fdesc: str) -> list[tuple[MethodKey, int]]:
        """(method, offset) of the iput/sput of the field: its own class first, then (when
        ``global_fields``) every dex."""
        if fdesc in self._writers:
            return self._writers[fdesc]
        cls, rest = fdesc.split("->", 1)
        name, _, ftype = rest.partition(":")
        out: list[tuple[MethodKey, int]] = []
        hit = self.dex.classes.get(cls)
        if hit is not None:
            dex, cdef = hit
            try:
                ids = {i for i, f in dex.fields_of(cls) if f.name == name and f.type == ftype}
                if ids:
                    methods = [m.method_idx for m in dex.class_methods(cdef) if m.code_off]
                    out = self._writes_in(dex, methods, ids)
            except DexFormatError:
                out = []
        if not out and self.global_fields:
            for dex in self.dex.files:
                try:
                    ids = {i for i, f in dex.fields_of(cls) if f.name == name and f.type == ftype}
                    if ids:
                        out.extend(self._writes_in(dex, sorted(dex.find_refs(fields=ids)), ids))
                except DexFormatError:
                    continue
                if len(out) >= 4 * MAX_WRITERS:
                    break
        self._writers[fdesc] = out
        return out

    def _writes_in(self, dex: DexFile, methods, ids: set[int]) -> list[tuple[MethodKey, int]]:
        out: list[tuple[MethodKey, int]] = []
        for midx in methods:
            code = self.dex.code(dex, midx)
            if code is None:
                continue
            ref = dex.method_ref(midx)
            for insn in code.insns:
                if (insn.op in O.IPUT_OPS or insn.op in O.SPUT_OPS) and insn.idx in ids:
                    out.append(((ref.class_name, ref.signature), insn.offset))
        return out

    def _ret(self, sym: Sym, depth: int, calls: dict) -> object:
        cls, sig, args = sym.key
        target = self.defined(cls, sig)
        if target is None:
            return UNKNOWN
        ev = self.evaluate(target, args)
        if ev is None or ev.returns is None:
            return UNKNOWN
        return self.expand(ev.returns, depth - 1, calls)


def _merge_meta(new: object, old: Text) -> object:
    if not isinstance(new, Text):
        return new
    return Text(
        new.parts,
        new.origins | old.origins,
        new.resource or old.resource,
        new.user_input or old.user_input,
        new.built or old.built,
    )
