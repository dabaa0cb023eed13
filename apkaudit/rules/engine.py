"""Evaluate data rules against an app's facts and behaviours. One small function per match type,
taking the rule's typed match (:mod:`apkaudit.rules.schema`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import assert_never

from apkaudit.facts import AppFacts
from apkaudit.model import (
    Behaviours,
    Chain,
    CodeLocation,
    CodeRef,
    Component,
    Confidence,
    Evidence,
    Finding,
    IntentFilter,
    Severity,
    Stage,
    Trigger,
)
from apkaudit.rules import RuleSet
from apkaudit.rules.schema import (
    ChainMatch,
    CodeAndReceiverMatch,
    CodeMatch,
    CodeWithoutPermissionMatch,
    DefaultSmsCandidateMatch,
    Flag,
    FlagMatch,
    PermissionMatch,
    PermissionUnusedMatch,
    QueryMatch,
    ReceiverMatch,
    Rule,
)

MAX_EVIDENCE = 12  # per finding; the count of the rest is said in the message


def confidence_for(stage: Stage, *, unreachable: bool = False) -> Confidence:
    """One table from ladder rung to confidence. Unreachable code lowers it one step."""
    base = {
        Stage.DECLARED: Confidence.LOW,
        Stage.REFERENCED: Confidence.MEDIUM,
        Stage.REACHABLE: Confidence.HIGH,
        Stage.DATAFLOW: Confidence.HIGH,
        Stage.LOOP: Confidence.HIGH,
    }[stage]
    if unreachable and base is not Confidence.LOW:
        return list(Confidence)[base.rank - 1]
    return base


def evaluate(rules: RuleSet, facts: AppFacts, behaviours: Behaviours) -> tuple[Finding, ...]:
    out = []
    for rule in rules.rules:
        finding = evaluate_rule(rule, facts, behaviours)
        if finding is not None:
            out.append(finding)
    return tuple(out)


def evaluate_rule(rule: Rule, facts: AppFacts, behaviours: Behaviours) -> Finding | None:
    """The rule's finding on this app, or None, with the trigger of the SMS sends its evidence
    shows (the most automatic one)."""
    finding = _evaluate(rule, facts, behaviours)
    if finding is None or not behaviours.sms_sends:
        return finding
    by_loc = {s.location: s.trigger for s in behaviours.sms_sends}
    found = {by_loc[e.location] for e in finding.evidence if e.location in by_loc}
    trigger = next((t for t in _TRIGGER_ORDER if t in found), None)
    return replace(finding, trigger=trigger) if trigger else finding


_TRIGGER_ORDER = (Trigger.AUTOMATIC, Trigger.USER_ACTION, Trigger.USER_MEDIATED)


def _evaluate(rule: Rule, facts: AppFacts, behaviours: Behaviours) -> Finding | None:
    """mypy checks that every match type is handled."""
    m = rule.match
    if isinstance(m, CodeMatch):
        return _match_code(rule, m, facts, behaviours)
    if isinstance(m, PermissionUnusedMatch):
        return _match_permission_unused(rule, m, facts)
    if isinstance(m, CodeWithoutPermissionMatch):
        return _match_code_without_permission(rule, m, facts, behaviours)
    if isinstance(m, ChainMatch):
        return _match_chain(rule, m, behaviours)
    if isinstance(m, ReceiverMatch):
        return _match_receiver(rule, m, facts)
    if isinstance(m, CodeAndReceiverMatch):
        return _match_code_and_receiver(rule, m, facts, behaviours)
    if isinstance(m, DefaultSmsCandidateMatch):
        return _match_default_sms(rule, facts)
    if isinstance(m, PermissionMatch):
        return _match_permission(rule, m, facts)
    if isinstance(m, FlagMatch):
        return _match_flag(rule, m, facts)
    if isinstance(m, QueryMatch):
        return _match_query(rule, m, facts, behaviours)
    assert_never(m)


def _finding(
    rule: Rule,
    stage: Stage,
    message: str,
    evidence: Sequence[Evidence],
    origin: str = "app",
    *,
    severity: Severity | None = None,
    unreachable: bool = False,
) -> Finding:
    return Finding(
        rule_id=rule.id,
        name=rule.name,
        title=rule.title,
        behaviour=rule.behaviour,
        severity=severity or rule.severity,
        confidence=confidence_for(stage, unreachable=unreachable),
        stage=stage,
        message=message,
        evidence=tuple(evidence),
        origin=origin,
        remediation=rule.remediation,
    )


def _origin(origins: Iterable[str]) -> str:
    """app if any evidence is the app's; else the single SDK; else unknown."""
    seen = set(origins)
    if "app" in seen:
        return "app"
    sdks = sorted(o for o in seen if o.startswith("sdk:"))
    if len(sdks) == 1 and len(seen) == 1:
        return sdks[0]
    return "unknown" if "unknown" in seen or not sdks else sdks[0]


