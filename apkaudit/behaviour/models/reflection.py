"""Reflection in the data flow: class and method objects as values, reflective calls as calls.

``Class.forName``/``loadClass``/``const-class``/``getClass`` give a value tagged with the class;
``getMethod``/``getDeclaredMethod`` one tagged with the method (``method:Lcls;->name``) and
``getConstructor`` with the constructor; ``newInstance`` an object of that class (so later
virtual calls resolve to its methods); ``Method.invoke`` runs the named method with the
arguments unpacked from the ``Object[]``: an app method's summary, or the API model of a
framework source or sink. The names are constants, or strings folded by the emulator (the
interpreter's decryptor hook) and by pure string operations on constants (below).
"""

from __future__ import annotations

from typing import cast

from apkaudit.behaviour import containers, heap
from apkaudit.behaviour.call import Call
from apkaudit.behaviour.context import Frame
from apkaudit.behaviour.kinds import HopRole, Sink
from apkaudit.behaviour.models import outputs, personal, sinks
from apkaudit.behaviour.values import EMPTY, Value, join_all, source
from apkaudit.code.dex.reader import MethodRef

CLASS = "Ljava/lang/Class;"
STRING = "Ljava/lang/String;"
BUILDERS = ("Ljava/lang/StringBuilder;", "Ljava/lang/StringBuffer;")
MAX_ARGS = 8


def object_tags(tags: frozenset[str]) -> frozenset[str]:
    """The tags that make a value a class, constructor or method object."""
    return frozenset(t for t in tags if t.startswith(("class:", "ctor:", "method:")))


def _classes(v: Value) -> list[str]:
    return sorted(t[6:] for t in v.tags if t.startswith("class:"))


def for_name(c: Call) -> Value | None:
    """Class.forName(name) / ClassLoader.loadClass(name) on a known name."""
    args = c.args
    if c.ref.class_name == CLASS and c.ref.name == "forName" and args:
        name = args[0].const
    elif c.ref.name == "loadClass" and len(args) > 1:
        name = args[1].const
    else:
        return None
    if not isinstance(name, str) or not name or len(name) > 400:
        return None
    desc = "L" + name.replace(".", "/") + ";"
    return Value(tags=frozenset({"class:" + desc}), const=desc)


def get_class(c: Call) -> Value | None:
    """obj.getClass(): the class of the object when its allocation (or ``this``) is known."""
    if c.static or not c.args or c.ref.name != "getClass" or c.ref.proto != "()Ljava/lang/Class;":
        return None
    recv = c.args[0]
    names = {o[2] for o in recv.objs if o and o[0] == "new" and isinstance(o[2], str)}
    if ("param", 0) in recv.objs and not c.flow.is_static:
        names.add(c.flow.key[0])
    names.difference_update(heap.ARRAYS)
    if not names:
        return None
    return Value(tags=frozenset("class:" + n for n in names))


def get_constructor(c: Call) -> Value | None:
    if c.ref.class_name != CLASS or not c.args or not _classes(c.args[0]):
        return None
    return Value(tags=frozenset("ctor:" + n for n in _classes(c.args[0])))


def new_instance(c: Call) -> Value | None:
    """Class.newInstance() / Constructor.newInstance(args): an object of the named class."""
    if c.ref.class_name == "Ljava/lang/reflect/Array;" and c.static:
        # Array.newInstance(cls, length) / (cls, int[] dims): an array of the method, as
        # new-array makes; with dims, an array of arrays (heap.NESTED).
        kind = heap.NESTED if c.ref.proto.startswith("(Ljava/lang/Class;[I)") else "[]"
        return Value(objs=frozenset({("new", c.insn.offset, kind)}))
    if not c.args:
        return None
    if c.ref.class_name == CLASS:
        names = _classes(c.args[0])
    elif c.ref.class_name == "Ljava/lang/reflect/Constructor;":
        names = sorted(t[5:] for t in c.args[0].tags if t.startswith("ctor:"))
    else:
        return None
    if not names:
        return None
    off = c.insn.offset
    objs = frozenset(("new", off, n) for n in names)
    if containers.INTENT in names and len(c.args) > 1:  # new Intent(context, X.class)
        named = frozenset().union(
            *(v.tags for i in range(MAX_ARGS) for v in c.flow.elements(c.args[1], i))
        )
        containers.set_target(cast(Frame, c.flow), Value(objs=objs), Value(tags=named))
    return Value(objs=objs)


def get_method(c: Call) -> Value | None:
    args = c.args
    if c.ref.class_name != CLASS or len(args) < 2 or not isinstance(args[1].const, str):
        return None
    classes = _classes(args[0])
    if not classes:
        return None
    return Value(tags=frozenset(f"method:{k}->{args[1].const}" for k in classes))


