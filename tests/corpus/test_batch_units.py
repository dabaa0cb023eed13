"""Pieces of ``apkaudit batch``: input discovery, content keys, the batch codec and the results
store (and its export), gating and baselines, the summary page."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import FIXTURES, fixture_apk, real_params, real_path, report_of

from apkaudit.corpus import codec
from apkaudit.corpus.gate import (
    Baseline,
    GatePolicy,
    app_id,
    baseline_document,
    evaluate,
    parse_verdict_gate,
)
from apkaudit.corpus.run import InputSpec, content_key, discover
from apkaudit.corpus.store import CSV_COLUMNS, ResultsStore, StoredRow, StoreError, export
from apkaudit.corpus.worker import relabel
from apkaudit.model import (
    AppIcon,
    AppIdentity,
    AppResult,
    Behaviours,
    BlindSpot,
    Confidence,
    Coverage,
    Evidence,
    Finding,
    InputInfo,
    Level,
    ManifestFacts,
    Risk,
    Severity,
    Stage,
    Verdicts,
)
from apkaudit.report.formats import FORMATS, render
from apkaudit.report.summary import AppLine, render_summary

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
    rel = [os.path.relpath(s.path, tmp_path) for s in inputs]
    assert rel == [
        "b.apks",
        "one.apk",
        "a/four.aab",
        "a/two.APK",
        "a/deep/three.xapk",
        "split/com.x",
    ]
    # shown relative to the directory given, under its name, never as an absolute path
    assert [s.display for s in inputs] == [f"{tmp_path.name}/{r}" for r in rel]
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


# --------------------------------------------------------------------------- codec and store


def _stored(result: AppResult, tmp_path: Path) -> AppResult:
    """``result`` after a trip through the worker protocol and the results store."""
    sent = codec.decode(json.loads(json.dumps(codec.encode(result))))
    with ResultsStore(tmp_path / "results.sqlite") as store:
        store.put(_stored_row(sent, "1", "r"))
    with ResultsStore(tmp_path / "results.sqlite") as store:
        row = store.get(result.input.sha256, "1", "r")
    assert row is not None
    return row.result


def _same_outputs(result: AppResult, tmp_path: Path) -> None:
    """The store's promise: a stored row renders exactly what a fresh audit renders."""
    again = _stored(result, tmp_path)
    assert again == result
    fresh, stored = report_of(result), report_of(again)
    for fmt in FORMATS:
        assert render(stored, fmt) == render(fresh, fmt), fmt


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_stored_result_renders_like_a_fresh_one_fixtures(name: str, audit, tmp_path: Path) -> None:
    _same_outputs(audit(fixture_apk(name)), tmp_path)


@pytest.mark.real
@pytest.mark.parametrize("row", real_params())
def test_stored_result_renders_like_a_fresh_one_real(
    row: dict[str, str], audit, tmp_path: Path
) -> None:
    _same_outputs(audit(real_path(row)), tmp_path)


