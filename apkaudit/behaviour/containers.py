"""Keyed containers and message objects: Bundle, Intent extras, maps, JSON objects, Message.

``put*(key, value)`` with a constant key stores into the cell ``"k:KEY"`` of the container
(heap.py), ``get*(key)`` reads that cell (plus the ``"k:*"`` cell of puts under keys not
known), so data put under one key is not read back under another. Accessors that hand the
same data around (``Intent.getExtras``, ``Message.setData/getData``, ``Intent.putExtras``) are
aliases of fields. Intents also carry their target (``component``, ``action``) for ICC.

API facts from the Android and Java references (android.os.Bundle, android.content.Intent,
android.os.Message, java.util.Map, org.json.JSONObject, android.content.ContentValues).
"""

from __future__ import annotations

from apkaudit.behaviour import delivered, heap, saved_state
from apkaudit.behaviour.apis import COLLECTION_PUTS, cls_short
from apkaudit.behaviour.call import Call
from apkaudit.behaviour.context import Frame
from apkaudit.behaviour.kinds import HopRole
from apkaudit.behaviour.values import EMPTY, Label, Value, cap, extend_all

INTENT = "Landroid/content/Intent;"
KEYED = frozenset({
    "Landroid/os/Bundle;", "Landroid/os/BaseBundle;", "Landroid/os/PersistableBundle;", INTENT,
    "Ljava/util/Map;", "Ljava/util/HashMap;", "Ljava/util/LinkedHashMap;", "Ljava/util/TreeMap;",
    "Ljava/util/Hashtable;", "Ljava/util/AbstractMap;", "Ljava/util/SortedMap;",
    "Ljava/util/concurrent/ConcurrentHashMap;", "Ljava/util/WeakHashMap;",
    "Lorg/json/JSONObject;", "Landroid/content/ContentValues;",
})  # fmt: skip
_PUTS = ("put", "putExtra", "putOpt", "putIfAbsent", "accumulate", "append")
_GETS = ("get", "opt", "getOrDefault", "remove")
# Pseudo-fields for data one object hands to another.
MESSAGE_DATA = "Landroid/os/Message;->data:Landroid/os/Bundle;"
INTENT_COMPONENT = "Landroid/content/Intent;->component:Ljava/lang/Class;"
INTENT_ACTION = "Landroid/content/Intent;->action:Ljava/lang/String;"
# Factories returning a new object the caller owns (so its cells are precise).
FRESH = {
    ("Landroid/os/Handler;", "obtainMessage"),
    ("Landroid/os/Message;", "obtain"),
}


def _is_put(name: str) -> bool:
    return name.startswith(_PUTS) and not name.startswith(("putAll", "putExtras"))


def _is_get(name: str) -> bool:
    return name.startswith(_GETS) or (name.startswith("get") and name.endswith("Extra"))


def _key(v: Value) -> str:
    return "k:" + v.const if isinstance(v.const, str) else heap.ANY_KEY


