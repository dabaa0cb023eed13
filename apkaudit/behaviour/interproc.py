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
from collections.abc import Callable
from dataclasses import dataclass, field

from apkaudit.behaviour import edges, icc, resources
from apkaudit.behaviour.apis import KIND_SOURCE_TAGS, STORE_TAGS, cls_short
from apkaudit.behaviour.cfg import CFG, build_cfg
from apkaudit.behaviour.chains import build_chains
from apkaudit.behaviour.context import Handoff, SinkEvent, Summary
from apkaudit.behaviour.emulate import Emulator, emulator_for
from apkaudit.behaviour.feasible import Feasibility
from apkaudit.behaviour.fixpoint import Clock, fixpoint
from apkaudit.behaviour.flow import MethodFlow
from apkaudit.behaviour.kinds import HopRole, Provider, Sink
from apkaudit.behaviour.neighbourhood import (
    callback_entries,
    callees_of,
    component_sinks,
    flow_seeds,
    js_methods,
    query_methods,
    select_methods,
)
from apkaudit.behaviour.program import Program
from apkaudit.behaviour.reachability import Hierarchy
from apkaudit.behaviour.receivers import handled_actions
from apkaudit.behaviour.reflect_seeds import reflective_invokers
from apkaudit.behaviour.reflection import ReflectionFacts
from apkaudit.behaviour.resolve import Resolver
from apkaudit.behaviour.values import (
    BLANK,
    PERSONAL,
    Label,
    LabelKind,
    Step,
    StepCache,
    Value,
    one_app,
    source,
)
from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.reader import Code, DexFile, MethodRef
from apkaudit.facts import AppFacts
from apkaudit.limits import Deadline
from apkaudit.model import Chain

MethodKey = tuple[str, str]
Site = tuple[str, str, str, int]
# The providers of the v1 verdicts: their data gets the whole-app neighbourhood (flow_seeds).
V1_PERSONAL = frozenset({Provider.CONTACTS, Provider.SMS, Provider.CALL_LOG})
EventKey = tuple[object, ...]
Event = tuple[Label, SinkEvent, bool]  # the label, where it reached a sink, assumed
ACC_STATIC = 0x8
MAX_ROUNDS = 6
# blocks x registers of one method: the size of its per-block register states. The largest in
# the real-APK corpus is 16,758 (an obfuscated anubis method); a crafted 40 KB APK reached 8e8,
# i.e. gigabytes. A method over the bound is not interpreted: a `limit` blind spot says so.
MAX_FLOW_COST = 500_000


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowResult:
    chains: tuple[Chain, ...]
    classified: dict[Provider, set[MethodKey]]  # provider -> methods with a query resolved to it
    queries: dict[Site, Provider]  # query site -> provider
    query_uris: dict[Site, str]  # query site -> URI text, when known
    complete: bool  # False when a bound cut the neighbourhood
    oversized: tuple[MethodKey, ...] = ()  # methods over MAX_FLOW_COST, not interpreted
    receivers: dict[str, frozenset[str]] = field(default_factory=dict)  # action -> registered