def test_codec_keeps_what_json_v1_drops(audit) -> None:
    """Code references, reachability, timings and the icon bytes are not in JSON v1."""
    result = audit(fixture_apk("loan-bulk-sms"))
    icon = AppIcon("image/png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "res/i.png")
    rich = replace(result, icon=icon)
    assert result.code is not None and result.code.refs
    assert result.behaviours is not None and result.behaviours.reachability and result.timings
    back = codec.loads(codec.dumps(rich))
    assert back == rich and back.icon == icon
    assert back.code is not None and back.code.refs == result.code.refs


def test_codec_refuses_what_it_did_not_write() -> None:
    good = codec.encode(_app("aa" * 32, "x.apk"))
    for bad in (
        {**good, "surprise": 1},
        {k: v for k, v in good.items() if k != "risk"},
        {**good, "risk": {"level": "apocalyptic", "score": 1}},
        {**good, "timings": [["load", "fast"]]},
        [],
    ):
        with pytest.raises(codec.CodecError):
            codec.decode(bad)
    with pytest.raises(codec.CodecError):
        codec.loads("{")
    assert codec.VERSION.startswith(f"{codec.FORMAT}.")


def test_relabel_changes_path_and_error_prefix() -> None:
    app = AppResult(InputInfo("/abs/x.apk", "", 3), status="error", error="/abs/x.apk: truncated")
    out = relabel(app, "/abs/x.apk", "x.apk")
    assert out.input.path == "x.apk" and out.error == "x.apk: truncated"
    assert app.input.path == "/abs/x.apk"  # not changed
    assert relabel(app, "/abs/x.apk", "/abs/x.apk") is app


def _app(sha: str, path: str, status: str = "ok") -> AppResult:
    """A small audited app (a SEND_SMS finding, sms_send likely) or an input error."""
    info = InputInfo(path, sha, 3)
    if status != "ok":
        return AppResult(info, status="error", error=f"{path}: bad")
    finding = Finding(
        rule_id="SMS001",
        name="send-sms",
        title="Sends SMS",
        behaviour="sms_send",
        severity=Severity.HIGH,
        confidence=Confidence.HIGH,
        stage=Stage.DECLARED,
        message="m",
        evidence=(Evidence("manifest", "SEND_SMS", manifest_element="<uses-permission>"),),
    )
    return AppResult(
        info,
        manifest=ManifestFacts(identity=AppIdentity(package="p." + sha[:4])),
        behaviours=Behaviours(Verdicts(sms_send=Level.LIKELY)),
        findings=(finding,),
        risk=Risk(Severity.HIGH, 50),
    )


def _stored_row(result: AppResult, tool: str = "1", rules: str = "r") -> StoredRow:
    return StoredRow(
        sha256=result.input.sha256,
        tool_version=tool,
        rules_version=rules,
        path=result.input.path,
        result=result,
        audited_at="2024-01-01T00:00:00Z",
        seconds=0.5,
        peak_rss_kib=1000,
    )


def _row(sha: str, path: str, status: str = "ok", tool: str = "1", rules: str = "r") -> StoredRow:
    return _stored_row(_app(sha, path, status), tool, rules)


def test_store_keys_on_hash_tool_and_rules_version(tmp_path: Path) -> None:
    db = tmp_path / "s" / "results.sqlite"
    with ResultsStore(db) as store:
        store.put(_row("aa" * 32, "x.apk"))
        store.put(_row("bb" * 32, "y.apk", status="error"))
        store.put(_row("aa" * 32, "x.apk", tool="2"))
        assert store.count() == 3
        got = store.get("aa" * 32, "1", "r")
        assert got is not None and got.result == _app("aa" * 32, "x.apk")
        assert store.get("aa" * 32, "1", "other-rules") is None
        assert store.get("cc" * 32, "1", "r") is None
    with ResultsStore(db) as store:  # persisted
        rows = list(store.rows(tool_version="1", rules_version="r"))
        assert [r.path for r in rows] == ["x.apk", "y.apk"]
        lines = [json.loads(ln) for ln in export(iter(rows), "jsonl")]
        assert [ln["sha256"] for ln in lines] == ["aa" * 32, "bb" * 32]
        assert lines[0]["app"]["verdicts"]["sms_send"] == "likely"  # a JSON v1 app object
        assert lines[0]["app"]["policies"] and lines[1]["app"]["policies"] == []
        text = "".join(export(iter(rows), "csv"))
        header, first, second = text.splitlines()
        assert header.split(",") == [f'"{c}"' for c in CSV_COLUMNS]  # every field quoted
        assert "p.aaaa" in first and "likely" in first and "SMS001" in first
        assert "error" in second and "y.apk: bad" in second
        with pytest.raises(ValueError):
            export(iter(rows), "xml")


def test_rows_of_another_codec_version_count_as_absent(tmp_path: Path) -> None:
    db = tmp_path / "results.sqlite"
    with ResultsStore(db) as store:
        store.put(_row("aa" * 32, "x.apk"))
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE results SET codec='0.old', result='{\"shape\": \"old\"}'")
    with ResultsStore(db) as store:
        assert store.get("aa" * 32, "1", "r") is None  # audited again, then replaced
        assert list(store.rows()) == []
        store.put(_row("aa" * 32, "x.apk"))
        assert store.count() == 1 and store.get("aa" * 32, "1", "r") is not None


def test_a_store_of_json_v1_rows_is_refused(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite"
    with sqlite3.connect(old) as raw:
        raw.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "INSERT INTO meta VALUES ('schema_version', '1');"
            "CREATE TABLE results (sha256 TEXT, app_json TEXT, extras_json TEXT);"
        )
    with pytest.raises(StoreError, match=r"schema 1 \(JSON v1 rows.*Remove the file"):
        ResultsStore(old)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="not an apkaudit results store"):
        ResultsStore(junk)


