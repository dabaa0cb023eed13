"""Self-contained HTML report: one file, inline CSS, no script, no external URL.

The wording (verdict sentences, behaviour groups, policy reasons) comes from the language
catalogs (``apkaudit/i18n/*.toml``); the template (``report_templates/report.html.j2``) only
lays it out. Everything that comes from the APK is escaped by Jinja's autoescape; nothing here
marks APK data safe. Phone numbers and e-mail addresses in evidence are partly masked unless
``redact=False``. The only image is the app's icon, a checked PNG/WebP/JPEG ``data:`` URI.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import jinja2

from apkaudit.model import (
    MAX_ICON_BYTES,
    VERDICT_KEYS,
    AppIcon,
    AppResult,
    CodeLocation,
    Finding,
    Level,
    Severity,
    sniff_image,
)
from apkaudit.policies.engine import Outcome, PolicyOutcome
from apkaudit.report.dataflows import data_flows
from apkaudit.report.document import Report
from apkaudit.report.i18n import Catalog, catalog
from apkaudit.report.json_v1 import sort_findings
from apkaudit.report.reasons import describe
from apkaudit.report.redact import redact as redact_text
from apkaudit.report.templates import new_environment

TEMPLATE = "report.html.j2"
INCONCLUSIVE = "Inconclusive: part of the code is hidden from analysis"

# Most serious first: the order of the verdict list and of the headline.
VERDICT_ORDER = (
    "bulk_sms_to_contacts",
    "sms_send",
    "contacts_upload",
    "sms_read",
    "call_log_read",
    "contacts_read",
)
assert set(VERDICT_ORDER) == set(VERDICT_KEYS)

# (group key, substrings of a finding's behaviour that put it in the group); the first match
# wins, so the more specific groups come first. Titles are in the catalogs (group.KEY).
BEHAVIOUR_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("bulk", ("bulk", "mass_sms", "contacts_to_sms")),
    ("interception", ("intercept", "otp", "default_sms", "sms_receive")),
    ("harvesting", ("harvest", "installed_apps", "device_id", "location")),
    ("sms_send", ("sms_send", "send_sms", "sendsms", "premium")),
    ("call_log", ("call_log", "calllog")),
    ("sms_read", ("sms",)),
    ("contacts", ("contact",)),
    ("network", ("network", "upload", "exfil", "http", "cleartext")),
)
GROUP_ORDER = (
    "bulk",
    "sms_send",
    "contacts",
    "sms_read",
    "call_log",
    "interception",
    "harvesting",
    "network",
    "other",
)


@dataclass(frozen=True)
class VerdictLine:
    key: str
    level: str  # confirmed | likely | possible | none | inconclusive
    badge: str
    sentence: str


@dataclass(frozen=True)
class FindingGroup:
    key: str
    title: str
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class PolicyRuleView:
    id: str
    status: str
    status_text: str
    title: str
    document: str
    section: str
    section_note: str
    effective: str
    date_note: str
    url: str
    sources: tuple[str, ...]
    verification: str
    verification_text: str
    requirement: str
    note: str
    reasons: tuple[str, ...]
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class PolicyView:
    id: str
    name: str
    jurisdiction: str
    authority: str
    scope: str
    status: str
    status_text: str
    counts: str
    rules: tuple[PolicyRuleView, ...]


def render_html(report: Report, *, lang: str = "en", redact: bool = True) -> str:
    """The whole report as one HTML document, in ``lang`` (``apkaudit.report.i18n.LANGUAGES``),
    with an appendix documenting the rules that ran."""
    tr = catalog(lang)
    template = _environment().get_template(TEMPLATE)
    apps = [_app_view(app, outcomes, tr) for app, outcomes in report.checked()]
    appendix = sorted(report.rules.rules, key=lambda r: r.id)
    return template.render(
        report=report,
        apps=apps,
        rules=appendix,
        rule_ids={r.id for r in appendix},
        t=tr.t,
        tr=tr,
        lang=lang,
        redact=redact_text if redact else _same,
        redacted=redact,
        policies_version=report.policies.version,
        policies_checked=bool(report.policies.policies),
    )


def _same(text: str) -> str:
    return text


# --------------------------------------------------------------------------- wording


def verdict_sentence(key: str, level: Level, *, complete: bool = True, lang: str = "en") -> str:
    return catalog(lang).verdict_sentence(key, level, complete=complete)


def verdict_lines(app: AppResult, tr: Catalog | None = None) -> list[VerdictLine]:
    tr = tr or catalog()
    complete = app.coverage.complete
    verdicts = app.verdicts
    lines = []
    for key in VERDICT_ORDER:
        level: Level = getattr(verdicts, key)
        shown = "inconclusive" if (level is Level.NONE and not complete) else level.value
        sentence = tr.verdict_sentence(key, level, complete=complete)
        lines.append(VerdictLine(key, shown, tr.t(f"level.{shown}"), sentence))
    order = {k: i for i, k in enumerate(VERDICT_ORDER)}
    lines.sort(key=lambda v: (-getattr(verdicts, v.key).rank, order[v.key]))
    return lines


def headline(app: AppResult, lines: Sequence[VerdictLine], tr: Catalog) -> tuple[str, str]:
    """(level, sentence) of the one-line answer at the top: the most serious verdict."""
    top = lines[0] if lines else None
    if top is not None and top.level not in ("none", "inconclusive"):
        return top.level, top.sentence
    if not app.coverage.complete:
        return "inconclusive", tr.t("ui.headline_inconclusive")
    return "none", tr.t("ui.headline_none")


def behaviour_group(behaviour: str) -> str:
    b = behaviour.lower().replace("-", "_").replace(" ", "_").replace(".", "_")
    for key, needles in BEHAVIOUR_GROUPS:
        if any(n in b for n in needles):
            return key
    return "other"


def group_findings(findings: tuple[Finding, ...], tr: Catalog | None = None) -> list[FindingGroup]:
    tr = tr or catalog()
    buckets: dict[str, list[Finding]] = {}
    for f in sort_findings(findings):
        buckets.setdefault(behaviour_group(f.behaviour), []).append(f)
    return [
        FindingGroup(k, tr.t(f"group.{k}"), tuple(buckets[k])) for k in GROUP_ORDER if k in buckets
    ]


def origin_text(origin: str, tr: Catalog | None = None) -> str:
    tr = tr or catalog()
    if origin == "app":
        return tr.t("origin.app")
    if origin.startswith("sdk:"):
        return tr.t("origin.sdk", name=origin[4:])
    return tr.t("origin.unknown") if origin in ("", "unknown") else origin


def error_reason(app: AppResult) -> str:
    """The one-line error without the leading ``PATH: `` that InputError messages carry."""
    reason = " ".join((app.error or "unknown error").split())
    return reason.removeprefix(f"{app.input.path}: ") or "unknown error"


def location_text(loc: CodeLocation) -> str:
    method = loc.method.split("(", 1)[0]
    return f"{loc.java_class}.{method} @ {loc.offset:#x} in {loc.dex}"


def policy_views(outcomes: Sequence[PolicyOutcome], tr: Catalog) -> list[PolicyView]:
    views = []
    for o in outcomes:
        rules = tuple(
            PolicyRuleView(
                id=r.rule.id,
                status=r.status.value,
                status_text=tr.t(f"status.{r.status.value}"),
                title=tr.policy_rule_text(r.rule.id, "title") or r.rule.title,
                document=tr.policy_rule_text(r.rule.id, "document") or r.rule.document,
                section=tr.policy_rule_text(r.rule.id, "section") or r.rule.section,
                section_note=tr.policy_rule_text(r.rule.id, "section_note"),
                effective=r.rule.effective,
                date_note=tr.policy_rule_text(r.rule.id, "date_note"),
                url=r.rule.url,
                sources=r.rule.sources,
                verification=r.rule.verification,
                verification_text=tr.t(f"verification.{r.rule.verification}"),
                requirement=tr.policy_rule_text(r.rule.id, "requirement") or r.rule.requirement,
                note=tr.policy_rule_text(r.rule.id, "note"),
                reasons=tuple(describe(x, tr) for x in r.reasons),
                findings=r.findings,
            )
            for r in o.rules
        )
        counts = " · ".join(
            tr.t("ui.count", status=tr.t(f"status.{s.value}"), n=o.count(s))
            for s in sorted(Outcome, key=lambda s: -s.rank)
            if o.count(s)
        )
        views.append(
            PolicyView(
                id=o.policy.id,
                name=tr.policy_text(o.policy.id, "name") or o.policy.name,
                jurisdiction=tr.policy_text(o.policy.id, "jurisdiction") or o.policy.jurisdiction,
                authority=tr.policy_text(o.policy.id, "authority") or o.policy.authority,
                scope=tr.policy_text(o.policy.id, "scope") or o.policy.scope,
                status=o.status.value,
                status_text=tr.t(f"status.{o.status.value}"),
                counts=counts,
                rules=rules,
            )
        )
    return views


def data_uri(icon: AppIcon | None) -> str:
    """``data:`` URI of an icon, its bytes checked again (the icon may come from a stored
    result); "" for a missing, oversized or mislabelled one."""
    if icon is None or len(icon.data) > MAX_ICON_BYTES:
        return ""
    mime = sniff_image(icon.data)
    if mime is None or mime != icon.mime:
        return ""
    return f"data:{mime};base64,{base64.b64encode(icon.data).decode('ascii')}"


def _app_view(app: AppResult, outcomes: Sequence[PolicyOutcome], tr: Catalog) -> dict[str, object]:
    ident = app.identity
    ok = app.status == "ok"
    lines = verdict_lines(app, tr) if ok else []
    outcomes = outcomes if ok else ()
    head_level, head_sentence = headline(app, lines, tr) if ok else ("", "")
    violated = sum(1 for o in outcomes if o.status is Outcome.VIOLATION)
    if not outcomes:
        head_policies = ""
    elif violated:
        head_policies = tr.t("ui.headline_policies", violations=violated, total=len(outcomes))
    else:
        head_policies = tr.t("ui.headline_policies_none", total=len(outcomes))
    return {
        "result": app,
        "ok": ok,
        "error": error_reason(app),
        "title": ident.label or ident.package or app.input.path,
        "identity": ident,
        "icon": data_uri(app.icon),
        "verdicts": lines,
        "headline_level": head_level,
        "headline": head_sentence,
        "headline_policies": head_policies,
        "groups": group_findings(app.findings, tr),
        "chains": app.behaviours.chains if app.behaviours else (),
        "data_flows": data_flows(app.behaviours.chains) if app.behaviours else (),
        "permissions": sorted(
            app.manifest.permissions if app.manifest else (),
            key=lambda p: (p.protection_level != "dangerous", p.name),
        ),
        "certificates": app.manifest.certificates if app.manifest else (),
        "manifest": app.manifest,
        "policies": policy_views(outcomes, tr),
    }


# --------------------------------------------------------------------------- templates


@cache
def _environment() -> jinja2.Environment:
    env = new_environment()
    env.filters["origin_text"] = origin_text
    env.filters["location_text"] = location_text
    env.filters["lines"] = lambda xs: "\n".join(str(x) for x in xs)
    env.filters["filesize"] = _filesize
    env.filters["severity"] = lambda s: Severity(s).value
    return env


def _filesize(n: int, tr: Catalog | None = None) -> str:
    tr = tr or catalog()
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            if unit == "bytes":
                return tr.t("ui.bytes", n=n)
            return tr.t("ui.bytes_unit", size=f"{size:.1f}", unit=unit, n=n)
        size /= 1024
    return tr.t("ui.bytes", n=n)
