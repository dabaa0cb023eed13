"""``apkaudit batch``: audit a corpus in isolated workers, keep results, write reports, gate CI.

Exit codes (the same table as ``scan``, see the README): 0 every input was handled and nothing
new fails the gate; 1 a new finding or verdict is at or above a gate (``--fail-on``,
``--fail-on-verdict``), whatever else happened; 3 no gate failed but some inputs could not be
audited (input error, timeout, crash, memory limit), unless ``--allow-errors``; 2 usage error;
4 internal error of the batch driver itself.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import click

from apkaudit.cli.options import (
    EXIT_FINDINGS,
    EXIT_INPUT,
    EXIT_OK,
    fail_on_option,
    limit_option,
    now,
    quiet_option,
    report_options,
)
from apkaudit.errors import OutputError
from apkaudit.model import Confidence, Severity
from apkaudit.report.escape import terminal
from apkaudit.report.risk import risk_label

if TYPE_CHECKING:
    from apkaudit.corpus.gate import GatePolicy, GateResult
    from apkaudit.corpus.run import BatchConfig, BatchRun, Row
    from apkaudit.corpus.store import ResultsStore

OUTPUT_FORMATS = ("html", "json", "sarif")
EXPORT_FORMATS = ("jsonl", "csv")
RUN_STATS = "run.json"


class _Progress:
    """One self-rewriting line on a terminal's standard error; silent anywhere else."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.errors = 0
        self.stored = 0

    def update(self, done: int, total: int, row: Row) -> None:
        if row.source == "store":
            self.stored += 1
        if not row.ok:
            self.errors += 1
        if not self.enabled:
            return
        width = shutil.get_terminal_size((80, 20)).columns
        filled = int(20 * done / max(1, total))
        bar = "#" * filled + "-" * (20 - filled)
        text = (
            f"[{bar}] {done}/{total}  {self.stored} from store  {self.errors} error(s)  "
            f"{terminal(os.path.basename(row.spec.display))}"
        )
        sys.stderr.write("\r\x1b[K" + text[: max(10, width - 1)])
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _split_formats(
    _ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    out: list[str] = []
    for item in value:
        for fmt in filter(None, (s.strip().lower() for s in item.split(","))):
            if fmt not in OUTPUT_FORMATS:
                raise click.BadParameter(f"{fmt!r} is not one of {', '.join(OUTPUT_FORMATS)}")
            out.append(fmt)
    return tuple(dict.fromkeys(out)) or OUTPUT_FORMATS


def _open_store(path: Path) -> ResultsStore:
    from apkaudit.corpus.store import ResultsStore, StoreError

    try:
        return ResultsStore(path)
    except StoreError as exc:
        raise click.UsageError(str(exc)) from None


def _export(store_path: Path, fmt: str) -> None:
    from apkaudit import __version__
    from apkaudit.corpus.store import export
    from apkaudit.rules import load_rules

    if not store_path.is_file():
        raise click.UsageError(f"no results store at {store_path} (run a batch first)")
    with _open_store(store_path) as store:
        rows = store.rows(tool_version=__version__, rules_version=load_rules().version)
        for chunk in export(rows, fmt):
            click.echo(chunk, nl=False)


@click.command()
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("apkaudit-out"),
    show_default=True,
    help="Output directory: reports, results.sqlite, run.json.",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: the number of CPUs).",
)
@click.option(
    "-f",
    "--format",
    "formats",
    multiple=True,
    callback=_split_formats,
    help="Outputs: html (summary + one report per app), json, sarif; repeat or "
    "comma-separate (default: all).",
)
@fail_on_option("Exit 1 when a new finding has this severity or higher.")
@click.option(
    "--min-confidence",
    type=click.Choice([c.value for c in Confidence]),
    help="Findings below this confidence never trip --fail-on.",
)
@click.option(
    "--fail-on-verdict",
    "verdict_gates",
    multiple=True,
    metavar="VERDICT=LEVEL",
    help="Exit 1 when an app's verdict is at LEVEL or higher, e.g. "
    "bulk_sms_to_contacts=likely (repeatable).",
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Accepted findings and verdicts: only new ones fail the gate.",
)
@click.option(
    "--write-baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every finding and verdict of this run as a baseline file.",
)
@click.option(
    "--allow-errors",
    is_flag=True,
    help="Inputs that could not be audited do not make the exit code 3.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    help="Wall-time limit per app in seconds; the worker is killed (0: none).",
)
@click.option(
    "--memory-limit",
    "--max-memory-mb",
    "memory_limit",
    type=click.IntRange(min=0),
    default=2048,
    show_default=True,
    help="Address-space limit per worker in MiB (0: none).",
)
@limit_option("Override an input limit of apkaudit/limits.py (repeatable).")
@report_options
@click.option(
    "--absolute-paths",
    is_flag=True,
    help="Name inputs by their absolute path in the outputs (default: as given if relative, "
    "else relative to the directory given, or the file name).",
)
@click.option("--rescan", is_flag=True, help="Audit every app again, even if stored.")
@click.option(
    "--store",
    "store_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Results store (default: OUT/results.sqlite).",
)
@click.option(
    "--export",
    "export_fmt",
    type=click.Choice(EXPORT_FORMATS),
    help="Print the store's rows for this apkaudit and rules version and exit (no PATH).",
)
@click.option(
    "--executor",
    type=click.Choice(("local", "dask")),
    default="local",
    show_default=True,
    help="Where the per-app tasks run.",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Dask scheduler address for --executor dask (tcp://host:8786, or tls://host:8786 with "
    "--tls-ca-file and --tls-cert).",
)
@click.option(
    "--tls-ca-file",
    type=click.Path(exists=True, dir_okay=False),
    help="Dask over TLS: the CA certificate (PEM) the scheduler's certificate is checked with.",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False),
    help="Dask over TLS: this client's certificate (PEM; may hold the key too).",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False),
    help="Dask over TLS: this client's private key (PEM), if not in --tls-cert.",
)
@quiet_option("No progress bar and no summary line.")
def batch(
    paths: tuple[str, ...],
    out: Path,
    jobs: int | None,
    formats: tuple[str, ...],
    fail_on: str | None,
    min_confidence: str | None,
    verdict_gates: tuple[str, ...],
    baseline: Path | None,
    write_baseline: Path | None,
    allow_errors: bool,
    timeout: float,
    memory_limit: int,
    limits: tuple[tuple[str, int], ...],
    policies: tuple[str, ...] | None,
    lang: str,
    no_redact: bool,
    absolute_paths: bool,
    rescan: bool,
    store_path: Path | None,
    export_fmt: str | None,
    executor: str,
    scheduler: str | None,
    tls_ca_file: str | None,
    tls_cert: str | None,
    tls_key: str | None,
    quiet: bool,
) -> None:
    """Audit many apps: files, directories (recursive) and glob patterns.

    Each app runs in an isolated worker process with a time and memory limit. Results are kept
    in a SQLite store in OUT, so a re-run only audits new apps. Writes OUT/index.html (corpus
    summary), OUT/apps/*.html, OUT/results.json and OUT/results.sarif.
    """
    from apkaudit import __version__
    from apkaudit.corpus.gate import (
        Baseline,
        GatePolicy,
        baseline_document,
        evaluate,
        parse_verdict_gate,
    )
    from apkaudit.corpus.outputs import write_outputs
    from apkaudit.corpus.run import BatchConfig, TlsFiles, discover, run_batch
    from apkaudit.corpus.store import DEFAULT_NAME
    from apkaudit.corpus.worker import WorkerSettings
    from apkaudit.report.document import RuleRun, build_report
    from apkaudit.report.formats import RenderOptions
    from apkaudit.report.output import write_report
    from apkaudit.rules import load_rules

    store_file = store_path or out / DEFAULT_NAME
    if export_fmt:
        if paths:
            raise click.UsageError("--export prints the results store; give no PATH with it")
        _export(store_file, export_fmt)
        return
    if not paths:
        raise click.UsageError("give at least one PATH (file, directory or glob pattern)")
    if executor == "dask" and not scheduler:
        raise click.UsageError("--executor dask needs --scheduler ADDRESS")
    if (tls_ca_file or tls_cert or tls_key) and not (tls_ca_file and tls_cert):
        raise click.UsageError("Dask over TLS needs both --tls-ca-file and --tls-cert")
    tls = TlsFiles(tls_ca_file, tls_cert, tls_key) if tls_ca_file and tls_cert else None
    try:
        gates = tuple(parse_verdict_gate(g) for g in verdict_gates)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fail-on-verdict") from None
    try:
        accepted = Baseline.load(baseline) if baseline else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--baseline") from None
    inputs, problems = discover(paths, absolute_paths=absolute_paths)
    if problems or not inputs:  # an input error, as in scan: exit 3, one line
        found = "no app found (looked for .apk .xapk .apks .apkm .aab files)"
        click.echo(f"apkaudit: error: {terminal('; '.join(problems) or found)}", err=True)
        sys.exit(EXIT_INPUT)

    rules = load_rules()
    generated_at = now()
    config = BatchConfig(
        tool_version=__version__,
        rules_version=rules.version,
        audited_at=generated_at,
        jobs=jobs or os.cpu_count() or 1,
        settings=WorkerSettings(timeout, memory_limit, limits),
        rescan=rescan,
        executor=executor,
        scheduler=scheduler,
        tls=tls,
    )
    progress = _Progress(enabled=not quiet and sys.stderr.isatty())
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out}: {exc.strerror}") from None
    try:
        with _open_store(store_file) as store:
            run = run_batch(inputs, config, store, progress.update)
    finally:
        progress.close()

    apps = [row.app for row in run.rows]
    policy = GatePolicy(
        fail_on=Severity(fail_on) if fail_on else None,
        min_confidence=Confidence(min_confidence) if min_confidence else None,
        verdicts=gates,
        baseline=accepted,
    )
    gate = evaluate(apps, policy)
    gate_note = _gate_note(policy, gate) if policy.active else ""
    run_note = (
        f"This run: {run.audited} app(s) analysed, {run.from_store} taken from the results store; "
        f"{run.wall_seconds:.1f} s with {config.jobs if executor == 'local' else 'Dask'} "
        f"worker(s)."
    )
    report = build_report(
        apps,
        rules=RuleRun.of(rules),
        tool_version=__version__,
        generated_at=generated_at,
        policy_ids=policies,
    )
    write_outputs(
        report,
        out,
        formats=formats,
        policy=policy,
        run_note=run_note,
        gate_note=gate_note,
        options=RenderOptions(lang=lang, redact=not no_redact),
    )
    if write_baseline:
        doc = baseline_document(
            apps, tool_version=__version__, rules_version=rules.version, generated_at=generated_at
        )
        write_report(write_baseline, json.dumps(doc, indent=2) + "\n")
    _write_run_stats(out / RUN_STATS, run, config)

    if not quiet:
        click.echo(_summary_line(run, gate_note, out), err=True)
    if gate.failed:
        sys.exit(EXIT_FINDINGS)
    if gate.errors and not allow_errors:
        sys.exit(EXIT_INPUT)
    sys.exit(EXIT_OK)


