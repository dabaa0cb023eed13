"""Intra-procedural data flow over decoded bytecode, with method summaries for calls.

One ``MethodFlow`` runs a worklist over the method's basic blocks. Registers hold abstract
``Value``s; objects' taint lives in a per-method heap (flow-insensitive, monotone); fields live in
a global, field-based store owned by the caller (see interproc.py). Calls to analysed app methods
use their summaries; calls to the Android/Java/library APIs that matter are modelled in
``models/`` (each model gets one ``Call``); anything else propagates taint from arguments to
the result (and into the receiver for mutators), which over-approximates rather than loses a
flow.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property, partial

from apkaudit.behaviour import callsite, containers, feasible, heap, icc, loops, method_handles
from apkaudit.behaviour.apis import cls_short
from apkaudit.behaviour.call import Call
from apkaudit.behaviour.cfg import CFG
from apkaudit.behaviour.context import FlowContext, MethodKey, SinkEvent, Summary
from apkaudit.behaviour.kind_services import KindServices
from apkaudit.behaviour.kinds import HopRole, Provider, Sink
from apkaudit.behaviour.models import MODELS
from apkaudit.behaviour.models.reflection import object_tags
from apkaudit.behaviour.values import (
    BLANK,
    EMPTY,
    Label,
    Obj,
    Step,
    Value,
    cap,
    extend_all,
    join_all,
    param_label,
    parts,
)
from apkaudit.behaviour.writes import Writes
from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.reader import Code, DexFile, Insn, MethodRef, arg_regs


@dataclass
class MethodFlow(KindServices):
    ctx: FlowContext
    key: MethodKey
    dex: DexFile
    code: Code
    cfg: CFG
    is_static: bool
    param_types: tuple[str, ...]
    dead: frozenset[tuple[int, int]] = frozenset()  # edges no execution takes (feasible.py)
    entry_labels: dict[int, frozenset[Label]] = field(default_factory=dict)
    entry_objs: dict[int, frozenset[Obj]] = field(default_factory=dict)  # icc.entry_objs
    summary: Summary = field(default_factory=Summary)
    heap: dict[Obj, Value] = field(default_factory=dict)
    field_objs: dict[str, set[Obj]] = field(default_factory=lambda: defaultdict(set))
    conds: dict[int, Value] = field(default_factory=dict)  # insn position -> tested value
    escaped: set[Obj] = field(default_factory=set)  # objects of ours that left the method
    deref_cache: dict[tuple[object, ...], Value] = field(default_factory=dict)  # heap.deref
    cells_read: set[object] = field(default_factory=set)  # heap cells read (heap._join)
    array_cells: dict[Obj, set[int]] = field(default_factory=dict)  # indices written (heap.py)
    _loops: dict[int, loops.LoopInfo] = field(default_factory=dict)  # this pass's, by position
    _consulted: set[int] = field(default_factory=set)  # loops whose conditions this pass read
    _conds_stale: bool = False  # a consulted loop's condition changed after it was read
    _sites: dict[int, tuple[Insn, MethodRef, list[int]]] = field(default_factory=dict)
    _heap_changed: bool = False
    _events: list[Callable[[], None]] = field(default_factory=list)  # the trial pass's

    # ------------------------------------------------------------------ driver

    def run(self, max_passes: int = 6) -> Summary:
        insns = self.code.insns
        if not insns or not self.cfg.blocks:
            return self.summary
        entry = self._entry_state()
        # Every pass is final on trial: its sink events are kept if no heap cell it read and no
        # loop condition it consulted changed after it did (a new pass would repeat it exactly).
        for i in range(max_passes + 1):
            self._heap_changed = self._conds_stale = False
            self._events.clear()
            self._pass(entry)
            if not (self._heap_changed or self._conds_stale) or i == max_passes:
                break
        for record in self._events:
            record()
        self.summary.ret = heap.settle_class_tags(self.summary.ret)
        self._flush_fields()
        return self.summary

    def _entry_state(self) -> dict[int, Value]:
        regs: dict[int, Value] = {}
        r = self.code.registers - self.code.ins
        types = (() if self.is_static else ("L",)) + self.param_types
        for logical, t in enumerate(types):
            labels = frozenset({param_label(logical)}) | self.entry_labels.get(logical, EMPTY)
            objs = frozenset({("param", logical)}) | self.entry_objs.get(logical, EMPTY)
            regs[r] = Value(labels, objs)
            r += 2 if t in ("J", "D") else 1
        return regs

    def _pass(self, entry: dict[int, Value]) -> None:
        """One worklist run to a fixpoint of the register states, in reverse postorder."""
        self._loops.clear()  # the loop conditions seen so far change from pass to pass
        self._consulted.clear()
        blocks, rpo, insns = self.cfg.blocks, self.cfg.rpo, self.code.insns
        states: dict[int, dict[int, Value]] = {0: entry}
        work = [(rpo[0], 0)]
        queued = {0}
        visits = 0
        budget = 20 * len(blocks) + 50
        dead = self.dead
        while work and visits < budget:
            _, b = heapq.heappop(work)
            queued.discard(b)
            visits += 1
            state = dict(states[b])
            block = blocks[b]
            pending = BLANK
            for pos in range(block.start, block.end):
                pending = self._step(pos, insns[pos], state, pending)
            for s in block.succs:
                if dead and (b, s) in dead:
                    continue
                old = states.get(s)
                new = state if old is None else _join_states(old, state)
                if old is None or new is not old:
                    states[s] = new
                    if s not in queued:
                        queued.add(s)
                        heapq.heappush(work, (rpo[s], s))

    # ------------------------------------------------------------------ helpers

    @cached_property
    def writes(self) -> Writes:  # field writes into our own objects, by position
        return Writes(self.code, self.cfg)

    def step(self, insn: Insn, role: HopRole, desc: str) -> Step:
        key = self.key
        return self.ctx.steps.get(self.dex.name, key[0], key[1], insn.offset, role, desc)

    def val(self, state: dict[int, Value], reg: int) -> Value:
        """A register's value including the taint of the objects it may point to."""
        v = state.get(reg, BLANK)
        if v.objs:
            self.cells_read.update(v.objs)
            extra = [self.heap[o] for o in v.objs if o in self.heap]
            if extra:
                labels = cap(v.labels | frozenset().union(*(e.labels for e in extra)))
                tags = v.tags | frozenset().union(*(e.tags for e in extra))
                v = Value(labels, v.objs, tags, v.const)
        return v

    def taint_obj(
        self, objs: Iterable[Obj], labels: frozenset[Label], tags: frozenset[str] = EMPTY
    ) -> None:
        for o in objs:
            old = self.heap.get(o, BLANK)
            new = Value(cap(old.labels | labels), old.objs, old.tags | tags)
            if new != old:
                self.heap[o] = new
                # An array element may have been read by index (aget, the reflection model).
                elem = len(o) == 2 and isinstance(o[1], int)
                self.heap_changed(elem or o in self.cells_read)

    def loop_at(self, pos: int) -> loops.LoopInfo:
        li = self._loops.get(pos)
        if li is None:
            li = self._loops[pos] = loops.loop_info(self.cfg, self.conds, pos)
            if li.in_loop:
                self._consulted.add(self.cfg.loop_at(pos))
        return li

    def per_iteration(self, pos: int, v: Value) -> Value:
        return loops.per_iteration(self.loop_at(pos), v)

    def heap_changed(self, reread: bool = True) -> None:
        """The heap changed; ``reread``: a cell already read changed, so another pass."""
        if reread:
            self._heap_changed = True
        if self.deref_cache:
            self.deref_cache.clear()

    def summary_write(self, index: int, access: tuple[str, ...], v: Value) -> None:
        """The method stores ``v`` into its parameter ``index``'s object at ``access``. Objects
        it allocated are not exported (the caller makes a cell for one when it is written to,
        callsite.store); the parameters' objects are."""
        objs = frozenset(o for o in v.objs if heap.root(o) is not None)
        if not v.labels and not objs:
            return
        key = (index, access)
        old = self.summary.param_writes.get(key, BLANK)
        new = Value(cap(old.labels | v.labels), old.objs | objs, old.tags | v.tags)
        if new != old:
            self.summary.param_writes[key] = new

    def write_global(self, fdesc: str, v: Value) -> None:
        self._write_field(fdesc, v)

    def elements(self, array: Value, index: int) -> list[Value]:
        """What the heap holds at ``index`` of the arrays ``array`` may point to."""
        return [self.heap[(o, index)] for o in array.objs if (o, index) in self.heap]

    def sink(
        self,
        sink: Sink,
        labels: frozenset[Label],
        step: Step,
        pos: int,
        inner: SinkEvent | None = None,
    ) -> None:
        li = self.loop_at(pos)
        in_loop, loop, kinds, forms, rel = li.in_loop, li.desc, li.kinds, li.forms, li.rel
        if inner is not None:  # the callee's loop, when the call is not in one of ours
            if not in_loop:
                loop, forms = inner.loop, inner.loop_forms
            in_loop = in_loop or inner.in_loop
            kinds, rel = kinds | inner.loop_kinds, rel | inner.loop_rel
        path = (step,) + (inner.path if inner else ())
        for lb in labels:
            ev = SinkEvent(
                sink=sink,
                path=path if lb.concrete else lb.path + path,
                in_loop=in_loop,
                loop=loop,
                loop_kinds=kinds,
                loop_forms=forms,
                loop_rel=rel,
            )
            if lb.iteration and not in_loop:  # handed on once per iteration of a loop
                ev = replace(ev, in_loop=True, loop=lb.iteration, loop_kinds=kinds | {lb.kind})
            if lb.concrete:
                self._events.append(partial(self.ctx.record_event, lb, ev, lb.assumed))
            else:
                at = (lb.index, lb.access)
                self._events.append(partial(self.summary.add_sink, at, ev, lb.assumed))

    def network_sink(self, pos: int, insn: Insn, values: Iterable[Value], desc: str) -> None:
        labels = frozenset().union(*(a.labels for a in values))
        if labels:
            self.sink(Sink.NETWORK, labels, self.step(insn, HopRole.SINK, desc), pos)

    def record_query(self, step: Step, provider: Provider, uri: str) -> None:
        self.ctx.record_query(step, provider, uri)

    def record_bridge(self, name: str, classes: set[str], step: Step) -> None:
        self.ctx.record_bridge(name, classes, step)

    def record_reflective_send(self, steps: tuple[Step, ...]) -> None:
        self._events.append(partial(self.ctx.record_reflective_send, steps))

    def _flush_fields(self) -> None:
        for f, objs in self.field_objs.items():
            extra = [self.heap[o] for o in objs if o in self.heap]
            if extra:
                self._write_field(f, join_all(extra))
        heap.flush(self)

    def _write_field(self, fdesc: str, v: Value) -> None:
        old = self.ctx.fields.get(fdesc)
        if (
            old is not None
            and v.labels <= old.labels
            and v.tags <= old.tags
            and (old.const == v.const or old.const is None)
        ):
            return  # nothing new (the common case in later passes)
        concrete = frozenset(lb for lb in v.labels if lb.concrete)
        for lb in v.labels:
            if not lb.concrete:
                self.summary.param_fields.setdefault((lb.index, lb.access), set()).add(fdesc)
        old = self.ctx.fields.get(fdesc, BLANK)
        new = Value(
            cap(old.labels | concrete),
            EMPTY,
            old.tags | v.tags,
            old.const if old.const == v.const or old is BLANK else None,
        )
        if old is BLANK:
            new = Value(new.labels, EMPTY, new.tags, v.const)
        if new != old:
            self.ctx.write_field(fdesc, new)
            self.deref_cache.clear()

    # ------------------------------------------------------------------ transfer function

    def _step(self, pos: int, insn: Insn, st: dict[int, Value], pending: Value) -> Value:
        op = insn.op
        regs = insn.regs
        if op in O.MOVE_RESULT_OPS:
            st[regs[0]] = pending
            return BLANK
        if op in O.INVOKE_OPS:  # a third of what the fixpoint interprets: tested first
            return self._invoke(pos, insn, st)
        if op in O.MOVE_OPS:
            st[regs[0]] = st.get(regs[1], BLANK)
        elif op == O.MOVE_EXCEPTION:  # what any exception thrown here or by a callee carries
            st[regs[0]] = Value(self.summary.thrown)
        elif op == O.THROW_OP:
            heap.throw(self, self.val(st, regs[0]).labels)
        elif op in O.RETURN_OPS:
            v = self.val(st, regs[0])
            s = self.summary
            rel = frozenset(o for o in v.objs if heap.root(o) is not None)
            got = Value(v.labels, rel, v.tags | heap.class_tags(v.objs), v.const)
            # The first return sets the constant (join treats BLANK's None as "not constant").
            s.ret = got if s.ret is BLANK else s.ret.join(got)
            heap.escape(self, v.objs - rel)
        elif op in O.CONST_OPS:
            st[regs[0]] = Value(const=insn.lit)
            if op in O.CONST_WIDE_OPS:
                st.pop(regs[0] + 1, None)
        elif op in O.CONST_STRING_OPS:
            st[regs[0]] = Value(tags=frozenset({"str"}), const=self.dex.string(insn.idx))
        elif op == O.CONST_CLASS:
            assert insn.idx is not None  # format 21c: the decoder always sets the index
            name = self.dex.type_name(insn.idx)
            st[regs[0]] = Value(tags=frozenset({"class:" + name}), const=name)
        elif op == O.NEW_INSTANCE:
            assert insn.idx is not None  # format 21c
            name = self.dex.type_name(insn.idx)
            st[regs[0]] = Value(objs=frozenset({("new", insn.offset, name)}))
        elif op == O.NEW_ARRAY:
            st[regs[0]] = Value(objs=frozenset({heap.new_array(self.dex, insn)}))
        elif op in O.FILLED_NEW_ARRAY_OPS:
            obj = ("new", insn.offset, "[]")
            labels = frozenset().union(*(self.val(st, r).labels for r in regs)) if regs else EMPTY
            self.taint_obj([obj], labels)
            for i, r in enumerate(regs):
                heap.set_element(self, (obj,), i, self.val(st, r).labels)
            return Value(objs=frozenset({obj}))
        elif op == O.CHECK_CAST:  # the same value
            pass
        elif op == O.INSTANCE_OF:
            st[regs[0]] = BLANK
        elif op == O.ARRAY_LENGTH:
            arr = self.val(st, regs[1])
            st[regs[0]] = Value(arr.labels, tags=frozenset({"bound"}) | parts(arr))
        elif op in O.AGET_OPS:  # a table read at an index made from data reveals the data
            arr, at = self.val(st, regs[1]), st.get(regs[2], BLANK)  # (hex digits, Base64)
            idx, labels = at.const, arr.labels
            if isinstance(idx, int) and not isinstance(idx, bool):
                labels = heap.element(self, arr, idx)
            tags = arr.tags & {"msg_parts"}
            st[regs[0]] = Value(labels | at.labels, heap.rows(op, arr.objs), tags)
        elif op in O.APUT_OPS:
            src = self.val(st, regs[0])
            heap.escape(self, src.objs)
            arr = st.get(regs[1], BLANK)
            self.taint_obj(arr.objs, src.labels)
            idx = st.get(regs[2], BLANK).const
            if isinstance(idx, int) and not isinstance(idx, bool):
                heap.set_element(self, arr.objs, idx, src.labels, src)
        elif op in O.IGET_OPS or op in O.SGET_OPS:
            self._field_read(pos, insn, st)
        elif op in O.IPUT_OPS or op in O.SPUT_OPS:
            fdesc = self.ctx.field_key(self.dex.field_ref(insn.idx).descriptor)
            raw = st.get(regs[0], BLANK)
            v = self.val(st, regs[0])
            v = Value(v.labels, raw.objs, v.tags, v.const)
            if op in O.IPUT_OPS and insn.idx is not None and self._on_this(st, regs[1]):
                # What this path last stored in this.field (the field store is flow-insensitive).
                st[_this_field(insn.idx)] = Value(tags=object_tags(v.tags), const=v.const)
            # An object of ours or a parameter's keeps its own cell (heap.py); other objects
            # and static fields are the global, field-based store.
            holders = st.get(regs[1], BLANK).objs if op in O.IPUT_OPS else EMPTY
            if holders and all(heap.is_precise(o) for o in holders):
                self.writes.record(holders, fdesc, pos, v)
            if op in O.SPUT_OPS or not heap.write(self, holders, fdesc, v):
                self._write_field(fdesc, self.per_iteration(pos, v))
                for o in raw.objs:
                    self.field_objs[fdesc].add(o)
                heap.escape(self, raw.objs)
            elif heap.rooted(holders):
                self._write_field(fdesc, self.per_iteration(pos, heap.own_data(v)))
        elif op == method_handles.CONST_METHOD_HANDLE:
            st[regs[0]] = method_handles.handle_value(self.dex, insn)
        elif op in method_handles.INVOKE_POLYMORPHIC_OPS and regs:
            direct = method_handles.direct_call(self.dex, insn, st.get(regs[0], BLANK))
            if direct is not None:
                return self._invoke(pos, direct, st)
        elif op in O.IF_OPS:
            tested = join_all(self.val(st, r) for r in regs)
            if self.conds.get(pos) != tested:
                self.conds[pos] = tested
                self._conds_stale |= self.cfg.loop_at(pos) in self._consulted
        elif op in O.ARITH_OPS:
            srcs = regs[1:] if len(regs) > 1 else regs
            vals = [self.val(st, r) for r in srcs]
            labels = frozenset().union(*(v.labels for v in vals)) if vals else EMPTY
            tags = frozenset().union(*(v.tags & {"bound", "bound:parts"} for v in vals))
            const = feasible.fold(insn, [st.get(r, BLANK).const for r in regs])
            st[regs[0]] = Value(cap(labels), tags=tags, const=const)
        return BLANK

    def _field_read(self, pos: int, insn: Insn, st: dict[int, Value]) -> None:
        fref = self.dex.field_ref(insn.idx)
        fdesc = self.ctx.field_key(fref.descriptor)
        stored = self.ctx.read_field(fdesc)
        tags = set(stored.tags)
        labels = stored.labels
        provider = self.ctx.uri_fields.get(f"{fref.class_name}->{fref.name}")
        if provider:
            tags.add("uri:" + provider)
        step = self.step(insn, HopRole.TRANSFORM, f"read from field {_short_field(fdesc)}")
        if labels:
            labels = extend_all(labels, step)
        objs: frozenset[Obj] = frozenset({("field", fdesc)})
        if insn.op in O.IGET_OPS:  # the object's own cell, or a parameter-relative label
            holders = st.get(insn.regs[1], BLANK).objs
            own = heap.read(self, holders, fdesc, step)
            if own.labels and all(heap.is_precise(o) for o in holders):
                own = self.writes.filter(holders, fdesc, pos, own)  # strong updates
            labels = cap(labels | own.labels)
            objs |= own.objs
            if not self.ctx.is_app_class(fref.class_name):
                # A framework object's field (PackageInfo.packageName, Account.name) is part
                # of the object: it carries the object's data.
                held = self.val(st, insn.regs[1]).labels
                if held:
                    got = self.step(insn, HopRole.TRANSFORM, f"reads {_short_field(fdesc)}")
                    labels = cap(labels | extend_all(held, got))
        const = stored.const
        if insn.op in O.IGET_OPS and insn.idx is not None and self._on_this(st, insn.regs[1]):
            last = st.get(_this_field(insn.idx))
            if last is not None:  # and a class or method object (reflection) stored there
                const, tags = last.const, tags | last.tags
        st[insn.regs[0]] = Value(labels, objs, frozenset(tags), const)

    def _on_this(self, st: dict[int, Value], reg: int) -> bool:
        return not self.is_static and st.get(reg, BLANK).objs == _THIS

    # ------------------------------------------------------------------ calls

    def _invoke(self, pos: int, insn: Insn, st: dict[int, Value]) -> Value:
        site = self._sites.get(pos)
        if site is None or site[0] is not insn:  # every pass interprets the same invokes
            ref = self.dex.method_ref(insn.idx)
            site = self._sites[pos] = (insn, ref, arg_regs(insn, ref))
        _, ref, areg = site
        args = [self.val(st, r) for r in areg]
        cls, name = ref.class_name, ref.name
        call = Call(flow=self, pos=pos, insn=insn, ref=ref, regs=areg, args=args, state=st)
        model = MODELS.get(name)
        if model is not None:
            result = model(call)
            if result is not None:
                return result
        result = icc.model(self, call)
        if result is None:
            result = containers.model(self, call)
        if result is None:  # a string decryptor called with constant arguments
            result = self.fold_call(insn, ref, args)
        if result is not None:
            return result
        # App methods we analysed: apply their summaries; framework hand-offs (edges.py).
        callees = self.ctx.callees(ref, insn.op, args)
        handoffs = self.ctx.handoffs(ref, args)
        if callees or handoffs:
            return callsite.apply_all(self, pos, insn, args, callees, handoffs)
        if not self.ctx.is_app_class(cls):  # a library may keep what it is given
            for a in args if insn.op in O.STATIC_INVOKES else args[1:]:
                heap.escape(self, a.objs)
        if self.ctx.retrofit and self.ctx.is_unimplemented_interface(cls):
            self.network_sink(pos, insn, args[1:], f"calls the web API {cls_short(cls)}.{name}")
        assumed = self.ctx.is_app_class(cls)  # an app method outside the analysed neighbourhood
        return callsite.default(self, insn, ref, args, assumed)


_THIS: frozenset[Obj] = frozenset({("param", 0)})


def _this_field(field_idx: int) -> int:
    """The pseudo-register holding the last constant stored in ``this.field`` (negative:
    no Dalvik register)."""
    return -1 - field_idx


def _short_field(fdesc: str) -> str:
    cls, rest = fdesc.split("->", 1)
    return f"{cls_short(cls)}.{rest.split(':', 1)[0]}"


def _join_states(a: dict[int, Value], b: dict[int, Value]) -> dict[int, Value]:
    out: dict[int, Value] | None = None
    for r, v in b.items():
        old = a.get(r)
        if old is v:
            continue
        new = v if old is None else old.join(v)
        if new is not old:
            if out is None:
                out = dict(a)
            out[r] = new
    return a if out is None else out
