"""The bounded neighbourhood of methods the whole-app flow analysis looks at.

Seeds are methods where a flow can start or end (from the code index), JavaScript-bridge
methods and network callbacks; the neighbourhood adds callers and callees to a bounded depth,
the framework's hand-offs (edges.py: the overrides a call makes the framework run, and the
methods that create the objects of selected overrides), and the writers of app fields that
the selected methods read.
"""

from __future__ import annotations

from collections.abc import Iterable

from apkaudit.behaviour import edges, icc, saved_state
from apkaudit.behaviour.apis import KIND_SINK_TAGS, KIND_SOURCE_TAGS, STORE_TAGS, cls_short
from apkaudit.behaviour.kinds import HopRole, LabelKind
from apkaudit.behaviour.reachability import find_callers
from apkaudit.behaviour.resolve import Resolver
from apkaudit.behaviour.values import Label, StepCache, source
from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.reader import DexFile
from apkaudit.code.index import DexSet
from apkaudit.facts import AppFacts
from apkaudit.model import CodeRef, java_to_descriptor

MethodKey = tuple[str, str]
JS_INTERFACE = "Landroid/webkit/JavascriptInterface;"
SEED_TAGS = (
    "provider_query",
    "sms_send",
    "sms_reflection",
    "network",
    "network_send",
    "network_body",
    "js_bridge",
    "sms_intent_uri",
    "sms_intercept",
    "sms_divide",
    "contacts_uri",
    "sms_uri",
    "call_log_uri",
)
# Framework callbacks whose argument is data from the network: (interface/class, method, arg).
NETWORK_CALLBACKS = (
    ("Lcom/android/volley/Response$Listener;", "onResponse", 1),
    ("Lokhttp3/Callback;", "onResponse", 2),
    ("Lretrofit2/Callback;", "onResponse", 2),
    ("Lio/socket/emitter/Emitter$Listener;", "call", 1),
    ("Lcom/google/firebase/messaging/FirebaseMessagingService;", "onMessageReceived", 1),
)
MAX_METHODS = 1500
ACC_STATIC = 0x8
DEPTH = 3
MAX_HANDOFF_SCAN = 400  # methods read for a call that starts a component (component_sinks)


def _methods(refs: Iterable[CodeRef]) -> set[MethodKey]:
    return {(r.location.class_name, r.location.method) for r in refs}


def query_methods(facts: AppFacts) -> set[MethodKey]:
    return _methods(facts.refs_tagged("provider_query"))


def flow_seeds(
    facts: AppFacts,
    data_sources: bool,
    kind_sources: bool = False,
    called_by_name: Iterable[MethodKey] = (),
) -> set[MethodKey]:
    """Methods where a flow can start or end, given which sources the app has.

    Personal data (contacts/SMS/call log) only matters if it can reach a sink; network data only
    matters if the app sends SMS. No source or no matching sink: no flow analysis at all. When
    the only sources are the other data kinds (device identifiers, location, typed text...,
    ``kind_sources``), which most apps read somewhere, the sinks seed the neighbourhood only in
    the sources' own classes: every network, log and file call of a large app would otherwise.
    """
    sms_send = _methods(facts.refs_tagged("sms_send", "sms_reflection"))
    seeds: set[MethodKey] = set()
    if data_sources or kind_sources:
        sinks = sms_send | _methods(
            facts.refs_tagged("network_send", "network_body", "js_bridge", "sms_intent_uri")
        )
        local = facts.refs_tagged(*KIND_SINK_TAGS, *STORE_TAGS)
        if sinks or local:
            sources = query_methods(facts) | _methods(facts.refs_tagged("sms_intercept"))
            sources |= _methods(facts.refs_tagged(*KIND_SOURCE_TAGS)) | set(called_by_name)
            if data_sources:
                seeds |= sinks | sources | _near(sources, local)
            else:
                everything = facts.refs_tagged(
                    "network_send", "network_body", "js_bridge", "sms_intent_uri", "sms_send",
                    *KIND_SINK_TAGS, *STORE_TAGS,
                )  # fmt: skip
                seeds |= sources | _near(sources, everything)
    if sms_send:
        seeds |= sms_send | _methods(facts.refs_tagged("network"))
    return seeds


