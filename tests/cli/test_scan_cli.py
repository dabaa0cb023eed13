"""``apkaudit scan`` as a user meets it: on a terminal (text summary, colour only without
NO_COLOR), ``-o -``, output extensions that must match ``--format``, and output errors (a
missing directory, a full disk, /dev/full) as one-line errors with exit 3."""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO, fixture_apk

from apkaudit.cli.main import cli, main
from apkaudit.cli.options import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, EXIT_USAGE
from apkaudit.cli.scan import output_format
from apkaudit.errors import OutputError
from apkaudit.report import output

BULK = "fixtures/apks/loan-bulk-sms.apk"
ESC = "\x1b"


def scan(*args: str | os.PathLike[str]):
    return CliRunner().invoke(cli, ["scan", *map(str, args)])


def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str):
    """The console entry point in-process (errors become exit codes there); (code, out, err)."""
    monkeypatch.setattr(sys, "argv", ["apkaudit", *args])
    with pytest.raises(SystemExit) as stop:
        main()
    captured = capsys.readouterr()
    return stop.value.code, captured.out, captured.err


def on_a_terminal(command: str, env: dict[str, str]) -> str:
    """``command`` run on a pseudo-terminal by script(1); its output as the terminal got it."""
    if shutil.which("script") is None:
        pytest.skip("script(1) is not installed")
    proc = subprocess.run(
        ["script", "-qec", command, "/dev/null"],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=120,
    )
    return proc.stdout.decode("utf-8")


def apkaudit_command() -> str:
    """The console script next to this interpreter (the README's ``apkaudit``), else -m."""
    script = Path(sys.executable).with_name("apkaudit")
    return str(script) if script.is_file() else f"{sys.executable} -m apkaudit"


# --------------------------------------------------------------------------- terminal


def test_terminal_gets_a_short_text_summary_without_escapes_under_no_color() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    text = on_a_terminal(f"NO_COLOR=1 {apkaudit_command()} scan {BULK}", env)
    lines = text.splitlines()
    assert 5 <= len(lines) <= 40, text
    assert ESC not in text, repr(text)
    assert "<html" not in text.lower()
    assert lines[0].startswith("loan-bulk-sms.apk  com.apkaudit.fixture.loanbulksms")
    assert (
        "confirmed: This app texts the people in your contact list from your phone number" in text
    )
    assert re.search(r"critical +SMS010 .* at com\.apkaudit\.fixture\.loanbulksms\.Blaster", text)
    assert "Policies: " in text
    assert "Full report with the evidence: apkaudit scan " in text  # how to get the rest


def test_terminal_colour_only_without_no_color() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"TERM": "xterm"}
    text = on_a_terminal(f"{apkaudit_command()} scan {BULK}", env)
    assert "\x1b[31m" in text  # red for critical / confirmed
    # every colour is closed on its own line; nothing else drives the terminal
    for line in text.splitlines():
        assert line.count("\x1b[") == 2 * line.count("\x1b[0m"), repr(line)
    assert not re.search(r"\x1b(?!\[(?:0|1|31|32|33)m)", text), repr(text)


def test_not_a_terminal_keeps_html_by_default() -> None:
    result = scan(fixture_apk("loan-bulk-sms"), "-q")
    assert result.exit_code == EXIT_OK
    assert result.stdout.lstrip().lower().startswith("<!doctype html>")


def test_dash_means_stdout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = scan(fixture_apk("loan-bulk-sms"), "-o", "-", "-f", "json", "-q")
    assert result.exit_code == EXIT_OK, result.output
    assert result.stdout.startswith("{")
    assert not (tmp_path / "-").exists()


def test_text_format_to_a_file_and_by_extension(tmp_path: Path) -> None:
    out = tmp_path / "r.txt"
    result = scan(fixture_apk("loan-bulk-sms"), "-o", out, "--fail-on", "high")
    assert result.exit_code == EXIT_FINDINGS
    text = out.read_text(encoding="utf-8")
    assert text.startswith("loan-bulk-sms.apk  com.apkaudit.fixture.loanbulksms")
    assert ESC not in text and "<html" not in text


@pytest.mark.parametrize(
    ("name", "fmt", "expected"),
    [
        ("r.html", None, "html"),
        ("r.HTM", None, "html"),
        ("r.json", None, "json"),
        ("r.sarif", None, "sarif"),
        ("r.sarif.json", None, "sarif"),
        ("r.sarif.json", "sarif", "sarif"),
        ("r.md", None, "md"),
        ("r.txt", None, "text"),
        ("report", "json", "json"),  # no extension: --format decides
        ("/dev/null", "json", "json"),
    ],
)
def test_output_format_from_extension(name: str, fmt: str | None, expected: str) -> None:
    assert output_format(Path(name), fmt, tty=False) == expected


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("r.txt", "html"), ("r.json", "sarif"), ("r.html", "md"), ("r.pdf", None), ("report", None)],
)
def test_output_extension_that_does_not_match_is_a_usage_error(
    tmp_path: Path, name: str, fmt: str | None
) -> None:
    args = ["-o", str(tmp_path / name)] + (["-f", fmt] if fmt else [])
    result = scan(fixture_apk("clean"), *args)
    assert result.exit_code == EXIT_USAGE
    assert not (tmp_path / name).exists()
    assert "--format" in result.output


