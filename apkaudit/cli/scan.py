"""``apkaudit scan``: audit one app, render one report, map the result to an exit code."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from apkaudit import __version__
from apkaudit.cli.options import (
    EXIT_FINDINGS,
    EXIT_INPUT,
    EXIT_OK,
    emit,
    fail_on_option,
    limit_option,
    now,
    quiet_option,
    report_options,
)
from apkaudit.model import AppResult, Severity
from apkaudit.report.escape import terminal
from apkaudit.report.formats import FORMATS, SHOWS_LEGACY_DIGESTS, RenderOptions, render
from apkaudit.report.risk import risk_label

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
        f"{label}: risk {risk_label(app.risk)} ({app.risk.score}), {len(app.findings)} finding(s)"
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


# Output file extensions and the format each one means (``-o report.sarif``).
EXTENSIONS = {
    ".html": "html",
    ".htm": "html",
    ".json": "json",
    ".sarif": "sarif",
    ".sarif.json": "sarif",
    ".md": "md",
    ".markdown": "md",
    ".txt": "text",
    ".text": "text",
}


def output_format(output: Path | None, fmt: str | None, tty: bool) -> str:
    """The format of the report: ``--format``, else the output's extension, else ``text`` on a
    terminal and ``html`` anywhere else. An extension that names another format, or a file
    whose extension names none, is a usage error (a silent HTML ``r.txt`` helps nobody)."""
    if output is None:
        return fmt or ("text" if tty else "html")
    name = output.name.lower()
    ext = next((e for e in sorted(EXTENSIONS, key=len, reverse=True) if name.endswith(e)), None)
    implied = EXTENSIONS.get(ext) if ext else None
    if fmt is None and implied is None:
        raise click.UsageError(
            f"cannot tell the report format from {output.name!r}: give --format "
            f"({', '.join(FORMATS)}) or an extension such as .html, .json, .sarif, .md, .txt"
        )
    if fmt is not None and implied is not None and implied != fmt:
        raise click.UsageError(
            f"--format {fmt} does not match the output file {output.name!r} ({implied}); "
            "change one of them"
        )
    return fmt or implied or "html"


def use_color(stream: TextIO) -> bool:
    """ANSI colour only on a terminal, never with NO_COLOR set (no-color.org) or TERM=dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return is_tty(stream)


def is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def for_terminal(text: str, fmt: str) -> str:
    """A document on its way to a terminal: nothing from the app may drive the terminal."""
    from apkaudit.report.escape import json_safe, terminal_document

    return json_safe(text) if fmt in ("json", "sarif") else terminal_document(text)


@click.command()
@click.argument("apk", type=click.Path(dir_okay=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Write the report to this file ('-': standard output, the default). Its extension "
    "must match --format.",
)
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Report format (default: from the output's extension; on a terminal, text; else html).",
)
@fail_on_option("Exit 1 when a finding has this severity or higher.")
@report_options
@limit_option(
    "Override a limit of apkaudit/limits.py, e.g. max_dex_files=8 or max_seconds=60 "
    "(repeatable; sizes may end in K, M or G). See README 'Inputs and limits'."
)
@click.option(
    "--max-memory-mb",
    type=click.IntRange(min=0),
    default=None,
    help="Cap the analysis's memory (address space) in MiB; over it the app is reported as an "
    "input error (default: the max_memory_mb limit, 0 = no cap).",
)
@click.option(
    "--timings",
    is_flag=True,
    help="JSON: add each stage's wall and CPU seconds to the report (not reproducible).",
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
    timings: bool,
    quiet: bool,
) -> None:
    """Audit one app and write a text, HTML, JSON, SARIF or Markdown report.

    On a terminal with no --output, prints a short text summary; anywhere else the default is
    the HTML report.

    APK is an .apk, a split bundle (.xapk, .apks, .apkm), a folder holding a base APK and its
    splits, or an Android App Bundle (.aab).
    """
    from apkaudit.cli.collector import loading

    with loading():
        from apkaudit.audit import AuditOptions
        from apkaudit.bounded import audit_bounded
        from apkaudit.limits import DEFAULT_LIMITS
        from apkaudit.report.output import write_report

    if output is not None and str(output) == "-":
        output = None
    stdout = sys.stdout
    tty = is_tty(stdout)
    fmt = output_format(output, fmt, tty)
    chosen = DEFAULT_LIMITS.override(**dict(limits))
    if max_memory_mb is not None:
        chosen = chosen.override(max_memory_mb=max_memory_mb)
    options = AuditOptions(limits=chosen, legacy_digests=fmt in SHOWS_LEGACY_DIGESTS)
    result = audit_bounded(apk, options)  # in a child held to max_seconds and max_memory_mb
    report = make_report((result,), options.rules, policies)
    color = fmt == "text" and output is None and use_color(stdout)
    text = render(
        report, fmt, RenderOptions(lang=lang, redact=not no_redact, color=color, timings=timings)
    )
    summary = not quiet or result.status != "ok" or bool(result.input_defects)
    if output is not None:
        write_report(output, text)
    elif result.status == "ok":
        if tty and fmt != "text":  # text escapes app strings itself, and may hold colours
            text = for_terminal(text, fmt)
        if fmt == "text":
            from apkaudit.report.text import full_report_hint

            text += f"\n{full_report_hint(str(apk), lang=lang)}\n"
            summary = False  # the text already says it all
        emit(text)
    if summary:
        click.echo(terminal(summary_line(result)), err=True)
        if output is not None and not quiet:
            click.echo(f"report: {terminal(str(output))}", err=True)
    code = exit_code((result,), Severity(fail_on) if fail_on else None)
    sys.exit(EXIT_INPUT if result.input_defects else code)
