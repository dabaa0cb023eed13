"""Collections that hold objects: what a List, Set, Queue or its Iterator gives back is an object
that was added to it.

The heap keeps a collection's data as the taint of the collection (callsite.default); this
module also keeps *which objects* it holds, so an Intent, Bundle or JSON object taken back out
(``list.get(0)``, ``queue.poll()``, ``iterator.next()``) is the object that went in, with its
extras, keys and target (icc.py, containers.py). Only the objects heap.holdable says are
held: an app class's object would narrow virtual dispatch (resolve.targets) to the classes
added here, while a callee or library may add others.
A collection's iterator stands for the collection (its ``next`` reads the same cell).

API facts from the Java reference (java.util.Collection, List, Deque, Iterator).
"""

from __future__ import annotations

from apkaudit.behaviour import callsite, heap
from apkaudit.behaviour.call import Call
from apkaudit.behaviour.context import Frame
from apkaudit.behaviour.values import Obj, Value

ELEMENTS = "Ljava/util/Collection;->elements:Ljava/lang/Object;"  # pseudo-field: held objects
ADDS = frozenset({
    "add", "addFirst", "addLast", "offer", "offerFirst", "offerLast", "push", "addElement",
    "insertElementAt", "set", "setElementAt", "put",
})  # fmt: skip
GETS = frozenset({
    "get", "remove", "poll", "pollFirst", "pollLast", "peek", "peekFirst", "peekLast", "pop",
    "element", "getFirst", "getLast", "removeFirst", "removeLast", "firstElement",
    "lastElement", "elementAt", "next", "previous", "take",
})  # fmt: skip
VIEWS = frozenset({"iterator", "listIterator", "descendingIterator"})
_KINDS = ("List;", "Set;", "Queue;", "Deque;", "Collection;", "Stack;", "Vector;", "Iterator;")


def is_collection(cls: str) -> bool:
    return cls.startswith("Ljava/util/") and cls.endswith(_KINDS)


def model(m: Frame, call: Call) -> Value | None:
    """An add records the objects it is given; a get or an iterator returns the held objects
    with what the default handling gives; None when the call is none of these (or nothing is
    held: the default handling alone)."""
    ref, args = call.ref, call.args
    if call.static or len(args) < 1 or not is_collection(ref.class_name):
        return None
    name = ref.name
    if name in ADDS and len(args) > 1:
        held = frozenset(o for a in args[1:] for o in a.objs if heap.holdable(o))
        if held:
            for o in args[0].objs:
                if heap.is_precise(o):
                    _hold(m, o, held)
        return None  # the data: the default handling
    if (name not in GETS and name not in VIEWS) or ref.return_type == "V":
        return None
    held = _held(m, args[0].objs)
    if not held:
        return None
    for a in args[1:]:  # as for any library call (flow._invoke)
        heap.escape(m, a.objs)
    out = callsite.default(m, call.insn, ref, args, False)
    if name in VIEWS:  # the iterator stands for the collection
        held = frozenset(o for o in args[0].objs if heap.is_precise(o))
    return Value(out.labels, out.objs | held, out.tags, out.const)


def _hold(m: Frame, o: Obj, objs: frozenset[Obj]) -> None:
    key = ("f", o, ELEMENTS)
    old = m.heap.get(key)
    if old is None or not objs <= old.objs:
        m.heap[key] = Value(objs=objs | (old.objs if old else frozenset()))
        m.heap_changed(key in m.cells_read)


def _held(m: Frame, objs: frozenset[Obj]) -> frozenset[Obj]:
    out: set[Obj] = set()
    for o in objs:
        if heap.is_precise(o):
            key = ("f", o, ELEMENTS)
            m.cells_read.add(key)
            v = m.heap.get(key)
            if v is not None:
                out |= v.objs
    return frozenset(out)
