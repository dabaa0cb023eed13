"""Behaviour stage: provider classification, data-flow chains, reachability and verdicts.

``analyse(facts, program, deadline)`` follows the code in ``program`` from the sources and sinks
the code index found in ``facts`` and returns ``Behaviours``: plain data (chains with their
hops' excerpts, provider query sites with theirs, reachability, verdicts) for the rules stage.
"""

from __future__ import annotations

from dataclasses import replace

from apkaudit.behaviour import resources
from apkaudit.behaviour.apis import cls_short
from apkaudit.behaviour.destinations import app_destinations, with_destinations
from apkaudit.behaviour.emulate import emulator_for
from apkaudit.behaviour.evidence import data_methods, reachability
from apkaudit.behaviour.interproc import MAX_FLOW_COST, analyse_flows
from apkaudit.behaviour.kinds import Provider
from apkaudit.behaviour.lending import classify_lending
from apkaudit.behaviour.program import Program
from apkaudit.behaviour.reachability import entry_components
from apkaudit.behaviour.reflection import blind_spots as reflection_blind_spots
from apkaudit.behaviour.reflection import scan_reflection
from apkaudit.behaviour.resolver import Resolver
from apkaudit.behaviour.trigger import chain_triggers, sms_sends
from apkaudit.behaviour.verdicts import SMS_ACTIONS, derive_verdicts
from apkaudit.code.index import DexSet
from apkaudit.coverage.hidden import coverage_of
from apkaudit.facts import AppFacts
from apkaudit.limits import NO_DEADLINE, Deadline
from apkaudit.model import (
    Behaviours,
    BlindSpot,
    BlindSpotKind,
    Chain,
    CodeLocation,
    ProviderQuery,
    java_to_descriptor,
)

# Blind-spot kinds that mean code runs which the dex files do not show (coverage/hidden.py).
K = BlindSpotKind
HIDDEN_CODE = frozenset({K.PACKER, K.DYNAMIC_CODE, K.NATIVE_CODE, K.MISSING_CLASS})


def entry_classes(
    facts: AppFacts, dexset: DexSet, layout_classes: frozenset[str] = frozenset()
) -> frozenset[str]:
    """The manifest's components, the Application class and the views and fragments that
    resource XML names (``Program.layout_classes``): the classes the framework instantiates."""
    app = facts.manifest.application_class
    return layout_classes | entry_components(
        dexset,
        ((c.kind, java_to_descriptor(c.name), c.enabled) for c in facts.manifest.components),
        java_to_descriptor(app) if app else None,
    )


def _chain_reachable(chain: Chain, reach: dict[tuple[str, str], bool | None]) -> bool | None:
    ends = [chain.hops[0], chain.hops[-1]]
    states = [reach.get((h.location.class_name, h.location.method)) for h in ends]
    if any(s is False for s in states):
        return False
    return True if all(s is True for s in states) else None


def analyse(facts: AppFacts, program: Program, deadline: Deadline = NO_DEADLINE) -> Behaviours:
    """``deadline`` is polled by the fixpoint; when it is hit, ``deadline.hit`` says so."""
    emulator = emulator_for(program.dex)
    app_code = program.attributor.origin
    reflection = scan_reflection(
        program.dex,
        emulator,
        include=lambda c: app_code(c) == "app",
        strings=resources.reader(program),
    )
    flows = analyse_flows(facts, program, deadline, reflection=reflection, emulator=emulator)
    refl_spots = reflection_blind_spots(reflection, data_methods(facts, flows.chains))
    # Code nobody names may still run: unresolved reflection where data is handled, or code
    # hidden from us (packer, unknown native code, class loaders): never "proven unreachable".
    unknown = any(b.kind is BlindSpotKind.REFLECTION_UNRESOLVED for b in refl_spots) or any(
        b.kind in HIDDEN_CODE for b in facts.coverage.blind_spots
    )
    queries = ((cls, m) for (_dex, cls, m, _off) in flows.queries)
    entries = entry_classes(facts, program.dex, program.layout_classes)
    # Past the deadline: what the flows found is kept, and the call-graph walks (reachability,
    # each send's trigger) are skipped, so the partial result comes before the kill (bounded.py).
    late = deadline.check("behaviour")
    reach: dict[tuple[str, str], bool | None] = {}  # unknown: nothing "proven unreachable"
    if not late:
        reach = reachability(
            facts, program.dex, entries, queries, flows.chains, reflection, unknown=unknown
        )
    chains = tuple(replace(c, reachable=_chain_reachable(c, reach)) for c in flows.chains)
    resolver = Resolver(program.dex, resource=_resources(program), deadline=deadline)
    chains = with_destinations(resolver, chains, program.attributor.origin)
    sends = tuple((r.location, r.origin) for r in facts.refs_tagged("network_send"))
    destinations = app_destinations(resolver, chains, sends)
    texts = () if late else sms_sends(facts, program, resolver, chains)
    chains = chain_triggers(chains, texts)
    if any(
        b.kind is BlindSpotKind.REFLECTION_UNRESOLVED for b in refl_spots
    ):  # hidden code, as a packer
        facts = replace(facts, coverage=coverage_of((*facts.coverage.blind_spots, *refl_spots)))
    sms_rx = frozenset().union(*(flows.receivers.get(a, frozenset()) for a in SMS_ACTIONS))
    verdicts = derive_verdicts(
        facts, chains, reach, flows.classified, flow_analysed=True, sms_receivers=sms_rx
    )
    notes = []
    unresolved = sum(1 for p in flows.queries.values() if p is Provider.UNRESOLVED)
    if unresolved:
        notes.append(f"{unresolved} content-provider query URI(s) could not be resolved")
    if not flows.complete:
        notes.append("the data-flow neighbourhood was cut at its size bound; chains may be missing")
    spots: tuple[BlindSpot, ...] = refl_spots
    if flows.oversized:
        cls, meth = flows.oversized[0]
        spots += (
            BlindSpot(
                BlindSpotKind.LIMIT,
                f"{len(flows.oversized)} method(s) too large for data-flow analysis (over "
                f"{MAX_FLOW_COST:,} blocks x registers), e.g. {cls_short(cls)}."
                f"{meth.split('(')[0]}(): their calls are indexed, data flow through them "
                "is not followed",
            ),
        )
    return Behaviours(
        verdicts=verdicts,
        chains=chains,
        notes=tuple(notes),
        blind_spots=spots,
        destinations=destinations,
        sms_sends=texts,
        lending_app=classify_lending(facts, program),
        reachability=tuple(sorted((c, m, r) for (c, m), r in reach.items())),
        queries=tuple(
            sorted(
                _query(program, site, p, flows.query_uris.get(site, ""))
                for site, p in flows.queries.items()
            )
        ),
    )


def _query(
    program: Program, site: tuple[str, str, str, int], provider: Provider, uri: str
) -> ProviderQuery:
    loc = CodeLocation(*site)
    return ProviderQuery(
        location=loc,
        provider=provider,
        uri=uri,
        excerpt=program.dex.excerpt(loc),
        origin=program.attributor.origin(loc.class_name),
    )


def _resources(program: Program):
    arsc = program.arsc
    if not arsc:
        return lambda _rid: None
    from apkaudit.manifest.arsc import resolve_resource

    return lambda rid: resolve_resource(f"@{rid:08x}", arsc)
