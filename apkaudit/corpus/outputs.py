"""Files of a batch run, all generated from the JSON v1 rows (fresh or from the store).

In the output directory:

- ``index.html``: the corpus summary (:mod:`apkaudit.report.summary`);
- ``apps/<file>-<sha256 prefix>.html``: one HTML report per app (reports of apps that are not
  inputs of this run are removed: the directory describes the last run, the store keeps all);
- ``results.json``: the JSON v1 report with every app, in input order;
- ``results.sarif``: SARIF 2.1.0 for the whole run (every rule, one result per finding, inputs
  that could not be audited as tool notifications; with a baseline, ``baselineState``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from apkaudit.corpus.gate import GatePolicy, app_id, finding_counts, is_new
from apkaudit.model import AppResult
from apkaudit.report.document import Report, RuleRun, build_report
from apkaudit.report.json_load import app_from_dict
from apkaudit.report.json_v1 import report_to_dict
from apkaudit.report.summary import AppLine, render_summary
from apkaudit.rules import RuleSet

OUTPUT_FORMATS = ("html", "json", "sarif")
SUMMARY_NAME, JSON_NAME, SARIF_NAME, APPS_DIR = (
    "index.html",
    "results.json",
    "results.sarif",
    "apps",
)
JsonDict = dict[str, Any]


def report_names(apps: Sequence[JsonDict]) -> list[str]:
    """A distinct, safe file name per app: the input's file name and a hash prefix."""
    used: set[str] = set()
    names = []
    for app in apps:
        inp = app["input"]
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(inp["path"]).name)[:60].strip("._") or "app"
        tag = (inp.get("sha256") or "")[:12] or "nohash"
        name, n = f"{stem}-{tag}.html", 1
        while name in used:
            n += 1
            name = f"{stem}-{tag}-{n}.html"
        used.add(name)
        names.append(name)
    return names


def write_outputs(
    apps: Sequence[JsonDict],
    out_dir: str | os.PathLike[str],
    *,
    formats: Sequence[str],
    rules: RuleSet,
    tool_version: str,
    generated_at: str,
    extras: Sequence[JsonDict] | None = None,
    policy: GatePolicy | None = None,
    run_note: str = "",
    gate_note: str = "",
) -> dict[str, Path]:
    """Write the requested outputs for ``apps`` (JSON v1 objects, with the store's ``extras``
    of each: the icon); returns format -> path of the main file."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    ran = RuleRun.of(rules)

    def report_of(results: Sequence[AppResult]) -> Report:
        return build_report(
            results, rules=ran, tool_version=tool_version, generated_at=generated_at
        )

    if "json" in formats:
        header = report_of(())
        doc = report_to_dict(header)
        doc["apps"] = list(apps)
        text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        written["json"] = _write(out / JSON_NAME, text)
    if "sarif" in formats or "html" in formats:
        more = list(extras) if extras is not None else [{} for _ in apps]
        results = [app_from_dict(a, x) for a, x in zip(apps, more, strict=True)]
    if "sarif" in formats:
        written["sarif"] = _write(
            out / SARIF_NAME, render_sarif_run(report_of(results), apps, policy)
        )
    if "html" in formats:
        from apkaudit.report.html import render_html

        names = report_names(apps)
        (out / APPS_DIR).mkdir(exist_ok=True)
        for result, name in zip(results, names, strict=True):
            _write(out / APPS_DIR / name, render_html(report_of((result,))))
        keep = set(names)
        for old in (out / APPS_DIR).glob("*.html"):  # reports of apps not in this run
            if old.name not in keep:
                old.unlink()
        lines = [
            AppLine(app, f"{APPS_DIR}/{name}", _new_count(policy, app))
            for app, name in zip(apps, names, strict=True)
        ]
        summary = render_summary(
            lines,
            tool_version=tool_version,
            rules_version=rules.version,
            generated_at=generated_at,
            run_note=run_note,
            gate_note=gate_note,
        )
        written["html"] = _write(out / SUMMARY_NAME, summary)
    return written


def _new_count(policy: GatePolicy | None, app: JsonDict) -> int | None:
    if policy is None or policy.fail_on is None:
        return None
    return sum(
        1
        for f in app.get("findings") or ()
        if finding_counts(policy, f) and is_new(policy, app, f["fingerprint"])
    )


def render_sarif_run(report: Report, apps: Sequence[JsonDict], policy: GatePolicy | None) -> str:
    from apkaudit.report.sarif import FINGERPRINT_KEY, report_to_sarif

    doc = report_to_sarif(report)
    if policy is not None and policy.baseline is not None:
        for res in doc["runs"][0]["results"]:
            # the artifact index of a result is the index of its app in the report
            index = res["locations"][0]["physicalLocation"]["artifactLocation"]["index"]
            fp = res["partialFingerprints"][FINGERPRINT_KEY]
            accepted = policy.baseline.accepts_finding(app_id(apps[index]), fp)
            res["baselineState"] = "unchanged" if accepted else "new"
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _write(path: Path, text: str) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
