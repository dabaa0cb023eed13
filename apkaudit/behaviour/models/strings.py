"""Models of strings, collections and reflection: how values keep their meaning as they move.

StringBuilder/String keep known constants and prefixes (a URI or ``smsto:`` number assembled in
code); iterators and sizes mark loop conditions (a loop over a cursor, a list, a message's
parts); Class.forName/getMethod name the method a reflective invoke calls.
"""

from __future__ import annotations

from apkaudit.behaviour.apis import SMS_MANAGERS, TRANSFORMS
from apkaudit.behaviour.call import Call
from apkaudit.behaviour.kinds import HopRole
from apkaudit.behaviour.values import BLANK, EMPTY, Value, cap, extend_all, parts

BUILDERS = ("Ljava/lang/StringBuilder;", "Ljava/lang/StringBuffer;")
_TEXT_CLASSES = (*BUILDERS, "Ljava/lang/String;", "Landroid/net/Uri;")


def builder_init(c: Call) -> Value | None:
    """new StringBuilder(init): the builder starts with the constant, or unknown text."""
    args = c.args
    arg = args[1].const if len(args) > 1 else ""
    init = arg if isinstance(arg, str) else None
    recv = c.receiver()
    c.set_receiver(Value(recv.labels, recv.objs, recv.tags, init))
    if len(args) > 1:
        c.flow.taint_obj(recv.objs, args[1].labels)
    return BLANK


def append(c: Call) -> Value | None:
    args = c.args
    if c.ref.class_name not in BUILDERS or len(args) < 2:
        return None
    recv = c.receiver()
    a = args[1]
    const = None
    tags = recv.tags
    if isinstance(recv.const, str) and a.const is not None and len(recv.const) < 4096:
        const = recv.const + (a.const if isinstance(a.const, str) else str(a.const))
    elif isinstance(recv.const, str) and recv.const:
        tags = tags | {"prefix:" + recv.const[:64]}  # "smsto:" + number keeps its scheme
    c.flow.taint_obj(recv.objs, a.labels)
    new = Value(cap(recv.labels | a.labels), recv.objs, tags, const)
    c.set_receiver(new)
    return new


def to_string(c: Call) -> Value | None:
    ref, args = c.ref, c.args
    if not args or c.static:
        return None
    v = args[0]
    transform = TRANSFORMS.get((ref.class_name, ref.name))
    labels = v.labels
    if transform and labels:
        labels = extend_all(labels, c.step(HopRole.TRANSFORM, transform))
    if ref.class_name in _TEXT_CLASSES:
        keep = {t for t in v.tags if t.startswith(("uri", "prefix:"))}
        return Value(labels, c.result_objs, frozenset(keep), v.const)
    return Value(labels, c.result_objs)


def value_of(c: Call) -> Value | None:
    args = c.args
    if c.ref.class_name != "Ljava/lang/String;" or not args:
        return None
    const = args[0].const if isinstance(args[0].const, (str, int)) else None
    return Value(args[0].labels, c.result_objs, const=None if const is None else str(const))


def concat(c: Call) -> Value | None:
    args = c.args
    if c.ref.class_name != "Ljava/lang/String;" or len(args) < 2:
        return None
    a, b = args[0], args[1]
    const = a.const + b.const if isinstance(a.const, str) and isinstance(b.const, str) else None
    return Value(cap(a.labels | b.labels), c.result_objs, frozenset(), const)


def iterator(c: Call) -> Value | None:
    args = c.args
    if not args or c.static:
        return None
    return Value(args[0].labels, args[0].objs, args[0].tags & {"msg_parts"})


def has_next(c: Call) -> Value | None:
    args = c.args
    if not args:
        return None
    return Value(args[0].labels, tags=frozenset({"cond:iterator"}) | parts(args[0]))


def size(c: Call) -> Value | None:
    args = c.args
    if not args or c.static or len(args) != 1:
        return None
    if "cursor" in args[0].tags and c.ref.name == "getCount":
        return Value(args[0].labels, tags=frozenset({"bound"}))
    return Value(args[0].labels, tags=frozenset({"bound"}) | parts(args[0]))


def divide(c: Call) -> Value | None:
    """SmsManager.divideMessage: the parts of one message (a loop over them is no bulk send)."""
    if c.ref.class_name not in SMS_MANAGERS:
        return None
    args = c.args
    labels = args[1].labels if len(args) > 1 else EMPTY
    return Value(labels, c.result_objs, frozenset({"msg_parts"}))


def resource_text(c: Call) -> Value | None:
    """getString(R.string.x) / getText(R.string.x): the resource's text is a known constant
    (class and method names looked up by reflection are often kept there)."""
    ref, args = c.ref, c.args
    if c.static or len(args) != 2 or not ref.proto.startswith("(I)"):
        return None
    rid = args[1].const
    if not isinstance(rid, int) or isinstance(rid, bool):
        return None
    text = c.flow.ctx.resource_string(ref.class_name, ref.signature, rid)
    if text is None:
        return None
    return Value(tags=frozenset({"str"}), const=text)


def for_name(c: Call) -> Value | None:
    args = c.args
    if c.ref.class_name != "Ljava/lang/Class;" or not args or not isinstance(args[0].const, str):
        return None
    name = "L" + args[0].const.replace(".", "/") + ";"
    return Value(tags=frozenset({"class:" + name}), const=name)


def get_method(c: Call) -> Value | None:
    args = c.args
    if c.ref.class_name != "Ljava/lang/Class;" or len(args) < 2:
        return None
    method = args[1].const
    if not isinstance(method, str):
        return None
    classes = [t[6:] for t in args[0].tags if t.startswith("class:")]
    if not classes:
        return None
    return Value(tags=frozenset({f"method:{cls}->{method}" for cls in classes}))
