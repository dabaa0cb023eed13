"""Reports that are passed around: masking, the Markdown summary, the app icon, print CSS."""

from __future__ import annotations

import base64
import re
import struct
import zipfile
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO, fixture_apk, real_index, real_path, report_of, require_real

from apkaudit.cli.main import cli
from apkaudit.load.loader import read_entry
from apkaudit.model import (
    MAX_ICON_BYTES,
    AppIcon,
    CodeLocation,
    Confidence,
    Evidence,
    Finding,
    Severity,
    Stage,
    sniff_image,
)
from apkaudit.report.formats import RenderOptions, render
from apkaudit.report.html import data_uri
from apkaudit.report.markdown import md_escape
from apkaudit.report.redact import redact

HOSTILE_LABEL = "<script>alert('label')</script><img src=x onerror=alert(1)>"


def png(width: int = 2, height: int = 2) -> bytes:
    """A valid tiny PNG (grey pixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------- masking


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ('const-string v1, "5550100"', 'const-string v1, "555••00"'),
        ("smsto:5551234", "smsto:555••34"),
        ("call +91 98765 43210 now", "call +91 9•••• •••10 now"),
        ("13800138000", "138••••••00"),
        ("write to collector@quickcash.example", "write to c••••••••@quickcash.example"),
    ],
)
def test_phone_numbers_and_addresses_are_partly_masked(text: str, masked: str) -> None:
    assert redact(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "0x0046: const v2, 0x7f0a0001",
        "ip 192.168.100.200",
        "version 1.2.3456789",
        "com.loan.Spam.blast @ 0x2a in classes2.dex",
        "Blaster.blastContacts@0x4e",
        "2024-05-01T12:00:00Z",
        "sha 1234567890abcdef",
        "invoke-virtual/range {v0 .. v5}",
        "https://api.rupeenow.example/v1/collect",
    ],
)
def test_code_and_hashes_are_not_masked(text: str) -> None:
    assert redact(text) == text


def _with_contact_evidence(app):
    loc = CodeLocation("classes.dex", "Lcom/x/Collect;", "run()V", 4)
    finding = Finding(
        rule_id="SMS011",
        name="server-controlled-sms",
        title="Sends SMS to numbers or text received from a server",
        behaviour="sms_send",
        severity=Severity.HIGH,
        confidence=Confidence.HIGH,
        stage=Stage.REACHABLE,
        message="collector number +62 812 3456 7890",
        evidence=(
            Evidence(
                "code",
                'uses the string "agent.budi@pinjam.example"',
                loc,
                ('> 0x0004: const-string v0, "+6281234567890"',),
            ),
        ),
    )
    return replace(app, findings=(*app.findings, finding))


def test_html_masks_by_default_and_no_redact_shows(audit) -> None:
    app = _with_contact_evidence(audit(fixture_apk("clean")))
    masked = render(report_of(app), "html")
    for secret in ("3456 7890", "6281234567890", "agent.budi@"):
        assert secret not in masked
    assert "+62 8•• •••• ••90" in masked and "a•••••••••@pinjam.example" in masked
    shown = render(report_of(app), "html", RenderOptions(redact=False))
    for secret in ("+62 812 3456 7890", "+6281234567890", "agent.budi@pinjam.example"):
        assert secret in shown


def test_cli_no_redact() -> None:
    apk = str(fixture_apk("sms-intent-only"))  # evidence: the string "smsto:5551234"
    masked = CliRunner().invoke(cli, ["scan", apk, "-q"]).stdout
    assert "5551234" not in masked and "555••34" in masked
    shown = CliRunner().invoke(cli, ["scan", apk, "-q", "--no-redact"]).stdout
    assert "5551234" in shown


# --------------------------------------------------------------------------- Markdown


def test_markdown_summary(audit) -> None:
    app = audit(fixture_apk("loan-bulk-sms"))
    text = render(report_of(app), "md")
    assert text.startswith("## apkaudit\\: An app that calls itself “QuickCash Loan”")
    assert (
        "**confirmed: This app texts the people in your contact list from your phone number" in text
    )
    assert "### Where your data goes" in text and "### What you can do now" in text
    row = "| Google Play\\: SMS and Call Log permissions policy | **violation** | GPSMS-1 |"
    assert row in text
    assert "SMS010 |" in text
    zh = render(report_of(app), "md", RenderOptions(lang="zh-CN"))
    assert "此应用会在未征求您同意的情况下，给您通讯录中的联系人发送短信。" in zh
    # every table row has as many cell separators as its header
    for block in re.findall(r"(?:^\|.*\|$\n?)+", text, re.M):
        rows = block.strip().splitlines()
        counts = {len(re.findall(r"(?<!\\)\|", row)) for row in rows}
        assert len(counts) == 1, block


def test_markdown_escapes_a_hostile_label(audit) -> None:
    text = render(report_of(audit(fixture_apk("hostile-label"))), "md")
    assert "<script" not in text and "<img" not in text
    assert "&lt;script&gt;alert\\('label'\\)&lt;/script&gt;" not in text  # () are not special
    assert "&lt;script&gt;alert('label')&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in text


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("[click](javascript:alert(1))", "\\[click\\](javascript\\:alert(1))"),
        ("a | b", "a \\| b"),
        ("*bold* `code`", "\\*bold\\* \\`code\\`"),
        ("https://evil.example", "https\\://evil.example"),
        ("www.evil.example", "www\\.evil.example"),
        ("x@y.example", "x\\@y.example"),
        ("two\nlines", "two lines"),
    ],
)
def test_md_escape(raw: str, shown: str) -> None:
    assert md_escape(raw) == shown


def test_cli_md_format_from_extension(tmp_path: Path) -> None:
    out = tmp_path / "summary.md"
    result = CliRunner().invoke(cli, ["scan", str(fixture_apk("clean")), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith(
        "## apkaudit\\: An app that calls itself “Calculator”"
    )


# --------------------------------------------------------------------------- the icon


def test_sniff_image_accepts_only_raster_magic() -> None:
    assert sniff_image(png()) == "image/png"
    assert sniff_image(b"\xff\xd8\xff\xe0" + b"\0" * 16) == "image/jpeg"
    assert sniff_image(b"RIFF\x10\0\0\0WEBPVP8 ") == "image/webp"
    for bad in (
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b'<?xml version="1.0"?><adaptive-icon/>',
        b"\x03\x00\x08\x00",  # binary XML (an adaptive icon in an APK)
        b"\x89PNG\r\n\x1a\n",  # no IHDR
        b"GIF89a",
        b"",
    ):
        assert sniff_image(bad) is None


def test_data_uri_rechecks_the_icon() -> None:
    good = AppIcon("image/png", png(), "res/mipmap-xhdpi/ic_launcher.png")
    assert data_uri(good).startswith("data:image/png;base64,")
    assert base64.b64decode(data_uri(good).split(",", 1)[1]) == png()
    assert data_uri(AppIcon("image/svg+xml", b"<svg/>", "x.svg")) == ""
    assert data_uri(AppIcon("image/jpeg", png(), "x.png")) == ""  # type does not match bytes
    big = png() + b"\0" * MAX_ICON_BYTES
    assert data_uri(AppIcon("image/png", big, "x.png")) == ""
    assert data_uri(None) == ""


def test_html_embeds_the_icon_and_allows_only_data_images(audit) -> None:
    app = replace(audit(fixture_apk("loan-bulk-sms")), icon=AppIcon("image/png", png(), "i.png"))
    page = render(report_of(app), "html")
    assert '<img class="app-icon" src="data:image/png;base64,' in page
    assert "img-src data:;" in page and "default-src 'none'" in page
    assert len(re.findall(r"<img\b", page)) == 1
    fake = replace(app, icon=AppIcon("image/png", b"<svg onload=alert(1)>", "i.png"))
    assert "<img" not in render(report_of(fake), "html")


def test_fixture_without_resources_has_no_icon(audit) -> None:
    assert audit(fixture_apk("loan-bulk-sms")).icon is None  # no resources.arsc


def test_read_entry_is_bounded(tmp_path: Path) -> None:
    apk = tmp_path / "t.apk"
    with zipfile.ZipFile(apk, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("AndroidManifest.xml", b"<manifest/>")
        zf.writestr("res/a.png", png())
        zf.writestr("res/big.png", b"\0" * (MAX_ICON_BYTES + 1))
    assert read_entry(apk, "res/a.png", MAX_ICON_BYTES) == png()
    assert read_entry(apk, "res/big.png", MAX_ICON_BYTES) is None
    assert read_entry(apk, "res/missing.png", MAX_ICON_BYTES) is None
    assert read_entry(tmp_path / "nothing.apk", "res/a.png", MAX_ICON_BYTES) is None


@pytest.mark.real
@pytest.mark.parametrize(
    "row",
    [r for r in real_index() if r["file"].startswith(("legit-", "smsworm-"))]
    or [pytest.param({"file": "legit-a2dp-volume.apk"}, id="real-apks-missing")],
    ids=lambda r: r["file"],
)
def test_real_apks_icons(row: dict[str, str], audit) -> None:
    require_real()
    app = audit(real_path(row))
    assert app.icon is not None, row["file"]
    assert sniff_image(app.icon.data) == app.icon.mime
    assert app.icon.entry.startswith("res/") and len(app.icon.data) <= MAX_ICON_BYTES
    page = render(report_of(app), "html")
    assert f'src="data:{app.icon.mime};base64,' in page


# --------------------------------------------------------------------------- print


def test_print_stylesheet_is_a4_with_section_breaks() -> None:
    css = (REPO / "report_templates" / "report.css").read_text(encoding="utf-8")
    printing = css.split("@media print", 1)[1]
    assert "size: A4" in printing
    # page 1 is the reader's summary; the evidence starts on a new page
    assert re.search(r"\.part-evidence[^{]*\{[^}]*break-before: page", printing)
    assert re.search(r"tr,[^{]*\{[^}]*break-inside: avoid", printing)
