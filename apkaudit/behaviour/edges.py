"""Framework hand-offs as data: a call the app makes, and the override the framework runs.

One table serves neighbourhood selection (which methods to analyse), the interpreter (how the
call's values reach the override's parameters, and the override's result the next callback)
and, through the rule that the framework calls the overrides of objects the app creates,
reachability. Each ``Edge`` says: a call named in ``calls`` whose declaring class is one of
``owner`` (or an app subclass of one) makes the framework run ``targets`` on the object in
call argument ``on`` (0 is the receiver; -1: whichever argument is an app object of ``base``;
None: any app subclass of ``base``); ``args`` maps the override's logical parameters (0 is
``this``) to call arguments (None: a value the framework makes); ``then`` names the callback
that receives the override's result as its argument 1 (AsyncTask: doInBackground's result is
onPostExecute's argument).

A hand-off whose override runs by itself (a task, a thread, a handler, a coroutine) is applied
at the call, so what the override sends sits in the caller's loop. Listeners the user triggers
(onClick) are not hand-offs: each click is one event, not an iteration of the caller's loop;
they are reached through the creation rule of reachability.py and read their data from fields.

Facts from the Android SDK reference (developer.android.com/reference: AsyncTask, Handler,
Message, Messenger, Executor, ExecutorService, ScheduledExecutorService, Timer, FutureTask,
LocationManager, Context.registerReceiver, androidx.lifecycle.LiveData) and the Kotlin
coroutines API (kotlinx.coroutines BuildersKt). Which families apps use was counted on
../shared/real-apks and ../shared/droidbench: AsyncTask, Handler/Message, Thread/Executor and
Timer in the malware and legit apps; LiveData and coroutines only inside androidx/kotlinx
(opaque platform SDKs); RxJava and WorkManager in none, so they have no rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from apkaudit.behaviour.reachability import Hierarchy

ANY = None  # an argument the framework provides, or no value


@dataclass(frozen=True, slots=True, kw_only=True)
class Edge:
    name: str  # stable id, e.g. "asynctask.execute"
    calls: frozenset[str]  # method names of the call
    owner: tuple[str, ...]  # classes declaring the call (the app may reference a subclass)
    on: int | None  # call argument holding the object whose override runs; None: any instance
    base: str  # the framework type the override belongs to
    targets: tuple[str, ...]  # override method names
    args: tuple[int | None, ...]  # target parameter i <- call argument args[i]
    then: str = ""  # callback receiving the target's result as argument 1
    desc: str = ""  # how the hop reads: "runs {target} in the background"

    @property
    def carries_data(self) -> bool:
        """Whether the override receives call arguments besides its own object (the
        AsyncTask's params, the Message, the LiveData value), or a result (``then``)."""
        return bool(self.then) or any(a not in (None, -1, self.on) for a in self.args[1:])

    def map(self, on: int | None) -> tuple[int | None, ...]:
        """The call argument for each parameter of the override (``-1``: the object's)."""
        return tuple(on if a == -1 else a for a in self.args)


_RUNNABLE = ("run",)
_HANDLER = "Landroid/os/Handler;"
_EXECUTORS = (
    "Ljava/util/concurrent/Executor;",
    "Ljava/util/concurrent/ExecutorService;",
    "Ljava/util/concurrent/ScheduledExecutorService;",
    "Ljava/util/concurrent/ThreadPoolExecutor;",
    "Ljava/util/concurrent/ScheduledThreadPoolExecutor;",
    "Ljava/util/concurrent/AbstractExecutorService;",
)

# The framework classes an app's own Context subclasses inherit Context's methods through.
_CONTEXTS = (
    "Landroid/content/Context;", "Landroid/content/ContextWrapper;",
    "Landroid/view/ContextThemeWrapper;", "Landroid/app/Activity;", "Landroid/app/Service;",
    "Landroid/app/IntentService;", "Landroid/app/Application;",
    "Landroidx/appcompat/app/AppCompatActivity;", "Landroidx/fragment/app/FragmentActivity;",
    "Landroidx/core/app/ComponentActivity;", "Landroidx/activity/ComponentActivity;",
    "Landroid/support/v7/app/AppCompatActivity;", "Landroid/support/v4/app/FragmentActivity;",
)  # fmt: skip

EDGES: tuple[Edge, ...] = (
    # AsyncTask: execute(params...) runs doInBackground(params) then onPostExecute(result);
    # publishProgress(values...) from doInBackground runs onProgressUpdate(values).
    Edge(name="asynctask.execute", calls=frozenset({"execute"}), owner=("Landroid/os/AsyncTask;",),
         on=0, base="Landroid/os/AsyncTask;", targets=("doInBackground",), args=(0, 1),
         then="onPostExecute", desc="runs {target} in the background (AsyncTask.execute)"),
    Edge(name="asynctask.executeOnExecutor", calls=frozenset({"executeOnExecutor"}),
         owner=("Landroid/os/AsyncTask;",), on=0, base="Landroid/os/AsyncTask;",
         targets=("doInBackground",), args=(0, 2), then="onPostExecute",
         desc="runs {target} in the background (AsyncTask.executeOnExecutor)"),
    Edge(name="asynctask.preexecute", calls=frozenset({"execute", "executeOnExecutor"}),
         owner=("Landroid/os/AsyncTask;",), on=0, base="Landroid/os/AsyncTask;",
         targets=("onPreExecute",), args=(0,), desc="runs {target} first (AsyncTask)"),
    Edge(name="asynctask.publishProgress", calls=frozenset({"publishProgress"}),
         owner=("Landroid/os/AsyncTask;",), on=0, base="Landroid/os/AsyncTask;",
         targets=("onProgressUpdate",), args=(0, 1),
         desc="hands the values to {target} (AsyncTask.publishProgress)"),
    # Handler / Message: the message reaches handleMessage of the handler it was sent to.
    Edge(name="handler.sendMessage",
         calls=frozenset({"sendMessage", "sendMessageDelayed", "sendMessageAtTime",
                          "sendMessageAtFrontOfQueue", "dispatchMessage"}),
         owner=(_HANDLER,), on=0, base=_HANDLER, targets=("handleMessage", "dispatchMessage"),
         args=(0, 1), desc="hands the message to {target} (Handler.{call})"),
    Edge(name="message.sendToTarget", calls=frozenset({"sendToTarget"}),
         owner=("Landroid/os/Message;",), on=None, base=_HANDLER,
         targets=("handleMessage",), args=(ANY, 0),
         desc="hands the message to {target} (Message.sendToTarget)"),
    Edge(name="messenger.send", calls=frozenset({"send"}), owner=("Landroid/os/Messenger;",),
         on=None, base=_HANDLER, targets=("handleMessage",), args=(ANY, 1),
         desc="hands the message to {target} (Messenger.send)"),
    # Runnables and Callables handed to a thread, a handler, a view, an executor or a timer.
    Edge(name="thread.init", calls=frozenset({"<init>"}), owner=("Ljava/lang/Thread;",),
         on=1, base="Ljava/lang/Runnable;", targets=_RUNNABLE, args=(1,),
         desc="runs {target} on a new thread"),
    Edge(name="thread.start", calls=frozenset({"start"}), owner=("Ljava/lang/Thread;",), on=0,
         base="Ljava/lang/Thread;", targets=_RUNNABLE, args=(0,),
         desc="runs {target} (Thread.start)"),
    Edge(name="handler.post",
         calls=frozenset({"post", "postDelayed", "postAtTime", "postAtFrontOfQueue"}),
         owner=(_HANDLER, "Landroid/view/View;"), on=1, base="Ljava/lang/Runnable;",
         targets=_RUNNABLE, args=(1,), desc="runs {target} later ({owner}.{call})"),
    Edge(name="activity.runOnUiThread", calls=frozenset({"runOnUiThread"}),
         owner=_CONTEXTS, on=1, base="Ljava/lang/Runnable;", targets=_RUNNABLE,
         args=(1,), desc="runs {target} on the UI thread"),
    Edge(name="executor.execute",
         calls=frozenset({"execute", "submit", "schedule", "scheduleAtFixedRate",
                          "scheduleWithFixedDelay", "invokeAll", "invokeAny"}),
         owner=_EXECUTORS, on=1, base="Ljava/lang/Runnable;", targets=("run", "call"),
         args=(1,), desc="runs {target} on an executor ({call})"),
    Edge(name="futuretask.init", calls=frozenset({"<init>"}),
         owner=("Ljava/util/concurrent/FutureTask;",), on=1,
         base="Ljava/util/concurrent/Callable;", targets=("call", "run"), args=(1,),
         desc="runs {target} as a FutureTask"),
    Edge(name="timer.schedule", calls=frozenset({"schedule", "scheduleAtFixedRate"}),
         owner=("Ljava/util/Timer;",), on=1, base="Ljava/util/TimerTask;", targets=_RUNNABLE,
         args=(1,), desc="runs {target} on a timer"),
    # Listeners: the framework calls them with values it makes (a View, a Location ...).
    Edge(name="location.updates", calls=frozenset({"requestLocationUpdates",
                                                   "requestSingleUpdate"}),
         owner=("Landroid/location/LocationManager;",), on=-1,  # the LocationListener argument
         base="Landroid/location/LocationListener;",
         targets=("onLocationChanged", "onStatusChanged", "onProviderEnabled",
                  "onProviderDisabled"),
         args=(-1,), desc="calls {target} with each location update"),
    # A receiver registered at run time gets the broadcasts its filter matches.
    Edge(name="context.registerReceiver", calls=frozenset({"registerReceiver"}), owner=_CONTEXTS,
         on=1, base="Landroid/content/BroadcastReceiver;", targets=("onReceive",),
         args=(1, ANY, ANY), desc="registers {target} for broadcasts"),
    # LiveData: setValue/postValue reach every registered Observer.onChanged(value).
    Edge(name="livedata.setValue", calls=frozenset({"setValue", "postValue"}),
         owner=("Landroidx/lifecycle/LiveData;", "Landroidx/lifecycle/MutableLiveData;",
                "Landroid/arch/lifecycle/LiveData;", "Landroid/arch/lifecycle/MutableLiveData;"),
         on=None, base="Landroidx/lifecycle/Observer;", targets=("onChanged",), args=(ANY, 1),
         desc="hands the value to {target} (LiveData.{call})"),
    # Kotlin coroutines: launch/async/withContext/runBlocking run the block's invokeSuspend.
    Edge(name="coroutine.builder", calls=frozenset({"launch", "async", "withContext",
                                                    "runBlocking", "launch$default",
                                                    "async$default"}),
         owner=("Lkotlinx/coroutines/BuildersKt;",
                "Lkotlinx/coroutines/BuildersKt__Builders_commonKt;",
                "Lkotlinx/coroutines/BuildersKt__BuildersKt;"),
         on=-1, base="Lkotlin/coroutines/jvm/internal/SuspendLambda;",
         targets=("invokeSuspend", "invoke"), args=(-1,), desc="runs the coroutine {target}"),
)  # fmt: skip

_BY_CALL: dict[str, tuple[Edge, ...]] = {}
for _e in EDGES:
    for _c in _e.calls:
        _BY_CALL[_c] = (*_BY_CALL.get(_c, ()), _e)


def edges_for(name: str) -> tuple[Edge, ...]:
    """The table rows a call named ``name`` may match (its owner is checked by the caller)."""
    return _BY_CALL.get(name, ())


def target_names() -> frozenset[str]:
    """The override names a hand-off passes data to (targets and result callbacks)."""
    return _TARGETS


# Overrides a hand-off passes data to (the AsyncTask's params and result, the Message, the
# LiveData value); an override that gets only its own object reads its data from fields. And
# a receiver registered at run time: where it is registered says what it receives (icc.py).
_TARGETS = frozenset(
    t
    for e in EDGES
    if e.carries_data or e.name == "context.registerReceiver"
    for t in (*e.targets, e.then)
    if t
)


# ---------------------------------------------------------------------------- resolution

MAX_EDGE_TARGETS = 12  # a hand-off with more possible overrides is not followed


class Classes(Protocol):
    """What resolving a hand-off needs to know about the app's classes."""

    hier: Hierarchy

    def is_app_class(self, name: str) -> bool: ...

    def methods_named(self, cls: str, name: str) -> list[tuple[str, str]]: ...


def _subclass(p: Classes, cls: str, base: str) -> bool:
    return cls == base or base in p.hier.ancestors(cls)


def _owner_ok(p: Classes, edge: Edge, owner: str) -> bool:
    if owner in edge.owner or any(o in p.hier.ancestors(owner) for o in edge.owner):
        return True
    # A Runnable handed to a library's executor or scheduler we do not list.
    return edge.base in _RUNNABLE_BASES and not p.is_app_class(owner)


_RUNNABLE_BASES = frozenset({"Ljava/lang/Runnable;", "Ljava/util/concurrent/Callable;"})


def _classes(p: Classes, objs, static: str | None, base: str) -> set[str]:
    """The app classes whose override runs: those allocated, else those the static type
    allows (the type's app subclasses; for a framework type, every app subclass of base)."""
    found = {o[2] for o in objs if o and o[0] == "new"}
    found = {c for c in found if p.is_app_class(c) and _subclass(p, c, base)}
    if found or not static:
        return found
    if p.is_app_class(static):
        top = static if _subclass(p, static, base) else None
    else:
        top = base if _subclass(p, base, static) or static == base else None
    if top is None:
        return set()
    return {c for c in (top, *p.hier.descendants(top)) if p.is_app_class(c)}


def _all_subclasses(p: Classes, base: str) -> set[str]:
    return {c for c in p.hier.descendants(base) if p.is_app_class(c)}


def resolve(p: Classes, owner: str, name: str, param_types: tuple[str, ...], objs_of):
    """The hand-offs of one call: (edge, target method, index of the object argument).

    ``objs_of(i)`` gives the abstract objects of call argument i (empty when unknown), so the
    same function serves the interpreter (objects known) and neighbourhood selection (only
    the classes allocated in the caller)."""
    out = []
    for edge in edges_for(name):
        if not _owner_ok(p, edge, owner):
            continue
        on = edge.on
        if on == -1:  # the argument that is an object of the listener type
            on = next(
                (
                    i
                    for i in range(1, len(param_types) + 1)
                    if _classes(p, objs_of(i), None, edge.base)
                ),
                None,
            )
            if on is None:
                continue
        if on is None:
            classes = _all_subclasses(p, edge.base)
        else:
            static = (
                owner if on == 0 else (param_types[on - 1] if on - 1 < len(param_types) else None)
            )
            classes = _classes(p, objs_of(on), static, edge.base)
        if len(classes) > MAX_EDGE_TARGETS:
            continue
        for cls in sorted(classes):
            for target in edge.targets:
                for key in p.methods_named(cls, target):
                    out.append((edge, key, on))
    return out
