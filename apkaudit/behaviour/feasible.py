"""Branches that cannot be taken: integer intervals over one method's registers.

A forward pass over the CFG keeps, per register, the interval of int values it may hold when
that is known from the method itself: literal constants, int arithmetic on them, the result of
``Random.nextInt(n)`` (``[0, n-1]``) and the constant an app method with one possible target
returns. Everything else (fields, parameters, other calls, wide and float values) is unknown.
An ``if-*`` whose outcome the intervals decide, or a switch case whose key lies outside the
interval, is a dead edge; the data-flow pass does not follow it, so a sink behind a branch that
never runs is not reported (``if (new Random().nextInt(10) == 21) send(id)``). Exception edges
are always live. Unknown stays unknown: nothing here can hide code that may run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from apkaudit.behaviour.cfg import CFG, Block
from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.reader import Code, DexFile, Insn, MethodRef, arg_regs

Interval = tuple[int, int]
State = dict[int, Interval]
# A call's int result when it is known: (method ref, invoke opcode, argument intervals).
Returns = Callable[[MethodRef, int, list[Interval | None]], Interval | None]

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
MAX_VISITS = 3  # per block: a register still changing after that is unknown (widening)
_RANDOM = "Ljava/util/Random;"
_INT_MOVES = frozenset({O.OP["move"], O.OP["move/from16"], O.OP["move/16"]})
_MOVE_RESULT = O.OP["move-result"]
_INTERFACE_INVOKES = frozenset({O.OP["invoke-interface"], O.OP["invoke-interface/range"]})
_BRANCHES = O.IF_OPS | O.SWITCH_OPS
_IFZ = frozenset(range(O.OP["if-eqz"], O.OP["if-lez"] + 1))
# Instructions that write no register (their vA is read).
_NO_WRITE = (
    O.IPUT_OPS | O.SPUT_OPS | O.APUT_OPS | O.IF_OPS | O.SWITCH_OPS | O.GOTO_OPS | O.RETURN_OPS
    | O.INVOKE_OPS | {O.RETURN_VOID_OP, O.THROW_OP, O.CHECK_CAST, O.OP["nop"],
    O.OP["monitor-enter"], O.OP["monitor-exit"], O.OP["fill-array-data"]}
)  # fmt: skip
_BINOPS = ("add", "sub", "mul", "div", "rem", "and", "or", "xor", "shl", "shr", "ushr")
MAX_DEPTH = 3  # calls followed to find a constant return (a() returns b() returns 42)


def _ops() -> dict[int, tuple[str, str]]:
    """opcode -> (operation, form) for the int arithmetic we fold."""
    out: dict[int, tuple[str, str]] = {}
    for name in _BINOPS:
        for form, suffix in (("3", ""), ("2", "/2addr"), ("l", "/lit16"), ("l", "/lit8")):
            op = O.OP.get(f"{name}-int{suffix}")
            if op is not None:
                out[op] = (name, form)
    out[O.OP["rsub-int"]] = ("rsub", "l")
    out[O.OP["rsub-int/lit8"]] = ("rsub", "l")
    out[O.OP["neg-int"]] = ("neg", "1")
    return out


_ARITH = _ops()


def _wrap(v: int) -> int:
    return (v + 2**31) % 2**32 - 2**31


def _fold(op: str, a: int, b: int) -> int | None:
    """Java int semantics; None for a division by zero (it throws)."""
    if op in ("div", "rem"):
        if b == 0:
            return None
        q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
        return _wrap(q if op == "div" else a - q * b)
    if op in ("shl", "shr", "ushr"):
        b &= 31
        if op == "shl":
            return _wrap(a << b)
        return _wrap(a >> b) if op == "shr" else _wrap((a & 0xFFFFFFFF) >> b)
    fn = {
        "add": a + b, "sub": a - b, "rsub": b - a, "mul": a * b,
        "and": a & b, "or": a | b, "xor": a ^ b,
    }  # fmt: skip
    return _wrap(fn[op])


def fold(insn: Insn, consts: list[object]) -> int | None:
    """The int an arithmetic instruction computes from constant operands (``consts``: the
    constant each of its registers holds before it runs, None when not known), else None."""
    hit = _ARITH.get(insn.op)
    if hit is None or len(consts) < 2:
        return None
    name, form = hit
    if form == "1":
        vals, name = [0, consts[1]], "sub"
    elif form == "l":
        vals = [consts[1], insn.lit]
    elif form == "2":
        vals = [consts[0], consts[1]]
    else:
        vals = consts[1:3]
    if len(vals) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return None
    a, b = vals
    assert isinstance(a, int) and isinstance(b, int)
    return _fold(name, a, b)


def _arith(op: str, a: Interval, b: Interval) -> Interval | None:
    if a[0] == a[1] and b[0] == b[1]:
        v = _fold(op, a[0], b[0])
        return None if v is None else (v, v)
    if op == "add":
        lo, hi = a[0] + b[0], a[1] + b[1]
    elif op == "sub":
        lo, hi = a[0] - b[1], a[1] - b[0]
    elif op == "rsub":
        lo, hi = b[0] - a[1], b[1] - a[0]
    else:
        return None
    return (lo, hi) if lo >= INT_MIN and hi <= INT_MAX else None


def _decide(op: int, a: Interval, b: Interval) -> bool | None:
    """The outcome of ``if-<op> a, b`` when the intervals decide it."""
    kind = (op - O.OP["if-eqz"]) if op in _IFZ else (op - O.OP["if-eq"])
    eq = a[0] == a[1] == b[0] == b[1]
    apart = a[1] < b[0] or b[1] < a[0]
    if kind in (0, 1):  # eq, ne
        out = True if eq else False if apart else None
        return out if out is None or kind == 0 else not out
    if kind in (2, 3):  # lt, ge
        out = True if a[1] < b[0] else False if a[0] >= b[1] else None
        return out if out is None or kind == 2 else not out
    out = True if a[0] > b[1] else False if a[1] <= b[0] else None  # gt, le
    return out if out is None or kind == 4 else not out


def dead_edges(code: Code, cfg: CFG, dex: DexFile, returns: Returns) -> frozenset[tuple[int, int]]:
    """Edges (block, successor) that no execution takes."""
    blocks = cfg.blocks
    insns = code.insns
    if not any(len(b.succs) > 1 and insns[b.end - 1].op in _BRANCHES for b in blocks):
        return frozenset()
    pos_of = {ins.offset: i for i, ins in enumerate(insns)}
    states: dict[int, State] = {0: {}}
    visits: dict[int, int] = {}
    live: set[tuple[int, int]] = set()
    work = [0]
    while work:
        b = work.pop()
        visits[b] = visits.get(b, 0) + 1
        state = dict(states[b])
        block = blocks[b]
        pending: Interval | None = None
        for pos in range(block.start, block.end):
            pending = _step(insns[pos], state, pending, dex, returns)
        for s in _live_succs(code, cfg, block, state, pos_of):
            live.add((b, s))
            old = states.get(s)
            new = state if old is None else _join(old, state, visits.get(s, 0) >= MAX_VISITS)
            if old is None or new != old:
                states[s] = new
                if s not in work:
                    work.append(s)
    return frozenset((b.index, s) for b in blocks for s in b.succs if (b.index, s) not in live)


def _join(a: State, b: State, widen: bool) -> State:
    out: State = {}
    for r, x in a.items():
        y = b.get(r)
        if y is None:
            continue
        if x == y:
            out[r] = x
        elif not widen:
            out[r] = (min(x[0], y[0]), max(x[1], y[1]))
    return out


def _live_succs(
    code: Code, cfg: CFG, block: Block, state: State, pos_of: dict[int, int]
) -> tuple[int, ...]:
    last = code.insns[block.end - 1]
    fall = block.index + 1
    live: set[int]
    if last.op in O.IF_OPS and last.target in pos_of:
        a = state.get(last.regs[0])
        b = (0, 0) if last.op in _IFZ else state.get(last.regs[1]) if len(last.regs) > 1 else None
        taken = _decide(last.op, a, b) if a is not None and b is not None else None
        if taken is None:
            return block.succs
        live = {cfg.block_of[pos_of[last.target]] if taken else fall}
    elif last.op in O.SWITCH_OPS and last.keys and len(last.keys) == len(last.targets):
        v = state.get(last.regs[0])
        if v is None:
            return block.succs
        live = {
            cfg.block_of[pos_of[t]]
            for t, k in zip(last.targets, last.keys, strict=True)
            if t in pos_of and v[0] <= k <= v[1]
        }
        keys = set(last.keys)
        if v[1] - v[0] >= 64 or not all(k in keys for k in range(v[0], v[1] + 1)):
            live.add(fall)  # the default case
    else:
        return block.succs
    return tuple(s for s in block.succs if s in live or _handler(code, cfg, block, s, pos_of))


def _handler(code: Code, cfg: CFG, block: Block, s: int, pos_of: dict[int, int]) -> bool:
    """Whether ``s`` is an exception handler of a try covering ``block`` (always live)."""
    lo, hi = code.insns[block.start].offset, code.insns[block.end - 1].offset
    for tb in code.tries:
        covers = tb.start <= hi and lo < tb.end
        if covers and any(h in pos_of and cfg.block_of[pos_of[h]] == s for h in tb.handlers):
            return True
    return False


def _step(
    insn: Insn, st: State, pending: Interval | None, dex: DexFile, returns: Returns
) -> Interval | None:
    op, regs = insn.op, insn.regs
    if op in O.INVOKE_OPS:
        assert insn.idx is not None  # invoke formats always carry the method index
        ref = dex.method_ref(insn.idx)
        return _call(ref, op, [st.get(r) for r in arg_regs(insn, ref)], returns)
    if op in _NO_WRITE or not regs:
        return None
    dst = regs[0]
    got: Interval | None = None
    if op == _MOVE_RESULT:
        got = pending
    elif op in _INT_MOVES:
        got = st.get(regs[1])
    elif op in O.CONST_OPS and op not in O.CONST_WIDE_OPS and insn.lit is not None:
        got = (_wrap(insn.lit), _wrap(insn.lit))
    elif op in _ARITH:
        name, form = _ARITH[op]
        a: Interval | None
        b: Interval | None
        if form == "1":
            a, b, name = st.get(regs[1]), (0, 0), "rsub"
        elif form == "2":
            a, b = st.get(dst), st.get(regs[1])
        elif form == "l":
            a = st.get(regs[1])
            b = (insn.lit, insn.lit) if insn.lit is not None else None
        else:
            a, b = st.get(regs[1]), st.get(regs[2])
        if a is not None and b is not None:
            got = _arith(name, a, b)
    st.pop(dst, None)
    st.pop(dst + 1, None)  # a wide write takes two registers
    if got is not None:
        st[dst] = got
    return None


def _call(
    ref: MethodRef, op: int, args: list[Interval | None], returns: Returns
) -> Interval | None:
    if ref.return_type != "I":
        return None
    if ref.class_name == _RANDOM and ref.name == "nextInt" and ref.param_types == ("I",):
        bound = args[1] if len(args) > 1 else None
        if bound is not None and bound[0] == bound[1] and bound[0] > 0:
            return (0, bound[0] - 1)
        return None
    return returns(ref, op, args)


def return_interval(code: Code, cfg: CFG, dex: DexFile, returns: Returns) -> Interval | None:
    """The interval of every int a method returns, when all its returns are known."""
    dead = dead_edges(code, cfg, dex, returns)
    insns = code.insns
    out: Interval | None = None
    states: dict[int, State] = {0: {}}
    order = sorted(range(len(cfg.blocks)), key=lambda b: cfg.rpo[b] if cfg.rpo else b)
    if any(cfg.loop_of[b] >= 0 for b in range(len(cfg.blocks))):
        return None  # a straight or branching method only: no fixpoint needed here
    for b in order:
        if b not in states:
            continue
        st = dict(states[b])
        pending: Interval | None = None
        block = cfg.blocks[b]
        for pos in range(block.start, block.end):
            insn = insns[pos]
            if insn.op in O.RETURN_OPS:
                v = st.get(insn.regs[0])
                if v is None:
                    return None
                out = v if out is None else (min(out[0], v[0]), max(out[1], v[1]))
            pending = _step(insn, st, pending, dex, returns)
        for s in block.succs:
            if (b, s) in dead:
                continue
            old = states.get(s)
            states[s] = st if old is None else _join(old, st, False)
    return out


@dataclass
class Feasibility:
    """Dead edges per method, and the int constants app methods return, for one analysis.
    ``code_of`` gives a method's (dex, code, cfg) or None; ``targets`` its possible callees
    (one target: the call's result is that method's return)."""

    code_of: Callable[[tuple[str, str]], tuple[DexFile, Code, CFG] | None]
    targets: Callable[[MethodRef, int], list[tuple[str, str]]]
    _dead: dict[tuple[str, str], frozenset[tuple[int, int]]] = field(default_factory=dict)
    _rets: dict[tuple[str, str], Interval | None] = field(default_factory=dict)
    _depth: int = 0

    def dead(self, key: tuple[str, str], dex: DexFile, code: Code, cfg: CFG) -> frozenset:
        hit = self._dead.get(key)
        if hit is None:
            hit = self._dead[key] = dead_edges(code, cfg, dex, self._returns)
        return hit

    def _returns(self, ref: MethodRef, op: int, args: list[Interval | None]) -> Interval | None:
        if op in _INTERFACE_INVOKES or self._depth >= MAX_DEPTH:
            return None
        found = self.targets(ref, op)
        if len(found) != 1:
            return None
        key = found[0]
        if key in self._rets:
            return self._rets[key]
        self._rets[key] = None  # a recursive call returns nothing known
        got = self.code_of(key)
        if got is None:
            return None
        self._depth += 1
        try:
            self._rets[key] = return_interval(got[1], got[2], got[0], self._returns)
        finally:
            self._depth -= 1
        return self._rets[key]
