"""Whole-app flow: a bounded neighbourhood of methods, analysed to a fixpoint of summaries.

1. Seeds: methods that touch a watched source or sink (from the code index), JavaScript-bridge
   methods and network callbacks.
2. Neighbourhood: callers and callees to a bounded depth (3), resolved by class hierarchy, plus
   the framework's hidden edges (AsyncTask.execute -> doInBackground, Thread/Executor/Handler
   -> Runnable.run), plus the writers of app fields the selected methods read.
3. Fixpoint: every selected method is analysed with the current summaries and field store until
   neither changes (bounded rounds), then once more to collect sink events into chains.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from apkaudit.behaviour.apis import ASYNC_TASK, RUNNABLE_SINKS, cls_short
from apkaudit.behaviour.cfg import build_cfg
from apkaudit.behaviour.chains import build_chains
from apkaudit.behaviour.flow import MethodFlow, SinkEvent, Summary
from apkaudit.behaviour.neighbourhood import (
    callback_entries,
    callees_of,
    flow_seeds,
    js_methods,
    query_methods,
    select_methods,
)
from apkaudit.behaviour.program import Program
from apkaudit.behaviour.reachability import Hierarchy
from apkaudit.behaviour.values import BLANK, Hop, Label, Value
from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.reader import DexFile, MethodRef
from apkaudit.code.index import DexSet
from apkaudit.facts import AppFacts
from apkaudit.limits import Deadline
from apkaudit.model import Chain

MethodKey = tuple[str, str]
ACC_STATIC = 0x8
# SDKs whose internals we model at their API (sinks/sources) instead of analysing them: their
# internals only add fan-out (a socket.io emit reaches every listener) and cost.
OPAQUE_CATEGORIES = {"network", "platform"}
MAX_FANOUT = 12  # a virtual call with more possible targets is treated as an unknown call
MAX_ROUNDS = 6
# blocks x registers of one method: the size of its per-block register states. The largest in
# the real-APK corpus is 16,758 (an obfuscated anubis method); a crafted 40 KB APK reached 8e8,
# i.e. gigabytes. A method over the bound is not interpreted: a `limit` blind spot says so.
MAX_FLOW_COST = 500_000


@dataclass
class FlowResult:
    chains: tuple[Chain, ...]
    classified: dict[str, set[MethodKey]]  # provider -> methods with a query resolved to it
    queries: dict[tuple[str, str, str, int], str]  # query site -> provider
    query_uris: dict[tuple[str, str, str, int], str]  # query site -> URI text, when known
    analysed: int  # methods analysed
    complete: bool  # False when a bound cut the neighbourhood
    oversized: tuple[MethodKey, ...] = ()  # methods over MAX_FLOW_COST, not interpreted


@dataclass
class AppFlow:
    facts: AppFacts
    program: Program
    deadline: Deadline
    hier: Hierarchy
    summaries: dict[MethodKey, Summary] = field(default_factory=dict)
    fields: dict[str, Value] = field(default_factory=dict)
    uri_fields: dict[str, str] = field(default_factory=dict)
    retrofit: bool = False
    queries: dict[tuple[str, str, str, int], str] = field(default_factory=dict)
    query_uris: dict[tuple[str, str, str, int], str] = field(default_factory=dict)
    bridges: dict[str, tuple[set[str], Hop]] = field(default_factory=dict)
    entry_labels: dict[MethodKey, dict[int, frozenset[Label]]] = field(default_factory=dict)
    _targets: dict = field(default_factory=dict)
    _cfgs: dict = field(default_factory=dict)
    oversized: set[MethodKey] = field(default_factory=set)
    _app_class: dict = field(default_factory=dict)
    # Incremental fixpoint: what each method's last analysis depended on and produced.
    current: MethodKey | None = None
    deps: dict[MethodKey, tuple[set[MethodKey], set[str]]] = field(default_factory=dict)
    method_events: dict[MethodKey, dict[tuple, tuple[Label, SinkEvent, bool]]] = field(
        default_factory=dict
    )
    method_reflective: dict[MethodKey, list[tuple[Hop, ...]]] = field(default_factory=dict)

    @property
    def dex(self) -> DexSet:
        return self.program.dex

    # ------------------------------------------------------------------ FlowContext

    def is_app_class(self, name: str) -> bool:
        """Defined in the app and not an opaque library (see OPAQUE_CATEGORIES)."""
        hit = self._app_class.get(name)
        if hit is None:
            sdk = self.program.attributor.sdk_of(name) if name in self.dex.classes else None
            hit = name in self.dex.classes and not (sdk and sdk.category in OPAQUE_CATEGORIES)
            self._app_class[name] = hit
        return hit

    def is_unimplemented_interface(self, name: str) -> bool:
        hit = self.dex.classes.get(name)
        return bool(hit and hit[1].access & 0x200 and not self.hier.subs.get(name))

    def resolve(self, cls: str, sig: str) -> MethodKey | None:
        """The definition a call to cls.sig runs when the object's class is ``cls``."""
        if not self.is_app_class(cls):
            return None
        for c in (cls, *self.hier.ancestors(cls)):
            if self.dex.defined_method(c, sig) is not None:
                return (c, sig) if self.is_app_class(c) else None
        return None

    def targets(self, ref: MethodRef, op: int, args: list[Value]) -> list[MethodKey]:
        sig = ref.signature
        if op not in (0x71, 0x77, 0x70, 0x76, 0x6F, 0x75):  # virtual or interface
            allocated = {o[2] for o in (args[0].objs if args else ()) if o and o[0] == "new"}
            allocated &= self.dex.classes.keys()
            if allocated:  # the object's class is known: no need for the whole hierarchy
                return sorted({k for c in allocated if (k := self.resolve(c, sig))})
        ck = (ref.class_name, sig, op)
        if ck not in self._targets:
            self._targets[ck] = self._static_targets(ref.class_name, sig, op)
        return self._targets[ck]

    def _static_targets(self, cls: str, sig: str, op: int) -> list[MethodKey]:
        if op in (0x71, 0x77, 0x70, 0x76, 0x6F, 0x75):  # static, direct, super
            k = self.resolve(cls, sig)
            return [k] if k else []
        keys = {self.resolve(cls, sig)}  # class hierarchy analysis: every override below
        keys |= {
            (c, sig)
            for c in self.hier.descendants(cls)
            if self.is_app_class(c) and self.dex.defined_method(c, sig) is not None
        }
        found = sorted(k for k in keys if k)
        return found if len(found) <= MAX_FANOUT else []

    def callees(
        self, ref: MethodRef, op: int, args: list[Value]
    ) -> list[tuple[MethodKey, Summary]]:
        keys = [k for k in self.targets(ref, op, args) if k in self.summaries]
        self._depend(keys)
        return [(k, self.summaries[k]) for k in keys]

    def async_targets(self, ref: MethodRef, args: list[Value]):
        out = []
        for key, cargs in self._async_edges(ref, args):
            if key in self.summaries:
                out.append((key, self.summaries[key], cargs))
        self._depend([k for k, _, _ in out])
        return out

    def _depend(self, keys: list[MethodKey]) -> None:
        if self.current is not None and keys:
            self.deps[self.current][0].update(keys)

    def read_field(self, fdesc: str) -> Value:
        if self.current is not None:
            self.deps[self.current][1].add(fdesc)
        return self.fields.get(fdesc, BLANK)

    def _async_edges(
        self, ref: MethodRef, args: list[Value]
    ) -> list[tuple[MethodKey, list[Value]]]:
        name = ref.name
        out: list[tuple[MethodKey, list[Value]]] = []
        if name in ("execute", "executeOnExecutor") and args:
            params = (
                args[2]
                if name == "executeOnExecutor" and len(args) > 2
                else (args[1] if len(args) > 1 else BLANK)
            )
            for cls in self._classes_of(args[0], ref.class_name):
                if ASYNC_TASK in self.hier.ancestors(cls):
                    for key in self._named(cls, "doInBackground"):
                        out.append((key, [args[0], params]))
        runnable = None
        if name == "<init>" and ref.class_name == "Ljava/lang/Thread;":
            runnable = next((a for a in args[1:] if a.objs), None)
        elif name in RUNNABLE_SINKS and len(args) > RUNNABLE_SINKS[name]:
            runnable = args[RUNNABLE_SINKS[name]]
        if runnable is not None:
            for cls in self._classes_of(runnable, None):
                for sig in ("run()V", "call()Ljava/lang/Object;"):
                    k = self.resolve(cls, sig)
                    if k:
                        out.append((k, [runnable]))
        return out

    def _classes_of(self, v: Value, static_type: str | None) -> set[str]:
        classes = {o[2] for o in v.objs if o and o[0] == "new"} & set(self.dex.classes)
        if not classes and static_type and static_type in self.dex.classes:
            classes = {static_type}
        return classes

    def _named(self, cls: str, name: str) -> list[MethodKey]:
        hit = self.dex.classes.get(cls)
        if not hit:
            return []
        dex = hit[0]
        return [
            (cls, r.signature)
            for i, r in dex.methods_of(cls)
            if r.name == name and i in dex.defined_methods
        ]

    def record_event(self, label: Label, event: SinkEvent, assumed: bool) -> None:
        bucket = self.method_events.setdefault(self.current, {})
        key = (label.kind, label.path[:1], event.sink, event.path[-1:], event.in_loop)
        old = bucket.get(key)
        if old is None or _event_rank(old) > _event_rank((label, event, assumed)):
            bucket[key] = (label, event, assumed)

    @property
    def events(self) -> dict[tuple, tuple[Label, SinkEvent, bool]]:
        merged: dict[tuple, tuple[Label, SinkEvent, bool]] = {}
        for bucket in self.method_events.values():
            for key, ev in bucket.items():
                old = merged.get(key)
                if old is None or _event_rank(old) > _event_rank(ev):
                    merged[key] = ev
        return merged

    @property
    def reflective(self) -> list[tuple[Hop, ...]]:
        return [h for hs in self.method_reflective.values() for h in hs]

    def record_query(self, hop: Hop, provider: str, uri: str) -> None:
        self.queries[hop[:4]] = provider
        if uri:
            self.query_uris[hop[:4]] = uri

    def record_bridge(self, name: str, classes: set[str], hop: Hop) -> None:
        old = self.bridges.get(name)
        self.bridges[name] = ((old[0] if old else set()) | classes, hop)

    def record_reflective_send(self, hops: tuple[Hop, ...]) -> None:
        bucket = self.method_reflective.setdefault(self.current, [])
        if hops not in bucket:
            bucket.append(hops)

    # ------------------------------------------------------------------ analysis

    def analyse_method(self, key: MethodKey) -> Summary | None:
        found = self.dex.defined_method(*key)
        if found is None:
            return None
        dex, idx = found
        code = self.dex.code(dex, idx)
        if code is None:
            return None
        cfg = self._cfg(key, code)
        if len(cfg.blocks) * code.registers > MAX_FLOW_COST:
            self.oversized.add(key)
            return None
        ref = dex.method_ref(idx)
        static = bool(dex.defined_methods[idx].access & ACC_STATIC)
        flow = MethodFlow(
            self,
            key,
            dex,
            code,
            cfg,
            static,
            ref.param_types,
            entry_labels=self.entry_labels.get(key, {}),
        )
        self.current = key
        self.deps[key] = (set(), set())
        self.method_events.pop(key, None)
        self.method_reflective.pop(key, None)
        try:
            summary = flow.run()
            if key in self.js_methods:
                self._bridge_return(key, dex, code, summary)
        finally:
            self.current = None
        return summary

    def _cfg(self, key: MethodKey, code):
        cfg = self._cfgs.get(key)
        if cfg is None:
            cfg = self._cfgs[key] = build_cfg(code)
        return cfg

    def _bridge_return(self, key: MethodKey, dex: DexFile, code, summary: Summary) -> None:
        rets = [i for i in code.insns if i.op in O.RETURN_OPS]
        if not rets:
            return
        hop = (
            dex.name,
            key[0],
            key[1],
            rets[-1].offset,
            "sink",
            f"returned to JavaScript by {cls_short(key[0])}.{key[1].split('(')[0]}()",
        )
        for lb in summary.ret.labels:
            if lb.concrete and lb.kind != "network":
                self.record_event(lb, SinkEvent("js_bridge", (hop,), False, ""), lb.assumed)

    js_methods: frozenset[MethodKey] = frozenset()


