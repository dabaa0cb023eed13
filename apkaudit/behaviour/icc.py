"""Inter-component communication: Intents sent to the app's own components.

At ``startService``/``startActivity``/``sendBroadcast``/``bindService`` (and their variants)
the Intent's target is resolved the way the platform does it for the app's own components:
explicitly (``new Intent(ctx, X.class)``, ``setClass``, ``setClassName``) or by action against
the manifest's intent filters and the receivers registered at run time
(``registerReceiver(r, new IntentFilter(ACTION))``). Each extra the Intent carries is written
to the ICC store under (target component, key); in the target, the Intent its entry methods
receive (``onStartCommand``, ``onHandleIntent``, ``onReceive``, ``onBind``, and ``getIntent()``
in an activity) reads that store, key by key. This is the IC3/IccTA design reduced to what
the app's own manifest and constants say (Octeau et al., ICSE 2015; Li et al., ICSE 2015).
"""

from __future__ import annotations

from apkaudit.behaviour import callsite, containers, delivered, elements, heap, saved_state
from apkaudit.behaviour.apis import cls_short
from apkaudit.behaviour.call import Call
from apkaudit.behaviour.containers import INTENT, INTENT_ACTION, INTENT_COMPONENT
from apkaudit.behaviour.context import Frame
from apkaudit.behaviour.kinds import HopRole
from apkaudit.behaviour.values import BLANK, EMPTY, Step, Value, cap, extend_all
from apkaudit.code.dex.reader import MethodRef
from apkaudit.model import ManifestFacts, java_to_descriptor

# call name -> the component kinds it starts
SENDS = {
    "startService": ("service",),
    "startForegroundService": ("service",),
    "bindService": ("service",),
    "startActivity": ("activity", "activity-alias"),
    "startActivityForResult": ("activity", "activity-alias"),
    "startActivityIfNeeded": ("activity", "activity-alias"),
    "startActivities": ("activity", "activity-alias"),
    "sendBroadcast": ("receiver",),
    "sendOrderedBroadcast": ("receiver",),
    "sendStickyBroadcast": ("receiver",),
    "sendBroadcastAsUser": ("receiver",),
    "sendBroadcastSync": ("receiver",),  # LocalBroadcastManager
}
# Entry methods whose Intent parameter (logical index) is the one a sender sent.
ENTRY_INTENTS = {
    "onStartCommand(Landroid/content/Intent;II)I": 1,
    "onStart(Landroid/content/Intent;I)V": 1,
    "onHandleIntent(Landroid/content/Intent;)V": 1,
    "onBind(Landroid/content/Intent;)Landroid/os/IBinder;": 1,
    "onRebind(Landroid/content/Intent;)V": 1,
    "onUnbind(Landroid/content/Intent;)Z": 1,
    "onReceive(Landroid/content/Context;Landroid/content/Intent;)V": 2,
    "onNewIntent(Landroid/content/Intent;)V": 1,
}
FILTER = "Landroid/content/IntentFilter;"
FILTER_ACTIONS = "Landroid/content/IntentFilter;->actions:Ljava/lang/String;"
COMPONENT = "Landroid/content/ComponentName;"
COMPONENT_CLASS = "Landroid/content/ComponentName;->class:Ljava/lang/String;"  # pseudo-field
CLASS = "Ljava/lang/Class;"
MESSAGE = "Landroid/os/Message;"
# Intent setters that return the Intent itself (``i.setClass(..).putExtra(..)`` is one Intent);
# the targets and extras they set are modelled in containers.py.
FLUENT = frozenset({
    "setClass", "setClassName", "setComponent", "setAction", "setPackage", "setFlags",
    "addFlags", "removeFlags", "addCategory", "removeCategory", "setType", "setTypeAndNormalize",
    "setDataAndType", "setIdentifier", "setSelector", "removeExtra",
})  # fmt: skip