def _gate_note(policy: GatePolicy, gate: GateResult) -> str:
    parts = []
    if policy.fail_on is not None:
        conf = (
            f" with {policy.min_confidence.value} confidence or more"
            if policy.min_confidence
            else ""
        )
        parts.append(f"findings at or above {policy.fail_on.value}{conf}")
    parts += [f"{k} at or above {lvl.value}" for k, lvl in policy.verdicts]
    what = " or ".join(parts)
    accepted = f"; {gate.accepted} accepted by the baseline" if policy.baseline else ""
    if gate.failed:
        kinds = Counter(h.kind for h in gate.hits)
        detail = ", ".join(f"{n} {k}(s)" for k, n in sorted(kinds.items()))
        apps = len({h.path for h in gate.hits})
        return f"FAIL: {detail} in {apps} app(s): new {what}{accepted}"
    return f"PASS: nothing new {what}{accepted}"


def _summary_line(run: BatchRun, gate_note: str, out: Path) -> str:
    apps = [r.app for r in run.rows]
    ok = [a for a in apps if a.status == "ok"]
    risk = Counter(risk_label(a.risk) for a in ok)
    order = [*(s.value for s in reversed(Severity)), "unknown"]
    risks = ", ".join(f"{risk[lvl]} {lvl}" for lvl in order if risk[lvl])
    line = (
        f"apkaudit batch: {len(apps)} app(s): {len(ok)} audited, {len(apps) - len(ok)} error(s) "
        f"({run.audited} analysed now, {run.from_store} from the store) in {run.wall_seconds:.1f} s"
    )
    if risks:
        line += f"; risk: {risks}"
    if gate_note:
        line += f"; gate {gate_note}"
    return line + f"; outputs: {out}"


def _write_run_stats(path: Path, run: BatchRun, config: BatchConfig) -> None:
    """Timings and worker memory of this run (not reproducible; read by bench/bench_batch.py)."""
    doc = {
        "wall_seconds": run.wall_seconds,
        "jobs": config.jobs,
        "executor": config.executor,
        "timeout": config.settings.timeout,
        "memory_limit_mb": config.settings.memory_mb,
        "apps": len(run.rows),
        "audited": run.audited,
        "from_store": run.from_store,
        "errors": sum(1 for r in run.rows if not r.ok),
        "workers_started": run.pool.workers_started if run.pool else None,
        "worker_peak_rss_kib": run.worker_peaks,
        "rows": [
            {
                "path": r.spec.display,
                "sha256": r.key,
                "source": r.source,
                "kind": r.kind,
                "status": r.app.status,
                "seconds": r.seconds,
            }
            for r in run.rows
        ],
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    from apkaudit.report.output import write_report

    write_report(path, json.dumps(doc, indent=2) + "\n")
