"""Check one audited app against policy packs: a pure function of the :class:`AppResult`.

Each policy rule gets one of five results:

- ``not_applicable``: the policy is a lending law and the app is not a lending app
  (``Behaviours.lending_app`` is ``no``); an app whose kind is ``unknown`` is checked;
- ``violation``: the manifest requests a forbidden permission, a verdict reaches the rule's
  level, or a finding the rule names fired (the findings behind it are listed);
- ``upcoming`` ("not applicable at this target SDK"): it would be a violation, but the rule
  only applies from a target SDK level the app does not target;
- ``cannot_tell``: no violation was seen, but the rule cannot be passed from the APK: either part
  of the code is hidden from analysis and the rule looks at code, or the app requests something
  the rule allows only in a way static analysis cannot check (one-time KYC access, ...);
- ``pass``: nothing the rule forbids was found, and all of the code was analysed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from apkaudit.model import AppResult, Finding, ManifestFacts
from apkaudit.policies import Policy, PolicyRule, load_policies
from apkaudit.rules.registry import VERDICT_RULES


class Outcome(StrEnum):
    NOT_APPLICABLE = "not_applicable"
    PASS = "pass"
    UPCOMING = "upcoming"
    CANNOT_TELL = "cannot_tell"
    VIOLATION = "violation"

    @property
    def rank(self) -> int:
        return list(Outcome).index(self)


@dataclass(frozen=True)
class Reason:
    """Why a rule got its result. ``kind`` decides what ``subject`` and ``levels`` hold.

    permission / not_allowed / review: ``subject`` is a permission name;
    verdicts: ``levels`` are the (verdict key, level) pairs that reached the rule's levels;
    finding: ``subject`` is a rule id; coverage: nothing; not_lending: nothing;
    target_sdk: ``subject`` is the app's target SDK ("" if not declared), ``levels`` holds
    ``("min", N)``; exempt: ``subject`` is the handler role (see ``HANDLERS``).
    """

    kind: str
    subject: str = ""
    levels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RuleOutcome:
    rule: PolicyRule
    status: Outcome
    reasons: tuple[Reason, ...]
    findings: tuple[Finding, ...]  # the findings behind the result


@dataclass(frozen=True)
class PolicyOutcome:
    policy: Policy
    status: Outcome
    rules: tuple[RuleOutcome, ...]

    def count(self, status: Outcome) -> int:
        return sum(1 for r in self.rules if r.status is status)


# --------------------------------------------------------------------------- evaluation


def evaluate_policies(
    app: AppResult, policies: Sequence[Policy] | None = None
) -> tuple[PolicyOutcome, ...]:
    """Every selected policy (default: all) checked against ``app``; () for an app not audited."""
    if app.status != "ok" or app.manifest is None:
        return ()
    chosen = load_policies().policies if policies is None else policies
    return tuple(_policy_outcome(p, app) for p in chosen)


def _policy_outcome(policy: Policy, app: AppResult) -> PolicyOutcome:
    if policy.lending and not is_lending_app(app):
        skip = (Reason("not_lending"),)
        na = tuple(RuleOutcome(r, Outcome.NOT_APPLICABLE, skip, ()) for r in policy.rules)
        return PolicyOutcome(policy, Outcome.NOT_APPLICABLE, na)
    rules = tuple(evaluate_rule(r, app) for r in policy.rules)
    status = max((r.status for r in rules), key=lambda s: s.rank, default=Outcome.PASS)
    return PolicyOutcome(policy, status, rules)


def evaluate_rule(rule: PolicyRule, app: AppResult) -> RuleOutcome:
    manifest = app.manifest
    if manifest is None:
        raise ValueError("evaluate_rule needs an audited app")
    exempt = _exempt(rule, manifest)
    triggers = [] if exempt else _triggers(rule, app, manifest)
    if triggers:
        target = manifest.identity.target_sdk
        if rule.min_target_sdk is not None and (target is None or target < rule.min_target_sdk):
            note = Reason(
                "target_sdk",
                "" if target is None else str(target),
                (("min", str(rule.min_target_sdk)),),
            )
            return RuleOutcome(rule, Outcome.UPCOMING, (note, *triggers), _behind(triggers, app))
        return RuleOutcome(rule, Outcome.VIOLATION, tuple(triggers), _behind(triggers, app))
    context = [Reason("exempt", rule.unless)] if exempt else []
    review = [Reason("review", p) for p in _requested(manifest, rule.review_permissions)]
    if review:
        return RuleOutcome(rule, Outcome.CANNOT_TELL, (*review, *context), ())
    if rule.uses_code and not app.coverage.complete:
        return RuleOutcome(rule, Outcome.CANNOT_TELL, (Reason("coverage"), *context), ())
    return RuleOutcome(rule, Outcome.PASS, tuple(context), ())


def is_lending_app(app: AppResult) -> bool:
    """False only when the analysis decided the app is not a lending app (``no``); ``yes``,
    ``unknown`` and an app without the answer are checked against the lending laws."""
    la = app.behaviours.lending_app if app.behaviours else None
    return la is None or la.value != "no"


def _requested(manifest: ManifestFacts, names: Iterable[str]) -> list[str]:
    wanted = set(names)
    return list(dict.fromkeys(p.name for p in manifest.permissions if p.name in wanted))


def _dangerous(level: str) -> bool:
    return level.split("|", 1)[0] == "dangerous"


def _triggers(rule: PolicyRule, app: AppResult, manifest: ManifestFacts) -> list[Reason]:
    out = [Reason("permission", p) for p in _requested(manifest, rule.permissions)]
    if rule.allowed_dangerous is not None:
        allowed = {*rule.allowed_dangerous, *rule.ignore_permissions}
        extra = [p.name for p in manifest.permissions if _dangerous(p.protection_level)]
        out += [Reason("not_allowed", n) for n in dict.fromkeys(extra) if n not in allowed]
    verdicts = app.verdicts
    for table in rule.verdicts:
        levels = {k: getattr(verdicts, k) for k in table}
        if all(levels[k].rank >= need.rank for k, need in table.items()):
            out.append(Reason("verdicts", levels=tuple((k, v.value) for k, v in levels.items())))
    fired = dict.fromkeys(f.rule_id for f in app.findings if f.rule_id in rule.findings)
    out += [Reason("finding", rid) for rid in fired]
    return out


def _exempt(rule: PolicyRule, manifest: ManifestFacts) -> bool:
    if rule.unless == "default_sms_handler":
        return manifest.default_sms_candidate
    if rule.unless == "default_phone_handler":
        return default_phone_candidate(manifest)
    return False


def default_phone_candidate(manifest: ManifestFacts) -> bool:
    """Declares what Android requires of a default phone app: an InCallService and a DIAL
    activity (developer.android.com, default handlers / RoleManager.ROLE_DIALER)."""
    actions = {
        (c.kind, a) for c in manifest.components for f in c.intent_filters for a in f.actions
    }
    return ("service", "android.telecom.InCallService") in actions and any(
        kind in ("activity", "activity-alias") and action == "android.intent.action.DIAL"
        for kind, action in actions
    )


def _behind(triggers: Sequence[Reason], app: AppResult) -> tuple[Finding, ...]:
    """The findings that show the triggers: named ones, the verdicts' own findings, and those
    whose manifest evidence is a forbidden permission. Most serious first."""
    ids: set[str] = set()
    perms: set[str] = set()
    for t in triggers:
        if t.kind == "finding":
            ids.add(t.subject)
        elif t.kind == "verdicts":
            for key, _level in t.levels:
                ids.update(VERDICT_RULES.get(key, ()))
        elif t.kind in ("permission", "not_allowed"):
            perms.add(t.subject)

    def shows(f: Finding) -> bool:
        if f.rule_id in ids:
            return True
        return any(
            e.manifest_element and any(f'"{p}"' in e.manifest_element for p in perms)
            for e in f.evidence
        )

    picked = [f for f in app.findings if shows(f)]
    picked.sort(key=lambda f: (-f.severity.rank, -f.confidence.rank, f.rule_id, f.fingerprint))
    return tuple(picked)
