"""What a method's registers hold, as far as strings and the objects built from them go.

The destination resolver (destinations.py) asks "which URL does this connection use?", "which
number does this send go to?". The taint engine (flow.py) answers a different question (does
personal data reach a sink?), so this is a separate, small forward evaluation over one method's
blocks in which registers hold symbolic values:

- ``Text``: a string as literal parts and holes (a hole is a part only known at run time),
  remembering the const-string locations it was built from;
- ``Obj``: an object that carries an address (a StringBuilder, a Uri.Builder, a URL, an OkHttp
  request, a socket, a stream opened on a connection...) with its attributes;
- ``Num`` and ``Cls``: integer and class constants;
- ``Sym``: a value only known elsewhere — a parameter, a field, an app method's return value —
  that the resolver expands later, with a bounded depth;
- ``Alt``: a few alternatives (two branches set different URLs); ``UNKNOWN`` otherwise.

Everything is bounded: alternatives per value, literal length, visits per block, method size.
API models live in symbolic_models.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from apkaudit.behaviour import method_handles
from apkaudit.behaviour.cfg import CFG, build_cfg
from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.reader import Code, DexFile, Insn, MethodRef, arg_regs
from apkaudit.model import CodeLocation

if TYPE_CHECKING:
    from collections.abc import Iterable

MAX_ALTS = 4
MAX_TEXT = 1024  # literal characters kept in one Text
MAX_VISITS = 3  # per block, before values that still change are widened
MAX_INSNS = 6000  # larger methods are not evaluated (their values are unknown)

MethodKey = tuple[str, str]  # (class descriptor, name + proto)


class Unknown:
    """A value the code does not show (run-time input, an unmodelled API)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = Unknown()


@dataclass(frozen=True, slots=True)
class Sym:
    """A value known elsewhere: ``param`` (key = class, sig, logical index), ``field``
    (key = field descriptor,), ``ret`` (key = class, sig, argument values) or ``elem`` (key =
    array value, index: an element of an array known elsewhere, an AsyncTask's params[0])."""

    kind: str
    key: tuple


Part = str | Sym | None  # None: a hole


def element(arr: object, idx: object) -> object:
    """``arr[idx]``: the element an array literal holds, or a Sym for an array known elsewhere."""
    if not isinstance(idx, Num) or not 0 <= idx.value < 16:
        return UNKNOWN
    if isinstance(arr, Obj):
        got = arr.get(f"e{idx.value}") if arr.kind == "array" else None
        return UNKNOWN if got is None else got
    if isinstance(arr, Sym):
        return Sym("elem", (arr, idx.value))
    return UNKNOWN


@dataclass(frozen=True, slots=True)
class Text:
    parts: tuple[Part, ...]
    origins: frozenset[CodeLocation] = frozenset()  # const-strings (and resource reads) used
    resource: str = ""  # resource name when a part came from resources.arsc
    user_input: bool = False  # typed by the user into a text field
    built: bool = False  # assembled by a builder/format/concatenation

    @property
    def literal(self) -> str | None:
        """The whole string when every part is a literal."""
        if all(isinstance(p, str) for p in self.parts):
            return "".join(p for p in self.parts if isinstance(p, str))
        return None

    def render(self, hole: str = "…") -> str:
        return "".join(p if isinstance(p, str) else hole for p in self.parts)


EMPTY_TEXT = Text(("",))


@dataclass(frozen=True, slots=True)
class Obj:
    kind: str  # sb | uri_builder | uri | url | conn | stream | okreq | ... | app
    site: tuple  # identity (method key, offset) of its creation
    attrs: tuple[tuple[str, object], ...] = ()

    def get(self, name: str) -> object:
        for k, v in self.attrs:
            if k == name:
                return v
        return None

    def with_attrs(self, **kw: object) -> Obj:
        d = dict(self.attrs)
        d.update(kw)
        return Obj(self.kind, self.site, tuple(sorted(d.items(), key=lambda kv: kv[0])))


@dataclass(frozen=True, slots=True)
class Num:
    value: int


@dataclass(frozen=True, slots=True)
class Cls:
    name: str


@dataclass(frozen=True, slots=True)
class Alt:
    options: frozenset


Val = Text | Obj | Num | Cls | Sym | Alt | Unknown