# --------------------------------------------------------------------------- gate


def _apps() -> list[AppResult]:
    return [_app("aa" * 32, "x.apk"), _app("bb" * 32, "y.apk", status="error")]


def _with_finding(app: AppResult, **changes: object) -> AppResult:
    return replace(app, findings=(*app.findings, replace(app.findings[0], **changes)))


def test_gate_fail_on_min_confidence_and_verdicts() -> None:
    apps = _apps()
    assert not evaluate(apps, GatePolicy()).failed
    assert evaluate(apps, GatePolicy()).errors == 1
    assert evaluate(apps, GatePolicy(fail_on=Severity.HIGH)).failed
    assert not evaluate(apps, GatePolicy(fail_on=Severity.CRITICAL)).failed
    medium = replace(apps[0].findings[0], confidence=Confidence.MEDIUM)
    apps[0] = replace(apps[0], findings=(medium,))
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
    new = _with_finding(apps[0], rule_id="CON004", severity=Severity.CRITICAL)
    worse = replace(new, behaviours=Behaviours(Verdicts(sms_send=Level.CONFIRMED)))
    hits = evaluate([worse, apps[1]], policy).hits
    assert {(h.kind, h.what) for h in hits} == {("finding", "CON004"), ("verdict", "sms_send")}
    bad = tmp_path / "bad.json"
    for text in ("not json", "[]", '{"apkaudit_baseline": 1, "findings": [{"x": 1}]}'):
        bad.write_text(text)
        with pytest.raises(ValueError):
            Baseline.load(bad)


def test_app_id_and_verdict_gate_parsing() -> None:
    assert app_id(_app("ff" * 32, "x.apk")) == "p.ffff"
    assert app_id(_app("ff" * 32, "x.apk", status="error")) == "sha256:" + "ff" * 32
    assert parse_verdict_gate("bulk_sms_to_contacts=Likely") == (
        "bulk_sms_to_contacts",
        Level.LIKELY,
    )
    for bad in ("bulk_sms_to_contacts", "x=likely", "sms_send=maybe", "sms_send=none"):
        with pytest.raises(ValueError):
            parse_verdict_gate(bad)


# --------------------------------------------------------------------------- summary page


def test_summary_escapes_app_data(audit) -> None:
    hostile = audit(fixture_apk("hostile-label"))
    hostile = relabel(hostile, hostile.input.path, "<img src=x onerror=alert(1)>.apk")
    error = _app("bb" * 32, "<b>bad</b>.apk", status="error")
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
    error = _app("bb" * 32, "y.apk", status="error")
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
    ok = _app("aa" * 32, "x.apk")
    assert TaskResult(task, "ok", ok).reproducible
    assert TaskResult(task, "input", _app("aa" * 32, "x.apk", status="error")).reproducible
    cut = replace(ok, coverage=Coverage(False, (BlindSpot("time_limit", "stopped at 1 s"),)))
    assert not TaskResult(task, "ok", cut).reproducible
    for kind in ("timeout", "crash", "memory", "internal"):
        assert not TaskResult(task, kind, ok).reproducible


def test_progress_bar_only_when_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from apkaudit.cli.batch import _Progress
    from apkaudit.corpus.run import Row

    row = Row(InputSpec("dir/x.apk", "/dir/x.apk"), "aa", _app("aa" * 32, "x.apk"), "store", "ok")
    for enabled, expect in ((False, ""), (True, "[##########----------] 1/2")):
        err = io.StringIO()
        monkeypatch.setattr("sys.stderr", err)
        bar = _Progress(enabled)
        bar.update(1, 2, row)
        bar.close()
        assert (expect in err.getvalue()) if expect else err.getvalue() == ""
        assert bar.stored == 1


def test_batch_refuses_an_old_store_with_a_usage_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from apkaudit.cli.main import cli

    old = tmp_path / "old.sqlite"
    with sqlite3.connect(old) as raw:
        raw.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "INSERT INTO meta VALUES ('schema_version', '1');"
        )
    apk = str(fixture_apk("clean"))
    for args in ([apk, "--out", str(tmp_path / "out")], ["--export", "csv"]):
        result = CliRunner().invoke(cli, ["batch", *args, "--store", str(old)])
        assert result.exit_code == 2, result.output
        assert "results store schema 1 (JSON v1 rows" in result.output
