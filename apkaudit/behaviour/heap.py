"""The per-method heap: fields and keyed entries of objects, relative to who can see them.

An object allocated in the method (``("new", offset, class)``) is *precise*: its fields and
keyed entries (Bundle/Intent extras, map and JSON keys) are cells of this heap, so two
instances are never merged. A parameter's object (``("param", i)``) and what is reached from it
(``("pf", i, access)``) are *relative*: reads give labels that stand for "parameter i at this
access path", writes become summary effects, and the caller applies both to its own objects at
the call site (so the effect lands inside the caller's loop). Anything else (an object read from
a field, returned by a library) goes to the global, field-based store, as does a precise object
once it escapes (stored into such an object or a static field, returned, handed to a library).

Cell keys: ``("f", obj, field_descriptor)`` and ``("k", obj, key)``; access path elements are
field descriptors and ``"k:KEY"`` (``"k:*"``: a key not known as a constant).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from apkaudit.behaviour import delivered
from apkaudit.behaviour.context import Frame
from apkaudit.behaviour.values import BLANK, EMPTY, Label, Obj, Step, Value, cap, extend_all
from apkaudit.behaviour.values import param_label as _param_label
from apkaudit.code.dex.reader import DexFile, Insn

MAX_ACCESS = 3  # access path length (FlowDroid bounds it too; its default is 5)
ANY_KEY = "k:*"
Access = tuple[str, ...]


def is_precise(o: Obj) -> bool:
    return bool(o) and o[0] == "new"


def untracked(o: Obj) -> bool:
    """An object whose cells this method does not know: read from a field, returned by a
    library call, or otherwise anonymous (an intent a component receives is the ICC store's, a
    saved-state Bundle the saved_state.py store's)."""
    return not is_precise(o) and o[0] not in ("param", "pf", "intent", "result", "saved")


def root(o: Obj) -> tuple[int, Access] | None:
    """(parameter, access) when ``o`` is a parameter's object or one reached from it."""
    if o and o[0] == "param":
        return cast(int, o[1]), ()
    if o and o[0] == "pf":
        return cast(int, o[1]), cast(Access, o[2])
    return None


def class_of(o: Obj) -> str:
    """The class of an allocation site (``("new", offset, class)``)."""
    return cast(str, o[2])


Cell = tuple[object, ...]  # ("f", obj, field descriptor) | ("k", obj, key)


def cell(elem: str, o: Obj) -> Cell:
    return ("k", o, elem[2:]) if elem.startswith("k:") else ("f", o, elem)


# Field types that hold framework services, not data: reading ``this.context`` or
# ``this.handler`` gives no parameter-relative label (it would follow every value derived
# from them through the method for nothing).
_SERVICE_TYPES = (
    "Landroid/content/Context;", "Landroid/app/", "Landroid/view/", "Landroid/widget/",
    "Landroid/os/Handler;", "Landroid/os/Looper;", "Landroid/content/ContentResolver;",
    "Landroid/content/pm/", "Ljava/lang/Thread;", "Ljava/util/concurrent/",
    "Landroid/telephony/SmsManager;", "Landroid/net/ConnectivityManager;",
    "Landroid/location/LocationManager;", "Landroid/telephony/TelephonyManager;",
)  # fmt: skip


def carries_data(elem: str) -> bool:
    if elem.startswith("k:"):
        return True
    ftype = elem.rsplit(":", 1)[-1]
    return ftype != "Z" and not ftype.startswith(_SERVICE_TYPES)


def param_label(index: int, access: Access) -> Label:
    return _param_label(index, access)


def read(m: Frame, objs: Iterable[Obj], elem: str, step: Step | None = None) -> Value:
    """The value at ``obj.elem`` for every object in ``objs`` (global store not included)."""
    labels: set[Label] = set()
    out: set[Obj] = set()
    keyed = elem.startswith("k:")
    for o in objs:
        cells = [cell(elem, o)]
        if keyed:
            cells.append(("k", o, "*"))
        for c in cells:
            m.cells_read.add(c)
            v = m.heap.get(c)
            if v is not None:
                labels |= v.labels
                out |= v.objs
        if keyed and not is_precise(o):
            m.cells_read.add(o)
            if o in m.heap:
                labels |= m.heap[o].labels  # taint put into an unknown map some other way
        r = root(o)
        if r is not None and len(r[1]) < MAX_ACCESS:
            acc = (*r[1], elem)
            if carries_data(elem):
                labels.add(param_label(r[0], acc))
            out.add(("pf", r[0], acc))
    got = frozenset(labels)
    if step is not None and got:
        got = extend_all(got, step)
    return Value(cap(got), frozenset(out))


def write(m: Frame, objs: Iterable[Obj], elem: str, v: Value) -> bool:
    """Store ``v`` at ``obj.elem``; False when some object is not ours (the caller then writes
    the global store)."""
    shared = not objs
    kept = Value(v.labels, frozenset(o for o in v.objs if is_precise(o) or root(o)), v.tags)
    for o in objs:
        r = root(o)
        if is_precise(o):
            _join(m, cell(elem, o), kept)
        elif r is not None and len(r[1]) < MAX_ACCESS:
            _join(m, cell(elem, o), kept)
            m.summary_write(r[0], (*r[1], elem), kept)
        else:
            shared = True
    return not shared


def _join(m: Frame, key: Cell, v: Value) -> None:
    old = m.heap.get(key, BLANK)
    new = Value(cap(old.labels | v.labels), old.objs | v.objs, old.tags | v.tags)
    if new != old:
        m.heap[key] = new
        # Another pass is needed only if the cell was read before this write (in program
        # order of this pass or an earlier one); reads after it see the new value already.
        m.heap_changed(key in m.cells_read)


def rooted(objs: Iterable[Obj]) -> bool:
    """Whether some of ``objs`` are a parameter's (``this``'s) objects."""
    return any(root(o) is not None for o in objs)


def own_data(v: Value) -> Value:
    """What of ``v``, stored into a parameter's object, also goes to the global store: the
    data the method itself read (a framework callback such as onCreate storing into ``this``
    has no caller to apply its summary), not what a caller passed in (applied at the call
    site, so two instances stay apart)."""
    return Value(frozenset(lb for lb in v.labels if lb.concrete), EMPTY, v.tags)


def deref(m: Frame, objs: frozenset[Obj], access: Access) -> Value:
    """The caller's value at ``access`` below ``objs`` (for a callee's parameter-relative
    label): its own cells, the global store below field-loaded objects, and labels relative to
    the caller's parameters where the path starts at one of them."""
    key = (objs, access)
    hit = m.deref_cache.get(key)
    if hit is None:
        hit = m.deref_cache[key] = _deref(m, objs, access)
    return hit


def _deref(m: Frame, objs: frozenset[Obj], access: Access) -> Value:
    final: set[Label] = set()
    rel: set[Obj] = set()
    cur = set(objs)
    for i, elem in enumerate(access):
        last = i == len(access) - 1
        keyed = elem.startswith("k:")
        nxt: set[Obj] = set()
        for o in cur:
            r = root(o)
            if r is not None and len(r[1]) + len(access) - i <= MAX_ACCESS:
                acc = (*r[1], *access[i:])
                final.add(param_label(r[0], acc))
                rel.add(("pf", r[0], acc))
            for c in (cell(elem, o), ("k", o, "*")) if keyed else (cell(elem, o),):
                m.cells_read.add(c)
                v = m.heap.get(c)
                if v is not None:
                    nxt |= v.objs
                    if last:
                        final |= v.labels
            if last and keyed and not is_precise(o):
                m.cells_read.add(o)
                if o in m.heap:
                    final |= m.heap[o].labels
                final |= delivered.read(m, o, elem)  # a delivered Intent's extras (icc.py)
            if last and not keyed and o[0] == "field":
                final |= m.ctx.read_field(elem).labels
        cur = nxt
    m.cells_read.update(cur)
    for o in cur:
        if o in m.heap:
            final |= m.heap[o].labels
    return Value(cap(frozenset(final)), frozenset(cur | rel))


def escape(m: Frame, objs: Iterable[Obj]) -> None:
    """Objects that leave the method's sight: their cells go to the global store at the end."""
    for o in objs:
        r = root(o)
        if is_precise(o):
            m.escaped.add(o)
        elif r is not None:
            m.summary.param_escapes.add(r[0])


def flush(m: Frame) -> None:
    """Write the cells of escaped objects (and of objects reachable from them) to the global
    store, and content written into field-loaded objects back to their field."""
    fields: dict[Obj, list[tuple[str, Value]]] = {}
    for key, v in m.heap.items():
        if len(key) == 3 and key[0] == "f":
            fields.setdefault(cast(Obj, key[1]), []).append((cast(str, key[2]), v))
    todo = list(m.escaped)
    seen: set[Obj] = set()
    while todo:
        o = todo.pop()
        if o in seen:
            continue
        seen.add(o)
        for fdesc, v in fields.get(o, ()):
            if v.labels:
                m.write_global(fdesc, v)
            todo.extend(x for x in v.objs if is_precise(x))
    for o, v in list(m.heap.items()):
        if len(o) == 2 and o[0] == "field" and v.labels:
            m.write_global(cast(str, o[1]), Value(v.labels, EMPTY, v.tags))
        r = root(o)
        if r is not None and v.labels:
            m.summary_write(r[0], r[1], Value(v.labels, EMPTY, v.tags))
        holder = root(cast(Obj, o[1])) if len(o) == 3 and o[0] == "f" else None
        if holder is not None:  # objects of ours stored into a parameter's object
            for x in v.objs:
                _export(m, holder[0], (*holder[1], cast(str, o[2])), x, fields, set())


def _export(
    m: Frame, index: int, path: Access, o: Obj, fields: dict[Obj, list[tuple[str, Value]]], seen
) -> None:
    """The fields of an object the method allocated and stored at ``path`` below parameter
    ``index`` (``this.user = new User(name, new Password(pwd))``): summary writes at the longer
    paths, so the caller's object gets them, and, for the data the method read itself, the
    global store (a framework callback has no caller)."""
    if not is_precise(o) or o in seen or len(path) >= MAX_ACCESS:
        return
    seen.add(o)
    for fdesc, v in fields.get(o, ()):
        if v.labels:
            m.summary_write(index, (*path, fdesc), Value(v.labels, EMPTY, v.tags))
            own = own_data(v)
            if own.labels:
                m.write_global(fdesc, own)
        for x in v.objs:
            _export(m, index, (*path, fdesc), x, fields, seen)


def set_element(
    m: Frame, arrays: Iterable[Obj], index: int, labels: frozenset[Label], stored: Value = BLANK
) -> None:
    """``array[index] = value`` with a constant index: the cell keeps what it holds (also when
    that is nothing), so a read of another index does not see it (``element``), and of the
    value ``stored`` the objects it may keep a reference to (``holdable``: an Intent in the
    Object[] of a reflective call is that Intent) and the classes it names (``class:`` tags:
    the Class arguments of a reflective constructor)."""
    arrays = list(arrays)
    for o in arrays:
        m.array_cells.setdefault(o, set()).add(index)
        key = (o, index)
        if key not in m.heap:
            m.heap[key] = BLANK
            m.heap_changed(key in m.cells_read)
    m.taint_obj([(o, index) for o in arrays], labels)
    held = frozenset(x for x in stored.objs if holdable(x))
    named = frozenset(t for t in stored.tags if t.startswith("class:"))
    for o in arrays if held or named else ():
        v = m.heap[(o, index)]
        if not (held <= v.objs and named <= v.tags):
            m.heap[(o, index)] = Value(v.labels, v.objs | held, v.tags | named, v.const)
            m.heap_changed((o, index) in m.cells_read)


_FRAMEWORK = ("Landroid/", "Ljava/", "Ljavax/", "Lorg/json/")


def holdable(o: Obj) -> bool:
    """Objects an array or collection cell keeps a reference to (set_element, elements.py):
    this method's own allocations of framework classes (an Intent, a Bundle, a JSON object;
    an app class's object would narrow virtual dispatch to the classes seen here, while others
    may be stored elsewhere) and the Intents and Bundles the framework delivers (delivered.py)."""
    return (is_precise(o) and class_of(o).startswith(_FRAMEWORK)) or (
        bool(o) and o[0] in delivered.KINDS
    )


def element(m: Frame, array: Value, index: int) -> frozenset[Label]:
    """What ``array[index]`` holds: the labels written at that index, and those of the whole
    array (``array.labels``) that no constant-index write explains (written by a callee, a
    library or at an unknown index). A label is explained when a cell holds one with the same
    origin (source call, or parameter and access path); without known cells, the whole array."""
    here: set[Label] = set()
    other: set[Label] = set()
    for o in array.objs:
        for j in m.array_cells.get(o, ()):
            v = m.heap.get((o, j))
            if v is not None:
                (here if j == index else other).update(v.labels)
    if not here and not other and not any(o in m.array_cells for o in array.objs):
        return array.labels
    known = {_origin(lb) for lb in here | other}
    rest = (lb for lb in array.labels if _origin(lb) not in known)
    return cap(frozenset(here).union(rest))


def _origin(lb: Label) -> tuple[object, ...]:
    if lb.concrete:
        return (lb.kind, lb.path[:1])
    return (lb.index, lb.access)


# What a method returns, by class: when every object it returns is one it allocates, its
# summary's result carries "new:CLASS" tags, and the call site turns them into objects
# ("ret", offset, CLASS) that virtual dispatch resolves on (values.new_classes), so
# ``createB().get()`` calls B.get, not every implementation of the interface.
NEW_TAG, UNKNOWN_CLASS = "new:", "new:?"


# The class of an array of arrays allocated in the method (``new-array [[I``, and
# ``Array.newInstance(cls, dims)``, which javac emits for ``new int[2][3]``); its rows are one
# array object (``rows``).
NESTED = "[[]"
ARRAYS = ("[]", NESTED)
AGET_OBJECT = 0x46


def new_array(dex: DexFile, insn: Insn) -> Obj:
    """The object a ``new-array`` allocates."""
    nested = insn.idx is not None and dex.type_name(insn.idx).startswith("[[")
    return ("new", insn.offset, NESTED if nested else "[]")


def rows(op: int, objs: Iterable[Obj]) -> frozenset[Obj]:
    """What an ``aget`` (opcode ``op``) reads from ``objs`` besides data: for an
    ``aget-object`` from an array of arrays, its row. One array object per allocation site
    stands for all its rows (they are merged, their cells by constant index are not), so
    ``t[0][1] = x`` is seen by a later read of ``t[i][1]``."""
    if op != AGET_OBJECT:
        return EMPTY
    return frozenset(("new", o[1], "[]") for o in objs if is_precise(o) and class_of(o) == NESTED)


def class_tags(objs: Iterable[Obj]) -> frozenset[str]:
    out = set()
    for o in objs:
        if is_precise(o) and class_of(o) not in ARRAYS:
            out.add(NEW_TAG + class_of(o))
        elif len(o) == 3 and o[0] == "ret":  # a callee's own allocation, passed on
            out.add(NEW_TAG + cast(str, o[2]))
        else:
            out.add(UNKNOWN_CLASS)  # a parameter's, a field's or a library's object
    return frozenset(out)


def settle_class_tags(ret: Value) -> Value:
    """The summary's result: class tags only when every returned object's class is known."""
    tags = ret.tags
    if UNKNOWN_CLASS in tags:
        tags = frozenset(t for t in tags if not t.startswith(NEW_TAG))
    return ret if tags == ret.tags else Value(ret.labels, ret.objs, tags, ret.const)


def returned_objects(tags: frozenset[str], offset: int) -> tuple[frozenset[str], frozenset[Obj]]:
    """A call's result tags without the class tags, and the objects they stand for."""
    news = {t for t in tags if t.startswith(NEW_TAG)}
    if not news:
        return tags, EMPTY
    return tags - news, frozenset(("ret", offset, t[len(NEW_TAG) :]) for t in news)


def throw(m: Frame, labels: frozenset[Label]) -> None:
    """An exception carrying ``labels`` is thrown (here or by a callee): the method's
    handlers and its callers' see it (Summary.thrown)."""
    new = cap(m.summary.thrown | labels)
    if new != m.summary.thrown:
        m.summary.thrown = new
        m.heap_changed()  # a handler may have read the old value: another pass