def alt(values: Iterable[object]) -> object:
    """One value for several: flattened, deduplicated, widened beyond MAX_ALTS. UNKNOWN stays
    an option (one branch sets a constant URL, the other reads it at run time)."""
    out: set[object] = set()
    for v in values:
        if isinstance(v, Alt):
            out |= v.options
        else:
            out.add(v)
    if not out:
        return UNKNOWN
    if len(out) == 1:
        return next(iter(out))
    if len(out) > MAX_ALTS:
        return _widen(out)
    return Alt(frozenset(out))


def options(v: object) -> tuple[object, ...]:
    """The alternatives of a value, in an order that does not depend on the hash seed (an Alt
    holds a frozenset; what reaches a report is listed in this order)."""
    return tuple(sorted(v.options, key=_option_key)) if isinstance(v, Alt) else (v,)


def _option_key(o: object) -> tuple[object, ...]:
    if isinstance(o, Text):
        return (0, o.render("\x00"), o.resource, o.user_input, o.built, sorted(o.origins))
    return (1, type(o).__name__, repr(o))


def _widen(values: set[object]) -> object:
    """Many strings: keep their common literal prefix, then a hole (a loop building a URL)."""
    texts = [v for v in values if isinstance(v, Text)]
    if len(texts) != len(values):
        return UNKNOWN
    rendered = [t.render("\x00") for t in texts]
    prefix = rendered[0]
    for r in rendered[1:]:
        n = 0
        while n < min(len(prefix), len(r)) and prefix[n] == r[n]:
            n += 1
        prefix = prefix[:n]
    prefix = prefix.split("\x00", 1)[0]
    origins = frozenset().union(*(t.origins for t in texts))
    return Text((prefix, None) if prefix else (None,), origins, built=True)


def text_of(v: object) -> object:
    """A value used as a string (StringBuilder.append, String.valueOf...)."""
    if isinstance(v, Text):
        return v
    if isinstance(v, str):  # a literal written by a model ("://", "/")
        return Text((v,))
    if isinstance(v, Num):
        return Text((str(v.value),))
    if isinstance(v, Sym):
        return Text((v,))
    if isinstance(v, Alt):
        return alt(text_of(o) for o in v.options)
    if isinstance(v, Obj):
        inner = v.get("text") or v.get("url")
        if inner is not None:
            return text_of(inner)
    return Text((None,))


def concat(*values: object) -> object:
    """Texts joined in order; alternatives distribute (bounded)."""
    acc: list[Text] = [EMPTY_TEXT]
    for v in values:
        t = text_of(v)
        nxt: list[Text] = []
        for a in acc:
            for o in options(t):
                if isinstance(o, Text):
                    nxt.append(_join(a, o))
        if not nxt or len(nxt) > MAX_ALTS:
            nxt = [_join(acc[0], Text((None,)))]
        acc = nxt
    return alt(acc)


def _join(a: Text, b: Text) -> Text:
    parts: list[Part] = []
    size = 0
    for p in (*a.parts, *b.parts):
        if isinstance(p, str):
            if p == "":
                continue
            size += len(p)
            if size > MAX_TEXT:
                p = None
        if parts and isinstance(p, str) and isinstance(parts[-1], str):
            parts[-1] = parts[-1] + p
        elif parts and p is None and parts[-1] is None:
            continue
        else:
            parts.append(p)
    return Text(
        tuple(parts) or ("",),
        a.origins | b.origins,
        a.resource or b.resource,
        a.user_input or b.user_input,
        True,
    )


def join_values(a: object, b: object) -> object:
    if a is b or a == b:
        return a
    if a is None:
        return b
    if b is None:
        return a
    return alt((a, b))


# --------------------------------------------------------------------------- the evaluator


class Context(Protocol):
    """What a method evaluation needs from the resolver."""

    def model(self, ev: MethodEval, insn: Insn, ref: MethodRef, args: list[object]) -> object:
        """The result of a call (NotImplemented: not modelled)."""
        ...

    def string(self, dex: DexFile, idx: int) -> str: ...

    steps: int  # instructions interpreted so far, for the caller's budget

    def out_of_budget(self) -> bool: ...