# An ordered broadcast's result, handed from one receiver to the next (BroadcastReceiver.
# setResultData/setResult/setResultExtras -> getResultData/getResultExtras): one app-wide cell,
# as the receivers of one broadcast are not told apart.
ORDERED_RESULT = "icc:ordered-result"
RESULT_SETS = {
    "setResultData(Ljava/lang/String;)V": (1,),
    "setResult(ILjava/lang/String;Landroid/os/Bundle;)V": (2, 3),
    "setResultExtras(Landroid/os/Bundle;)V": (1,),
}
RESULT_GETS = frozenset({
    "getResultData()Ljava/lang/String;", "getResultExtras(Z)Landroid/os/Bundle;",
})  # fmt: skip
# Calls that hand data to another component (neighbourhood.component_sinks).
HANDS_ON = frozenset({*SENDS, *(k.split("(", 1)[0] for k in RESULT_SETS)})
ANY_ACTION = "*"  # components_for: any action a filter declares (the launcher's MAIN aside)
LAUNCHER = "android.intent.action.MAIN"


def store_key(component: str, key: str) -> str:
    return delivered.store_key(("intent", component), key)


def targets_by_action(manifest: ManifestFacts) -> dict[tuple[str, str], set[str]]:
    """(component kind, action) -> component classes whose manifest filters declare it."""
    out: dict[tuple[str, str], set[str]] = {}
    for c in manifest.components:
        kind = "activity" if c.kind == "activity-alias" else c.kind
        for f in c.intent_filters:
            for a in f.actions:
                out.setdefault((kind, a), set()).add(java_to_descriptor(c.name))
    return out


PICK_ACTIONS = ("android.intent.action.PICK", "android.intent.action.GET_CONTENT")
CONTACT_TYPES = ("vnd.android.cursor.dir/phone_v2", "vnd.android.cursor.dir/contact",
                 "vnd.android.cursor.item/phone_v2", "vnd.android.cursor.dir/person")  # fmt: skip
PICKED_CONTACT = "pick:contacts"  # pseudo-field: the app lets the user pick a contact
RESULT = "onActivityResult(IILandroid/content/Intent;)V"


_CLASSES = frozenset({INTENT, FILTER, COMPONENT})
_NAMES = frozenset({"getIntent", "registerReceiver", "getName", "obtain", *SENDS}) | {
    k.split("(", 1)[0] for k in (*RESULT_SETS, *RESULT_GETS)
}


def model(m: Frame, call: Call) -> Value | None:
    ref, insn, args = call.ref, call.insn, call.args
    name = ref.name
    if ref.class_name not in _CLASSES and name not in _NAMES:
        return elements.model(m, call)  # an Intent (or any object) kept in a collection
    if ref.class_name == INTENT and _picks_contact(ref, args):
        m.write_global(PICKED_CONTACT, Value(tags=frozenset({"picked"})))
        return None
    if ref.class_name in (COMPONENT, CLASS, MESSAGE):
        return _component_name(m, call)
    if not call.static and ref.signature in RESULT_SETS:
        labels = frozenset().union(
            *(args[i].labels for i in RESULT_SETS[ref.signature] if i < len(args))
        )
        if labels:
            step = m.step(insn, HopRole.CALL, f"hands its result to the next receiver ({name})")
            m.write_global(ORDERED_RESULT, Value(cap(extend_all(labels, step))))
        return BLANK
    if not call.static and ref.signature in RESULT_GETS:
        got = m.ctx.read_field(ORDERED_RESULT)
        return Value(got.labels, frozenset({("ret", insn.offset)}))
    if ref.class_name == INTENT and name in FLUENT and ref.return_type == INTENT and args:
        if name == "setComponent" and len(args) > 1:
            _set_component(m, args[0], args[1])
        else:
            containers.model(m, call)
        out = callsite.default(m, insn, ref, args, False)  # the data it is given, as any call
        return Value(out.labels, args[0].objs, out.tags)
    if ref.class_name == INTENT and name == "getData" and args:
        result = any(o[0] == "result" for o in args[0].objs)
        if result and "picked" in m.ctx.read_field(PICKED_CONTACT).tags:
            tags = frozenset({"uri", "uri:contacts", "picked"})
            return Value(args[0].labels, frozenset({("ret", insn.offset)}), tags)
        return None
    if name == "getIntent" and ref.return_type == INTENT and args:
        cls = _component_of(m, args[0], ref.class_name)
        if cls:
            return Value(objs=frozenset({("intent", cls), ("ret", insn.offset)}))
        return None
    if name == "<init>" and ref.class_name == FILTER and len(args) > 1:
        _filter_action(m, args[0], args[1])
        return None
    if name == "addAction" and ref.class_name == FILTER and len(args) > 1:
        _filter_action(m, args[0], args[1])
        return None
    if name == "registerReceiver" and len(args) > 2:
        actions = _actions(m, args[2])
        classes = {heap.class_of(o) for o in args[1].objs if heap.is_precise(o)}
        classes = {c for c in classes if m.ctx.is_app_class(c)}
        if classes:
            m.ctx.record_receiver(frozenset(actions) or frozenset({"*"}), frozenset(classes))
        return None
    kinds = SENDS.get(name)
    if kinds is None:
        return None
    idx = next((i for i, t in enumerate(ref.param_types, 1) if t == INTENT), None)
    if idx is None or idx >= len(args):
        return None
    intent = args[idx]
    targets = _targets(m, intent, kinds)
    for cls in sorted(targets):
        step = m.step(insn, HopRole.CALL, f"starts {cls_short(cls)} with this Intent ({name})")
        _send(m, intent, cls, step, call.pos)
    if not targets:
        heap.escape(m, intent.objs)
    return Value(objs=frozenset({("ret", insn.offset)})) if ref.return_type != "V" else Value()


