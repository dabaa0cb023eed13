"""Files of a batch run, all rendered from one :class:`~apkaudit.report.document.Report` of
the run's results (fresh or from the store).

In the output directory:

- ``index.html``: the corpus summary (:mod:`apkaudit.report.summary`);
- ``apps/<file>-<sha256 prefix>.html``: one HTML report per app (reports of apps that are not
  inputs of this run are removed: the directory describes the last run, the store keeps all);
- ``results.json``: the JSON v1 report with every app, in input order;
- ``results.sarif``: SARIF 2.1.0 for the whole run (every rule, one result per finding, inputs
  that could not be audited as tool notifications; with a baseline, ``baselineState``).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from apkaudit.corpus.gate import GatePolicy, app_id, finding_counts, is_new
from apkaudit.errors import OutputError
from apkaudit.model import AppResult
from apkaudit.report.document import Report
from apkaudit.report.formats import RenderOptions
from apkaudit.report.output import write_report
from apkaudit.report.summary import AppLine, render_summary

OUTPUT_FORMATS = ("html", "json", "sarif")
SUMMARY_NAME, JSON_NAME, SARIF_NAME, APPS_DIR = (
    "index.html",
    "results.json",
    "results.sarif",
    "apps",
)


def report_names(apps: Sequence[AppResult]) -> list[str]:
    """A distinct, safe file name per app: the input's file name and a hash prefix."""
    used: set[str] = set()
    names = []
    for app in apps:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(app.input.path).name)[:60].strip("._")
        tag = app.input.sha256[:12] or "nohash"
        name, n = f"{stem or 'app'}-{tag}.html", 1
        while name in used:
            n += 1
            name = f"{stem or 'app'}-{tag}-{n}.html"
        used.add(name)
        names.append(name)
    return names


def write_outputs(
    report: Report,
    out_dir: str | os.PathLike[str],
    *,
    formats: Sequence[str],
    policy: GatePolicy | None = None,
    run_note: str = "",
    gate_note: str = "",
    options: RenderOptions | None = None,
) -> dict[str, Path]:
    """Write the requested outputs for the apps of ``report``; returns format -> path of the
    main file. ``options``: language and redaction of the HTML reports. Every file is written
    atomically; a failure is an :class:`~apkaudit.errors.OutputError`."""
    options = options or RenderOptions()
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        if "html" in formats:
            (out / APPS_DIR).mkdir(exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {exc.filename or out}: {exc.strerror}") from None
    written: dict[str, Path] = {}
    if "json" in formats:
        from apkaudit.report.json_v1 import render_json

        written["json"] = _write(out / JSON_NAME, render_json(report))
    if "sarif" in formats:
        written["sarif"] = _write(out / SARIF_NAME, render_sarif_run(report, policy))
    if "html" in formats:
        from apkaudit.report.html import render_html

        names = report_names(report.apps)
        for (app, outcomes), name in zip(report.checked(), names, strict=True):
            one = replace(report, apps=(app,), outcomes=(outcomes,))
            html = render_html(one, lang=options.lang, redact=options.redact)
            _write(out / APPS_DIR / name, html)
        keep = set(names)
        for old in (out / APPS_DIR).glob("*.html"):  # reports of apps not in this run
            if old.name not in keep:
                with contextlib.suppress(FileNotFoundError):
                    old.unlink()
        lines = [
            AppLine(app, f"{APPS_DIR}/{name}", _new_count(policy, app))
            for app, name in zip(report.apps, names, strict=True)
        ]
        summary = render_summary(
            lines,
            tool_version=report.tool_version,
            rules_version=report.rules_version,
            generated_at=report.generated_at,
            run_note=run_note,
            gate_note=gate_note,
        )
        written["html"] = _write(out / SUMMARY_NAME, summary)
    return written


def _new_count(policy: GatePolicy | None, app: AppResult) -> int | None:
    if policy is None or policy.fail_on is None:
        return None
    return sum(
        1 for f in app.findings if finding_counts(policy, f) and is_new(policy, app, f.fingerprint)
    )


def render_sarif_run(report: Report, policy: GatePolicy | None) -> str:
    """SARIF for the run; with a baseline, each result says whether it is new."""
    from apkaudit.report.sarif import FINGERPRINT_KEY, dump, report_to_sarif

    doc = report_to_sarif(report)
    if policy is not None and policy.baseline is not None:
        for res in doc["runs"][0]["results"]:
            # the artifact index of a result is the index of its app in the report
            index = res["locations"][0]["physicalLocation"]["artifactLocation"]["index"]
            fp = res["partialFingerprints"][FINGERPRINT_KEY]
            accepted = policy.baseline.accepts_finding(app_id(report.apps[index]), fp)
            res["baselineState"] = "unchanged" if accepted else "new"
    return dump(doc)


def _write(path: Path, text: str) -> Path:
    return write_report(path, text)
