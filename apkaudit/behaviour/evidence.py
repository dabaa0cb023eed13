"""Which methods' reachability the behaviour stage computes, and with what.

Two bounded searches: first the evidence of the v1 verdicts (the contacts, SMS and call-log
APIs, network and SMS sinks, and their chains), exactly as before the other data kinds existed,
so those verdicts never lose precision to a search budget spent elsewhere; then the evidence of
the other data kinds (device identifiers, location, typed text, logs, files, Intents...) and
their chains. Both follow resolved reflection as call edges (reflection.py), and neither proves
code unreachable when code may run that no edge shows (``unknown``).
"""

from __future__ import annotations

from collections.abc import Iterable

from apkaudit.behaviour.apis import KIND_SINK_TAGS, KIND_SOURCE_TAGS, STORE_TAGS
from apkaudit.behaviour.kinds import Source
from apkaudit.behaviour.reachability import compute_reachability
from apkaudit.behaviour.reflection import ReflectionFacts
from apkaudit.code.index import DexSet
from apkaudit.facts import AppFacts
from apkaudit.model import Chain

MethodKey = tuple[str, str]
# Code-index tags that only the data kinds of issue 11 use.
KIND_TAGS = frozenset({*KIND_SOURCE_TAGS, *KIND_SINK_TAGS, *STORE_TAGS}) - {
    "device_id",
    "accounts",
    "installed_apps",
    "calendar_uri",
}
V1_SOURCES = frozenset({Source.CONTACTS, Source.SMS, Source.CALL_LOG, Source.NETWORK_RESPONSE,
                        Source.REFLECTION})  # fmt: skip
# Tags of personal data and of where it leaves the phone: unresolved reflection in a method
# that holds one of them may hide a flow (reflection.blind_spots).
DATA_TAGS = (
    "provider_query", "contacts_uri", "sms_uri", "call_log_uri", "sms_intercept", "sms_send",
    "sms_reflection", "network_send", "network_body", "js_bridge", *KIND_SOURCE_TAGS,
)  # fmt: skip


def _hops(chains: Iterable[Chain]) -> set[MethodKey]:
    return {(h.location.class_name, h.location.method) for c in chains for h in c.hops}


def data_methods(facts: AppFacts, chains: Iterable[Chain]) -> set[MethodKey]:
    refs = facts.refs_tagged(*DATA_TAGS)
    return {(r.location.class_name, r.location.method) for r in refs} | _hops(chains)


def reachability(
    facts: AppFacts,
    dexset: DexSet,
    entries: frozenset[str],
    queries: Iterable[MethodKey],
    chains: tuple[Chain, ...],
    reflection: ReflectionFacts,
    *,
    unknown: bool,
) -> dict[MethodKey, bool | None]:
    v1: set[MethodKey] = set(queries)
    kinds: set[MethodKey] = set()
    for r in facts.code.refs:
        key = (r.location.class_name, r.location.method)
        (kinds if r.tags and set(r.tags) <= KIND_TAGS else v1).add(key)
    v1 |= _hops(c for c in chains if c.source in V1_SOURCES)
    kinds |= _hops(c for c in chains if c.source not in V1_SOURCES)
    # Log, file and Intent calls matter only on a chain: not every one of a large app.
    local = frozenset({*KIND_SINK_TAGS, *STORE_TAGS})
    kinds -= {
        (r.location.class_name, r.location.method)
        for r in facts.code.refs
        if r.tags and set(r.tags) <= local
    } - _hops(chains)
    out: dict[MethodKey, bool | None] = {}
    for targets in (v1, kinds - v1):
        if targets:
            found = compute_reachability(
                dexset, targets, entries, extra_edges=reflection.edges, unknown=unknown
            )
            out.update(found)
    return out
