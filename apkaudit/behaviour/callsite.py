"""Applying a callee's summary at a call site, in the caller's terms.

A summary speaks of the callee's parameters (``Label("param", i, access=...)``): what reaches a
sink, what is stored into a parameter's object, what is returned, what escapes. Here each is
translated to the caller's values: its own labels, its own objects' cells (so an effect lands
on the instance passed, not on every instance of the class), or, when the caller's value is
itself a parameter, a parameter-relative effect of the caller's summary. Sinks are recorded at
the call site, so a callee's send sits in the caller's loop.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from apkaudit.behaviour import containers, heap, loops
from apkaudit.behaviour.apis import COLLECTION_PUTS, MUTATOR_PREFIXES, TRANSFORMS, cls_short
from apkaudit.behaviour.context import Frame, Handoff, MethodKey, SinkEvent, Summary
from apkaudit.behaviour.kinds import HopRole
from apkaudit.behaviour.models import files
from apkaudit.behaviour.values import (
    BLANK,
    EMPTY,
    Label,
    Obj,
    Step,
    Value,
    assumed_all,
    cap,
    extend_all,
)
from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.reader import Insn, MethodRef

KEYED_PUTS = frozenset({"put", "putIfAbsent"})  # an unmodelled put(key, value, ...)


def arg_labels(m: Frame, cargs: list[Value], i: int, access: tuple[str, ...]) -> frozenset[Label]:
    """The caller's labels for the callee's parameter ``i`` at ``access``."""
    if i >= len(cargs):
        return EMPTY
    v = cargs[i]
    if not access:
        return v.labels
    got = heap.deref(m, v.objs, access).labels
    if v.labels and (not v.objs or any(heap.untracked(o) for o in v.objs)):
        # An object we do not follow: any data it carries (its parameter labels would only
        # stand for the whole parameter, not this part of it).
        concrete = frozenset(lb for lb in v.labels if lb.concrete)
        if concrete:
            got = cap(got | concrete)
    return got


def map_labels(m: Frame, labels, cargs: list[Value], step: Step) -> frozenset[Label]:
    out: set[Label] = set()
    for lb in labels:
        if lb.concrete:
            out.add(lb.extend(step))
            continue
        for x in arg_labels(m, cargs, lb.index, lb.access):
            out.add(x.extend_path(lb.path, lb.assumed).extend(step))
    return cap(frozenset(out))


def map_objs(m: Frame, objs, cargs: list[Value], at: int = -1) -> frozenset[Obj]:
    """The caller's objects for a summary's objects: its arguments' for parameter objects, and
    one new object per call site for an object the callee allocated (``at``: the call)."""
    out: set[Obj] = set()
    for o in objs:
        if heap.is_precise(o):
            if at >= 0:
                inner = o[1][-1] if isinstance(o[1], tuple) else o[1]
                out.add(("new", (at, inner), o[2]))
            continue
        r = heap.root(o)
        if r is None or r[0] >= len(cargs):
            continue
        if not r[1]:
            out |= cargs[r[0]].objs
        else:
            out |= heap.deref(m, cargs[r[0]].objs, r[1]).objs
    return frozenset(out)


def _resolve_loop(m: Frame, ev: SinkEvent, cargs: list[Value]) -> SinkEvent:
    """The callee's loop over its parameters, in the caller's terms (what the loop is over)."""
    if not ev.loop_rel:
        return ev
    got = frozenset().union(*(arg_labels(m, cargs, i, acc) for i, acc in ev.loop_rel))
    kinds = ev.loop_kinds | {lb.kind for lb in got if lb.concrete}
    rel = frozenset((lb.index, lb.access) for lb in got if not lb.concrete)
    loop = loops.describe(ev.loop_forms, kinds) if ev.in_loop else ev.loop
    return replace(ev, loop=loop, loop_kinds=frozenset(kinds), loop_rel=rel)


def store(m: Frame, objs, access: tuple[str, ...], v: Value, at: int = -1) -> None:
    """Put ``v`` at ``access`` below the caller's objects ``objs``."""
    if not access:
        m.taint_obj(objs, v.labels, v.tags)
        return
    targets = objs
    for elem in access[:-1]:  # walk to the holder, making a cell for a holder not seen yet
        nxt = heap.deref(m, targets, (elem,)).objs
        missing = [o for o in targets if heap.is_precise(o) and not m.heap.get(heap.cell(elem, o))]
        for o in missing:
            made = ("new", (at, len(elem)), "")
            heap.write(m, [o], elem, Value(objs=frozenset({made})))
            nxt |= {made}
        targets = nxt
    last = access[-1]
    if not heap.write(m, targets, last, v):
        if last.startswith("k:"):
            m.taint_obj([o for o in targets if not heap.is_precise(o)], v.labels, v.tags)
        else:
            m.write_global(last, Value(v.labels, EMPTY, v.tags))
    elif heap.rooted(targets) and not last.startswith("k:"):
        m.write_global(last, heap.own_data(v))


