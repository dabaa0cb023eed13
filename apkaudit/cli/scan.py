"""``apkaudit scan``: audit one app, render one report, map the result to an exit code."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from apkaudit import __version__
from apkaudit.cli.options import (
    EXIT_FINDINGS,
    EXIT_INPUT,
    EXIT_OK,
    fail_on_option,
    limit_option,
    now,
    quiet_option,
)
from apkaudit.model import AppResult, Severity
from apkaudit.report.formats import FORMATS, RenderOptions, render
from apkaudit.report.i18n import LANGUAGES

if TYPE_CHECKING:
    from apkaudit.report.document import Report, RuleCatalogue


def make_report(
    apps: tuple[AppResult, ...], rules: RuleCatalogue, policies: tuple[str, ...] | None = None
) -> Report:
    """The report of ``apps``, audited with ``rules``; ``policies``: ids of the policies to
    check (None: all of them)."""
    from apkaudit.report.document import RuleRun, build_report

    return build_report(
        apps,
        rules=RuleRun.of(rules),
        tool_version=__version__,
        generated_at=now(),
        policy_ids=policies,
    )


def _policy_option(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[str, ...] | None:
    """``--policy google-play,rbi`` -> the policy ids (aliases expanded); None: all."""
    if value is None:
        return None
    from apkaudit.policies import load_policies

    names = [n for n in value.split(",") if n.strip()]
    try:
        return tuple(p.id for p in load_policies().select(names))
    except KeyError as exc:
        known = ", ".join(load_policies().ids)
        raise click.BadParameter(
            f"unknown policy {exc.args[0]!r}; choose from all, none, google-play, {known} "
            "(or a country name)"
        ) from None


def summary_line(app: AppResult) -> str:
    if app.status != "ok":
        return f"apkaudit: error: {app.error}"
    if app.input_defects:
        first = app.input_defects[0]
        more = f" (+{len(app.input_defects) - 1} more)" if len(app.input_defects) > 1 else ""
        return (
            f"apkaudit: error: {app.input.path}: damaged input ({first.kind}): {first.detail}"
            f"{more}; a partial report was written"
        )
    v = app.verdicts
    flagged = [f"{k}={getattr(v, k).value}" for k in v.as_dict() if getattr(v, k).value != "none"]
    label = app.identity.package or os.path.basename(app.input.path)
    return (
        f"{label}: risk {app.risk.level.value} ({app.risk.score}), {len(app.findings)} finding(s)"
        + (f"; {', '.join(flagged)}" if flagged else "; no watched behaviour found")
        + ("" if app.coverage.complete else "; INCOMPLETE: part of the code is hidden")
    )


def exit_code(apps: tuple[AppResult, ...], fail_on: Severity | None) -> int:
    if any(a.status != "ok" for a in apps):
        return EXIT_INPUT
    if fail_on is not None and any(
        f.severity.rank >= fail_on.rank for a in apps for f in a.findings
    ):
        return EXIT_FINDINGS
    return EXIT_OK


def _format_from_name(output: Path | None) -> str:
    if output is not None:
        suffix = output.suffix.lower().lstrip(".")
        if suffix in FORMATS:
            return suffix
    return "html"


@click.command()
@click.argument("apk", type=click.Path(dir_okay=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report here (default: standard output).",
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Report format (default: from the output's extension, else html).",
)
@fail_on_option("Exit 1 when a finding has this severity or higher.")
@click.option(
    "--policy",
    "policies",
    callback=_policy_option,
    default=None,
    metavar="LIST",
    help="Policies to check, comma-separated: ids or aliases such as google-play, rbi, china;"
    " 'none' for no policy check (default: all).",
)
@click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default="en",
    show_default=True,
    help="Language of the HTML and Markdown reports.",
)
@click.option(
    "--no-redact",
    is_flag=True,
    help="Show phone numbers and e-mail addresses found in the app in full (HTML, Markdown).",
)
@limit_option(
    "Override a limit of apkaudit/limits.py, e.g. max_dex_files=8 or max_seconds=60 "
    "(repeatable; sizes may end in K, M or G). See README 'Inputs and limits'."
)
@click.option(
    "--max-memory-mb",
    type=click.IntRange(min=0),
    default=None,
    help="Cap this process's memory (address space) in MiB; over it the app is reported as an "
    "input error (default: the max_memory_mb limit, 0 = no cap).",
)
@quiet_option("No summary line on standard error.")
def scan(
    apk: Path,
    output: Path | None,
    fmt: str | None,
    fail_on: str | None,
    policies: tuple[str, ...] | None,
    lang: str,
    no_redact: bool,
    limits: tuple[tuple[str, int], ...],
    max_memory_mb: int | None,
    quiet: bool,
) -> None:
    """Audit one app and write an HTML, JSON, SARIF or Markdown report.

    APK is an .apk, a split bundle (.xapk, .apks, .apkm), a folder holding a base APK and its
    splits, or an Android App Bundle (.aab).
    """
    from apkaudit.audit import AuditOptions, audit_app
    from apkaudit.limits import DEFAULT_LIMITS, cap_address_space

    fmt = fmt or _format_from_name(output)
    chosen = DEFAULT_LIMITS.override(**dict(limits))
    cap_address_space(chosen.max_memory_mb if max_memory_mb is None else max_memory_mb)
    options = AuditOptions(limits=chosen)
    result = audit_app(apk, options)
    report = make_report((result,), options.rules, policies)
    text = render(report, fmt, RenderOptions(lang=lang, redact=not no_redact))
    if output is not None:
        output.write_text(text, encoding="utf-8")
    elif result.status == "ok":
        click.echo(text, nl=False)
    if not quiet or result.status != "ok" or result.input_defects:
        click.echo(summary_line(result), err=True)
        if output is not None and not quiet:
            click.echo(f"report: {output}", err=True)
    code = exit_code((result,), Severity(fail_on) if fail_on else None)
    sys.exit(EXIT_INPUT if result.input_defects else code)
