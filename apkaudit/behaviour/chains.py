"""Sink events -> Chains: kinds, hops with code excerpts, stage, origin; bridge names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from apkaudit.behaviour.values import Hop
from apkaudit.code.dex.disasm import excerpt
from apkaudit.model import Chain, CodeLocation, Stage
from apkaudit.model import Hop as ChainHop

if TYPE_CHECKING:
    from apkaudit.behaviour.interproc import AppFlow

_CHAIN_KIND = {
    ("sms_destination", "contacts"): "contacts_to_sms_destination",
    ("sms_destination", "call_log"): "call_log_to_sms_destination",
    ("sms_destination", "network"): "network_to_sms",
    ("sms_body", "network"): "network_to_sms",
    ("sms_body", "contacts"): "contacts_to_sms_body",
    ("sms_body", "call_log"): "contacts_to_sms_body",
    ("sms_body", "sms"): "sms_to_sms_body",
    ("network", "contacts"): "contacts_to_network",
    ("network", "sms"): "sms_to_network",
    ("network", "call_log"): "call_log_to_network",
    ("sms_intent", "contacts"): "contacts_to_sms_intent",
    ("sms_intent", "call_log"): "contacts_to_sms_intent",
    ("js_bridge", "contacts"): "contacts_to_js_bridge",
    ("js_bridge", "sms"): "sms_to_js_bridge",
    ("js_bridge", "call_log"): "call_log_to_js_bridge",
}


def _to_hop(flow: AppFlow, h: Hop) -> ChainHop:
    dex_name, cls, meth, off, role, desc = h
    loc = CodeLocation(dex_name, cls, meth, off)
    ex: tuple[str, ...] = ()
    found = flow.dex.defined_method(cls, meth)
    if found:
        dex, idx = found
        code = flow.dex.code(dex, idx)
        if code is not None:
            ex = excerpt(dex, code, off, before=2, after=1)
    return ChainHop(role, desc, loc, ex)


def build_chains(flow: AppFlow) -> tuple[Chain, ...]:
    best: dict[tuple, Chain] = {}
    origin_of = flow.program.attributor.origin
    for label, ev, assumed in flow.events.values():
        kind = _CHAIN_KIND.get((ev.sink, label.kind))
        if kind is None:
            continue
        raw = label.path + ev.path
        hops = tuple(_to_hop(flow, h) for h in _dedupe(raw))
        if ev.sink == "js_bridge":
            hops = _name_bridge(flow, hops)
        loop_sink = ev.sink == "sms_destination" and ev.in_loop
        stage = Stage.REFERENCED if assumed else (Stage.LOOP if loop_sink else Stage.DATAFLOW)
        origins = {origin_of(h.location.class_name) for h in hops}
        origin = "app" if "app" in origins else sorted(origins)[0]
        notes = ()
        if assumed:
            notes = ("one step passes through an app method outside the analysed neighbourhood",)
        chain = Chain(
            kind, label.kind, ev.sink, hops, ev.in_loop, ev.loop, stage, None, origin, notes
        )
        k = (kind, hops[0].location, hops[-1].location)
        old = best.get(k)
        if old is None or _better(chain, old):
            best[k] = chain
    for hops in flow.reflective:
        h = tuple(_to_hop(flow, x) for x in hops)
        chain = Chain(
            "reflection_sms_send",
            "reflection",
            "sms_send",
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
    """Between chains of the same source and sink: the higher stage, then fewer hops, then (so
    the choice never depends on the order the events were found in) the earlier locations."""
    a, b = (new.stage, -len(new.hops)), (old.stage, -len(old.hops))
    if a != b:
        return a > b
    return tuple(h.location for h in new.hops) < tuple(h.location for h in old.hops)


def _dedupe(hops: tuple[Hop, ...]) -> tuple[Hop, ...]:
    out: list[Hop] = []
    for h in hops:
        if not out or out[-1][:4] != h[:4] or out[-1][5] != h[5]:
            out.append(h)
    return tuple(out)


def _name_bridge(flow: AppFlow, hops: tuple[ChainHop, ...]) -> tuple[ChainHop, ...]:
    last = hops[-1]
    cls = last.location.class_name
    method = last.location.method.split("(")[0]
    names = [n for n, (classes, _) in flow.bridges.items() if cls in classes or not classes]
    if not names:
        return hops
    desc = f"returned to JavaScript: a web page calls window.{names[0]}.{method}()"
    return (*hops[:-1], ChainHop(last.role, desc, last.location, last.excerpt))