@dataclass
class AppFlow:
    """The whole-app state of the fixpoint; the ``FlowContext`` of every ``MethodFlow``."""

    facts: AppFacts
    program: Program
    deadline: Deadline
    resolver: Resolver
    summaries: dict[MethodKey, Summary] = field(default_factory=dict)
    fields: dict[str, Value] = field(default_factory=dict)
    uri_fields: dict[str, Provider] = field(default_factory=dict)
    retrofit: bool = False
    steps: StepCache = field(default_factory=StepCache)
    queries: dict[Site, Provider] = field(default_factory=dict)
    query_uris: dict[Site, str] = field(default_factory=dict)
    bridges: dict[str, tuple[set[str], Step]] = field(default_factory=dict)
    entry_labels: dict[MethodKey, dict[int, frozenset[Label]]] = field(default_factory=dict)
    js_methods: frozenset[MethodKey] = frozenset()
    filters: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # icc.py
    components: frozenset[str] = frozenset()
    dynamic_receivers: dict[str, set[str]] = field(default_factory=dict)
    _cfgs: dict[MethodKey, CFG] = field(default_factory=dict)
    _feasibility: Feasibility | None = None  # dead branches (feasible.py)
    _actions: frozenset[str] | None = None
    _emulator: Emulator | None = None
    _strings: Callable[[int], str | None] | None = None  # resource_string
    oversized: set[MethodKey] = field(default_factory=set)
    # Incremental fixpoint (fixpoint.py): what each method's last analysis depended on and
    # produced, and when each analysis started and each summary and field last changed.
    current: MethodKey | None = None
    deps: dict[MethodKey, tuple[set[MethodKey], set[str]]] = field(default_factory=dict)
    clock: Clock = field(default_factory=Clock)
    method_events: dict[MethodKey, dict[EventKey, Event]] = field(default_factory=dict)
    method_reflective: dict[MethodKey, list[tuple[Step, ...]]] = field(default_factory=dict)

    # ------------------------------------------------------------------ FlowContext

    def is_app_class(self, name: str) -> bool:
        return self.resolver.is_app_class(name)

    @property
    def package_name(self) -> str:
        return self.facts.manifest.identity.package

    def fold_string(self, ref: MethodRef, args: tuple[str | int, ...]) -> str | None:
        if not self.is_app_class(ref.class_name):
            return None
        if self._emulator is None:
            self._emulator = emulator_for(self.program.dex)
        return self._emulator.fold(ref.class_name, ref.signature, args)

    def resource_string(self, cls: str, sig: str, rid: int) -> str | None:
        if self._strings is None:
            self._strings = resources.reader(self.program)
        return self._strings(rid) if resources.is_read(self.resolver, cls, sig) else None

    def reflective_targets(self, cls: str, name: str) -> list[tuple[MethodRef, bool]]:
        return self.resolver.named_up(cls, name)

    def handles_action(self, action: str) -> bool:
        if self._actions is None:
            self._actions = handled_actions(self.facts.manifest, self.program.dex)
        return action in self._actions

    def is_unimplemented_interface(self, name: str) -> bool:
        return self.resolver.is_unimplemented_interface(name)

    def callees(
        self, ref: MethodRef, op: int, args: list[Value]
    ) -> list[tuple[MethodKey, Summary]]:
        keys = [k for k in self.resolver.targets(ref, op, args) if k in self.summaries]
        self._depend(keys)
        return [(k, self.summaries[k]) for k in keys]

    def handoffs(self, ref: MethodRef, args: list[Value]) -> list[Handoff]:
        """The framework hand-offs of this call (edges.py), with the override's arguments."""
        if not edges.edges_for(ref.name):
            return []
        found = edges.resolve(
            self.resolver,
            ref.class_name,
            ref.name,
            ref.param_types,
            lambda i: args[i].objs if i < len(args) else frozenset(),
        )
        out = []
        for edge, key, on in found:
            summ = self.summaries.get(key)
            if summ is None:
                continue
            cargs = [args[j] if j is not None and j < len(args) else BLANK for j in edge.map(on)]
            then: list[tuple[MethodKey, Summary, str]] = []
            for k2 in self.resolver.methods_named(key[0], edge.then) if edge.then else ():
                if k2 in self.summaries:
                    then.append((k2, self.summaries[k2], f"hands the result to {_short(k2)}"))
            desc = edge.desc.format(
                target=_short(key), call=ref.name, owner=cls_short(ref.class_name)
            )
            out.append(Handoff(key, summ, cargs, desc, tuple(then)))
        self._depend([h.key for h in out] + [k for h in out for k, _, _ in h.then])
        return out

    def record_receiver(self, actions: frozenset[str], classes: frozenset[str]) -> None:
        for a in actions:
            self.dynamic_receivers.setdefault(a, set()).update(classes)

    def components_for(self, kinds: tuple[str, ...], action: str) -> set[str]:
        """The app's components of ``kinds`` whose filters (manifest or registered at run
        time) take ``action``."""
        out: set[str] = set()
        if action == icc.ANY_ACTION:
            # An action not known: the filters whose action the app's code names as a string
            # (the launcher's MAIN aside); one it never names would come from elsewhere.
            wanted = {"activity" if k == "activity-alias" else k for k in kinds}
            for (kind, a), classes in self.filters.items():
                if kind in wanted and a != icc.LAUNCHER and self._names(a):
                    out |= classes
            if "receiver" in kinds:
                out |= set().union(*self.dynamic_receivers.values())
            return out
        for k in kinds:
            out |= self.filters.get(("activity" if k == "activity-alias" else k, action), set())
        if "receiver" in kinds:
            out |= self.dynamic_receivers.get(action, set())
        return out

    def _names(self, s: str) -> bool:
        return any(dex.find_string(s) is not None for dex in self.program.dex.files)

    def _depend(self, keys: list[MethodKey]) -> None:
        if self.current is not None and keys:
            self.deps[self.current][0].update(keys)

    def field_key(self, fdesc: str) -> str:
        return self.resolver.field(fdesc)

    def read_field(self, fdesc: str) -> Value:
        if self.current is not None:
            self.deps[self.current][1].add(fdesc)
        return self.fields.get(fdesc, BLANK)

    def write_field(self, fdesc: str, v: Value) -> None:
        self.fields[fdesc] = v
        self.clock.field_changed[fdesc] = self.clock.tick

    def _current(self) -> MethodKey:
        assert self.current is not None, "recorded outside a method analysis"
        return self.current

    def record_event(self, label: Label, event: SinkEvent, assumed: bool) -> None:
        bucket = self.method_events.setdefault(self._current(), {})
        key = (label.kind, label.path[:1], event.sink, event.path[-1:], event.in_loop)
        old = bucket.get(key)
        if old is None or _event_rank(old) > _event_rank((label, event, assumed)):
            bucket[key] = (label, event, assumed)

    def events(self) -> list[Event]:
        """The best event per (source, first step, sink, last step, loop) over all methods."""
        merged: dict[EventKey, Event] = {}
        for bucket in self.method_events.values():
            for key, ev in bucket.items():
                old = merged.get(key)
                if old is None or _event_rank(old) > _event_rank(ev):
                    merged[key] = ev
        return list(merged.values())

    def reflective(self) -> list[tuple[Step, ...]]:
        return [h for hs in self.method_reflective.values() for h in hs]

    def record_query(self, step: Step, provider: Provider, uri: str) -> None:
        self.queries[step.site] = provider
        if uri:
            self.query_uris[step.site] = uri

    def record_bridge(self, name: str, classes: set[str], step: Step) -> None:
        old = self.bridges.get(name)
        self.bridges[name] = ((old[0] if old else set()) | classes, step)

    def record_reflective_send(self, steps: tuple[Step, ...]) -> None:
        bucket = self.method_reflective.setdefault(self._current(), [])
        if steps not in bucket:
            bucket.append(steps)

    # ------------------------------------------------------------------ analysis

    def analyse_method(self, key: MethodKey) -> Summary | None:
        dexset = self.program.dex
        found = dexset.defined_method(*key)
        if found is None:
            return None
        dex, idx = found
        code = dexset.code(dex, idx)
        if code is None:
            return None
        cfg = self._cfg(key, code)
        if len(cfg.blocks) * code.registers > MAX_FLOW_COST:
            self.oversized.add(key)
            return None
        ref = dex.method_ref(idx)
        static = bool(dex.defined_methods[idx].access & ACC_STATIC)
        flow = MethodFlow(
            ctx=self,
            key=key,
            dex=dex,
            code=code,
            cfg=cfg,
            dead=self._feasible().dead(key, dex, code, cfg),
            is_static=static,
            param_types=ref.param_types,
            entry_labels=self.entry_labels.get(key, {}),
            entry_objs=icc.entry_objs(key, self.components),
        )
        self.current = key
        self.clock.start(key)
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

    def _feasible(self) -> Feasibility:
        if self._feasibility is None:
            self._feasibility = Feasibility(
                self._code_of, lambda ref, op: self.resolver.targets(ref, op, [])
            )
        return self._feasibility

    def _code_of(self, key: MethodKey) -> tuple[DexFile, Code, CFG] | None:
        found = self.program.dex.defined_method(*key)
        code = self.program.dex.code(*found) if found else None
        return None if found is None or code is None else (found[0], code, self._cfg(key, code))

    def _cfg(self, key: MethodKey, code: Code) -> CFG:
        cfg = self._cfgs.get(key)
        if cfg is None:
            cfg = self._cfgs[key] = build_cfg(code)
        return cfg

    def _bridge_return(self, key: MethodKey, dex: DexFile, code: Code, summary: Summary) -> None:
        rets = [i for i in code.insns if i.op in O.RETURN_OPS]
        if not rets:
            return
        step = self.steps.get(
            dex.name,
            key[0],
            key[1],
            rets[-1].offset,
            HopRole.SINK,
            f"returned to JavaScript by {cls_short(key[0])}.{key[1].split('(')[0]}()",
        )
        event = SinkEvent(sink=Sink.JS_BRIDGE, path=(step,), in_loop=False, loop="")
        for lb in summary.ret.labels:
            if lb.concrete and lb.kind is not LabelKind.NETWORK:
                self.record_event(lb, event, lb.assumed)


