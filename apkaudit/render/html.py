"""Self-contained HTML report: one file, inline CSS, no script, no external URL.

The wording (verdict sentences, behaviour groups) is decided here; the template
(``report_templates/report.html.j2``) only lays it out. Everything that comes from the APK is
escaped by Jinja's autoescape; nothing here marks APK data safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import jinja2

from apkaudit.model import (
    VERDICT_KEYS,
    AppResult,
    CodeLocation,
    Finding,
    Level,
    Report,
    Severity,
)
from apkaudit.render.json_v1 import sort_findings
from apkaudit.render.sarif import RuleDoc

TEMPLATE = "report.html.j2"
INCONCLUSIVE = "Inconclusive: part of the code is hidden from analysis"

# verdict key -> (third person, infinitive); most serious first.
VERDICT_PHRASES: dict[str, tuple[str, str]] = {
    "bulk_sms_to_contacts": (
        "sends SMS to the people in your contact list without asking you",
        "send SMS to the people in your contact list without asking you",
    ),
    "sms_send": (
        "sends SMS messages from your phone by itself",
        "send SMS messages from your phone by itself",
    ),
    "contacts_upload": (
        "sends your contact list to a server",
        "send your contact list to a server",
    ),
    "sms_read": ("reads your SMS messages", "read your SMS messages"),
    "call_log_read": ("reads your call history", "read your call history"),
    "contacts_read": ("reads your contact list", "read your contact list"),
}
VERDICT_ORDER = tuple(VERDICT_PHRASES)
assert set(VERDICT_ORDER) == set(VERDICT_KEYS)

# (group key, heading, substrings of a finding's behaviour that put it in the group);
# the first match wins, so the more specific groups come first.
BEHAVIOUR_GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("bulk", "Bulk messaging", ("bulk", "mass_sms", "contacts_to_sms")),
    ("interception", "Interception", ("intercept", "otp", "default_sms", "sms_receive")),
    ("harvesting", "Harvesting", ("harvest", "installed_apps", "device_id", "location")),
    ("sms_send", "SMS sending", ("sms_send", "send_sms", "sendsms", "premium")),
    ("call_log", "Call log", ("call_log", "calllog")),
    ("sms_read", "SMS reading", ("sms",)),
    ("contacts", "Contacts", ("contact",)),
    ("network", "Network", ("network", "upload", "exfil", "http", "cleartext")),
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
GROUP_TITLES = {key: title for key, title, _ in BEHAVIOUR_GROUPS} | {"other": "Other"}


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


def render_html(report: Report, *, rules: Mapping[str, RuleDoc] | None = None) -> str:
    """The whole report as one HTML document."""
    template = _environment().get_template(TEMPLATE)
    apps = [_app_view(app, rules or {}) for app in report.apps]
    appendix = [rules[k] for k in sorted(rules)] if rules else []
    return template.render(report=report, apps=apps, rules=appendix, rule_ids=set(rules or ()))


# --------------------------------------------------------------------------- wording


def verdict_sentence(key: str, level: Level, *, complete: bool = True) -> str:
    third, infinitive = VERDICT_PHRASES[key]
    if level is Level.CONFIRMED:
        return f"This app {third}."
    if level is Level.LIKELY:
        return f"This app very probably {third}."
    if level is Level.POSSIBLE:
        return f"This app may {infinitive}."
    if not complete:
        return f"{INCONCLUSIVE}, so we cannot tell whether this app {third}."
    return f"No sign that this app {third}."


def verdict_lines(app: AppResult) -> list[VerdictLine]:
    complete = app.coverage.complete
    verdicts = app.verdicts
    lines = []
    for key in VERDICT_ORDER:
        level: Level = getattr(verdicts, key)
        shown = "inconclusive" if (level is Level.NONE and not complete) else level.value
        lines.append(
            VerdictLine(key, shown, shown, verdict_sentence(key, level, complete=complete))
        )
    order = {k: i for i, k in enumerate(VERDICT_ORDER)}
    lines.sort(key=lambda v: (-getattr(verdicts, v.key).rank, order[v.key]))
    return lines


def behaviour_group(behaviour: str) -> str:
    b = behaviour.lower().replace("-", "_").replace(" ", "_").replace(".", "_")
    for key, _title, needles in BEHAVIOUR_GROUPS:
        if any(n in b for n in needles):
            return key
    return "other"


def group_findings(findings: tuple[Finding, ...]) -> list[FindingGroup]:
    buckets: dict[str, list[Finding]] = {}
    for f in sort_findings(findings):
        buckets.setdefault(behaviour_group(f.behaviour), []).append(f)
    return [
        FindingGroup(k, GROUP_TITLES[k], tuple(buckets[k])) for k in GROUP_ORDER if k in buckets
    ]


def origin_text(origin: str) -> str:
    if origin == "app":
        return "app code"
    if origin.startswith("sdk:"):
        return f"SDK: {origin[4:]}"
    return "unknown origin" if origin in ("", "unknown") else origin


def error_reason(app: AppResult) -> str:
    """The one-line error without the leading ``PATH: `` that InputError messages carry."""
    reason = " ".join((app.error or "unknown error").split())
    return reason.removeprefix(f"{app.input.path}: ") or "unknown error"


def location_text(loc: CodeLocation) -> str:
    method = loc.method.split("(", 1)[0]
    return f"{loc.java_class}.{method} @ {loc.offset:#x} in {loc.dex}"


def _app_view(app: AppResult, rules: Mapping[str, RuleDoc]) -> dict[str, object]:
    ident = app.identity
    return {
        "result": app,
        "ok": app.status == "ok",
        "error": error_reason(app),
        "title": ident.label or ident.package or app.input.path,
        "identity": ident,
        "verdicts": verdict_lines(app) if app.status == "ok" else [],
        "groups": group_findings(app.findings),
        "chains": app.behaviours.chains if app.behaviours else (),
        "permissions": sorted(
            app.manifest.permissions if app.manifest else (),
            key=lambda p: (p.protection_level != "dangerous", p.name),
        ),
        "certificates": app.manifest.certificates if app.manifest else (),
        "manifest": app.manifest,
    }


# --------------------------------------------------------------------------- templates


def _template_root() -> Traversable:
    """The packaged templates; in a source checkout, the top-level ``report_templates/``."""
    try:
        return files("apkaudit.report_templates")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "report_templates"


def _load(name: str) -> str | None:
    if "/" in name or "\\" in name or not name.endswith((".j2", ".css")):
        return None
    item = _template_root().joinpath(name)
    return item.read_text(encoding="utf-8") if item.is_file() else None


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_load),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["origin_text"] = origin_text
    env.filters["location_text"] = location_text
    env.filters["humanize"] = lambda s: str(s).replace("_", " ")
    env.filters["lines"] = lambda xs: "\n".join(str(x) for x in xs)
    env.filters["filesize"] = _filesize
    env.filters["severity"] = lambda s: Severity(s).value
    return env


def _filesize(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit} ({n} bytes)"
        size /= 1024
    return f"{n} bytes"