def component_sinks(calls: Resolver, facts: AppFacts, seeds: set[MethodKey]) -> set[MethodKey]:
    """When a seed starts a component (startActivity, startService, sendBroadcast...) or hands
    an ordered broadcast's result on (setResultData), the sinks in the app's components: what
    they do with the data is followed by the ICC model (icc.py) once they are in the
    neighbourhood. Calls on the app's own Activity class are not catalogue references, so the
    code of the seeds and of the app methods they call (reflective calls included) is read for
    them."""
    starts = False
    near = set(seeds)
    for key in sorted(seeds):
        near |= callees_of(calls, key)
        if len(near) > MAX_HANDOFF_SCAN:
            break
    for key in sorted(near):
        found = calls.dex.defined_method(*key)
        if found is None:
            continue
        dex, idx = found
        code = calls.dex.code(dex, idx)
        for insn in code.insns if code else ():
            if insn.op in O.INVOKE_OPS and dex.method_ref(insn.idx).name in icc.HANDS_ON:
                starts = True
                break
        if starts:
            break
    if not starts:
        return set()
    classes = {(java_to_descriptor(c.name), "") for c in facts.manifest.components}
    refs = facts.refs_tagged(
        "network_send", "network_body", "js_bridge", "sms_send", *KIND_SINK_TAGS, *STORE_TAGS
    )
    return _near(classes, refs)


def _near(sources: set[MethodKey], refs: Iterable[CodeRef]) -> set[MethodKey]:
    """The methods of ``refs`` in the classes (outer classes included) that hold a source: the
    log, file, Intent and store calls a source's data can reach through the class's fields and
    callbacks. Elsewhere they are found only if the neighbourhood of the sources reaches them;
    every app logs and writes files, so seeding all of them would grow the neighbourhood to
    its bound on large apps."""
    outer = {cls.split("$", 1)[0] for cls, _ in sources}
    return {m for m in _methods(refs) if m[0].split("$", 1)[0] in outer}


def js_methods(facts: AppFacts, dexset: DexSet) -> set[MethodKey]:
    if not facts.refs_tagged("js_bridge"):
        return set()
    out = set()
    for dex in dexset.files:
        for name, cdef in dex.classes.items():
            if not cdef.annotations_off or name in dex.shadowed:
                continue
            for midx, types in dex.method_annotations(cdef).items():
                if JS_INTERFACE in types:
                    out.add((name, dex.method_ref(midx).signature))
    return out


def callback_entries(
    calls: Resolver, steps: StepCache
) -> dict[MethodKey, dict[int, frozenset[Label]]]:
    """The network callbacks the app implements, and the argument that is network data."""
    out: dict[MethodKey, dict[int, frozenset[Label]]] = {}
    wanted = {iface for iface, _, _ in NETWORK_CALLBACKS}
    for cls in calls.dex.classes:
        anc = set(calls.hier.ancestors(cls))
        if not anc & wanted:
            continue
        for iface, name, arg in NETWORK_CALLBACKS:
            if iface not in anc:
                continue
            for key in calls.named(cls, name):
                step = steps.get(
                    calls.dex.classes[cls][0].name,
                    key[0],
                    key[1],
                    0,
                    HopRole.SOURCE,
                    f"receives data from the network ({cls_short(iface)}.{name})",
                )
                out.setdefault(key, {})[arg] = frozenset({source(LabelKind.NETWORK, step)})
    return out


