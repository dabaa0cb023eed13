"""The ``text`` format: a short summary for a terminal, what ``scan`` prints there by default.

Per app, in at most about 35 lines: what the file is, the one-line answer (the most serious
verdict), risk and coverage, the verdicts that found something, where personal data is sent, the
most serious findings with their code location, and the policy outcomes. The full evidence is
in the HTML and JSON reports.

Every app string goes through :func:`apkaudit.report.escape.terminal` (controls, escape
sequences and bidi overrides shown as visible escapes). Colour is the caller's choice
(``color=True`` only for a terminal without ``NO_COLOR``); without it the text holds no escape
sequence at all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from apkaudit.model import AppResult, Finding
from apkaudit.policies.engine import Outcome, PolicyOutcome
from apkaudit.report.document import Report
from apkaudit.report.escape import terminal
from apkaudit.report.headline import headline, headline_text
from apkaudit.report.html import error_reason, verdict_lines
from apkaudit.report.i18n import Catalog, catalog
from apkaudit.report.json_v1 import sort_findings
from apkaudit.report.redact import redact as redact_text
from apkaudit.report.risk import risk_label

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
                paint(terminal(f"{name}: could not be audited"), "high"),
                "  " + terminal(error_reason(app)),
                "  " + terminal(tr.t("ui.error_not_clean")),
            ]
        )
    what = [p for p in (ident.package, ident.version_name and f"version {ident.version_name}") if p]
    if ident.label and ident.label != ident.package and not _RESOURCE_REF.fullmatch(ident.label):
        what.append(f"calls itself \u201c{ident.label}\u201d")
    lines = [paint(terminal(name), "bold") + (f"  {terminal(', '.join(what))}" if what else "")]

    verdicts = verdict_lines(app, tr)
    head = headline(app)
    level, sentence = head.level, headline_text(head, tr)
    lines.append(paint(terminal(f"{tr.t('level.' + level)}: {sentence}"), level))
    count = tr.t(
        "ui.findings_count_one" if len(app.findings) == 1 else "ui.findings_count_other",
        n=len(app.findings),
    )
    risk = risk_label(app.risk)
    coverage = (
        "coverage complete"
        if app.coverage.complete
        else paint("INCOMPLETE: part of the code is hidden from analysis", "inconclusive")
    )
    lines.append(f"Risk {paint(risk, risk)} (score {app.risk.score}), {count}; {coverage}")
    for defect in app.input_defects[:2]:
        lines.append(paint(terminal(f"Damaged input ({defect.kind}): {defect.detail}"), "high"))

    found = [v for v in verdicts if v.level not in ("none", "inconclusive")]
    if found:
        lines += ["", "Verdicts:"]
        for v in found[:MAX_VERDICTS]:
            lines.append(f"  {paint(f'{v.badge:<10}', v.level)} {terminal(v.sentence)}")
        if len(found) > MAX_VERDICTS:
            lines.append(f"  (+{len(found) - MAX_VERDICTS} more)")

    lines += _destinations(app)

    if app.findings:
        ordered = sort_findings(app.findings)
        shown = ordered[:TOP_FINDINGS]
        more = f" ({len(shown)} of {len(ordered)})" if len(ordered) > len(shown) else ""
        lines += ["", f"Top findings{more}:"]
        lines += [_finding(f, tr, redact, paint) for f in shown]

    if outcomes:
        lines += ["", _policies(outcomes, paint)]
    return "\n".join(lines)


def _destinations(app: AppResult) -> list[str]:
    """Where the personal data goes: one line per address with the data that reaches it."""
    shown = [d for d in app.behaviours.destinations if d.data] if app.behaviours else []
    if not shown:
        return []
    lines = ["", "Personal data sent to:"]
    for d in shown[:MAX_DESTINATIONS]:
        where = d.url or d.host or "an address only known at run time"
        how = f"; {d.api}" if d.api else ""
        data = ", ".join(str(k).replace("_", " ") for k in d.data)
        lines.append(f"  {terminal(where)}  ({terminal(data)}{terminal(how)})")
    if len(shown) > MAX_DESTINATIONS:
        lines.append(f"  (+{len(shown) - MAX_DESTINATIONS} more)")
    return lines


def _finding(f: Finding, tr: Catalog, redact: bool, paint: _Paint) -> str:
    title = tr.rule_text(f.rule_id, "title", f.title or f.name)
    where = next((e.location.short for e in f.evidence if e.location), "")
    if where and redact:
        where = redact_text(where)
    sev = f.severity.value
    text = f"  {paint(f'{sev:<8}', sev)} {f.rule_id}  {terminal(title)}"
    return text + (f"  at {terminal(where)}" if where else "")


def _policies(outcomes: Sequence[PolicyOutcome], paint: _Paint) -> str:
    broken = [o for o in outcomes if o.status is Outcome.VIOLATION]
    others = len(outcomes) - len(broken)
    if not broken:
        return f"Policies: none of the {len(outcomes)} checked is violated"
    names = [o.policy.id for o in broken]  # ids keep the line short (names are in the HTML)
    named = ", ".join(names[:MAX_POLICIES_NAMED])
    if len(names) > MAX_POLICIES_NAMED:
        named += f" (+{len(names) - MAX_POLICIES_NAMED} more)"
    head = paint(f"Policies: {len(broken)} of {len(outcomes)} violated", "high")
    rest = f"; {others} not violated" if others else ""
    return f"{head}: {terminal(named)}{rest}"
