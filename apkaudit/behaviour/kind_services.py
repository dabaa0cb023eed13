"""What the interpreter does for the data-kind models: stores, stream parameters, reflective
calls and folded decryptor calls (models/stores.py, models/reflection.py).

A mixin of ``MethodFlow`` (flow.py): it uses the interpreter's field store, summary and
summary application, and keeps this half of issue 11's machinery out of the interpreter core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Protocol

from apkaudit.behaviour import callsite
from apkaudit.behaviour.apis import cls_short
from apkaudit.behaviour.context import FlowContext, Frame, Summary
from apkaudit.behaviour.kinds import HopRole
from apkaudit.behaviour.values import BLANK, Label, Obj, Step, Value, cap, extend_all, join_all
from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.reader import Insn, MethodRef


class _Host(Protocol):
    """The part of MethodFlow these services use."""

    ctx: FlowContext
    summary: Summary
    heap: dict[Obj, Value]
    cells_read: set[object]
    _heap_changed: bool
    _events: list[Callable[[], None]]

    def _write_field(self, fdesc: str, v: Value) -> None: ...

    def step(self, insn: Insn, role: HopRole, desc: str) -> Step: ...


STRING = "Ljava/lang/String;"


def _add_streams(summ: Summary, params: set[int], labels: frozenset[Label], step: Step) -> None:
    for i in params:
        summ.param_streams.setdefault(i, set()).update((lb, (step,)) for lb in labels)


class KindServices:
    """Store keys are whole-app pseudo-fields (``store:…``, see models/stores.py)."""

    __slots__ = ()

    def read_store(self: _Host, keys: Iterable[str], step: Step) -> Value:
        stored = join_all(self.ctx.read_field(k) for k in keys)
        return Value(extend_all(stored.labels, step)) if stored.labels else BLANK

    def write_store(self: _Host, keys: Iterable[str], value: Value, step: Step) -> None:
        if value.labels:
            staged = Value(extend_all(value.labels, step))
            for k in keys:
                self._write_field(k, staged)

    def stream_param_write(
        self: _Host, params: set[int], labels: frozenset[Label], step: Step
    ) -> None:
        """Record "parameter i receives data" (decided at each caller, see Summary)."""
        # kept once the pass on trial is (MethodFlow.run)
        self._events.append(partial(_add_streams, self.summary, params, labels, step))

    def link_stream(self: _Host, outer: Iterable[Obj], inner: frozenset[Obj]) -> None:
        """``outer`` wraps ``inner`` (new GZIPOutputStream(bytes)): writes reach ``inner``."""
        for o in outer:
            key = ("wraps", o)
            old = self.heap.get(key, BLANK)
            if not inner <= old.objs:
                self.heap[key] = Value(old.labels, old.objs | inner)
                self._heap_changed = True

    def linked(self: _Host, objs: Iterable[Obj]) -> frozenset[Obj]:
        """The objects the streams ``objs`` write into, through wrappers (a few levels)."""
        out: set[Obj] = set()
        todo = list(objs)
        while todo and len(out) < 16:
            hit = self.heap.get(("wraps", todo.pop()))
            for o in hit.objs if hit else ():
                if o not in out:
                    out.add(o)
                    todo.append(o)
        return frozenset(out)

    def contents(self: _Host, objs: Iterable[Obj]) -> frozenset[Label]:
        """The data held in the fields and keyed entries of ``objs`` and of the objects they
        hold (two levels): what serialising the objects writes out (writeObject, toJson)."""
        out: set[Label] = set()
        level = set(objs)
        for _ in range(2):
            nxt: set[Obj] = set()
            for key, v in self.heap.items():
                if len(key) == 3 and key[0] in ("f", "k") and key[1] in level:
                    self.cells_read.add(key)
                    out |= v.labels
                    nxt |= v.objs
            level = nxt - level
            if not level:
                break
        return cap(frozenset(out))

    def call_reflective(
        self: Frame,
        pos: int,
        insn: Insn,
        cls: str,
        name: str,
        recv: Value,
        params: list[Value],
    ) -> Value:
        """Method.invoke of app method ``cls.name``: every overload, with the unpacked args."""
        ret = BLANK
        for ref, static in self.ctx.reflective_targets(cls, name):
            n = len(ref.param_types)
            cargs = ([] if static else [recv]) + (params + [BLANK] * n)[:n]
            op = 0x71 if static else 0x6E  # invoke-static / invoke-virtual
            for key, summ in self.ctx.callees(ref, op, cargs):
                desc = f"calls {cls_short(key[0])}.{key[1].split('(')[0]}"
                step = self.step(insn, HopRole.CALL, desc)
                ret = ret.join(callsite.apply(self, pos, step, summ, cargs))
        return ret

    def fold_call(self: _Host, insn: Insn, ref: MethodRef, args: list[Value]) -> Value | None:
        """A static app method returning a String, called with constants: its result, if the
        bounded emulator can compute it (emulate.py)."""
        if insn.op not in O.STATIC_INVOKES or ref.return_type != STRING:
            return None
        consts = tuple(a.const for a in args if isinstance(a.const, str | int))
        if len(consts) != len(args):
            return None
        text = self.ctx.fold_string(ref, consts)
        if text is None:
            return None
        labels = frozenset().union(*(a.labels for a in args)) if args else frozenset()
        return Value(cap(labels), frozenset({("ret", insn.offset)}), frozenset({"str"}), text)