def _methods(v: Value) -> list[tuple[str, str]]:
    return sorted(tuple(t[7:].split("->", 1)) for t in v.tags if t.startswith("method:"))  # type: ignore[misc]


def method_info(c: Call) -> Value | None:
    """Method.getDeclaringClass() / getName() on a resolved method: its class, its name."""
    if c.ref.class_name != "Ljava/lang/reflect/Method;" or c.static or not c.args:
        return None
    found = _methods(c.args[0])
    if not found:
        return None
    if c.ref.name == "getDeclaringClass":
        return Value(tags=frozenset("class:" + cls for cls, _ in found))
    names = {name for _, name in found}
    if c.ref.name == "getName" and len(names) == 1:
        return Value(tags=frozenset({"str"}), const=names.pop())
    return None


def invoke(c: Call) -> Value | None:
    """Method.invoke(receiver, args): the reflective SmsManager send (sinks.method_invoke), an
    app method through its summary, or a framework source or sink by its model."""
    handled = sinks.method_invoke(c)
    if handled is not None:
        return handled
    args = c.args
    if c.ref.class_name != "Ljava/lang/reflect/Method;" or not args:
        return None
    targets = sorted({t[7:] for t in args[0].tags if t.startswith("method:")})
    if not targets:
        return None
    recv = args[1] if len(args) > 1 else Value()
    array = args[2] if len(args) > 2 else Value()
    params = [join_all(c.flow.elements(array, i)) for i in range(MAX_ARGS)]
    spread = array.labels
    out: list[Value] = []
    for t in targets:
        cls, name = t.split("->", 1)
        if c.flow.ctx.is_app_class(cls):
            out.append(c.flow.call_reflective(c.pos, c.insn, cls, name, recv, params))
            continue
        hit = personal.RETURNS.get((cls, name))
        if hit is not None:
            kind, what = hit
            step = c.step(HopRole.SOURCE, f"{what} (reflection: {cls[1:-1].rsplit('/', 1)[-1]}"
                          f".{name})")  # fmt: skip
            out.append(Value(frozenset({source(kind, step)}), c.result_objs))
        elif cls in containers.KEYED and len(params) > 1:  # intent.putExtra(key, value)
            ref = MethodRef(cls, name, "(Ljava/lang/String;Ljava/lang/Object;)Ljava/lang/Object;")
            put = Call(flow=c.flow, pos=c.pos, insn=c.insn, ref=ref, regs=[-1, -1, -1],
                       args=[recv, *params[:2]], state={})  # fmt: skip
            containers.model(cast(Frame, c.flow), put)
        elif cls == outputs.LOG and name in outputs.LOG_METHODS:
            labels = spread | frozenset().union(*(p.labels for p in params))
            if labels:
                c.sink(Sink.LOG, labels, c.step(HopRole.SINK, f"reflective Log.{name}"))
    return join_all(out) if out else Value(EMPTY, c.result_objs)


# ---------------------------------------------------------------------------- string folding


def fold_text(c: Call) -> Value | None:
    """substring/reverse/case/trim/replace on a known string: the result is known too (the
    names reflection looks up are often built this way)."""
    ref, args = c.ref, c.args
    if c.static or not args or ref.class_name not in (STRING, *BUILDERS):
        return None
    s = args[0].const
    if not isinstance(s, str):
        return None
    name = ref.name
    extra = [a.const for a in args[1:]]
    try:
        if name == "reverse" and ref.class_name in BUILDERS:
            out = s[::-1]
            c.set_receiver(Value(args[0].labels, args[0].objs, args[0].tags, out))
        elif ref.class_name != STRING:
            return None
        elif name == "substring" and extra and all(isinstance(x, int) for x in extra):
            ints = [x for x in extra if isinstance(x, int)]
            out = s[ints[0] : ints[1]] if len(ints) > 1 else s[ints[0] :]
        elif name in ("toUpperCase", "toLowerCase", "trim", "intern") and not extra:
            out = {"toUpperCase": s.upper(), "toLowerCase": s.lower(), "trim": s.strip()}.get(
                name, s
            )
        elif name == "replace" and all(isinstance(x, str) for x in extra) and len(extra) == 2:
            out = s.replace(str(extra[0]), str(extra[1]))
        else:
            return None
    except (IndexError, TypeError):
        return None
    labels = frozenset().union(*(a.labels for a in args))
    return Value(labels, args[0].objs if name == "reverse" else c.result_objs, args[0].tags, out)