def _short(key: MethodKey) -> str:
    return f"{cls_short(key[0])}.{key[1].split('(')[0]}"


def _event_rank(ev: Event) -> tuple[object, ...]:
    """Lower is better: concrete before assumed, shorter path, then the path itself, so the event
    kept never depends on the (hash-seeded) order in which equal candidates were found."""
    label, event, assumed = ev
    return (assumed, len(label.path), label.path, event.path)


def analyse_flows(
    facts: AppFacts,
    program: Program,
    deadline: Deadline,
    *,
    reflection: ReflectionFacts | None = None,
    emulator: Emulator | None = None,
) -> FlowResult:
    with one_app():  # the memo tables of values.py hold one app's labels at a time
        return _analyse_flows(facts, program, deadline, reflection, emulator)


def _analyse_flows(
    facts: AppFacts,
    program: Program,
    deadline: Deadline,
    reflection: ReflectionFacts | None,
    emulator: Emulator | None,
) -> FlowResult:
    resolver = Resolver(program.dex, program.attributor, Hierarchy.of(program.dex))
    if reflection is not None:
        resolver.extra = reflection.edges
    flow = AppFlow(facts=facts, program=program, deadline=deadline, resolver=resolver)
    flow.filters = icc.targets_by_action(facts.manifest)
    flow.components = icc.component_classes(facts.manifest)
    flow._emulator = emulator
    cat = program.catalogue
    for item in cat.items:
        if item.kind != "field":
            continue
        for tag, provider in (
            ("contacts_uri", Provider.CONTACTS),
            ("sms_uri", Provider.SMS),
            ("call_log_uri", Provider.CALL_LOG),
            ("calendar_uri", Provider.CALENDAR),
            ("media_uri", Provider.MEDIA),
        ):
            if tag in item.tags:
                flow.uri_fields[f"{item.class_name}->{item.name}"] = provider
    flow.retrofit = bool(facts.refs_tagged("network")) and any(
        r.api_id == "net.retrofit2.Retrofit.create" for r in facts.code.refs
    )
    js = js_methods(facts, program.dex)
    flow.js_methods = frozenset(js)
    entries = callback_entries(resolver, flow.steps)
    for key in js:
        found = program.dex.defined_method(*key)
        if found:
            dex, idx = found
            n = len(dex.method_ref(idx).param_types)
            step = flow.steps.get(
                dex.name,
                key[0],
                key[1],
                0,
                HopRole.SOURCE,
                "receives data from a web page (JavaScript bridge)",
            )
            entries.setdefault(key, {}).update(
                {i: frozenset({source(LabelKind.NETWORK, step)}) for i in range(1, n + 1)}
            )
    flow.entry_labels = entries
    # Phase 1: classify every provider query (its method and the helpers it calls for the Uri).
    queries = query_methods(facts)
    if queries:
        phase1 = queries | {c for k in queries for c in callees_of(resolver, k)}
        # The query of an activity result's Intent: the methods of its class that may have
        # asked the user to pick a contact (icc.PICKED_CONTACT).
        for cls, sig in queries:
            if sig == icc.RESULT:
                phase1 |= set(resolver.class_methods(cls))
        fixpoint(flow, sorted(phase1), rounds=2)
    data_sources = any(p in V1_PERSONAL for p in flow.queries.values())
    data_sources = data_sources or bool(facts.refs_tagged("sms_intercept")) or bool(js)
    by_name = reflective_invokers(program.dex, lambda c: program.attributor.origin(c) == "app")
    kind_sources = (
        bool(facts.refs_tagged(*KIND_SOURCE_TAGS))
        or any(p in PERSONAL for p in flow.queries.values())
        or bool(by_name)
    )
    # Phase 2: whole-app flow over a bounded neighbourhood, only if a flow is possible.
    seeds = flow_seeds(facts, data_sources, kind_sources, by_name)
    if seeds and kind_sources:
        seeds |= component_sinks(resolver, facts, seeds)
    if seeds and data_sources:
        seeds |= js
    if seeds and facts.refs_tagged("sms_send", "sms_reflection"):
        seeds |= set(entries)
    complete = True
    if seeds:
        kinds_only = kind_sources and not data_sources
        stores = frozenset(
            (r.location.class_name, r.location.method) for r in facts.refs_tagged(*STORE_TAGS)
        )
        methods, complete = select_methods(resolver, seeds, readers=kinds_only, stores=stores)
        complete = fixpoint(flow, methods, rounds=MAX_ROUNDS) and complete
    chains = build_chains(flow.events(), flow.reflective(), flow.bridges, program)
    classified: dict[Provider, set[MethodKey]] = defaultdict(set)
    for (_dex, cls, meth, _off), provider in flow.queries.items():
        classified[provider].add((cls, meth))
    return FlowResult(
        chains=chains,
        classified=dict(classified),
        queries=dict(flow.queries),
        query_uris=dict(flow.query_uris),
        complete=complete,
        oversized=tuple(sorted(flow.oversized)),
        receivers={a: frozenset(c) for a, c in sorted(flow.dynamic_receivers.items())},
    )
