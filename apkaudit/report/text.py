"""The ``text`` format: a short summary for a terminal, what ``scan`` prints there by default.

Per app, in at most about 35 lines: what the file is, the one-line answer (the most serious
verdict), risk and coverage, the verdicts that found something, where personal data is sent, the
most serious findings with their code location, and the policy outcomes. The full evidence is
in the HTML and JSON reports.

Every sentence comes from the i18n tables (``[text]`` and the shared ``[ui]``, ``[level]``,
``[severity]``, ``[data]`` words), so ``--lang zh-CN`` gives Chinese text around the code. Every
app string goes through :func:`apkaudit.report.escape.terminal` (controls, escape
sequences and bidi overrides shown as visible escapes). Colour is the caller's choice
(``color=True`` only for a terminal without ``NO_COLOR``); without it the text holds no escape
sequence at all.
"""

from __future__ import annotations

import os
import re
import shlex
import unicodedata
from collections.abc import Sequence

from apkaudit.model import AppResult, Finding
from apkaudit.policies.engine import Outcome, PolicyOutcome
from apkaudit.report.borrower import data_kinds_text
from apkaudit.report.document import Report
from apkaudit.report.escape import terminal
from apkaudit.report.headline import headline, headline_text
from apkaudit.report.html import error_reason, verdict_lines
from apkaudit.report.i18n import Catalog, catalog
from apkaudit.report.json_v1 import sort_findings
from apkaudit.report.redact import redact as redact_text
from apkaudit.report.risk import risk_label, risk_text

# An unresolved resource reference is no name (the summary page skips it the same way).
_RESOURCE_REF = re.compile(r"@(?:0x)?[0-9A-Fa-f]{8}")
TOP_FINDINGS = 8
MAX_VERDICTS = 6
MAX_POLICIES_NAMED = 6
MAX_DESTINATIONS = 4

# SGR colours by level or severity; used only with color=True
_RED, _YELLOW, _GREEN, _BOLD = "31", "33", "32", "1"
_COLOUR = {
    "critical": _RED,
    "high": _RED,
    "likely": _RED,
    "confirmed": _RED,
    "medium": _YELLOW,
    "possible": _YELLOW,
    "inconclusive": _YELLOW,
    "unknown": _YELLOW,
    "none": _GREEN,
}


def render_text(
    report: Report, *, lang: str = "en", redact: bool = True, color: bool = False
) -> str:
    tr = catalog(lang)
    paint = _Paint(color)
    blocks = [_app(app, outcomes, tr, redact, paint) for app, outcomes in report.checked()]
    return "\n\n".join(blocks) + "\n"


class _Paint:
    def __init__(self, on: bool) -> None:
        self.on = on

    def __call__(self, text: str, key: str) -> str:
        code = _COLOUR.get(key, _BOLD if key == "bold" else "")
        return f"\x1b[{code}m{text}\x1b[0m" if self.on and code and text else text


