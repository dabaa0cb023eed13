"""Headline verdicts (JSON contract v1) from code evidence and behaviour chains.

The ladder per verdict: `confirmed` needs code evidence of the behaviour itself (for the two
flow verdicts, a proven chain); `likely` when the pieces are present but one link is unproven;
`possible` when only the permission (or unreachable code) suggests it; else `none`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from apkaudit.behaviour.kinds import ChainKind, Provider
from apkaudit.facts import AppFacts
from apkaudit.model import BlindSpotKind, Chain, CodeRef, Level, Stage, Verdicts

MethodKey = tuple[str, str]
Reach = Mapping[MethodKey, bool | None]
SMS_ACTIONS = ("android.provider.Telephony.SMS_RECEIVED", "android.provider.Telephony.SMS_DELIVER")
# A chain note: the contact texted is one the user picked (chains.py adds it).
PICKED = "the contact was picked by the user (ACTION_PICK): one person, not the contact list"
_UNPROVEN = frozenset(
    {
        BlindSpotKind.ZIP_DUPLICATE_ENTRY,
        BlindSpotKind.ZIP_PREPENDED_DATA,
        BlindSpotKind.EMBEDDED_CODE,
    }
)
_READ = {
    Provider.CONTACTS: ("contacts_uri", "android.permission.READ_CONTACTS"),
    Provider.SMS: ("sms_uri", "android.permission.READ_SMS"),
    Provider.CALL_LOG: ("call_log_uri", "android.permission.READ_CALL_LOG"),
}


def _methods(refs: Sequence[CodeRef]) -> set[MethodKey]:
    return {(r.location.class_name, r.location.method) for r in refs}


def read_level(
    facts: AppFacts,
    source: Provider,
    reach: Reach,
    classified: set[MethodKey],
    sms_receivers: frozenset[str] = frozenset(),
) -> Level:
    """``classified``: methods where a provider query was resolved to ``source``;
    ``sms_receivers``: receivers the code registers for incoming SMS at run time."""
    tag, perm = _READ[source]
    refs = facts.refs_tagged(tag)
    query_methods = _methods(facts.refs_tagged("provider_query"))
    sites = classified | (_methods(refs) & query_methods)
    declared = facts.manifest.has_permission(perm)
    if source is Provider.SMS and (declared_receiver(facts) or sms_receivers):
        # Reading each incoming SMS as it arrives is reading the user's SMS.
        sites |= _methods(facts.refs_tagged("sms_intercept"))
        declared = declared or facts.manifest.has_permission("android.permission.RECEIVE_SMS")
    if sites:
        if any(reach.get(m) is not False for m in sites) and declared:
            return Level.CONFIRMED
        return Level.LIKELY  # unreachable, or the permission the query needs is missing
    if refs:
        return (
            Level.LIKELY
            if any(reach.get(m) is not False for m in _methods(refs))
            else Level.POSSIBLE
        )
    if facts.manifest.has_permission(perm):
        return Level.POSSIBLE
    return Level.NONE


def declared_receiver(facts: AppFacts) -> bool:
    return any(facts.manifest.receivers_for(a) for a in SMS_ACTIONS)


def sms_send_level(facts: AppFacts, chains: Sequence[Chain], reach: Reach) -> Level:
    refs = facts.refs_tagged("sms_send")
    declared = facts.manifest.has_permission("android.permission.SEND_SMS")
    if refs:
        live = any(reach.get(m) is not False for m in _methods(refs))
        return Level.CONFIRMED if declared and live else Level.LIKELY
    reflective = [c for c in chains if c.kind is ChainKind.REFLECTION_SMS_SEND]
    if reflective:
        live = any(c.reachable is not False for c in reflective)
        return Level.CONFIRMED if declared and live else Level.LIKELY
    if facts.refs_tagged("sms_reflection") and declared:
        return Level.LIKELY
    return Level.POSSIBLE if declared else Level.NONE


def bulk_level(c: Chain, *, hidden: bool = False) -> Level:
    """Contacts to SMS destinations (issue 11's verdict policy). Bulk needs a loop driven by
    the contacts themselves (stage LOOP); a loop driven by something else is "likely"; one
    send (to one contact, or one the user picked) or a chain whose end is proven unreachable
    is at most "possible"; one entirely inside an SDK not proven called, at most "likely".
    ``hidden``: part of the code (or the manifest) is out of sight, so nothing is proven
    unreachable and an unreachable loop stays "likely"."""
    if PICKED in c.notes:
        return Level.POSSIBLE
    if c.reachable is False:
        return Level.LIKELY if hidden and c.stage is Stage.LOOP else Level.POSSIBLE
    if c.stage is Stage.LOOP:
        return Level.CONFIRMED if c.origin == "app" or c.reachable else Level.LIKELY
    return Level.LIKELY if c.in_loop else Level.POSSIBLE


def _strongest(chains: Sequence[Chain], kind: ChainKind, hidden: bool = False) -> Chain | None:
    cs = [c for c in chains if c.kind == kind]
    if cs and kind is ChainKind.CONTACTS_TO_SMS_DESTINATION:
        return max(cs, key=lambda c: (bulk_level(c, hidden=hidden).rank, c.stage, c.in_loop))
    return max(cs, key=lambda c: (c.reachable is not False, c.in_loop, c.stage)) if cs else None


def derive_verdicts(
    facts: AppFacts,
    chains: Sequence[Chain],
    reach: Reach,
    classified: Mapping[Provider, set[MethodKey]],
    *,
    flow_analysed: bool,
    sms_receivers: frozenset[str] = frozenset(),
) -> Verdicts:
    def read(p: Provider) -> Level:
        return read_level(facts, p, reach, classified.get(p, set()), sms_receivers)

    contacts, sms, call_log = read(Provider.CONTACTS), read(Provider.SMS), read(Provider.CALL_LOG)
    send = sms_send_level(facts, chains, reach)
    internet = facts.manifest.has_permission("android.permission.INTERNET")

    # Combination verdicts need code on both sides; permissions alone say "possible" only when
    # part of the code is hidden from us.
    hidden = not facts.coverage.complete
    network_code = bool(facts.refs_tagged("network_send", "network"))
    upload = Level.NONE
    c = _strongest(chains, ChainKind.CONTACTS_TO_NETWORK)
    if c is not None:
        upload = Level.CONFIRMED if c.reachable is not False else Level.LIKELY
    elif _strongest(chains, ChainKind.CONTACTS_TO_JS_BRIDGE) is not None and internet:
        # Handed to a web page the lender serves; the JavaScript side is out of our sight.
        upload = Level.LIKELY
    elif contacts.rank >= Level.LIKELY.rank and network_code and internet:
        upload = Level.POSSIBLE if flow_analysed else Level.LIKELY
    elif contacts is not Level.NONE and internet and hidden:
        upload = Level.POSSIBLE

    bulk = Level.NONE
    # Unreachable is not proven when code is hidden, or when which copy of a class runs is
    # uncertain (duplicate or prepended dex) or code is loaded at run time.
    unproven = hidden or any(s.kind in _UNPROVEN for s in facts.coverage.blind_spots)
    c = _strongest(chains, ChainKind.CONTACTS_TO_SMS_DESTINATION, unproven)
    if c is not None:
        bulk = bulk_level(c, hidden=unproven)
    elif contacts.rank >= Level.LIKELY.rank and send.rank >= Level.LIKELY.rank:
        same_method = _methods(facts.refs_tagged("contacts_uri")) & _methods(
            facts.refs_tagged("sms_send")
        )
        bulk = Level.LIKELY if same_method and not flow_analysed else Level.POSSIBLE
    elif contacts is not Level.NONE and send is not Level.NONE and hidden:
        bulk = Level.POSSIBLE
    return Verdicts(contacts, sms, call_log, upload, send, bulk)