def _code_evidence(refs: Sequence[CodeRef], behaviours: Behaviours) -> list[Evidence]:
    ev = []
    for r in refs[:MAX_EVIDENCE]:
        where = {"invoke": "calls", "field": "reads", "string": "uses the string", "class": "uses"}
        desc = f"{r.location.short} {where[r.kind.value]} {r.target}"
        note = behaviours.reachability_note(r.location)
        if note:
            desc += f" ({note})"
        ev.append(Evidence("code", desc, r.location))  # its excerpt: excerpts.with_excerpts
    return ev


def _permission_evidence(facts: AppFacts, name: str) -> Evidence:
    perm = next(p for p in facts.manifest.permissions if p.name == name)
    return Evidence(
        "manifest",
        f"requests {name} ({perm.protection_level})",
        manifest_element=f'<{perm.element} android:name="{name}"/>',
    )


def _code_stage(locs: Sequence[CodeLocation], behaviours: Behaviours) -> tuple[Stage, bool]:
    """REACHABLE if any location is reachable; REFERENCED otherwise (flag: proven unreachable)."""
    states = [behaviours.is_reachable(loc) for loc in locs]
    if any(s is True for s in states):
        return Stage.REACHABLE, False
    return Stage.REFERENCED, bool(states) and all(s is False for s in states)


# --------------------------------------------------------------------------- matchers


def _match_code(
    rule: Rule, m: CodeMatch, facts: AppFacts, behaviours: Behaviours
) -> Finding | None:
    refs = facts.refs_tagged(*m.tags)
    if m.triggers:
        by_loc = {s.location: s.trigger.value for s in behaviours.sms_sends}
        refs = tuple(r for r in refs if by_loc.get(r.location) in m.triggers)
    provider = m.provider
    sites = behaviours.queries_of(provider) if provider else ()
    shown = (provider or "").replace("_", "-")  # the provider's name in messages
    if not refs and not sites:
        return None
    locs = [*(q.location for q in sites), *(r.location for r in refs)]
    stage, unreachable = _code_stage(locs, behaviours)
    evidence = [
        Evidence(
            "code",
            f"{q.location.short} queries the {shown} provider"
            " (URI resolved by data flow)"
            + (f" ({note})" if (note := behaviours.reachability_note(q.location)) else ""),
            q.location,
            q.excerpt,
        )
        for q in sites[:MAX_EVIDENCE]
    ]
    evidence += _code_evidence(refs[: max(0, MAX_EVIDENCE - len(evidence))], behaviours)
    places = len({(loc.class_name, loc.method) for loc in locs})
    msg = f"{len(refs)} code reference(s) in {places} method(s)"
    if provider:
        msg = f"{len(sites)} {shown} provider quer(y/ies) resolved; " + msg
        if refs and not sites:
            msg += "; no query on these URIs was resolved (they may only be passed to a picker)"
    if len(locs) > MAX_EVIDENCE:
        msg += f"; the first {MAX_EVIDENCE} are shown"
    if unreachable:
        msg += "; none of them is reachable from the app's manifest components"
    perm = m.permission
    if perm and facts.manifest.has_permission(perm):
        evidence.append(_permission_evidence(facts, perm))
    elif perm:
        msg += f"; {perm.rsplit('.', 1)[-1]} is not requested, so the call would fail"
    origins = [r.origin for r in refs] + [q.origin for q in sites]
    return _finding(rule, stage, msg, evidence, _origin(origins), unreachable=unreachable)


def _match_permission_unused(
    rule: Rule, m: PermissionUnusedMatch, facts: AppFacts
) -> Finding | None:
    perm = m.permission
    if not facts.manifest.has_permission(perm) or facts.refs_tagged(*m.tags):
        return None
    msg = f"{perm} is requested but no code using it was found"
    if not facts.coverage.complete:
        msg += " in the visible code (part of the code is hidden from analysis)"
    return _finding(rule, Stage.DECLARED, msg, [_permission_evidence(facts, perm)])


def _match_code_without_permission(
    rule: Rule, m: CodeWithoutPermissionMatch, facts: AppFacts, behaviours: Behaviours
) -> Finding | None:
    perm = m.permission
    refs = facts.refs_tagged(*m.tags)
    if not refs or facts.manifest.has_permission(perm):
        return None
    stage, unreachable = _code_stage([r.location for r in refs], behaviours)
    msg = f"{len(refs)} code reference(s), but {perm} is not requested"
    return _finding(
        rule,
        stage,
        msg,
        _code_evidence(refs, behaviours),
        _origin(r.origin for r in refs),
        unreachable=unreachable,
    )


def _chain_evidence(chain: Chain) -> list[Evidence]:
    return [
        Evidence("chain", f"{h.role}: {h.description} at {h.location.short}", h.location, h.excerpt)
        for h in chain.hops
    ]


