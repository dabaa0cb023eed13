"""Reports of real scans (JSON, SARIF, HTML) and the ``scan`` command's exit codes.

The renderers have their own unit tests on hand-built reports (test_render.py); these run the
whole pipeline on fixture APKs, including the one with a hostile label and dex string.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from conftest import fixture_apk, report_of
from markupsafe import escape

from apkaudit import __version__
from apkaudit.cli.main import cli
from apkaudit.model import VERDICT_KEYS, AppResult, Level
from apkaudit.report.formats import render
from apkaudit.report.html import verdict_sentence
from apkaudit.report.schema import load_schema

FIXTURES = ("loan-bulk-sms", "hostile-label")
HOSTILE_LABEL = "<script>alert('label')</script><img src=x onerror=alert(1)>"
HOSTILE_DEX_STRING = "<script>alert('dex')</script>"

# A src=/href= attribute value or a CSS url(...) that loads something over the network.
REMOTE = re.compile(
    r"""(?:\b(?:src|href)\s*=\s*["']?\s*|url\(\s*["']?\s*)(?:https?:)?//""", re.IGNORECASE
)


def _report(result: AppResult, fmt: str) -> str:
    return render(report_of(result), fmt)


@pytest.mark.parametrize("fixture", FIXTURES)
def test_json_validates_against_schema(fixture: str, audit) -> None:
    result = audit(fixture_apk(fixture))
    doc = json.loads(_report(result, "json"))
    jsonschema.validate(doc, load_schema())
    assert doc["schema_version"] == 1
    [app] = doc["apps"]
    assert app["status"] == "ok"
    assert app["app"]["package"] == result.identity.package
    assert app["app"]["label"] == result.identity.label
    assert app["verdicts"] == result.verdicts.as_dict()
    assert sorted(f["rule_id"] for f in app["findings"]) == sorted(
        f.rule_id for f in result.findings
    )


@pytest.mark.parametrize("fixture", FIXTURES)
def test_sarif_has_one_result_per_finding(fixture: str, audit) -> None:
    result = audit(fixture_apk(fixture))
    doc = json.loads(_report(result, "sarif"))
    assert doc["version"] == "2.1.0"
    [run] = doc["runs"]
    assert sorted(r["ruleId"] for r in run["results"]) == sorted(f.rule_id for f in result.findings)
    declared = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert {r["ruleId"] for r in run["results"]} <= declared


@pytest.mark.parametrize("fixture", FIXTURES)
def test_html_loads_nothing_remote(fixture: str, audit) -> None:
    html = _report(audit(fixture_apk(fixture)), "html")
    assert REMOTE.findall(html) == []


def test_html_escapes_the_hostile_label(audit) -> None:
    result = audit(fixture_apk("hostile-label"))
    assert result.identity.label == HOSTILE_LABEL
    html = _report(result, "html")
    assert HOSTILE_LABEL not in html
    assert "<script>alert(" not in html
    assert "<img src=x" not in html
    assert str(escape(HOSTILE_LABEL)) in html


def test_html_never_shows_the_hostile_dex_string_raw(audit) -> None:
    html = _report(audit(fixture_apk("hostile-label")), "html")
    assert HOSTILE_DEX_STRING not in html


def test_html_shows_the_hostile_dex_string_escaped_as_evidence(audit) -> None:
    # fixtures/README.md: the dex string "becomes evidence" (the URI of the query the probe
    # makes); an escaping test is only worth something if the string reaches the report.
    html = _report(audit(fixture_apk("hostile-label")), "html")
    assert str(escape(HOSTILE_DEX_STRING)) in html


def test_html_has_the_verdict_section(audit) -> None:
    result = audit(fixture_apk("loan-bulk-sms"))
    html = _report(result, "html")
    assert 'id="app-1-verdicts"' in html
    section = html.split('<ul class="verdicts">', 1)[1].split("</ul>", 1)[0]
    assert section.count('<li class="lvl-') == len(VERDICT_KEYS)
    assert str(escape(verdict_sentence("contacts_read", Level.CONFIRMED))) in section


# ---------------------------------------------------------------------- CLI


def scan(*args: str):
    return CliRunner().invoke(cli, ["scan", *args])


def test_scan_writes_html(tmp_path: Path) -> None:
    out = tmp_path / "out.html"
    result = scan(str(fixture_apk("loan-bulk-sms")), "-o", str(out))
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "com.apkaudit.fixture.loanbulksms" in html
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == f"report: {out}"


def test_scan_json_to_stdout() -> None:
    result = scan(str(fixture_apk("loan-bulk-sms")), "--format", "json", "-q")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["apps"][0]["app"]["package"] == "com.apkaudit.fixture.loanbulksms"
    assert result.stderr == ""


def test_fail_on_high_with_high_findings_exits_1() -> None:
    result = scan(str(fixture_apk("loan-bulk-sms")), "--format", "json", "--fail-on", "high")
    assert result.exit_code == 1


def test_fail_on_high_with_no_findings_exits_0() -> None:
    result = scan(str(fixture_apk("clean")), "--format", "json", "--fail-on", "high")
    assert result.exit_code == 0


def test_non_apk_exits_3_with_one_line(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.apk"
    bogus.write_text("this is not an APK\n", encoding="utf-8")
    result = scan(str(bogus))
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"apkaudit: error: {bogus}: not an APK: no zip archive structure found"
    ]


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"apkaudit, version {__version__}\n"