@dataclass
class MethodEval:
    ctx: Context
    key: MethodKey
    dex: DexFile
    code: Code
    is_static: bool
    param_types: tuple[str, ...]
    bindings: tuple[object, ...] | None = None  # argument values; None: parameters are Syms
    cfg: CFG = field(init=False)
    entry: dict[int, dict[int, object]] = field(default_factory=dict)
    returns: object = None
    this_at_return: object = None  # constructors: what ``this`` became (a Volley subclass's url)
    local_fields: dict[str, object] = field(default_factory=dict)
    _ran: bool = False

    def __post_init__(self) -> None:
        self.cfg = build_cfg(self.code)

    # ------------------------------------------------------------------ driver

    def run(self) -> None:
        if self._ran:
            return
        self._ran = True
        if not self.cfg.blocks or len(self.code.insns) > MAX_INSNS:
            return
        self.entry[0] = self._entry_regs()
        visits: dict[int, int] = {}
        work = [0]
        queued = {0}
        while work and not self.ctx.out_of_budget():
            work.sort(key=lambda b: self.cfg.rpo[b])
            b = work.pop(0)
            queued.discard(b)
            visits[b] = visits.get(b, 0) + 1
            regs = self._replay(b, None)
            for s in self.cfg.blocks[b].succs:
                old = self.entry.get(s)
                new = regs if old is None else _join_regs(old, regs, visits.get(s, 0) >= MAX_VISITS)
                if old is None or new != old:
                    self.entry[s] = new
                    if s not in queued and visits.get(s, 0) <= MAX_VISITS:
                        queued.add(s)
                        work.append(s)

    def state_at(self, offset: int) -> dict[int, object] | None:
        """Registers just before the instruction at ``offset`` (None: not evaluated)."""
        self.run()
        pos = self.code.index_of(offset)
        if pos >= len(self.code.insns) or self.code.insns[pos].offset != offset:
            return None
        b = self.cfg.block_of[pos]
        if b not in self.entry:
            return None
        return self._replay(b, pos)

    def arg_values(self, offset: int) -> tuple[MethodRef, list[object]] | None:
        """The callee and argument values (receiver first) of the invoke at ``offset``."""
        pos = self.code.index_of(offset)
        if pos >= len(self.code.insns) or self.code.insns[pos].offset != offset:
            return None
        insn = self.code.insns[pos]
        if insn.op == method_handles.CONST_METHOD_HANDLE:  # a call through this handle
            insn = method_handles.call_of_handle(self.dex, self.code, offset) or insn
        if insn.op not in O.INVOKE_OPS or insn.idx is None:
            return None
        regs = self.state_at(insn.offset)
        if regs is None:
            return None
        ref = self.dex.method_ref(insn.idx)
        return ref, [regs.get(r, UNKNOWN) for r in arg_regs(insn, ref)]

    def _entry_regs(self) -> dict[int, object]:
        regs: dict[int, object] = {}
        r = self.code.registers - self.code.ins
        types = (() if self.is_static else ("L",)) + self.param_types
        for i, t in enumerate(types):
            if self.bindings is not None and i < len(self.bindings):
                regs[r] = self.bindings[i]
            else:
                regs[r] = Sym("param", (*self.key, i))
            r += 2 if t in ("J", "D") else 1
        return regs

    def _replay(self, b: int, stop: int | None) -> dict[int, object]:
        block = self.cfg.blocks[b]
        regs = dict(self.entry.get(b, {}))
        pending: object = UNKNOWN
        end = block.end if stop is None else stop
        self.ctx.steps += end - block.start
        insns = self.code.insns
        for pos in range(block.start, end):
            pending = self._step(insns[pos], regs, pending)
        return regs

    # ------------------------------------------------------------------ transfer

    def _step(self, insn: Insn, regs: dict[int, object], pending: object) -> object:
        op = insn.op
        r = insn.regs
        if op in O.MOVE_RESULT_OPS:
            regs[r[0]] = pending
            return UNKNOWN
        if op in O.MOVE_OPS:
            regs[r[0]] = regs.get(r[1], UNKNOWN)
        elif op in O.RETURN_OPS:
            self.returns = join_values(self.returns, regs.get(r[0], UNKNOWN))
        elif op == O.RETURN_VOID_OP and not self.is_static and self.key[1].startswith("<init>"):
            this = regs.get(self.code.registers - self.code.ins, UNKNOWN)
            self.this_at_return = join_values(self.this_at_return, this)
        elif 0x12 <= op <= 0x19:  # const, const/4, const/16, const/high16, const-wide*
            regs[r[0]] = Num(insn.lit) if insn.lit is not None else UNKNOWN
        elif op in O.CONST_STRING_OPS and insn.idx is not None:
            loc = CodeLocation(self.dex.name, self.key[0], self.key[1], insn.offset)
            regs[r[0]] = Text((self.ctx.string(self.dex, insn.idx),), frozenset({loc}))
        elif op == 0x1C and insn.idx is not None:  # const-class
            regs[r[0]] = Cls(self.dex.type_name(insn.idx))
        elif op == 0x22 and insn.idx is not None:  # new-instance
            regs[r[0]] = new_object(self.dex.type_name(insn.idx), (*self.key, insn.offset))
        elif op == 0x23:  # new-array
            regs[r[0]] = Obj("array", (*self.key, insn.offset))
        elif op in O.APUT_OPS:
            arr, idx = regs.get(r[1]), regs.get(r[2])
            in_range = isinstance(idx, Num) and 0 <= idx.value < 16
            if isinstance(arr, Obj) and arr.kind == "array" and isinstance(idx, Num) and in_range:
                new = arr.with_attrs(**{f"e{idx.value}": regs.get(r[0], UNKNOWN)})
                replace_obj(regs, arr, new)
        elif op in O.AGET_OPS:
            regs[r[0]] = element(regs.get(r[1], UNKNOWN), regs.get(r[2], UNKNOWN))
        elif op in O.IGET_OPS or op in O.SGET_OPS:
            fdesc = self.dex.field_ref(insn.idx).descriptor if insn.idx is not None else ""
            regs[r[0]] = self.local_fields.get(fdesc, Sym("field", (fdesc,)))
        elif op in O.IPUT_OPS or op in O.SPUT_OPS:
            if insn.idx is not None:
                fdesc = self.dex.field_ref(insn.idx).descriptor
                self.local_fields[fdesc] = regs.get(r[0], UNKNOWN)
        elif op in O.INVOKE_OPS and insn.idx is not None:
            ref = self.dex.method_ref(insn.idx)
            args = [regs.get(x, UNKNOWN) for x in arg_regs(insn, ref)]
            result = self.ctx.model(self, insn, ref, args)
            if isinstance(result, Mutation):
                replace_obj(regs, result.old, result.new)
                return result.new
            return UNKNOWN if result is NotImplemented else result
        elif op == 0x1F:  # check-cast keeps the value
            pass
        elif op in (0x0D, 0x20, 0x21) or 0x2D <= op <= 0x31 or 0x7B <= op <= 0xE2:
            regs[r[0]] = UNKNOWN
        return UNKNOWN


