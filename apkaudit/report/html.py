"""Self-contained HTML report: one file, inline CSS, no script, no external URL.

The wording (verdict sentences, behaviour groups, policy reasons) comes from the language
catalogs (``apkaudit/i18n/*.toml``); the template (``report_templates/report.html.j2``) only
lays it out. Everything that comes from the APK is escaped by Jinja's autoescape; nothing here
marks APK data safe. Phone numbers and e-mail addresses in evidence are partly masked unless
``redact=False``. The only image is the app's icon, a checked PNG/WebP/JPEG ``data:`` URI.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from apkaudit.model import (
    MAX_ICON_BYTES,
    VERDICT_KEYS,
    AppIcon,
    AppResult,
    Chain,
    CodeLocation,
    Finding,
    Level,
    Severity,
    Trigger,
    sniff_image,
)
from apkaudit.policies.engine import Outcome, PolicyOutcome
from apkaudit.report.borrower import borrower_view, chosen_policies, data_kinds_text
from apkaudit.report.dataflows import data_flows
from apkaudit.report.document import Report
from apkaudit.report.headline import BULK_KINDS, answer_sentence, headline_text
from apkaudit.report.headline import headline as app_headline
from apkaudit.report.i18n import Catalog, catalog
from apkaudit.report.i18n.phrases import translator
from apkaudit.report.json_v1 import sort_findings
from apkaudit.report.reasons import describe
from apkaudit.report.redact import redact as redact_text
from apkaudit.report.risk import risk_key, risk_text

if TYPE_CHECKING:
    import jinja2

TEMPLATE = "report.html.j2"
INCONCLUSIVE = "Inconclusive: part of the code is hidden from analysis"
OPEN_CHAINS = 2  # the strongest chains are shown unfolded (screen and print); the rest fold
LISTED_CHAINS = 10  # the strongest chains listed one per line; the others behind one <details>

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
    primary: bool  # the reader's market (its languages include the report's), shown first


def render_html(report: Report, *, lang: str = "en", redact: bool = True) -> str:
    """The whole report as one HTML document, in ``lang`` (``apkaudit.report.i18n.LANGUAGES``),
    with an appendix documenting the rules that ran."""
    tr = catalog(lang)
    template = _environment().get_template(TEMPLATE)
    explicit = report.policies.explicit
    apps = [
        _app_view(app, outcomes, tr, i, explicit=explicit)
        for i, (app, outcomes) in enumerate(report.checked(), 1)
    ]
    appendix = sorted(report.rules.rules, key=lambda r: r.id)
    return template.render(
        report=report,
        apps=apps,
        rules=appendix,
        rule_ids={r.id for r in appendix},
        t=tr.t,
        tr=tr,
        say=translator(lang),
        listed_chains=LISTED_CHAINS,
        tm=lambda key, **values: escape(tr.t(key)).format(**values),
        code=lambda text: Markup("<code>{}</code>").format(text),
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
        user_only = key in ("sms_send", "bulk_sms_to_contacts") and _user_sends_only(app)
        if user_only and level is not Level.NONE and not _bulk_chains(app):
            said = "sms_user" if key == "sms_send" else "contacts_user"
            sentence = answer_sentence(said, level.value, tr)
        lines.append(VerdictLine(key, shown, tr.t(f"level.{shown}"), sentence))
    order = {k: i for i, k in enumerate(VERDICT_ORDER)}
    lines.sort(key=lambda v: (-getattr(verdicts, v.key).rank, order[v.key]))
    return lines


def _bulk_chains(app: AppResult) -> bool:
    """A data flow from the contacts or call log to an SMS send was traced."""
    chains = app.behaviours.chains if app.behaviours else ()
    return any(c.kind in BULK_KINDS for c in chains)


def _user_sends_only(app: AppResult) -> bool:
    """Every SMS send the analysis placed needs the user (a Send button, their SMS app)."""
    sends = app.behaviours.sms_sends if app.behaviours else ()
    return bool(sends) and all(s.trigger is not Trigger.AUTOMATIC for s in sends)


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


_RESOURCE_ID = re.compile(r"^@(?:0x)?[0-9A-Fa-f]{8}$|^@[\w.:]*string/\w+$")


def app_label(label: str) -> str:
    """The name the app gives itself, or "" when the label is only a resource reference the
    APK could not resolve (``@7F050006``): a resource id is no name."""
    return "" if _RESOURCE_ID.match(label.strip()) else label


def error_reason(app: AppResult) -> str:
    """The one-line error without the leading ``PATH: `` that InputError messages carry."""
    reason = " ".join((app.error or "unknown error").split())
    return reason.removeprefix(f"{app.input.path}: ") or "unknown error"


def location_text(loc: CodeLocation) -> str:
    method = loc.method.split("(", 1)[0]
    return f"{loc.java_class}.{method} @ {loc.offset:#x} in {loc.dex}"


def primary_policy(o: PolicyOutcome, lang: str, *, explicit: bool) -> bool:
    """Whether a policy is the reader's market: every policy the user chose with --policy, else
    those whose ``languages`` include the report's language."""
    return explicit or lang in o.policy.languages