def _component_name(m: Frame, call: Call) -> Value | None:
    """``new ComponentName(pkg or context, class name or Class)``, ``X.class.getName()`` (the
    component's name as a string) and ``Message.obtain(handler, what, arg1, arg2, obj)`` (the
    Message a Messenger carries holds its arguments)."""
    ref, args = call.ref, call.args
    if ref.class_name == CLASS:
        if ref.name != "getName" or not args:
            return None
        names = sorted(t[6:] for t in args[0].tags if t.startswith("class:"))
        if len(names) != 1 or not names[0].startswith("L"):
            return None
        return Value(tags=frozenset({"str"}), const=names[0][1:-1].replace("/", "."))
    if ref.class_name == MESSAGE:
        if ref.name != "obtain" or not call.static or not args:
            return None
        obj = frozenset({("new", call.insn.offset, MESSAGE)})
        labels = frozenset().union(*(a.labels for a in args[1:]))
        if labels:
            m.taint_obj(obj, labels)
        return Value(objs=obj)
    if ref.name != "<init>" or len(args) < 3:
        return None
    cls = args[2]
    tags = frozenset(t for t in cls.tags if t.startswith("class:"))
    if not tags and isinstance(cls.const, str):
        name = cls.const
        if name.startswith(".") and isinstance(args[1].const, str):
            name = args[1].const + name  # a name relative to the package
        tags = frozenset({"class:L" + name.replace(".", "/") + ";"})
    if tags:
        for o in args[0].objs:
            if heap.is_precise(o):
                old = m.heap.get(("f", o, COMPONENT_CLASS))
                new = Value(tags=(old.tags if old else frozenset()) | tags)
                if new != old:
                    m.heap[("f", o, COMPONENT_CLASS)] = new
                    m.heap_changed()
    return BLANK


def _set_component(m: Frame, intent: Value, component: Value) -> None:
    tags: frozenset[str] = frozenset()
    for o in component.objs:
        cell = m.heap.get(("f", o, COMPONENT_CLASS))
        if cell is not None:
            tags |= cell.tags
    if not tags:
        return
    for o in intent.objs:
        if heap.is_precise(o):
            old = m.heap.get(("f", o, INTENT_COMPONENT))
            new = Value(tags=(old.tags if old else frozenset()) | tags)
            if new != old:
                m.heap[("f", o, INTENT_COMPONENT)] = new
                m.heap_changed()