def apply(m: Frame, pos: int, step: Step, summ: Summary, cargs: list[Value]) -> Value:
    """The effects of one callee at this call site; returns the call's result."""
    if summ.empty():
        return BLANK
    for (i, acc), events in summ.param_sinks.items():
        labels = arg_labels(m, cargs, i, acc)
        if not labels:
            continue
        for ev, assumed in events.values():
            got = frozenset(lb.as_assumed() for lb in labels) if assumed else labels
            m.sink(ev.sink, got, step, pos, inner=_resolve_loop(m, ev, cargs))
    for (i, acc), fields in summ.param_fields.items():
        labels = arg_labels(m, cargs, i, acc)
        if labels:
            tags = cargs[i].tags if i < len(cargs) else EMPTY
            v = m.per_iteration(pos, Value(extend_all(labels, step), EMPTY, tags))
            for f in fields:
                m.write_global(f, v)
    for (i, acc), w in summ.param_writes.items():
        if i < len(cargs):
            objs = map_objs(m, w.objs, cargs, step.offset)
            wv = Value(map_labels(m, w.labels, cargs, step), objs, w.tags)
            if wv.labels or wv.objs:
                store(m, cargs[i].objs, acc, wv, step.offset)
    for i in summ.param_escapes:
        if i < len(cargs):
            heap.escape(m, cargs[i].objs)
    for i, writes in summ.param_streams.items():  # "parameter i receives data"
        if i < len(cargs):
            for lb, path in writes:
                if lb.concrete:
                    got = frozenset({lb})
                else:
                    got = frozenset(
                        x.extend_path(lb.path, lb.assumed)
                        for x in arg_labels(m, cargs, lb.index, lb.access)
                    )
                if got:
                    files.deliver_write(m, pos, step, cargs[i], got, path)
    if summ.thrown:
        heap.throw(m, map_labels(m, summ.thrown, cargs, step))
    r = summ.ret
    if r is BLANK:
        return BLANK
    labels = map_labels(m, r.labels, cargs, step)
    objs = frozenset({("ret", step.offset)}) | map_objs(m, r.objs, cargs)
    tags, allocated = heap.returned_objects(r.tags, step.offset)
    return Value(labels, objs | allocated, tags, r.const)


def apply_all(
    m: Frame,
    pos: int,
    insn: Insn,
    args: list[Value],
    callees: list[tuple[MethodKey, Summary]],
    handoffs: list[Handoff],
) -> Value:
    """The call's app callees (its result), then the framework hand-offs it makes: the
    override runs later and the call returns no data of it; its result goes to ``then``."""
    ret = BLANK
    for i, (key, summ) in enumerate(callees):
        step = m.step(insn, HopRole.CALL, _calls(key))
        got = apply(m, pos, step, summ, args)
        ret = got if i == 0 else ret.join(got)  # one callee's constant result stays constant
    for h in handoffs:
        r = apply(m, pos, m.step(insn, HopRole.CALL, h.desc), h.summary, h.args)
        for _key, summ, desc in h.then:
            cargs = [h.args[0] if h.args else BLANK, r]
            apply(m, pos, m.step(insn, HopRole.CALL, desc), summ, cargs)
    return ret


@lru_cache(maxsize=4096)
def _calls(key: MethodKey) -> str:
    """How a step calling ``key`` reads (every pass of every caller asks again)."""
    return f"calls {cls_short(key[0])}.{key[1].split('(')[0]}"


def default(m: Frame, insn: Insn, ref: MethodRef, args: list[Value], assumed: bool) -> Value:
    """An unmodelled call: taint from the arguments to the result (and into the receiver
    of a mutator), marked assumed when the callee is app code we did not analyse."""
    labels = frozenset().union(*(a.labels for a in args)) if args else EMPTY
    if assumed and labels:
        labels = assumed_all(labels)
    static = insn.op in O.STATIC_INVOKES
    if not static and args and ref.name.startswith(MUTATOR_PREFIXES) and len(args) > 1:
        # put(key, value): the container holds the value under the key, as containers.py
        # models a Map (a get returns the value, not the key).
        given = args[2:] if ref.name in KEYED_PUTS and len(args) > 2 else args[1:]
        incoming = frozenset().union(*(a.labels for a in given))
        put = COLLECTION_PUTS.get((ref.class_name, ref.name))
        if put and incoming:
            incoming = extend_all(incoming, m.step(insn, HopRole.TRANSFORM, put))
        streams = frozenset().union(*(a.tags & {"net_stream"} for a in args[1:]))
        m.taint_obj(args[0].objs or {("anon", insn.offset)}, incoming, streams)
        containers.unkeyed(m, args[0].objs, incoming)
    ret = ref.return_type
    if ret == "V":
        return BLANK
    transform = TRANSFORMS.get((ref.class_name, ref.name))
    if transform and labels:
        labels = extend_all(labels, m.step(insn, HopRole.TRANSFORM, transform))
    objs: frozenset[Obj] = frozenset({("ret", insn.offset)})
    tags: frozenset[str] = EMPTY
    if args and not static:
        tags = args[0].tags & {"msg_parts", "net_stream"}
    return Value(cap(labels), objs, tags)