def model(m: Frame, call: Call) -> Value | None:
    """Keyed puts/gets, aliases and intent targets; None when the call is none of these."""
    ref, insn, args, st, areg = call.ref, call.insn, call.args, call.state, call.regs
    cls, name = ref.class_name, ref.name
    if cls not in _CLASSES:
        return None
    if (cls, name) in FRESH:
        return Value(objs=frozenset({("new", insn.offset, "Landroid/os/Message;")}))
    if cls == "Landroid/os/Message;" and name in ("setData", "getData", "peekData") and args:
        if name == "setData" and len(args) > 1:
            raw = st.get(areg[1])
            v = Value(args[1].labels, raw.objs if raw else EMPTY)
            if not heap.write(m, args[0].objs, MESSAGE_DATA, v):
                m.taint_obj(args[0].objs, args[1].labels)
            return Value()
        got = heap.read(m, args[0].objs, MESSAGE_DATA)
        return Value(got.labels | _content(m, args[0]), got.objs | {("ret", insn.offset)})
    if cls == INTENT:
        if name == "getExtras" and args:  # the extras are the intent's own keyed cells
            return Value(args[0].labels, args[0].objs)
        if name in ("setClass", "setClassName", "setComponent") and len(args) > 2:
            _target(m, args[0], INTENT_COMPONENT, args[2])
            return None
        if name == "setAction" and len(args) > 1:
            _target(m, args[0], INTENT_ACTION, args[1])
            return None
        if name == "<init>" and len(args) > 1:
            if ref.param_types[-1:] == ("Ljava/lang/Class;",):
                _target(m, args[0], INTENT_COMPONENT, args[-1])
            elif ref.param_types[:1] == ("Ljava/lang/String;",):
                _target(m, args[0], INTENT_ACTION, args[1])
            return None
    if cls not in KEYED or call.static or not args:
        return None
    if _is_put(name) and len(args) > 2:
        recv, key, val = args[0], args[1], args[2]
        labels = val.labels
        put = COLLECTION_PUTS.get((cls, name)) or (
            f'put under "{key.const}" ({cls_short(cls)}.{name})'
            if isinstance(key.const, str)
            else None
        )
        if put and labels:
            labels = extend_all(labels, m.step(insn, HopRole.TRANSFORM, put))
        raw = st.get(areg[2])
        v = Value(labels, raw.objs if raw else EMPTY, val.tags & {"net_stream"})
        if not heap.write(m, recv.objs, _key(key), v):
            m.taint_obj(recv.objs or {("anon", insn.offset)}, labels)
        else:
            m.taint_obj([o for o in recv.objs if heap.is_precise(o)], labels)
        for o in recv.objs:  # the saved-state Bundle: what the class gets back on restore
            if o[0] == saved_state.SAVED and labels:
                m.write_global(delivered.store_key(o, _key(key)), Value(cap(labels)))
        return Value(objs=recv.objs) if ref.return_type != "V" else Value()
    if _is_get(name) and len(args) > 1 and ref.return_type != "V":
        recv, key = args[0], args[1]
        got = heap.read(m, recv.objs, _key(key))
        if _key(key) != heap.ANY_KEY:
            got = Value(cap(got.labels | heap.read(m, recv.objs, heap.ANY_KEY).labels), got.objs)
        found: frozenset[Label] = got.labels
        for o in recv.objs:  # intents delivered to a component: the ICC store
            if o[0] == "intent":
                found |= delivered.read(m, o, _key(key))
            elif o[0] == saved_state.SAVED:
                back = delivered.read(m, o, _key(key))
                if back:
                    desc = f"gets back the saved instance state ({cls_short(cls)}.{name})"
                    found |= extend_all(back, m.step(insn, HopRole.TRANSFORM, desc))
            elif not heap.is_precise(o) and heap.root(o) is None:
                m.cells_read.add(o)
                found |= m.heap[o].labels if o in m.heap else EMPTY
        found |= frozenset(lb for lb in recv.labels if lb.concrete and not recv.objs)
        return Value(cap(found), got.objs | {("ret", insn.offset)})
    return None


_CLASSES = KEYED | {"Landroid/os/Message;", "Landroid/os/Handler;"}


def _content(m: Frame, v: Value):
    m.cells_read.update(v.objs)
    return (
        frozenset().union(*(m.heap[o].labels for o in v.objs if o in m.heap)) if v.objs else EMPTY
    )


def set_target(m: Frame, intent: Value, cls: Value) -> None:
    """The Intent names the component class ``cls`` (a Class value): as ``setClass``."""
    _target(m, intent, INTENT_COMPONENT, cls)


def _target(m: Frame, intent: Value, fdesc: str, v: Value) -> None:
    tags = frozenset(t for t in v.tags if t.startswith("class:"))
    if isinstance(v.const, str) and fdesc == INTENT_COMPONENT and not tags:
        tags = frozenset({"class:L" + v.const.replace(".", "/") + ";"})
    const = v.const if fdesc == INTENT_ACTION and isinstance(v.const, str) else None
    for o in intent.objs:
        if heap.is_precise(o):
            old = m.heap.get(("f", o, fdesc))
            const_ = const if old is None or old.const == const else None
            new = Value(EMPTY, EMPTY, (old.tags if old else EMPTY) | tags, const_)
            if const is not None:
                new = Value(EMPTY, EMPTY, new.tags | {"action:" + const}, const_)
            if new != old:
                m.heap[("f", o, fdesc)] = new
                m.heap_changed()


def unkeyed(m: Frame, objs, labels) -> None:
    """A mutation that is not a keyed put (putAll, a constructor from another map): every key
    of a precise container may now hold the data."""
    if labels:
        for o in objs:
            if heap.is_precise(o):
                heap.write(m, [o], heap.ANY_KEY, Value(labels))