def _app(
    app: AppResult, outcomes: Sequence[PolicyOutcome], tr: Catalog, redact: bool, paint: _Paint
) -> str:
    ident = app.identity
    name = os.path.basename(app.input.path) or app.input.path
    if app.status != "ok":
        return "\n".join(
            [
                paint(terminal(tr.t("text.error", name=name)), "high"),
                "  " + terminal(error_reason(app)),
                "  " + terminal(tr.t("ui.error_not_clean")),
            ]
        )
    what = [ident.package] if ident.package else []
    if ident.version_name:
        what.append(tr.t("ui.version_line", version=ident.version_name))
    if ident.label and ident.label != ident.package and not _RESOURCE_REF.fullmatch(ident.label):
        what.append(tr.t("text.calls_itself", label=ident.label))
    sep = tr.t("text.sep")
    lines = [paint(terminal(name), "bold") + (f"  {terminal(sep.join(what))}" if what else "")]

    verdicts = verdict_lines(app, tr)
    head = headline(app)
    level, sentence = head.level, headline_text(head, tr)
    lines.append(
        paint(terminal(tr.t("text.head", level=tr.t("level." + level), sentence=sentence)), level)
    )
    count = tr.t(
        "ui.findings_count_one" if len(app.findings) == 1 else "ui.findings_count_other",
        n=len(app.findings),
    )
    risk = risk_label(app.risk)
    coverage = (
        tr.t("text.coverage_complete")
        if app.coverage.complete
        else paint(tr.t("text.coverage_incomplete"), "inconclusive")
    )
    lines.append(
        tr.t(
            "text.risk_line",
            risk=paint(risk_text(app, tr), risk),
            score=app.risk.score,
            findings=count,
            coverage=coverage,
        )
    )
    for defect in app.input_defects[:2]:
        damaged = tr.t("text.damaged", kind=defect.kind, detail=defect.detail)
        lines.append(paint(terminal(damaged), "high"))

    found = [v for v in verdicts if v.level not in ("none", "inconclusive")]
    if found:
        lines += ["", tr.t("text.verdicts")]
        for v in found[:MAX_VERDICTS]:
            lines.append(f"  {paint(_pad(v.badge, 10), v.level)} {terminal(v.sentence)}")
        if len(found) > MAX_VERDICTS:
            lines.append("  " + tr.t("text.more", n=len(found) - MAX_VERDICTS))

    lines += _destinations(app, tr)

    if app.findings:
        ordered = sort_findings(app.findings)
        shown = ordered[:TOP_FINDINGS]
        lines += [
            "",
            tr.t("text.top_findings_of", shown=len(shown), total=len(ordered))
            if len(ordered) > len(shown)
            else tr.t("text.top_findings"),
        ]
        lines += [_finding(f, tr, redact, paint) for f in shown]

    if outcomes:
        lines += ["", _policies(outcomes, tr, paint)]
    return "\n".join(lines)


def _pad(text: str, width: int) -> str:
    """Left-aligned in ``width`` terminal columns (CJK characters take two)."""
    cols = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - cols)


def _destinations(app: AppResult, tr: Catalog) -> list[str]:
    """Where the personal data goes: one line per address with the data that reaches it."""
    shown = [d for d in app.behaviours.destinations if d.data] if app.behaviours else []
    if not shown:
        return []
    lines = ["", tr.t("text.destinations")]
    for d in shown[:MAX_DESTINATIONS]:
        where = d.url or d.host or tr.t("text.address_unknown")
        how = tr.t("text.dest_api", api=d.api) if d.api else ""
        line = tr.t("text.dest", where=where, data=data_kinds_text(d.data, tr), api=how)
        lines.append(f"  {terminal(line)}")
    if len(shown) > MAX_DESTINATIONS:
        lines.append("  " + tr.t("text.more", n=len(shown) - MAX_DESTINATIONS))
    return lines


def _finding(f: Finding, tr: Catalog, redact: bool, paint: _Paint) -> str:
    title = tr.rule_text(f.rule_id, "title", f.title or f.name)
    where = next((e.location.short for e in f.evidence if e.location), "")
    if where and redact:
        where = redact_text(where)
    sev = f.severity.value
    text = f"  {paint(_pad(tr.t('severity.' + sev), 8), sev)} {f.rule_id}  {terminal(title)}"
    return text + ("  " + terminal(tr.t("text.at", where=where)) if where else "")


def _policies(outcomes: Sequence[PolicyOutcome], tr: Catalog, paint: _Paint) -> str:
    broken = [o for o in outcomes if o.status is Outcome.VIOLATION]
    others = len(outcomes) - len(broken)
    if not broken:
        return tr.t("text.policies_none", total=len(outcomes))
    names = [o.policy.id for o in broken]  # ids keep the line short (names are in the HTML)
    named = ", ".join(names[:MAX_POLICIES_NAMED])
    if len(names) > MAX_POLICIES_NAMED:
        named += " " + tr.t("text.more", n=len(names) - MAX_POLICIES_NAMED)
    head = paint(tr.t("text.policies_broken", n=len(broken), total=len(outcomes)), "high")
    rest = tr.t("text.policies_rest", n=others) if others else ""
    return tr.t("text.policies_list", head=head, names=terminal(named), rest=rest)


def full_report_hint(apk: str, *, lang: str = "en") -> str:
    """The line ``scan`` prints after the text summary: how to get the full report."""
    command = f"apkaudit scan {shlex.quote(apk)} -o report.html"
    return terminal(catalog(lang).t("text.full_report", command=command))