def policy_views(
    outcomes: Sequence[PolicyOutcome], tr: Catalog, *, explicit: bool = False
) -> list[PolicyView]:
    """The policies, the reader's market first (then in report order)."""
    views = []
    ordered = sorted(outcomes, key=lambda o: not primary_policy(o, tr.lang, explicit=explicit))
    for o in ordered:
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
                primary=primary_policy(o, tr.lang, explicit=explicit),
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


def chain_order(chains: Sequence[Chain]) -> tuple[int, ...]:
    """Chain indices, strongest first (stage, reachable, in a loop), then in report order."""
    return tuple(
        sorted(
            range(len(chains)),
            key=lambda i: (
                -chains[i].stage,
                chains[i].reachable is not True,
                not chains[i].in_loop,
                i,
            ),
        )
    )


def open_chains(chains: Sequence[Chain], n: int = OPEN_CHAINS) -> frozenset[int]:
    """The indices of the strongest chains (shown unfolded; the rest fold to one line)."""
    return frozenset(chain_order(chains)[:n])


def headline_policies(
    outcomes: Sequence[PolicyOutcome], tr: Catalog, *, explicit: bool = False
) -> str:
    """The policy line of the headline: only the reader's market counts (the policies chosen
    with --policy, else those of the report's language), and lending laws that do not apply
    are not counted."""
    mine = [o for o in outcomes if primary_policy(o, tr.lang, explicit=explicit)]
    counted = [o for o in mine if o.status is not Outcome.NOT_APPLICABLE]
    if not counted:
        if mine:
            return tr.t("ui.headline_policies_na")
        return ""
    rules = [r for o in counted for r in o.rules]
    violated = sum(1 for r in rules if r.status is Outcome.VIOLATION)
    market = tr.t(f"ui.market_{'chosen' if explicit else tr.lang}")
    if violated:
        return tr.t("ui.headline_policies", market=market, violations=violated, total=len(rules))
    return tr.t("ui.headline_policies_none", market=market, total=len(rules))


def lending_text(app: AppResult, tr: Catalog) -> str:
    la = app.behaviours.lending_app if app.behaviours else None
    if la is None:
        return tr.t("lending.unknown")
    words = ", ".join(dict.fromkeys(s.value for s in la.signals if s.strength == "strong"))
    text = tr.t(f"lending.{la.value}")
    return tr.t("ui.lending_signals", value=text, signals=words) if words else text


def _app_view(
    app: AppResult,
    outcomes: Sequence[PolicyOutcome],
    tr: Catalog,
    ai: int = 1,
    *,
    explicit: bool = False,
) -> dict[str, object]:
    ident = app.identity
    ok = app.status == "ok"
    lines = verdict_lines(app, tr) if ok else []
    outcomes = outcomes if ok else ()
    head = app_headline(app)
    b = app.behaviours
    return {
        "result": app,
        "ok": ok,
        "error": error_reason(app),
        "title": app_label(ident.label) or ident.package or app.input.path,
        "identity": ident,
        "label": app_label(ident.label),
        "icon": data_uri(app.icon),
        "verdicts": lines,
        "headline": head,
        "headline_text": headline_text(head, tr) if ok else "",
        "headline_policies": headline_policies(outcomes, tr, explicit=explicit),
        "risk_key": risk_key(app),
        "risk_text": risk_text(app, tr),
        "borrower": borrower_view(app, head, tr, ai, chosen_policies(outcomes, explicit))
        if ok
        else None,
        "destinations": b.destinations if b else (),
        "sends": b.sms_sends if b else (),
        "data_text": lambda kinds: data_kinds_text(tuple(kinds), tr),
        "lending_text": lending_text(app, tr),
        "groups": group_findings(app.findings, tr),
        "chains": b.chains if b else (),
        "open_chains": open_chains(b.chains if b else ()),
        "chain_order": chain_order(b.chains if b else ()),
        "data_flows": data_flows(b.chains) if b else (),
        "permissions": (
            perms := sorted(
                app.manifest.permissions if app.manifest else (),
                key=lambda p: (p.protection_level != "dangerous", p.name),
            )
        ),
        "dangerous_count": sum(1 for p in perms if p.protection_level == "dangerous"),
        "certificates": app.manifest.certificates if app.manifest else (),
        "manifest": app.manifest,
        "policies": policy_views(outcomes, tr, explicit=explicit),
    }


# --------------------------------------------------------------------------- templates


@cache
def _environment() -> jinja2.Environment:
    from apkaudit.report.templates import new_environment  # jinja2: only when HTML is asked for

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