@dataclass(frozen=True, slots=True)
class Mutation:
    """A call that changes its receiver (StringBuilder.append) and returns it."""

    old: Obj
    new: Obj


def replace_obj(regs: dict[int, object], old: Obj, new: Obj) -> None:
    """Every register pointing at ``old`` (same creation site) now sees ``new``."""
    for reg, v in list(regs.items()):
        if isinstance(v, Obj) and v.site == old.site and v.kind == old.kind:
            regs[reg] = new


_NEW_KINDS = {
    "Ljava/lang/StringBuilder;": "sb",
    "Ljava/lang/StringBuffer;": "sb",
    "Landroid/net/Uri$Builder;": "uri_builder",
    "Lokhttp3/HttpUrl$Builder;": "uri_builder",
}


def new_object(type_name: str, site: tuple) -> Obj:
    kind = _NEW_KINDS.get(type_name, "new")
    if kind == "sb":
        return Obj("sb", site, (("text", EMPTY_TEXT),))
    return Obj(kind, site, (("type", type_name),))


def _join_regs(a: dict[int, object], b: dict[int, object], widen: bool) -> dict[int, object]:
    out = dict(a)
    for r, v in b.items():
        old = a.get(r)
        if old is None:
            out[r] = v
        elif old != v:
            out[r] = UNKNOWN if widen else join_values(old, v)
    return out