def callees_of(calls: Resolver, key: MethodKey, edges_only: bool = False) -> set[MethodKey]:
    """The app methods ``key`` may call, and the overrides its hand-offs run (only those
    with ``edges_only``)."""
    found = calls.dex.defined_method(*key)
    if found is None:
        return set()
    dex, idx = found
    code = calls.dex.code(dex, idx)
    if code is None:
        return set()
    # Resolved reflective calls (reflection.py) are call edges too.
    out: set[MethodKey] = {k for k in calls.extra.get(key, ()) if calls.is_app_class(k[0])}
    allocated = frozenset(
        ("new", 0, dex.type_name(i.idx))
        for i in code.insns
        if i.op == O.NEW_INSTANCE and i.idx is not None  # format 21c: always set
    )
    for insn in code.insns:
        if insn.op not in O.INVOKE_OPS:
            continue
        ref = dex.method_ref(insn.idx)
        if not edges_only and calls.is_app_class(ref.class_name):
            out.update(calls.targets(ref, insn.op, []))
        if edges.edges_for(ref.name):  # framework hand-offs: the overrides they run
            found = edges.resolve(
                calls, ref.class_name, ref.name, ref.param_types, lambda _i: allocated
            )
            for edge, key, _on in found:
                # An override that gets only its own object (a Runnable's run) is selected
                # when it reads or sends data itself (a seed); one the call hands data to is
                # selected here.
                if edge.carries_data:
                    out.add(key)
                if edge.then:
                    out.update(calls.methods_named(key[0], edge.then))
    return out


def _field_writers(calls: Resolver, methods: set[MethodKey]) -> set[MethodKey]:
    """Methods that write the app fields read by ``methods``."""
    read: set[str] = set()
    for key in methods:
        found = calls.dex.defined_method(*key)
        if not found:
            continue
        dex, idx = found
        code = calls.dex.code(dex, idx)
        for insn in code.insns if code else ():
            if insn.op in O.IGET_OPS or insn.op in O.SGET_OPS:
                f = dex.field_ref(insn.idx)
                if f.class_name in calls.dex.classes:
                    read.add(calls.field(f.descriptor))
    out: set[MethodKey] = set()
    if not read:
        return out
    for dex in calls.dex.files:
        ids = _field_ids(calls, dex, read)
        if not ids:
            continue
        for midx in dex.find_refs(fields=ids):
            code = calls.dex.code(dex, midx)
            if code and any(
                (i.op in O.IPUT_OPS or i.op in O.SPUT_OPS) and i.idx in ids for i in code.insns
            ):
                out.add((dex.method_ref(midx).class_name, dex.method_ref(midx).signature))
    return out


def _field_ids(calls: Resolver, dex: DexFile, fields: set[str]) -> set[int]:
    """The ids in ``dex`` of references to ``fields`` (declaring-class descriptors,
    Resolver.field): through the declaring class or any app subclass that inherits them."""
    out: set[int] = set()
    for fdesc in fields:
        cls = fdesc.split("->", 1)[0]
        for c in (cls, *calls.hier.descendants(cls)):
            out.update(i for i, fr in dex.fields_of(c) if calls.field(fr.descriptor) == fdesc)
    return out


def _handoff_creators(calls: Resolver, methods: set[MethodKey]) -> set[MethodKey]:
    """For selected overrides the framework runs after a hand-off (doInBackground, run,
    handleMessage, onReceive ...), the methods that create their objects: the hand-off is made
    where the task, runnable or handler is built (the rule reachability uses too)."""
    targets = edges.target_names()
    classes = {cls for cls, sig in methods if sig.split("(")[0] in targets}
    refs = {(c, sig) for c in classes for sig in calls.dex.constructors(c)}
    found = find_callers(calls.dex, refs) if refs else {}
    return {caller for callers in found.values() for caller in callers}


def _field_readers(calls: Resolver, methods: set[MethodKey]) -> set[MethodKey]:
    """Methods that read the app fields written by ``methods`` (a source's data stored in a
    field, used by another class later)."""
    written: set[str] = set()
    for key in methods:
        found = calls.dex.defined_method(*key)
        if found is None:
            continue
        dex, idx = found
        code = calls.dex.code(dex, idx)
        for insn in code.insns if code else ():
            if insn.op in O.IPUT_OPS or insn.op in O.SPUT_OPS:
                f = dex.field_ref(insn.idx)
                if f.class_name in calls.dex.classes:
                    written.add(calls.field(f.descriptor))
    out: set[MethodKey] = set()
    for dex in calls.dex.files if written else ():
        ids = _field_ids(calls, dex, written)
        for midx in dex.find_refs(fields=ids) if ids else ():
            code = calls.dex.code(dex, midx)
            if code and any(
                (i.op in O.IGET_OPS or i.op in O.SGET_OPS) and i.idx in ids for i in code.insns
            ):
                out.add((dex.method_ref(midx).class_name, dex.method_ref(midx).signature))
    return out


