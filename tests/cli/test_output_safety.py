"""App strings are hostile: every output is safe for its consumer (issue 12.5).

The app here is the loan-bulk-sms fixture with a package name and label holding CR LF, C1
controls (NEL, CSI), a right-to-left override and Markdown, and code locations in a class whose
name holds terminal escape sequences (clear screen, set the window title), the way a crafted
dex can name its classes. Each renderer and the CSV export must show them as inert text.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace

import pytest
from conftest import fixture_apk, report_of

from apkaudit.corpus.store import StoredRow, export_csv
from apkaudit.model import AppResult, CodeLocation, Finding
from apkaudit.report import escape
from apkaudit.report.formats import RenderOptions, render

PACKAGE = "com.evil\r\nFAKE: clean app\x85\x9b31m\u202etxt.apk"
LABEL = '# Safe loan\n[claim](https://evil.example) =HYPERLINK("https://evil.example")'
CLASS = "Lcom/evil/\x1b[2J\x1b]0;pwned\x07Blaster;"
# What must never reach a terminal: C0 (but tab/newline of our own layout), C1, bidi.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _hostile_location(loc: CodeLocation | None) -> CodeLocation | None:
    return None if loc is None else replace(loc, class_name=CLASS)


def _hostile_finding(f: Finding) -> Finding:
    evidence = tuple(
        replace(e, location=_hostile_location(e.location), description=e.description + " " + LABEL)
        for e in f.evidence
    )
    return replace(f, evidence=evidence, message=f"{f.message} [x](https://evil.example)")


@pytest.fixture(scope="module")
def hostile() -> AppResult:
    from apkaudit.audit import audit_app

    app = audit_app(fixture_apk("loan-bulk-sms"))
    assert app.manifest is not None and app.findings
    identity = replace(app.manifest.identity, package=PACKAGE, label=LABEL)
    return replace(
        app,
        manifest=replace(app.manifest, identity=identity),
        findings=tuple(_hostile_finding(f) for f in app.findings),
        input=replace(app.input, path="apks/\x1b[31mred\u202e.apk"),
    )


def test_text_shows_app_strings_as_inert_escapes(hostile: AppResult) -> None:
    for color in (False, True):
        text = render(report_of(hostile), "text", RenderOptions(color=color))
        plain = re.sub(r"\x1b\[(?:0|1|31|32|33)m", "", text) if color else text
        assert not RAW.search(plain), repr(plain)
        assert "\\x0d\\x0aFAKE: clean app\\x85\\x9b31m\\u202etxt.apk" in plain
        assert "com.evil.\\x1b[2J\\x1b]0;pwned\\x07Blaster.blastContacts@0x14" in plain
        assert "\r" not in text


@pytest.mark.parametrize("fmt", ["md", "html", "json", "sarif"])
def test_documents_to_a_terminal_carry_no_control(hostile: AppResult, fmt: str) -> None:
    from apkaudit.cli.scan import for_terminal

    shown = for_terminal(render(report_of(hostile), fmt), fmt)
    assert not RAW.search(shown), repr(RAW.search(shown))
    if fmt in ("json", "sarif"):  # the same document: only escapes were rewritten
        assert json.loads(shown) == json.loads(render(report_of(hostile), fmt))


def test_markdown_makes_no_heading_link_or_line_from_app_strings(hostile: AppResult) -> None:
    text = render(report_of(hostile), "md")
    assert not RAW.search(text)
    for line in text.splitlines():
        assert not line.startswith("# "), line  # only our own '## ' headings
        assert "FAKE: clean" not in line or not line.lstrip().startswith("FAKE")
    assert not re.search(r"(?<!\\)\]\(", text) and "[claim]" not in text
    assert "\\# Safe loan \\[claim\\](https\\://evil.example)" in text


def test_sarif_messages_are_plain_text(hostile: AppResult) -> None:
    doc = json.loads(render(report_of(hostile), "sarif"))
    texts = [r["message"]["text"] for r in doc["runs"][0]["results"]]
    texts += [
        loc["message"]["text"]
        for r in doc["runs"][0]["results"]
        for loc in r["locations"] + r.get("relatedLocations", [])
        if "message" in loc
    ]
    assert texts
    for text in texts:
        assert not RAW.search(text), repr(text)
        # SARIF §3.11.6: an unescaped [text](target) is an embedded link
        assert not re.search(r"(?<!\\)\[[^\]]*(?<!\\)\]\(", text), text
    assert any("\\[x\\](https://evil.example)" in t for t in texts)
    raw = render(report_of(hostile), "sarif")
    assert "\u202e" not in raw and "\x85" not in raw  # written as \\u escapes


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ('=HYPERLINK("https://evil.example")', '\'=HYPERLINK("https://evil.example")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\\x09cmd"),
        ("\r=1", "'\\x0d=1"),
        ("a\rb\nc", "a\\x0db\\x0ac"),
        ("com.fine", "com.fine"),
        (-3, "-3"),
        (True, "true"),
        (None, ""),
    ],
)
def test_csv_cell(cell: object, shown: str) -> None:
    assert escape.csv_cell(cell) == shown


def test_csv_export_rows_never_split_and_hold_no_formula(hostile: AppResult) -> None:
    row = StoredRow(
        sha256=hostile.input.sha256,
        tool_version="0",
        rules_version="0",
        path=hostile.input.path,
        result=replace(hostile, input=replace(hostile.input, path="=cmd|' /C calc'!A0")),
        audited_at="2024-01-01T00:00:00Z",
        seconds=0.1,
        peak_rss_kib=None,
    )
    text = "".join(export_csv(iter([row])))
    assert "\r" not in text and text.count("\n") == 2  # header + one row, nothing split
    lines = text.splitlines()
    assert all(line.startswith('"') and line.endswith('"') for line in lines)  # all quoted
    [record] = list(csv.DictReader(io.StringIO(text)))
    assert record["path"] == "'=cmd|' /C calc'!A0"
    assert record["label"].startswith("'") or not record["label"].startswith(("=", "+", "-", "@"))
    assert record["package"] == "com.evil\\x0d\\x0aFAKE: clean app\\x85\\x9b31m\\u202etxt.apk"
    for value in record.values():
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("# heading", "\\# heading"),
        ("- item", "\\- item"),
        ("+ item", "\\+ item"),
        ("1. first", "1\\. first"),
        ("===", "\\==="),
        ("a\x1b[2Jb", "a\\\\x1b\\[2Jb"),
        ("a\u202eb", "a\\\\u202eb"),
        ("{{x}}", "\\{\\{x\\}\\}"),
    ],
)
def test_markdown_escape(raw: str, shown: str) -> None:
    assert escape.markdown(raw) == shown


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("[a](b)", "\\[a\\](b)"),
        ("\\[a]", "\\\\\\[a\\]"),
        ("two\nlines\r\n", "two lines"),
        ("a\x9bb", "a\\x9bb"),
        ("no brackets \\ here", "no brackets \\ here"),
    ],
)
def test_sarif_text(raw: str, shown: str) -> None:
    assert escape.sarif_text(raw) == shown


def test_terminal_and_json_safe() -> None:
    assert escape.terminal("a\tb\x00\x7f\u2066\u200f") == "a\\x09b\\x00\\x7f\\u2066\\u200f"
    assert escape.terminal_document("a\n\tb\x1b") == "a\n\tb\\x1b"
    doc = json.dumps({"k": "a\u202eb\x85"}, ensure_ascii=False)
    assert escape.json_safe(doc) == '{"k": "a\\u202eb\\u0085"}'
    assert json.loads(escape.json_safe(doc)) == {"k": "a\u202eb\x85"}


def test_evidence_unchanged_for_the_json_contract(hostile: AppResult) -> None:
    """JSON keeps the app's strings exactly (consumers decode them); only the terminal path
    rewrites them, as escapes with the same value."""
    doc = json.loads(render(report_of(hostile), "json"))
    assert doc["apps"][0]["app"]["package"] == PACKAGE
    assert doc["apps"][0]["input"]["path"] == "apks/\x1b[31mred\u202e.apk"


# --------------------------------------------------------------------------- the fixture APK

HOSTILE_APK = "fixtures/edge/output-hostile-strings.apk"  # fixtures/make_output_hostile.py


def _terminal_output(command: str) -> str:
    import os
    import shutil
    import subprocess
    import sys

    from conftest import REPO

    if shutil.which("script") is None:
        pytest.skip("script(1) is not installed")
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    proc = subprocess.run(
        ["script", "-qec", f"NO_COLOR=1 {sys.executable} -m apkaudit {command}", "/dev/null"],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=120,
    )
    # the pseudo-terminal turns each newline into CR LF; any other CR came from the app
    return proc.stdout.decode("utf-8").replace("\r\n", "\n")


@pytest.mark.parametrize("fmt", ["text", "md", "html", "json", "sarif"])
def test_hostile_fixture_on_a_terminal(fmt: str) -> None:
    shown = _terminal_output(f"scan {HOSTILE_APK} -f {fmt}")
    assert not RAW.search(shown), repr(RAW.search(shown))
    assert "\x1b" not in shown and "\r" not in shown
    if fmt == "text":
        assert "com.evil.loan\\x0d\\x0astatus: clean\\x85\\x9b2J\\u202eKPA.apk" in shown
        assert "Bl\\x1b[2J\\x1b[31m\\x07ster.blastContacts@0x14" in shown
        assert (
            "confirmed: This app texts the people in your contact list from your phone number"
            in shown
        )


def test_hostile_fixture_is_still_audited_right(audit) -> None:
    from conftest import REPO

    app = audit(REPO / HOSTILE_APK)
    assert app.status == "ok" and app.coverage.complete
    assert app.identity.package.startswith("com.evil.loan\r\n")
    assert app.verdicts.bulk_sms_to_contacts.value == "confirmed"
    sms010 = next(f for f in app.findings if f.rule_id == "SMS010")
    hop = next(e.location for e in sms010.evidence if e.location)
    assert (
        hop.short == "com.apkaudit.fixture.loanbulksms.Bl\x1b[2J\x1b[31m\x07ster.blastContacts@0x14"
    )
    md = render(report_of(app), "md")
    assert not RAW.search(md) and "\n# " not in md and "[claim](" not in md
    sarif = json.loads(render(report_of(app), "sarif"))
    for r in sarif["runs"][0]["results"]:
        assert not RAW.search(r["message"]["text"])