def _event_rank(ev: tuple[Label, SinkEvent, bool]) -> tuple:
    """Lower is better: concrete before assumed, shorter path, then the path itself, so the event
    kept never depends on the (hash-seeded) order in which equal candidates were found."""
    label, event, assumed = ev
    return (assumed, len(label.path), label.path, event.path)


def _fixpoint(flow: AppFlow, methods: list[MethodKey], rounds: int) -> bool:
    """Analyse ``methods`` until summaries and fields are stable.

    Round one analyses every method; later rounds only those whose callees' summaries or read
    fields changed in the round before. Sink events are kept per method, so they stay final.
    """
    for k in methods:
        flow.summaries.setdefault(k, Summary())
    dirty = list(methods)
    for _ in range(rounds):
        before_s = {k: flow.summaries[k].signature() for k in methods}
        before_f = dict(flow.fields)
        for k in dirty:
            if flow.deadline.check("behaviour"):
                return False  # partial summaries; the audit adds a time_limit blind spot
            s = flow.analyse_method(k)
            if s is not None:
                flow.summaries[k] = s
        changed = {k for k in methods if flow.summaries[k].signature() != before_s[k]}
        changed_f = {f for f, v in flow.fields.items() if before_f.get(f) != v}
        if not changed and not changed_f:
            return True
        dirty = [
            k
            for k in methods
            if k in flow.deps and (flow.deps[k][0] & changed or flow.deps[k][1] & changed_f)
        ]
        if not dirty:
            return True
    return False


