"""Pieces of ``apkaudit batch``: input discovery, content keys, the results store and its
export, JSON v1 read-back, gating and baselines, the summary page."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import FIXTURES, fixture_apk, real_params, real_path, report_of

from apkaudit.corpus.gate import (
    Baseline,
    GatePolicy,
    app_id,
    baseline_document,
    evaluate,
    parse_verdict_gate,
)
from apkaudit.corpus.run import InputSpec, content_key, discover
from apkaudit.corpus.store import CSV_COLUMNS, ResultsStore, StoredRow, export
from apkaudit.corpus.worker import relabel
from apkaudit.model import Confidence, Level, Severity
from apkaudit.report.html import render_html
from apkaudit.report.json_load import app_from_dict, extras_of
from apkaudit.report.json_v1 import app_to_dict, report_to_dict
from apkaudit.report.sarif import render_sarif
from apkaudit.report.summary import AppLine, render_summary
from apkaudit.rules import load_rules

RULES = load_rules()
FIXTURE_NAMES = sorted(p.stem for p in FIXTURES.glob("*.apk"))


# --------------------------------------------------------------------------- discovery


def make_tree(root: Path) -> None:
    (root / "a" / "deep").mkdir(parents=True)
    (root / "split" / "com.x").mkdir(parents=True)
    for rel in (
        "one.apk",
        "a/two.APK",
        "a/deep/three.xapk",
        "a/notes.txt",
        "a/four.aab",
        "split/com.x/base.apk",
        "split/com.x/split_config.arm64.apk",
        "b.apks",
    ):
        (root / rel).write_bytes(rel.encode())


def test_discover_files_dirs_globs_and_split_dirs(tmp_path: Path) -> None:
    make_tree(tmp_path)
    inputs, problems = discover([str(tmp_path)])
    assert not problems
    rel = [os.path.relpath(s.display, tmp_path) for s in inputs]
    assert rel == [
        "b.apks",
        "one.apk",
        "a/four.aab",
        "a/two.APK",
        "a/deep/three.xapk",
        "split/com.x",
    ]
    assert [s.is_dir for s in inputs] == [False] * 5 + [True]

    odd = tmp_path / "a" / "notes.txt"
    inputs, problems = discover([str(odd), str(tmp_path / "*.apk"), str(tmp_path / "one.apk")])
    assert [Path(s.path).name for s in inputs] == ["notes.txt", "one.apk"]  # no duplicates
    assert not problems

    inputs, problems = discover([str(tmp_path / "split" / "com.x")])
    assert len(inputs) == 1 and inputs[0].is_dir

    inputs, problems = discover([str(tmp_path / "nope.apk"), str(tmp_path / "*.zzz")])
    assert not inputs and len(problems) == 2


def test_content_key_of_files_and_directories(tmp_path: Path) -> None:
    make_tree(tmp_path)
    f = InputSpec("one.apk", str(tmp_path / "one.apk"))
    sha, size = content_key(f)
    assert size == len(b"one.apk") and len(sha) == 64
    d = InputSpec("split", str(tmp_path / "split" / "com.x"), is_dir=True)
    key1 = content_key(d)
    (tmp_path / "split" / "com.x" / "split_config.arm64.apk").write_bytes(b"changed")
    assert content_key(d) != key1
    with pytest.raises(OSError):
        content_key(InputSpec("x", str(tmp_path / "missing.apk")))


# --------------------------------------------------------------------------- JSON read-back


def _same_outputs(result) -> None:
    app = json.loads(json.dumps(report_to_dict(report_of(result))["apps"][0]))
    rebuilt = app_from_dict(app, json.loads(json.dumps(extras_of(result))))
    original, again = (report_of(r) for r in (result, rebuilt))
    assert render_sarif(again) == render_sarif(original)
    assert render_html(again) == render_html(original)
    assert {f.fingerprint for f in rebuilt.findings} == {f.fingerprint for f in result.findings}
    # a JSON report from elsewhere (no store extras) still gives the same SARIF
    assert render_sarif(report_of(app_from_dict(app))) == render_sarif(original)
    rendered = app_to_dict(rebuilt, again.outcomes[0])
    for key in set(app) - {"code_stats"}:  # see json_load's docstring
        assert rendered[key] == app[key], key


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_stored_json_regenerates_the_same_reports_fixtures(name: str, audit) -> None:
    _same_outputs(audit(fixture_apk(name)))


@pytest.mark.real
@pytest.mark.parametrize("row", real_params())
def test_stored_json_regenerates_the_same_reports_real(row: dict[str, str], audit) -> None:
    _same_outputs(audit(real_path(row)))


def test_relabel_changes_path_and_error_prefix() -> None:
    app = {"input": {"path": "/abs/x.apk"}, "error": "/abs/x.apk: truncated", "status": "error"}
    out = relabel(app, "/abs/x.apk", "x.apk")
    assert out["input"]["path"] == "x.apk" and out["error"] == "x.apk: truncated"
    assert app["input"]["path"] == "/abs/x.apk"  # not mutated


# --------------------------------------------------------------------------- store


def _row(sha: str, path: str, status: str = "ok", tool: str = "1", rules: str = "r") -> StoredRow:
    app = {
        "input": {"path": path, "sha256": sha, "size": 3, "container": "apk"},
        "status": status,
        "error": None if status == "ok" else f"{path}: bad",
        "app": {"package": "p." + sha[:4]} if status == "ok" else None,
        "verdicts": {"sms_send": "likely"} if status == "ok" else None,
        "coverage": {"complete": True, "blind_spots": []} if status == "ok" else None,
        "risk": {"level": "high", "score": 50} if status == "ok" else None,
        "findings": [
            {"rule_id": "SMS001", "fingerprint": "f1", "severity": "high", "confidence": "high"}
        ]
        if status == "ok"
        else [],
    }
    return StoredRow(sha, tool, rules, path, status, app, "2024-01-01T00:00:00Z", 0.5, 1000)


def test_store_keys_on_hash_tool_and_rules_version(tmp_path: Path) -> None:
    db = tmp_path / "s" / "results.sqlite"
    with ResultsStore(db) as store:
        store.put(_row("aa" * 32, "x.apk"))
        store.put(_row("bb" * 32, "y.apk", status="error"))
        store.put(_row("aa" * 32, "x.apk", tool="2"))
        assert store.count() == 3
        got = store.get("aa" * 32, "1", "r")
        assert got is not None and got.app["app"]["package"] == "p.aaaa"
        assert store.get("aa" * 32, "1", "other-rules") is None
        assert store.get("cc" * 32, "1", "r") is None
    with ResultsStore(db) as store:  # persisted
        rows = list(store.rows(tool_version="1", rules_version="r"))
        assert [r.path for r in rows] == ["x.apk", "y.apk"]
        lines = list(export(iter(rows), "jsonl"))
        assert [json.loads(ln)["sha256"] for ln in lines] == ["aa" * 32, "bb" * 32]
        text = "".join(export(iter(rows), "csv"))
        header, first, second = text.splitlines()
        assert header.split(",") == list(CSV_COLUMNS)
        assert "p.aaaa" in first and "likely" in first and "SMS001" in first
        assert "error" in second and "y.apk: bad" in second
        with pytest.raises(ValueError):
            export(iter(rows), "xml")


# --------------------------------------------------------------------------- gate


def _apps() -> list[dict]:
    return [_row("aa" * 32, "x.apk").app, _row("bb" * 32, "y.apk", status="error").app]


def test_gate_fail_on_min_confidence_and_verdicts() -> None:
    apps = _apps()
    assert not evaluate(apps, GatePolicy()).failed
    assert evaluate(apps, GatePolicy()).errors == 1
    assert evaluate(apps, GatePolicy(fail_on=Severity.HIGH)).failed
    assert not evaluate(apps, GatePolicy(fail_on=Severity.CRITICAL)).failed
    apps[0]["findings"][0]["confidence"] = "medium"
    assert not evaluate(
        apps, GatePolicy(fail_on=Severity.HIGH, min_confidence=Confidence.HIGH)
    ).failed
    likely = (("sms_send", Level.LIKELY),)
    assert evaluate(apps, GatePolicy(verdicts=likely)).failed
    assert not evaluate(apps, GatePolicy(verdicts=(("sms_send", Level.CONFIRMED),))).failed
    hit = evaluate(apps, GatePolicy(verdicts=likely)).hits[0]
    assert (hit.kind, hit.what, hit.level, hit.app) == ("verdict", "sms_send", "likely", "p.aaaa")


def test_baseline_accepts_only_what_it_lists(tmp_path: Path) -> None:
    apps = _apps()
    doc = baseline_document(apps, tool_version="1", rules_version="r", generated_at="t")
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(doc))
    base = Baseline.load(path)
    policy = GatePolicy(
        fail_on=Severity.INFO, verdicts=(("sms_send", Level.POSSIBLE),), baseline=base
    )
    result = evaluate(apps, policy)
    assert not result.failed and result.accepted == 2
    apps[0]["findings"].append(
        {"rule_id": "CON004", "fingerprint": "f2", "severity": "critical", "confidence": "high"}
    )
    apps[0]["verdicts"]["sms_send"] = "confirmed"  # worse than accepted
    hits = evaluate(apps, policy).hits
    assert {(h.kind, h.what) for h in hits} == {("finding", "CON004"), ("verdict", "sms_send")}
    bad = tmp_path / "bad.json"
    for text in ("not json", "[]", '{"apkaudit_baseline": 1, "findings": [{"x": 1}]}'):
        bad.write_text(text)
        with pytest.raises(ValueError):
            Baseline.load(bad)


def test_app_id_and_verdict_gate_parsing() -> None:
    assert app_id({"app": {"package": "a.b"}, "input": {"sha256": "ff"}}) == "a.b"
    assert app_id({"app": None, "input": {"sha256": "ff"}}) == "sha256:ff"
    assert parse_verdict_gate("bulk_sms_to_contacts=Likely") == (
        "bulk_sms_to_contacts",
        Level.LIKELY,
    )
    for bad in ("bulk_sms_to_contacts", "x=likely", "sms_send=maybe", "sms_send=none"):
        with pytest.raises(ValueError):
            parse_verdict_gate(bad)


# --------------------------------------------------------------------------- summary page


def test_summary_escapes_app_data(audit, tmp_path: Path) -> None:
    hostile = app_to_dict(audit(fixture_apk("hostile-label")))
    hostile["input"] = {**hostile["input"], "path": "<img src=x onerror=alert(1)>.apk"}
    error = _row("bb" * 32, "<b>bad</b>.apk", status="error").app
    html = render_summary(
        [AppLine(hostile, "apps/h.html"), AppLine(error, None)],
        tool_version="1",
        rules_version="r",
        generated_at="t",
    )
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>bad</b>" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x" in html
    assert html.count("<script") == 1  # only the sorting script


def test_summary_of_an_empty_or_all_error_corpus() -> None:
    error = _row("bb" * 32, "y.apk", status="error").app
    html = render_summary(
        [AppLine(error, None)], tool_version="1", rules_version="r", generated_at="t"
    )
    assert "could not be audited" in html and "y.apk" in html
    assert render_summary([], tool_version="1", rules_version="r", generated_at="t")


def test_summary_template_ships_with_the_package() -> None:
    import tomllib

    from conftest import REPO

    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    globs = data["tool"]["setuptools"]["package-data"]["apkaudit.report_templates"]
    for name in ("summary.html.j2", "summary.css"):
        assert (REPO / "report_templates" / name).is_file()
        assert any(Path(name).match(g) for g in globs)


def test_partial_results_and_kills_are_not_reproducible() -> None:
    from apkaudit.corpus.worker import Task, TaskResult

    task = Task(0, "/x.apk", "x.apk", "aa" * 32)
    ok = _row("aa" * 32, "x.apk").app
    assert TaskResult(task, "ok", ok).reproducible
    assert TaskResult(task, "input", _row("aa" * 32, "x.apk", status="error").app).reproducible
    cut = {**ok, "coverage": {"complete": False, "blind_spots": [{"kind": "time_limit"}]}}
    assert not TaskResult(task, "ok", cut).reproducible
    for kind in ("timeout", "crash", "memory", "internal"):
        assert not TaskResult(task, kind, ok).reproducible


def test_progress_bar_only_when_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from apkaudit.cli.batch import _Progress
    from apkaudit.corpus.run import Row

    row = Row(
        InputSpec("dir/x.apk", "/dir/x.apk"), "aa", _row("aa" * 32, "x.apk").app, "store", "ok"
    )
    for enabled, expect in ((False, ""), (True, "[##########----------] 1/2")):
        err = io.StringIO()
        monkeypatch.setattr("sys.stderr", err)
        bar = _Progress(enabled)
        bar.update(1, 2, row)
        bar.close()
        assert (expect in err.getvalue()) if expect else err.getvalue() == ""
        assert bar.stored == 1