def test_default_format_without_output() -> None:
    assert output_format(None, None, tty=True) == "text"
    assert output_format(None, None, tty=False) == "html"
    assert output_format(None, "md", tty=True) == "md"


# --------------------------------------------------------------------------- output errors


def test_output_into_a_missing_directory_is_one_line_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "nowhere" / "r.html"
    code, out, err = run_main(
        monkeypatch, capsys, "scan", str(fixture_apk("clean")), "-o", str(target)
    )
    assert code == EXIT_INPUT
    assert (
        err == f"apkaudit: error: cannot write {target}: directory {target.parent} does not exist\n"
    )
    assert out == "" and not target.parent.exists()


def test_full_disk_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "r.json"
    target.write_text("the previous report\n")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(output.os, "fsync", full)
    code, _, err = run_main(
        monkeypatch, capsys, "scan", str(fixture_apk("clean")), "-o", str(target)
    )
    assert code == EXIT_INPUT
    assert err == f"apkaudit: error: cannot write {target}: No space left on device\n"
    assert "Traceback" not in err
    assert target.read_text() == "the previous report\n"  # old report intact, no half one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]  # no temp file left


def test_read_only_directory_is_one_line_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_mkstemp = output.tempfile.mkstemp

    def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(output.tempfile, "mkstemp", read_only)
    target = tmp_path / "r.sarif"
    code, _, err = run_main(
        monkeypatch, capsys, "scan", str(fixture_apk("clean")), "-o", str(target)
    )
    monkeypatch.setattr(output.tempfile, "mkstemp", real_mkstemp)
    assert code == EXIT_INPUT
    assert err == f"apkaudit: error: cannot write {target}: Read-only file system\n"
    assert not target.exists()


def test_dev_full_is_one_line_exit_3() -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "apkaudit", "scan", str(fixture_apk("clean")), "-f", "json"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            cwd=REPO,
        )
    assert proc.returncode == EXIT_INPUT
    assert proc.stderr.splitlines() == [
        "apkaudit: error: cannot write to standard output: No space left on device"
    ]


def test_report_to_a_device_is_written_in_place(tmp_path: Path) -> None:
    result = scan(fixture_apk("clean"), "-o", os.devnull, "-f", "json", "-q")
    assert result.exit_code == EXIT_OK
    assert os.path.exists(os.devnull) and not os.path.isfile(os.devnull)


def test_write_report_is_atomic_and_shareable(tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    output.write_report(target, "one")
    output.write_report(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    with pytest.raises(OutputError, match="it is a directory"):
        output.write_report(tmp_path, "x")


# --------------------------------------------------------------------------- exit codes


def test_missing_file_is_exit_3_in_scan_and_batch(tmp_path: Path) -> None:
    missing = tmp_path / "missing.apk"
    assert scan(missing).exit_code == EXIT_INPUT
    result = CliRunner().invoke(cli, ["batch", str(missing), "--out", str(tmp_path / "o")])
    assert result.exit_code == EXIT_INPUT
    assert result.stderr.splitlines() == [f"apkaudit: error: {missing}: no such file or directory"]


def test_readme_shows_the_text_format_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start = readme.index(f"$ apkaudit scan {BULK}\n") + len(f"$ apkaudit scan {BULK}\n")
    shown = readme[start : readme.index("```", start)]
    result = scan(BULK, "-f", "text", "-q")
    assert result.exit_code == EXIT_OK
    assert result.stdout == shown  # the summary, a blank line, how to get the full report


def test_text_names_where_the_data_goes() -> None:
    result = scan(fixture_apk("dest-libs"), "-f", "text", "-q")
    assert result.exit_code == EXIT_OK
    text = result.stdout
    block = text[text.index("Personal data sent to:\n") :].split("\n\n")[0].splitlines()
    assert block[1:] == [
        "  https://h6.libs.example/volley/contacts  (contact list; volley)",
        "  http://h7.libs.example/upload.php  (contact list; apache-http)",
        "  https://h8.libs.example/v3/contacts  (contact list; retrofit)",
    ]
    assert "Personal data sent to:" not in scan(fixture_apk("clean"), "-f", "text", "-q").stdout


def test_text_never_shows_a_resource_id_as_a_name(audit) -> None:
    from dataclasses import replace

    from conftest import report_of

    from apkaudit.report.formats import render

    app = audit(fixture_apk("loan-bulk-sms"))
    assert app.manifest is not None
    ident = replace(app.manifest.identity, label="@7F050006")
    odd = replace(app, manifest=replace(app.manifest, identity=ident))
    first = render(report_of(odd), "text").splitlines()[0]
    assert first == "loan-bulk-sms.apk  com.apkaudit.fixture.loanbulksms, version 1.0"
