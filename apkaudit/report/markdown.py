"""A short Markdown summary of a report, for pasting into an issue or a pull request.

The headline, where the data goes, who sends the SMS, what the reader can do, the verdicts,
the policy table (the reader's market first) and the most serious findings, in the chosen
language. Everything
from the APK is escaped so that it shows as text on GitHub/GitLab (no links, no HTML, no table
breaks); the full evidence stays in the HTML and JSON reports.
"""

from __future__ import annotations

from collections.abc import Sequence

from apkaudit.model import AppResult, Finding
from apkaudit.policies.engine import Outcome, PolicyOutcome
from apkaudit.report.borrower import borrower_view, chosen_policies
from apkaudit.report.document import Report
from apkaudit.report.escape import markdown as md_escape
from apkaudit.report.headline import Headline, headline, headline_text
from apkaudit.report.html import (
    VERDICT_ORDER,
    app_label,
    error_reason,
    headline_policies,
    primary_policy,
    verdict_lines,
)
from apkaudit.report.i18n import Catalog, catalog
from apkaudit.report.json_v1 import sort_findings
from apkaudit.report.redact import redact as redact_text
from apkaudit.report.risk import risk_text

MAX_FINDINGS = 15


def render_markdown(report: Report, *, lang: str = "en", redact: bool = True) -> str:
    tr = catalog(lang)
    explicit = report.policies.explicit
    parts = [_app(app, outcomes, tr, redact, explicit) for app, outcomes in report.checked()]
    footer = tr.t(
        "md.footer",
        version=report.tool_version,
        rules=report.rules_version,
        policies=report.policies.version,
        date=report.generated_at,
    )
    return "\n\n".join([*parts, f"<sub>{md_escape(footer)}</sub>"]) + "\n"


def _app(
    app: AppResult,
    outcomes: Sequence[PolicyOutcome],
    tr: Catalog,
    redact: bool,
    explicit: bool = False,
) -> str:
    ident = app.identity
    label = app_label(ident.label)
    title = label or ident.package or app.input.path
    if label:
        title = tr.t("ui.calls_itself_before") + label + tr.t("ui.calls_itself_after")
    lines = [f"## {md_escape(tr.t('md.title', title=title))}", ""]
    if app.status != "ok":
        error = tr.t("ui.error_heading", path=app.input.path, error=error_reason(app))
        lines.append(md_escape(error))
        lines.append("")
        lines.append(md_escape(tr.t("ui.error_not_clean")))
        return "\n".join(lines)
    facts = [md_escape(ident.package or tr.t("ui.unknown_value"))]
    if ident.version_name:
        facts.append(md_escape(tr.t("ui.version_line", version=ident.version_name)))
    facts.append(f"SHA-256 {md_escape(app.input.sha256)}")
    lines += [" · ".join(facts), ""]

    verdicts = verdict_lines(app, tr)
    head = headline(app)
    sentence = headline_text(head, tr)
    lines.append(f"**{md_escape(tr.t('level.' + head.level))}: {md_escape(sentence)}**")
    policy_line = headline_policies(outcomes, tr, explicit=explicit)
    if policy_line:
        lines += ["", md_escape(policy_line)]
    count_key = "ui.findings_count_one" if len(app.findings) == 1 else "ui.findings_count_other"
    risk = (
        f"{md_escape(tr.t('ui.overall_risk'))} "
        f"**{md_escape(risk_text(app, tr))}** "
        f"{md_escape('(' + tr.t('ui.risk_score', score=app.risk.score) + ')')} · "
        f"{md_escape(tr.t(count_key, n=len(app.findings)))}"
    )
    lines += ["", risk, ""]
    lines += _where(app, head, tr, redact, chosen_policies(outcomes, explicit))

    lines += [f"### {md_escape(tr.t('md.verdicts'))}", ""]
    lines += [f"| {tr.t('md.col_verdict')} | {tr.t('md.col_level')} |", "|---|---|"]
    order = {k: i for i, k in enumerate(VERDICT_ORDER)}
    for v in sorted(verdicts, key=lambda v: order[v.key]):
        badge = v.badge if v.level in ("none", "inconclusive") else f"**{v.badge}**"
        lines.append(f"| {md_escape(v.sentence)} | {badge} |")

    if outcomes:
        lines += ["", f"### {md_escape(tr.t('md.policies'))}", ""]
        lines += [
            f"| {tr.t('ui.col_policy')} | {tr.t('ui.col_result')} | {tr.t('ui.col_rules')} |",
            "|---|---|---|",
        ]
        ordered_outcomes = sorted(
            outcomes, key=lambda o: not primary_policy(o, tr.lang, explicit=explicit)
        )
        for o in ordered_outcomes:
            name = tr.policy_text(o.policy.id, "name") or o.policy.name
            status = tr.t(f"status.{o.status.value}")
            if o.status is Outcome.VIOLATION:
                status = f"**{status}**"
            shown = [r for r in o.rules if r.status is o.status and o.status is not Outcome.PASS]
            ids = ", ".join(md_escape(r.rule.id) for r in shown)
            lines.append(f"| {md_escape(name)} | {status} | {ids} |")

    if app.findings:
        lines += ["", f"### {md_escape(tr.t('md.findings'))}", ""]
        lines += [
            f"| {tr.t('md.col_severity')} | {tr.t('md.col_finding')} | {tr.t('ui.col_rule')} |",
            "|---|---|---|",
        ]
        ordered = sort_findings(app.findings)
        for f in ordered[:MAX_FINDINGS]:
            lines.append(_finding_row(f, tr, redact))
        if len(ordered) > MAX_FINDINGS:
            more = tr.t("md.more_findings", n=len(ordered) - MAX_FINDINGS)
            lines += ["", md_escape(more)]
    return "\n".join(lines)


