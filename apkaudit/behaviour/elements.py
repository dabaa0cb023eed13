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
CLASS_TAG = "class:"  # a Class value (const-class, forName): kept too, for reflection
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
        held = Value(
            objs=frozenset(o for a in args[1:] for o in a.objs if heap.holdable(o)),
            tags=frozenset(t for a in args[1:] for t in a.tags if t.startswith(CLASS_TAG)),
        )
        if held.objs or held.tags:
            for o in args[0].objs:
                if _own(o):
                    _hold(m, o, held)
        return None  # the data: the default handling
    if (name not in GETS and name not in VIEWS) or ref.return_type == "V":
        return None
    held = _held(m, args[0].objs)
    if not held.objs and not held.tags:
        return None
    for a in args[1:]:  # as for any library call (flow._invoke)
        heap.escape(m, a.objs)
    out = callsite.default(m, call.insn, ref, args, False)
    if name in VIEWS:  # the iterator stands for the collection
        held = Value(objs=frozenset(o for o in args[0].objs if _own(o)))
    return Value(out.labels, out.objs | held.objs, out.tags | held.tags, out.const)


def _own(o: Obj) -> bool:
    """A collection whose cells this method keeps: its own, or one reached from a parameter
    (``this.list``: the cell lives only as long as this analysis, no summary effect)."""
    return heap.is_precise(o) or heap.root(o) is not None


def _hold(m: Frame, o: Obj, v: Value) -> None:
    key = ("f", o, ELEMENTS)
    old = m.heap.get(key)
    if old is None or not (v.objs <= old.objs and v.tags <= old.tags):
        m.heap[key] = v if old is None else Value(objs=old.objs | v.objs, tags=old.tags | v.tags)
        m.heap_changed(key in m.cells_read)


def _held(m: Frame, objs: frozenset[Obj]) -> Value:
    out: set[Obj] = set()
    tags: set[str] = set()
    for o in objs:
        if _own(o):
            key = ("f", o, ELEMENTS)
            m.cells_read.add(key)
            v = m.heap.get(key)
            if v is not None:
                out |= v.objs
                tags |= v.tags
    return Value(objs=frozenset(out), tags=frozenset(tags))
