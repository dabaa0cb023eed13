"""Evaluate data rules against an app's facts and behaviours. One small function per match type."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from apkaudit.facts import AppFacts
from apkaudit.model import (
    Behaviours,
    Chain,
    CodeLocation,
    CodeRef,
    Evidence,
    Finding,
    Severity,
    Stage,
    confidence_for,
)
from apkaudit.rules import Rule, RuleSet

MAX_EVIDENCE = 12  # per finding; the count of the rest is said in the message

Matcher = Callable[[Rule, AppFacts, Behaviours], Finding | None]


def evaluate(rules: RuleSet, facts: AppFacts, behaviours: Behaviours) -> tuple[Finding, ...]:
    out = []
    for rule in rules.rules:
        finding = _MATCHERS[rule.match_type](rule, facts, behaviours)
        if finding is not None:
            out.append(finding)
    return tuple(out)


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
        ev.append(Evidence("code", desc, r.location, r.excerpt))
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


def _match_code(rule: Rule, facts: AppFacts, behaviours: Behaviours) -> Finding | None:
    refs = facts.refs_tagged(*rule.match["tags"])
    provider = rule.match.get("provider")
    sites = behaviours.queries_of(provider) if provider else ()
    if not refs and not sites:
        return None
    locs = [*sites, *(r.location for r in refs)]
    stage, unreachable = _code_stage(locs, behaviours)
    evidence = [
        Evidence(
            "code",
            f"{loc.short} queries the {provider.replace('_', '-')} provider"
            " (URI resolved by data flow)"
            + (f" ({note})" if (note := behaviours.reachability_note(loc)) else ""),
            loc,
            facts.dex.excerpt(loc),
        )
        for loc in sites[:MAX_EVIDENCE]
    ]
    evidence += _code_evidence(refs[: max(0, MAX_EVIDENCE - len(evidence))], behaviours)
    places = len({(loc.class_name, loc.method) for loc in locs})
    msg = f"{len(refs)} code reference(s) in {places} method(s)"
    if provider:
        msg = f"{len(sites)} {provider.replace('_', '-')} provider quer(y/ies) resolved; " + msg
        if refs and not sites:
            msg += "; no query on these URIs was resolved (they may only be passed to a picker)"
    if len(locs) > MAX_EVIDENCE:
        msg += f"; the first {MAX_EVIDENCE} are shown"
    if unreachable:
        msg += "; none of them is reachable from the app's manifest components"
    perm = rule.match.get("permission")
    if perm and facts.manifest.has_permission(perm):
        evidence.append(_permission_evidence(facts, perm))
    elif perm:
        msg += f"; {perm.rsplit('.', 1)[-1]} is not requested, so the call would fail"
    origins = [r.origin for r in refs] + [facts.attributor.origin(loc.class_name) for loc in sites]
    return _finding(rule, stage, msg, evidence, _origin(origins), unreachable=unreachable)


def _match_permission_unused(rule: Rule, facts: AppFacts, behaviours: Behaviours) -> Finding | None:
    perm = rule.match["permission"]
    if not facts.manifest.has_permission(perm) or facts.refs_tagged(*rule.match["tags"]):
        return None
    msg = f"{perm} is requested but no code using it was found"
    if not facts.coverage.complete:
        msg += " in the visible code (part of the code is hidden from analysis)"
    return _finding(rule, Stage.DECLARED, msg, [_permission_evidence(facts, perm)])


def _match_code_without_permission(
    rule: Rule, facts: AppFacts, behaviours: Behaviours
) -> Finding | None:
    perm = rule.match["permission"]
    refs = facts.refs_tagged(*rule.match["tags"])
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


def _match_chain(rule: Rule, facts: AppFacts, behaviours: Behaviours) -> Finding | None:
    chains = [c for c in behaviours.chains if c.kind in rule.match["kinds"]]
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


def _receiver_evidence(comp, flt) -> Evidence:
    prio = f' android:priority="{flt.priority}"' if flt.priority is not None else ""
    return Evidence(
        "manifest",
        f"receiver {comp.name} (exported={str(comp.exported).lower()})",
        manifest_element=f'<receiver android:name="{comp.name}"><intent-filter{prio}>'
        + "".join(f'<action android:name="{a}"/>' for a in flt.actions)
        + "</intent-filter></receiver>",
    )


def _match_receiver(rule: Rule, facts: AppFacts, behaviours: Behaviours) -> Finding | None:
    hits = [hit for a in rule.match["actions"] for hit in facts.manifest.receivers_for(a)]
    if not hits:
        return None
    top = max((f.priority or 0) for _, f in hits)
    severity = None
    if "high_priority" in rule.match and top >= rule.match["high_priority"]:
        severity = Severity(rule.match["high_severity"])
    msg = f"{len(hits)} receiver(s); highest priority {top}"
    return _finding(
        rule, Stage.DECLARED, msg, [_receiver_evidence(c, f) for c, f in hits], severity=severity
    )


def _match_code_and_receiver(rule: Rule, facts: AppFacts, behaviours: Behaviours) -> Finding | None:
    refs = facts.refs_tagged(*rule.match["tags"])
    hits = [hit for a in rule.match["actions"] for hit in facts.manifest.receivers_for(a)]
    if not refs or not hits:
        return None
    stage, unreachable = _code_stage([r.location for r in refs], behaviours)
    evidence = _code_evidence(refs, behaviours) + [_receiver_evidence(c, f) for c, f in hits]
    msg = f"{len(hits)} receiver(s) and {len(refs)} code reference(s)"
    return _finding(
        rule, stage, msg, evidence, _origin(r.origin for r in refs), unreachable=unreachable
    )


def _match_default_sms(rule: Rule, facts: AppFacts, behaviours: Behaviours) -> Finding | None:
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


def _match_permission(rule: Rule, facts: AppFacts, behaviours: Behaviours) -> Finding | None:
    perm = rule.match["permission"]
    if not facts.manifest.has_permission(perm):
        return None
    return _finding(rule, Stage.DECLARED, f"requests {perm}", [_permission_evidence(facts, perm)])


def _flag_state(facts: AppFacts, flag: str) -> tuple[bool, str]:
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
    raise KeyError(flag)


def _match_flag(rule: Rule, facts: AppFacts, behaviours: Behaviours) -> Finding | None:
    on, element = _flag_state(facts, rule.match["flag"])
    if not on:
        return None
    ev = Evidence("manifest", element, manifest_element=f"<application {element}>")
    return _finding(rule, Stage.DECLARED, element, [ev])


def _match_query(rule: Rule, facts: AppFacts, behaviours: Behaviours) -> Finding | None:
    providers = rule.match["providers"]
    hits = [(loc, uri) for loc, p, uri in behaviours.queries if p in providers]
    if not hits:
        return None
    sites = [loc for loc, _ in hits]
    stage, unreachable = _code_stage(sites, behaviours)
    evidence = [
        Evidence(
            "code",
            f"{loc.short} queries "
            + (f"the content URI {uri!r}" if uri else "a content URI that could not be resolved"),
            loc,
            facts.dex.excerpt(loc),
        )
        for loc, uri in hits[:MAX_EVIDENCE]
    ]
    origins = [facts.attributor.origin(loc.class_name) for loc in sites]
    return _finding(
        rule,
        stage,
        f"{len(sites)} quer(y/ies)",
        evidence,
        _origin(origins),
        unreachable=unreachable,
    )


_MATCHERS: dict[str, Matcher] = {
    "code": _match_code,
    "permission_unused": _match_permission_unused,
    "code_without_permission": _match_code_without_permission,
    "chain": _match_chain,
    "receiver": _match_receiver,
    "code_and_receiver": _match_code_and_receiver,
    "default_sms_candidate": _match_default_sms,
    "permission": _match_permission,
    "flag": _match_flag,
    "query": _match_query,
}