def select_methods(
    calls: Resolver,
    seeds: set[MethodKey],
    *,
    readers: bool = False,
    stores: frozenset[MethodKey] = frozenset(),
) -> tuple[list[MethodKey], bool]:
    """The neighbourhood of ``seeds``. ``readers``: also the methods that read the fields the
    neighbourhood writes, and the store methods (``stores``) once one of them is selected
    (data staged in a file, preferences or a database and read back elsewhere)."""

    def keep(keys: set[MethodKey]) -> set[MethodKey]:
        return {k for k in keys if calls.is_app_class(k[0]) and calls.dex.defined_method(*k)}

    selected: set[MethodKey] = keep(seeds)
    complete = True
    frontier = set(selected)
    nxt: set[MethodKey]
    for _ in range(DEPTH):  # callers
        if not frontier or len(selected) >= MAX_METHODS:
            break
        found = find_callers(calls.dex, _call_refs(calls, frontier))
        nxt = keep({c for callers in found.values() for c in callers}) - selected
        selected |= nxt
        frontier = nxt
    frontier = set(selected)
    for _ in range(DEPTH):  # callees
        if not frontier or len(selected) >= MAX_METHODS:
            break
        nxt = set()
        for k in frontier:
            nxt |= callees_of(calls, k)
        nxt = keep(nxt) - selected
        selected |= nxt
        frontier = nxt
    creators = keep(_handoff_creators(calls, selected)) - selected
    selected |= creators
    for k in creators:  # the objects they build (constructors) and hand off (edge targets)
        selected |= keep({c for c in callees_of(calls, k) if c[1].startswith("<init>")})
        selected |= keep(callees_of(calls, k, edges_only=True))
    for k in keep(saved_state.partners(selected)):  # the two ends of an activity's saved state
        selected |= {k} | keep(callees_of(calls, k))
    writers = keep(_field_writers(calls, selected)) - selected
    selected |= writers
    for k in writers:
        selected |= keep(callees_of(calls, k))
    if readers and len(selected) < MAX_METHODS:
        linked = keep(_field_readers(calls, selected))
        if stores & selected:
            linked |= keep(set(stores))
        for k in linked - selected:
            selected |= {k} | keep(callees_of(calls, k))
    if len(selected) > MAX_METHODS:
        complete = False
        ordered = sorted(seeds & selected) + sorted(selected - seeds)
        selected = set(ordered[:MAX_METHODS])
    return _callee_first(calls, selected), complete


def _call_refs(calls: Resolver, methods: set[MethodKey]) -> set[MethodKey]:
    """The method references a call to one of ``methods`` can name: its own, and for a virtual
    method also the same signature on the app classes above it (``Base.foo()`` called on an
    object that is a ``Sub``, often created by reflection or a factory) and on the app classes
    below it that inherit it without overriding (``Sub.foo()`` running ``Base.foo``)."""
    out = set(methods)
    for cls, sig in methods:
        if sig.startswith("<") or _is_static(calls, cls, sig):
            continue
        for c in calls.hier.ancestors(cls, limit=8):
            if calls.is_app_class(c):
                out.add((c, sig))
        for c in calls.hier.descendants(cls, limit=16):
            if calls.resolve(c, sig) == (cls, sig):
                out.add((c, sig))
    return out


def _is_static(calls: Resolver, cls: str, sig: str) -> bool:
    found = calls.dex.defined_method(cls, sig)
    return found is not None and bool(found[0].defined_methods[found[1]].access & ACC_STATIC)


def _callee_first(calls: Resolver, methods: set[MethodKey]) -> list[MethodKey]:
    """Order methods so callees come before callers (fewer fixpoint rounds)."""
    order: list[MethodKey] = []
    seen: set[MethodKey] = set()
    for root in sorted(methods):
        stack = [(root, False)]
        while stack:
            k, done = stack.pop()
            if done:
                order.append(k)
                continue
            if k in seen:
                continue
            seen.add(k)
            stack.append((k, True))
            stack.extend(
                (c, False) for c in sorted(callees_of(calls, k) & methods) if c not in seen
            )
    return order
