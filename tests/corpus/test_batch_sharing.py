"""Batch outputs are meant to be shared: inputs named without the auditor's folders (unless
--absolute-paths), the report options of scan (--lang, --policy, --no-redact), salvaged damaged
inputs shown as damaged on the summary page, and output errors as one-line exit 3."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, fixture_apk

from apkaudit.cli.main import cli, main
from apkaudit.cli.options import EXIT_INPUT, EXIT_OK
from apkaudit.corpus.run import discover, shareable_path
from apkaudit.model import BlindSpot, BlindSpotKind, Coverage
from apkaudit.report.summary import AppLine, render_summary


@pytest.mark.parametrize(
    ("arg", "found", "shown"),
    [
        ("fixtures/apks", "fixtures/apks/x.apk", "fixtures/apks/x.apk"),  # relative: as given
        ("x.apk", "x.apk", "x.apk"),
        ("/home/alice/apks", "/home/alice/apks/sub/x.apk", "apks/sub/x.apk"),
        ("/home/alice/apks/x.apk", "/home/alice/apks/x.apk", "x.apk"),
        ("/home/alice/*/x.apk", "/home/alice/apks/x.apk", "alice/apks/x.apk"),
    ],
)
def test_shareable_path(arg: str, found: str, shown: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real_isdir = os.path.isdir
    monkeypatch.setattr(
        os.path, "isdir", lambda p: p in ("/home/alice/apks", "/home/alice") or real_isdir(p)
    )
    assert shareable_path(arg, found) == shown


def test_climbing_relative_path_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "apks").mkdir()
    shutil.copy(FIXTURES / "clean.apk", tmp_path / "apks" / "c.apk")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    [spec], _ = discover(["../apks"])
    assert spec.display == "apks/c.apk"
    [spec], _ = discover(["../apks"], absolute_paths=True)
    assert spec.display == str(tmp_path / "apks" / "c.apk")


@pytest.mark.slow
def test_batch_outputs_carry_no_local_folder(tmp_path: Path) -> None:
    apps = tmp_path / "secret-user-folder" / "apks"
    apps.mkdir(parents=True)
    shutil.copy(FIXTURES / "loan-bulk-sms.apk", apps / "bulk.apk")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["batch", str(apps), "--out", str(out), "-q", "--jobs", "1"])
    assert result.exit_code == EXIT_OK, result.output
    shared = [out / "index.html", out / "results.json", out / "results.sarif", out / "run.json"]
    shared += sorted((out / "apps").glob("*.html"))
    for path in shared:
        text = path.read_text(encoding="utf-8")
        assert "secret-user-folder" not in text and str(tmp_path) not in text, path.name
    doc = json.loads((out / "results.json").read_text())
    assert [a["input"]["path"] for a in doc["apps"]] == ["apks/bulk.apk"]

    again = tmp_path / "out2"
    args = ["batch", str(apps), "--out", str(again), "-q", "--absolute-paths", "-f", "json"]
    assert CliRunner().invoke(cli, args).exit_code == EXIT_OK
    doc = json.loads((again / "results.json").read_text())
    assert [a["input"]["path"] for a in doc["apps"]] == [str(apps / "bulk.apk")]


@pytest.mark.slow
def test_batch_takes_the_report_options_of_scan(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["batch", str(fixture_apk("loan-bulk-sms")), "--out", str(out), "-q", "--jobs", "1"]
    args += ["--lang", "zh-CN", "--policy", "rbi", "--no-redact"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == EXIT_OK, result.output
    doc = json.loads((out / "results.json").read_text())
    [app] = doc["apps"]
    assert [p["id"] for p in app["policies"]] == ["rbi"]
    sarif = json.loads((out / "results.sarif").read_text())
    violations = {
        v for r in sarif["runs"][0]["results"] for v in r["properties"].get("policy_violations", [])
    }
    assert violations and all(v.startswith("rbi/") for v in violations)
    [page] = (out / "apps").glob("*.html")
    assert '<html lang="zh-CN">' in page.read_text(encoding="utf-8")
    for option in ("--lang", "--policy", "--no-redact", "--absolute-paths", "--limit"):
        assert option in CliRunner().invoke(cli, ["batch", "--help"]).output


def test_summary_shows_a_salvaged_damaged_input_as_damaged(audit) -> None:
    app = audit(fixture_apk("loan-bulk-sms"))
    defect = BlindSpot(BlindSpotKind.ZIP_DAMAGED, "central directory truncated")
    damaged = replace(app, coverage=Coverage(complete=False, blind_spots=(defect,)))
    assert damaged.input_defects
    page = render_summary(
        [AppLine(damaged, "apps/x.html", None)],
        tool_version="0",
        rules_version="0",
        generated_at="2024-01-01T00:00:00Z",
    )
    assert '<span class="badge likely">damaged</span>' in page
    assert "damaged input, salvaged: zip_damaged: central directory truncated" in page
    plain = render_summary(
        [AppLine(app, "apps/x.html", None)],
        tool_version="0",
        rules_version="0",
        generated_at="2024-01-01T00:00:00Z",
    )
    assert ">damaged<" not in plain


def test_summary_never_shows_a_resource_id_as_the_name(audit) -> None:
    app = audit(fixture_apk("loan-bulk-sms"))
    assert app.manifest is not None
    ident = replace(app.manifest.identity, label="@7F050006")
    odd = replace(app, manifest=replace(app.manifest, identity=ident))
    page = render_summary(
        [AppLine(odd, "apps/x.html", None)],
        tool_version="0",
        rules_version="0",
        generated_at="2024-01-01T00:00:00Z",
    )
    assert ">@7F050006<" not in page
    assert ">com.apkaudit.fixture.loanbulksms</a>" in page


def test_batch_into_an_unwritable_place_is_one_line_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    out = blocker / "out"
    monkeypatch.setattr(
        "sys.argv", ["apkaudit", "batch", str(FIXTURES / "clean.apk"), "-o", str(out)]
    )
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == EXIT_INPUT
    err = capsys.readouterr().err
    assert err.startswith(f"apkaudit: error: cannot create {out}: ") and err.count("\n") == 1


@pytest.mark.slow
def test_csv_export_of_the_hostile_strings_fixture(tmp_path: Path) -> None:
    import csv
    import io

    from conftest import REPO

    apk = REPO / "fixtures" / "edge" / "output-hostile-strings.apk"
    out = tmp_path / "out"
    args = ["batch", str(apk), "--out", str(out), "-q", "--jobs", "1", "-f", "json"]
    assert CliRunner().invoke(cli, args).exit_code == EXIT_OK
    text = CliRunner().invoke(cli, ["batch", "--out", str(out), "--export", "csv"]).stdout
    assert "\r" not in text and text.count("\n") == 2
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["package"] == "com.evil.loan\\x0d\\x0astatus: clean\\x85\\x9b2J\\u202eKPA.apk"
    assert row["label"].startswith("# Safe loan")  # '#' is no formula
    assert row["bulk_sms_to_contacts"] == "confirmed"
