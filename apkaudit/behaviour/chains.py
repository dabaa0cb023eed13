"""Sink events -> Chains: kinds, hops with code excerpts, stage, origin; bridge names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from apkaudit.behaviour.context import SinkEvent
from apkaudit.behaviour.kinds import SOURCE_OF_LABEL, SOURCES, ChainKind, LabelKind, Sink, Source
from apkaudit.behaviour.models.providers import PICKED_QUERY
from apkaudit.behaviour.program import Program
from apkaudit.behaviour.values import Label, Step
from apkaudit.behaviour.verdicts import PICKED
from apkaudit.code.dex.disasm import excerpt
from apkaudit.model import Chain, CodeLocation, Stage
from apkaudit.model import Hop as ChainHop

K = ChainKind
_CHAIN_KIND = {
    (Sink.SMS_DESTINATION, LabelKind.CONTACTS): K.CONTACTS_TO_SMS_DESTINATION,
    (Sink.SMS_DESTINATION, LabelKind.CALL_LOG): K.CALL_LOG_TO_SMS_DESTINATION,
    (Sink.SMS_DESTINATION, LabelKind.NETWORK): K.NETWORK_TO_SMS,
    (Sink.SMS_BODY, LabelKind.NETWORK): K.NETWORK_TO_SMS,
    (Sink.SMS_BODY, LabelKind.CONTACTS): K.CONTACTS_TO_SMS_BODY,
    (Sink.SMS_BODY, LabelKind.CALL_LOG): K.CONTACTS_TO_SMS_BODY,
    (Sink.SMS_BODY, LabelKind.SMS): K.SMS_TO_SMS_BODY,
    (Sink.NETWORK, LabelKind.CONTACTS): K.CONTACTS_TO_NETWORK,
    (Sink.NETWORK, LabelKind.SMS): K.SMS_TO_NETWORK,
    (Sink.NETWORK, LabelKind.CALL_LOG): K.CALL_LOG_TO_NETWORK,
    (Sink.SMS_INTENT, LabelKind.CONTACTS): K.CONTACTS_TO_SMS_INTENT,
    (Sink.SMS_INTENT, LabelKind.CALL_LOG): K.CONTACTS_TO_SMS_INTENT,
    (Sink.JS_BRIDGE, LabelKind.CONTACTS): K.CONTACTS_TO_JS_BRIDGE,
    (Sink.JS_BRIDGE, LabelKind.SMS): K.SMS_TO_JS_BRIDGE,
    (Sink.JS_BRIDGE, LabelKind.CALL_LOG): K.CALL_LOG_TO_JS_BRIDGE,
}


def chain_kind(label: LabelKind, sink: Sink) -> str | None:
    """The chain kind of data ``label`` reaching ``sink``: the v1 kinds by their names, every
    other pair of the vocabulary as ``<source>_to_<sink>`` (device_id_to_network, ...)."""
    kind = _CHAIN_KIND.get((sink, label))
    if kind is not None:
        return kind
    src = SOURCE_OF_LABEL.get(label)
    # Network data re-sent or logged is what every app does; it matters only as SMS (above).
    if src is None or not SOURCES[src].personal or sink is Sink.SMS_SEND:
        return None
    return f"{src}_to_{sink}"


def known_kinds() -> frozenset[str]:
    """Every chain kind ``chain_kind`` can name."""
    kinds = {chain_kind(lb, sink) for lb in LabelKind for sink in Sink}
    return frozenset(k for k in kinds if k is not None) | {ChainKind.REFLECTION_SMS_SEND}


Bridges = Mapping[str, tuple[set[str], Step]]  # JavaScript name -> (bridge classes, where added)


def _to_hop(program: Program, h: Step) -> ChainHop:
    loc = CodeLocation(h.dex, h.class_name, h.method, h.offset)
    ex: tuple[str, ...] = ()
    found = program.dex.defined_method(h.class_name, h.method)
    if found:
        dex, idx = found
        code = program.dex.code(dex, idx)
        if code is not None:
            ex = excerpt(dex, code, h.offset, before=2, after=1)
    return ChainHop(h.role, h.description, loc, ex)


def build_chains(
    events: Iterable[tuple[Label, SinkEvent, bool]],
    reflective: Iterable[tuple[Step, ...]],
    bridges: Bridges,
    program: Program,
) -> tuple[Chain, ...]:
    """One chain per (kind, first and last location): the best of the events found for it."""
    best: dict[tuple[object, ...], Chain] = {}
    origin_of = program.attributor.origin
    for label, ev, assumed in events:
        kind = chain_kind(label.kind, ev.sink)
        if kind is None:
            continue
        raw = label.path + ev.path
        hops = tuple(_to_hop(program, h) for h in _dedupe(raw))
        if ev.sink is Sink.JS_BRIDGE:
            hops = _name_bridge(bridges, hops)
        # Bulk needs a loop driven by the data itself (a cursor or a list of the contacts).
        loop_sink = ev.sink is Sink.SMS_DESTINATION and ev.in_loop and label.kind in ev.loop_kinds
        stage = Stage.REFERENCED if assumed else (Stage.LOOP if loop_sink else Stage.DATAFLOW)
        origins = {origin_of(h.location.class_name) for h in hops}
        origin = "app" if "app" in origins else sorted(origins)[0]
        notes: tuple[str, ...] = ()
        if assumed:
            notes = ("one step passes through an app method outside the analysed neighbourhood",)
        if label.kind is LabelKind.CONTACTS and PICKED_QUERY in label.path[0].description:
            notes = (*notes, PICKED)
        chain = Chain(
            kind,
            SOURCE_OF_LABEL[label.kind],
            ev.sink,
            hops,
            ev.in_loop,
            ev.loop,
            stage,
            None,
            origin,
            notes,
        )
        k = (kind, hops[0].location, hops[-1].location)
        old = best.get(k)
        if old is None or _better(chain, old):
            best[k] = chain
    for steps in reflective:
        h = tuple(_to_hop(program, x) for x in steps)
        chain = Chain(
            ChainKind.REFLECTION_SMS_SEND,
            Source.REFLECTION,
            Sink.SMS_SEND,
            h,
            False,
            "",
            Stage.DATAFLOW,
            None,
            origin_of(h[0].location.class_name),
        )
        best.setdefault(("reflection", h[0].location), chain)
    # A total order: chains that share kind and source differ in their other hops, and their
    # order must not follow the (hash-seeded) order of the events, or the evidence picked for
    # a finding, and so its fingerprint, would change from one process to the next.
    return tuple(
        sorted(best.values(), key=lambda c: (c.kind, tuple(h.location for h in c.hops), c.stage))
    )


def _better(new: Chain, old: Chain) -> bool:
    """Between chains of the same source and sink: the higher stage, then fewer hops, then the
    one inside a loop, then (so the choice never depends on the order the events were found in)
    the earlier locations and the loop's description."""
    a = (new.stage, -len(new.hops), new.in_loop)
    b = (old.stage, -len(old.hops), old.in_loop)
    if a != b:
        return a > b
    return (tuple(h.location for h in new.hops), new.loop) < (
        tuple(h.location for h in old.hops),
        old.loop,
    )


def _dedupe(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """Drop a step that repeats the one before it (same instruction and description)."""
    out: list[Step] = []
    for h in steps:
        if not out or out[-1].site != h.site or out[-1].description != h.description:
            out.append(h)
    return tuple(out)


def _name_bridge(bridges: Bridges, hops: tuple[ChainHop, ...]) -> tuple[ChainHop, ...]:
    last = hops[-1]
    cls = last.location.class_name
    method = last.location.method.split("(")[0]
    names = [n for n, (classes, _) in bridges.items() if cls in classes or not classes]
    if not names:
        return hops
    desc = f"returned to JavaScript: a web page calls window.{names[0]}.{method}()"
    return (*hops[:-1], ChainHop(last.role, desc, last.location, last.excerpt))