def _picks_contact(ref: MethodRef, args: list[Value]) -> bool:
    """``new Intent(ACTION_PICK, <contacts URI>)`` or ``setType(<contact MIME type>)``."""
    if (
        ref.name == "<init>"
        and len(args) > 2
        and ref.param_types[:2]
        == (
            "Ljava/lang/String;",
            "Landroid/net/Uri;",
        )
    ):
        return args[1].const in PICK_ACTIONS and "uri:contacts" in args[2].tags
    if ref.name in ("setType", "setDataAndType") and len(args) > 1:
        return args[-1].const in CONTACT_TYPES
    return False


def _component_of(m: Frame, recv: Value, static_type: str) -> str | None:
    if ("param", 0) in recv.objs and not m.is_static:
        return m.key[0]
    classes = {heap.class_of(o) for o in recv.objs if heap.is_precise(o)}
    if len(classes) == 1:
        return next(iter(classes))
    return static_type if m.ctx.is_app_class(static_type) else None


def _filter_action(m: Frame, flt: Value, action: Value) -> None:
    if isinstance(action.const, str):
        for o in flt.objs:
            if heap.is_precise(o):
                old = m.heap.get(("f", o, FILTER_ACTIONS), Value())
                new = Value(EMPTY, EMPTY, old.tags | {"action:" + action.const})
                if new != old:
                    m.heap[("f", o, FILTER_ACTIONS)] = new
                    m.heap_changed()


def _actions(m: Frame, flt: Value) -> set[str]:
    out: set[str] = set()
    for o in flt.objs:
        cell = m.heap.get(("f", o, FILTER_ACTIONS))
        if cell is not None:
            out |= {t[7:] for t in cell.tags if t.startswith("action:")}
    return out


def _targets(m: Frame, intent: Value, kinds: tuple[str, ...]) -> set[str]:
    out: set[str] = set()
    for o in intent.objs:
        comp = m.heap.get(("f", o, INTENT_COMPONENT))
        if comp is not None:
            out |= {
                t[6:] for t in comp.tags if t.startswith("class:") and m.ctx.is_app_class(t[6:])
            }
        act = m.heap.get(("f", o, INTENT_ACTION))
        if act is not None:
            actions = [t[7:] for t in act.tags if t.startswith("action:")]
            for a in actions:
                out |= m.ctx.components_for(kinds, a)
            if not actions and comp is None:
                # An implicit Intent whose action is not a constant (chosen at run time): the
                # platform delivers it only to components whose filters take an action, so
                # those of the app are its possible targets.
                out |= m.ctx.components_for(kinds, ANY_ACTION)
    return out


def _send(m: Frame, intent: Value, cls: str, step: Step, pos: int) -> None:
    """Write the Intent's extras to the ICC store of ``cls`` (started in a loop over the data:
    once per iteration)."""
    m.cells_read.update(intent.objs)
    for o in intent.objs:
        if heap.is_precise(o):
            for key, v in list(m.heap.items()):
                if len(key) == 3 and key[0] == "k" and key[1] == o and v.labels:
                    labels = extend_all(v.labels, step)
                    got = m.per_iteration(pos, Value(cap(labels)))
                    m.write_global(store_key(cls, f"k:{key[2]}"), got)
        elif heap.root(o) is None and o in m.heap and m.heap[o].labels:
            labels = extend_all(m.heap[o].labels, step)
            got = m.per_iteration(pos, Value(cap(labels)))
            m.write_global(store_key(cls, heap.ANY_KEY), got)


def component_classes(manifest: ManifestFacts) -> frozenset[str]:
    return frozenset(java_to_descriptor(c.name) for c in manifest.components)


def entry_objs(key: tuple[str, str], components: frozenset[str]) -> dict[int, frozenset]:
    """The Intent parameter of a component entry method stands for what senders sent it; the
    Intent of onActivityResult is the result of an activity the app started; the Bundle of
    onSaveInstanceState is the one onCreate/onRestoreInstanceState get back (saved_state.py)."""
    cls, sig = key
    if sig == RESULT:
        return {3: frozenset({("result", cls)})}
    i = ENTRY_INTENTS.get(sig)
    if i is not None and cls in components:
        return {i: frozenset({("intent", cls)})}
    return saved_state.entry_objs(key)