def _match_chain(rule: Rule, m: ChainMatch, behaviours: Behaviours) -> Finding | None:
    chains = [c for c in behaviours.chains if c.kind in m.kinds]
    if not chains:
        return None
    best = max(chains, key=lambda c: (c.stage, c.reachable is True, c.in_loop))
    unreachable = all(c.reachable is False for c in chains)
    msg = f"{len(chains)} chain(s); strongest: " + " → ".join(h.description for h in best.hops)
    if best.in_loop:
        msg += f" (inside a loop over {best.loop})"
    if unreachable:
        msg += "; not reachable from the app's manifest components"
    evidence = [e for c in chains[:3] for e in _chain_evidence(c)]
    return _finding(
        rule, best.stage, msg, evidence, _origin(c.origin for c in chains), unreachable=unreachable
    )


def _receiver_evidence(comp: Component, flt: IntentFilter) -> Evidence:
    prio = f' android:priority="{flt.priority}"' if flt.priority is not None else ""
    return Evidence(
        "manifest",
        f"receiver {comp.name} (exported={str(comp.exported).lower()})",
        manifest_element=f'<receiver android:name="{comp.name}"><intent-filter{prio}>'
        + "".join(f'<action android:name="{a}"/>' for a in flt.actions)
        + "</intent-filter></receiver>",
    )


def _match_receiver(rule: Rule, m: ReceiverMatch, facts: AppFacts) -> Finding | None:
    hits = [hit for a in m.actions for hit in facts.manifest.receivers_for(a)]
    if not hits:
        return None
    top = max((f.priority or 0) for _, f in hits)
    severity = None
    if m.high_priority is not None and top >= m.high_priority:
        severity = m.high_severity
    msg = f"{len(hits)} receiver(s); highest priority {top}"
    return _finding(
        rule, Stage.DECLARED, msg, [_receiver_evidence(c, f) for c, f in hits], severity=severity
    )


def _match_code_and_receiver(
    rule: Rule, m: CodeAndReceiverMatch, facts: AppFacts, behaviours: Behaviours
) -> Finding | None:
    refs = facts.refs_tagged(*m.tags)
    hits = [hit for a in m.actions for hit in facts.manifest.receivers_for(a)]
    if not refs or not hits:
        return None
    stage, unreachable = _code_stage([r.location for r in refs], behaviours)
    evidence = _code_evidence(refs, behaviours) + [_receiver_evidence(c, f) for c, f in hits]
    msg = f"{len(hits)} receiver(s) and {len(refs)} code reference(s)"
    return _finding(
        rule, stage, msg, evidence, _origin(r.origin for r in refs), unreachable=unreachable
    )


def _match_default_sms(rule: Rule, facts: AppFacts) -> Finding | None:
    if not facts.manifest.default_sms_candidate:
        return None
    ev = [
        Evidence(
            "manifest",
            f"{c.kind} {c.name} handles {a}",
            manifest_element=f'<{c.kind} android:name="{c.name}">',
        )
        for c in facts.manifest.components
        for flt in c.intent_filters
        for a in flt.actions
        if a
        in (
            "android.provider.Telephony.SMS_DELIVER",
            "android.provider.Telephony.WAP_PUSH_DELIVER",
            "android.intent.action.RESPOND_VIA_MESSAGE",
            "android.intent.action.SENDTO",
        )
    ]
    return _finding(rule, Stage.DECLARED, "declares every component of a default SMS app", ev)


def _match_permission(rule: Rule, m: PermissionMatch, facts: AppFacts) -> Finding | None:
    perm = m.permission
    if not facts.manifest.has_permission(perm):
        return None
    return _finding(rule, Stage.DECLARED, f"requests {perm}", [_permission_evidence(facts, perm)])


def _flag_state(facts: AppFacts, flag: Flag) -> tuple[bool, str]:
    m = facts.manifest
    if flag == "debuggable":
        return m.debuggable, 'android:debuggable="true"'
    if flag == "allow_backup":
        return m.allow_backup is True, 'android:allowBackup="true"'
    if flag == "cleartext":
        if m.uses_cleartext_traffic is not None:
            return m.uses_cleartext_traffic, 'android:usesCleartextTraffic="true"'
        target = m.identity.target_sdk or 1
        return target < 28, f"usesCleartextTraffic not set and targetSdkVersion {target} < 28"
    assert_never(flag)


def _match_flag(rule: Rule, m: FlagMatch, facts: AppFacts) -> Finding | None:
    on, element = _flag_state(facts, m.flag)
    if not on:
        return None
    ev = Evidence("manifest", element, manifest_element=f"<application {element}>")
    return _finding(rule, Stage.DECLARED, element, [ev])


def _match_query(
    rule: Rule, m: QueryMatch, facts: AppFacts, behaviours: Behaviours
) -> Finding | None:
    hits = behaviours.queries_of(*m.providers)
    if not hits:
        return None
    stage, unreachable = _code_stage([q.location for q in hits], behaviours)
    evidence = [
        Evidence(
            "code",
            f"{q.location.short} queries "
            + (
                f"the content URI {q.uri!r}"
                if q.uri
                else "a content URI that could not be resolved"
            ),
            q.location,
            q.excerpt,
        )
        for q in hits[:MAX_EVIDENCE]
    ]
    return _finding(
        rule,
        stage,
        f"{len(hits)} quer(y/ies)",
        evidence,
        _origin(q.origin for q in hits),
        unreachable=unreachable,
    )