def _where(
    app: AppResult, head: Headline, tr: Catalog, redact: bool, chosen: tuple[str, ...] = ()
) -> list[str]:
    """Where the data goes, who sends the SMS, and what the reader can do."""
    bw = borrower_view(app, head, tr, 1, chosen)
    red = redact_text if redact else str
    lines = [f"### {md_escape(tr.t('ui.where_heading'))}", ""]
    for d in bw.destinations:
        host = d.host or tr.t("ui.dest_no_host")
        what = tr.t("ui.dest_carries", data=d.data) if d.data else tr.t("ui.dest_no_data")
        count = f" {tr.t('ui.dest_count', n=d.count)}" if d.count > 1 else ""
        lines.append(
            f"- {md_escape(host)}{md_escape(count)}: {md_escape(what)} · {md_escape(d.resolution)}"
        )
    if not bw.destinations:
        lines.append(md_escape(tr.t("ui.dest_hidden" if bw.uploads else "ui.dest_none")))
    for s in bw.sends:
        to = tr.t("ui.send_to", recipients=s.recipients)
        texts = "; ".join(red(x) for x in s.texts)
        shown = f" · {tr.t('ui.send_text')} {texts}" if texts else ""
        lines.append(
            f"- {md_escape(tr.t('ui.sends_heading'))}: **{md_escape(s.trigger_text)}** "
            f"{md_escape(to + shown)}"
        )
    lines += ["", f"### {md_escape(tr.t('ui.todo_heading'))}", ""]
    lines += [f"{i}. {md_escape(s)}" for i, s in enumerate(bw.steps, 1)]
    lines += ["", f"{md_escape(tr.t('ui.complain_heading'))}:", ""]
    for c in bw.channels:
        contact = f" {c.contact}" if c.contact else ""
        lines.append(
            f"- {md_escape(c.name + contact)}: {md_escape(c.use)} "
            f"({md_escape(c.verification_text)})"
        )
    lines += ["", f"> {md_escape(tr.t('ui.no_app_heading'))}: {md_escape(bw.no_app_box)}", ""]
    return lines


def _finding_row(f: Finding, tr: Catalog, redact: bool) -> str:
    title = tr.rule_text(f.rule_id, "title", f.title or f.name)
    where = next((e.location.short for e in f.evidence if e.location), "")
    if where:
        where = redact_text(where) if redact else where
        title = f"{title} ({where})"
    severity = tr.t(f"severity.{f.severity.value}")
    return f"| {md_escape(severity)} | {md_escape(title)} | {md_escape(f.rule_id)} |"
