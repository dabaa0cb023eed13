"""Behaviour stage: provider classification, data-flow chains, reachability and verdicts."""

from __future__ import annotations

from apkaudit.behaviour.reachability import compute_reachability
from apkaudit.behaviour.verdicts import derive_verdicts
from apkaudit.facts import AppFacts
from apkaudit.model import Behaviours, java_to_descriptor


def entry_classes(facts: AppFacts) -> frozenset[str]:
    names = [c.name for c in facts.manifest.components]
    if facts.manifest.application_class:
        names.append(facts.manifest.application_class)
    return frozenset(java_to_descriptor(n) for n in names)


def analyse(facts: AppFacts) -> Behaviours:
    chains: tuple = ()
    methods = {(r.location.class_name, r.location.method) for r in facts.code.refs}
    for chain in chains:
        methods.update((h.location.class_name, h.location.method) for h in chain.hops)
    reach = compute_reachability(facts.dex, methods, entry_classes(facts)) if methods else {}
    verdicts = derive_verdicts(facts, chains, reach, {}, flow_analysed=False)
    return Behaviours(
        verdicts=verdicts,
        chains=chains,
        reachability=tuple(sorted((c, m, r) for (c, m), r in reach.items())),
    )
