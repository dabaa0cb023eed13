"""Headline verdicts (JSON contract v1) from code evidence and behaviour chains.

The ladder per verdict: `confirmed` needs code evidence of the behaviour itself (for the two
flow verdicts, a proven chain); `likely` when the pieces are present but one link is unproven;
`possible` when only the permission (or unreachable code) suggests it; else `none`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from apkaudit.behaviour.kinds import ChainKind, Provider
from apkaudit.facts import AppFacts
from apkaudit.model import Chain, CodeRef, Level, Verdicts

MethodKey = tuple[str, str]
Reach = Mapping[MethodKey, bool | None]
_READ = {
    Provider.CONTACTS: ("contacts_uri", "android.permission.READ_CONTACTS"),
    Provider.SMS: ("sms_uri", "android.permission.READ_SMS"),
    Provider.CALL_LOG: ("call_log_uri", "android.permission.READ_CALL_LOG"),
}


def _methods(refs: Sequence[CodeRef]) -> set[MethodKey]:
    return {(r.location.class_name, r.location.method) for r in refs}


def read_level(
    facts: AppFacts, source: Provider, reach: Reach, classified: set[MethodKey]
) -> Level:
    """``classified``: methods where a provider query was resolved to ``source``."""
    tag, perm = _READ[source]
    refs = facts.refs_tagged(tag)
    query_methods = _methods(facts.refs_tagged("provider_query"))
    sites = classified | (_methods(refs) & query_methods)
    declared = facts.manifest.has_permission(perm)
    if source is Provider.SMS and declared_receiver(facts):
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
    return bool(
        facts.manifest.receivers_for("android.provider.Telephony.SMS_RECEIVED")
        or facts.manifest.receivers_for("android.provider.Telephony.SMS_DELIVER")
    )


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


def _strongest(chains: Sequence[Chain], kind: ChainKind) -> Chain | None:
    cs = [c for c in chains if c.kind == kind]
    return max(cs, key=lambda c: (c.reachable is not False, c.in_loop, c.stage)) if cs else None


def derive_verdicts(
    facts: AppFacts,
    chains: Sequence[Chain],
    reach: Reach,
    classified: Mapping[Provider, set[MethodKey]],
    *,
    flow_analysed: bool,
) -> Verdicts:
    def read(p: Provider) -> Level:
        return read_level(facts, p, reach, classified.get(p, set()))

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
    c = _strongest(chains, ChainKind.CONTACTS_TO_SMS_DESTINATION)
    if c is not None:
        bulk = Level.CONFIRMED if c.in_loop and c.reachable is not False else Level.LIKELY
    elif contacts.rank >= Level.LIKELY.rank and send.rank >= Level.LIKELY.rank:
        same_method = _methods(facts.refs_tagged("contacts_uri")) & _methods(
            facts.refs_tagged("sms_send")
        )
        bulk = Level.LIKELY if same_method and not flow_analysed else Level.POSSIBLE
    elif contacts is not Level.NONE and send is not Level.NONE and hidden:
        bulk = Level.POSSIBLE
    return Verdicts(contacts, sms, call_log, upload, send, bulk)
