"""Sinks where data stays on the phone or goes to another app: the system log, standard
output, and Intents another app receives (broadcasts, activities, services, results).

The log is a sink because DroidBench and FlowDroid treat it as one (any app could read the log
before Android 4.1, and bug reports and OEM tools still do); an Intent is a sink when no
component of the app itself is named by it, so the data leaves the app.
"""

from __future__ import annotations

from apkaudit.behaviour.apis import cls_short
from apkaudit.behaviour.call import Call
from apkaudit.behaviour.kinds import HopRole, Sink
from apkaudit.behaviour.values import EMPTY, Label, Value

LOG = "Landroid/util/Log;"
LOG_METHODS = frozenset({"v", "d", "i", "w", "e", "wtf", "println"})
STD_STREAMS = frozenset({"Ljava/lang/System;->out:Ljava/io/PrintStream;",
                         "Ljava/lang/System;->err:Ljava/io/PrintStream;"})  # fmt: skip
PRINTS = frozenset({"print", "println", "printf", "format", "append", "write"})

# Calls that hand an Intent to the system: (method name) -> index of the Intent argument.
INTENT_SENDS = {
    "sendBroadcast": 1,
    "sendOrderedBroadcast": 1,
    "sendStickyBroadcast": 1,
    "sendBroadcastAsUser": 1,
    "startActivity": 1,
    "startActivityForResult": 1,
    "startActivities": 1,
    "startService": 1,
    "startForegroundService": 1,
    "bindService": 1,
    "setResult": 2,
}
INTENT = "Landroid/content/Intent;"
# Tags an Intent value carries (set by its constructor / setters, see ``intent_target``).
EXPLICIT_APP = "intent:app"  # names a class of the app: the data stays inside the app
IMPLICIT = "intent:implicit"  # an action only: any app with a matching filter receives it
EXTERNAL = "intent:external"  # names another app's component
SMS_APP = "intent:sms"  # an smsto: Intent: reported as the sms_intent sink, not as ipc
VIEWER = "intent:view"  # ACTION_VIEW: another app shows the data to the user (a map, a page)
VIEW = "android.intent.action.VIEW"


def log(c: Call) -> Value | None:
    if c.ref.class_name != LOG or c.ref.name not in LOG_METHODS:
        return None
    labels = _labels(c.args)
    if labels:
        c.sink(
            Sink.LOG, labels, c.step(HopRole.SINK, f"writes to the system log (Log.{c.ref.name})")
        )
    return None  # default result handling (an int)


def std_print(c: Call) -> bool:
    """System.out/err.print*: to standard output, which Android sends to the log."""
    if c.static or not c.args or c.ref.name not in PRINTS:
        return False
    recv = c.args[0]
    if not any(o[0] == "field" and o[1] in STD_STREAMS for o in recv.objs):
        return False
    labels = _labels(c.args[1:])
    if labels:
        c.sink(Sink.LOG, labels, c.step(HopRole.SINK, "prints to standard output (the log)"))
    return True


def intent_target(c: Call, intent: Value) -> frozenset[str]:
    """Tags for an Intent built or retargeted by this call (constructor or setter)."""
    name, args = c.ref.name, c.args
    if name in ("<init>", "setData") and any("uri:smsto" in a.tags for a in args[1:]):
        return frozenset({SMS_APP})
    if name == "<init>" and len(args) > 2 and "Ljava/lang/Class;" in c.ref.proto:
        return _class_tags(c, args[-1])
    if name == "setClass" and len(args) > 2:
        return _class_tags(c, args[2])
    if name in ("setClassName", "setComponent", "setPackage") and len(args) > 1:
        pkg = args[1].const
        mine = c.flow.ctx.package_name
        if isinstance(pkg, str) and mine and not pkg.startswith(mine):
            return frozenset({EXTERNAL})
        return frozenset({EXPLICIT_APP})  # unknown or our own package: assume our own
    if name in ("<init>", "setAction") and len(args) > 1 and isinstance(args[1].const, str):
        action = args[1].const
        if action == VIEW:
            return frozenset({VIEWER})
        if c.flow.ctx.handles_action(action):
            return frozenset({EXPLICIT_APP})
        return frozenset({IMPLICIT, "action:" + action[:128]})
    return EMPTY


def _class_tags(c: Call, cls: Value) -> frozenset[str]:
    names = [t[6:] for t in cls.tags if t.startswith("class:")]
    if names and not any(c.flow.ctx.is_app_class(n) for n in names):
        return frozenset({EXTERNAL})
    return frozenset({EXPLICIT_APP})


def intent_send(c: Call) -> Value | None:
    """An Intent leaves for another app when nothing in it names the app itself."""
    i = INTENT_SENDS.get(c.ref.name)
    if i is None or c.static or len(c.args) <= i:
        return None
    intent = c.args[i]
    if intent.tags & {EXPLICIT_APP, SMS_APP, VIEWER} or not intent.labels:
        return None
    if not intent.tags & {IMPLICIT, EXTERNAL} and c.ref.name != "setResult":
        return None  # an Intent we know nothing about: the ICC model follows it
    what = "returns a result Intent" if c.ref.name == "setResult" else c.ref.name
    c.sink(
        Sink.IPC,
        intent.labels,
        c.step(HopRole.SINK, f"hands data to another app ({cls_short(c.ref.class_name)}.{what})"),
    )
    return None


PROCESS_BUILDER = "Ljava/lang/ProcessBuilder;"


def process_start(c: Call) -> Value | None:
    """Runtime.exec(command...) / ProcessBuilder.start(): the command line, and what it
    carries, goes to another program on the phone (the ipc sink: it leaves the app)."""
    cls, name = c.ref.class_name, c.ref.name
    if cls == PROCESS_BUILDER and name in ("<init>", "command") and len(c.args) > 1:
        c.flow.taint_obj(c.args[0].objs, _labels(c.args[1:]))  # the builder holds the command
        return None
    if (cls, name) == ("Ljava/lang/Runtime;", "exec") and not c.static:
        labels, what = _labels(c.args[1:]), "Runtime.exec"
    elif (cls, name) == (PROCESS_BUILDER, "start") and c.args:
        labels, what = c.args[0].labels, "ProcessBuilder.start"
    else:
        return None
    if labels:
        c.sink(Sink.IPC, labels, c.step(HopRole.SINK, f"passes it to a program it runs ({what})"))
    return None  # default result handling (the Process)


def _labels(values: list[Value]) -> frozenset[Label]:
    return frozenset().union(*(v.labels for v in values)) if values else EMPTY