def analyse_flows(facts: AppFacts, program: Program, deadline: Deadline) -> FlowResult:
    hier = Hierarchy.of(program.dex)
    flow = AppFlow(facts, program, deadline, hier)
    cat = program.catalogue
    for item in cat.items:
        if item.kind != "field":
            continue
        for tag, provider in (
            ("contacts_uri", "contacts"),
            ("sms_uri", "sms"),
            ("call_log_uri", "call_log"),
            ("calendar_uri", "calendar"),
        ):
            if tag in item.tags:
                flow.uri_fields[f"{item.class_name}->{item.name}"] = provider
    flow.retrofit = bool(facts.refs_tagged("network")) and any(
        r.api_id == "net.retrofit2.Retrofit.create" for r in facts.code.refs
    )
    js = js_methods(facts, program.dex)
    flow.js_methods = frozenset(js)
    entries = callback_entries(flow)
    for key in js:
        found = program.dex.defined_method(*key)
        if found:
            dex, idx = found
            n = len(dex.method_ref(idx).param_types)
            hop = (
                dex.name,
                key[0],
                key[1],
                0,
                "source",
                "receives data from a web page (JavaScript bridge)",
            )
            entries.setdefault(key, {}).update(
                {i: frozenset({Label("network", path=(hop,))}) for i in range(1, n + 1)}
            )
    flow.entry_labels = entries
    # Phase 1: classify every provider query (its method and the helpers it calls for the Uri).
    queries = query_methods(facts)
    if queries:
        phase1 = sorted(queries | {c for k in queries for c in callees_of(flow, k)})
        _fixpoint(flow, phase1, rounds=2)
    data_sources = any(p in ("contacts", "sms", "call_log") for p in flow.queries.values())
    data_sources = data_sources or bool(facts.refs_tagged("sms_intercept")) or bool(js)
    # Phase 2: whole-app flow over a bounded neighbourhood, only if a flow is possible.
    seeds = flow_seeds(facts, data_sources)
    if seeds and data_sources:
        seeds |= js
    if seeds and facts.refs_tagged("sms_send", "sms_reflection"):
        seeds |= set(entries)
    complete = True
    methods: list[MethodKey] = []
    if seeds:
        methods, complete = select_methods(flow, seeds)
        complete = _fixpoint(flow, methods, rounds=MAX_ROUNDS) and complete
    chains = build_chains(flow)
    classified: dict[str, set[MethodKey]] = defaultdict(set)
    for (_dex, cls, meth, _off), provider in flow.queries.items():
        classified[provider].add((cls, meth))
    return FlowResult(
        chains,
        dict(classified),
        dict(flow.queries),
        dict(flow.query_uris),
        len(methods),
        complete,
        tuple(sorted(flow.oversized)),
    )
