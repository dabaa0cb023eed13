"""The text format in zh-CN: every sentence from the i18n tables, so no English prose is left
outside code (package and class names, URLs, rule and policy ids) and the app's own label."""

from __future__ import annotations

import re

import pytest
from conftest import fixture_apk, report_of
from prose_words import ENGLISH

from apkaudit.report.formats import RenderOptions, render
from apkaudit.report.text import full_report_hint

# A wide spread of what the text shows: destinations of several libraries, an SMS worm, an
# in-app Send button, a packed app (incomplete coverage), a non-lending SMS app.
APPS = (
    "dest-libs",
    "dest-worm-service",
    "dest-sms-click",
    "dest-packed-lending",
    "dest-sms-nonlending",
    "loan-bulk-sms",
)
_LABEL = re.compile(r"“[^”]*”")  # the app's label, quoted by text.calls_itself


def _prose(text: str) -> str:
    return _LABEL.sub(" ", text)


@pytest.mark.parametrize("name", APPS)
def test_zh_text_has_no_english_prose(name: str, audit) -> None:
    report = report_of(audit(fixture_apk(name)))
    text = render(report, "text", RenderOptions(lang="zh-CN"))
    assert "结论：" in text or "政策" in text, text
    assert sorted(set(ENGLISH.findall(_prose(text)))) == [], text
    english = render(report, "text", RenderOptions(lang="en"))
    assert ENGLISH.findall(_prose(english))  # the check would see English if it were there


def test_zh_full_report_hint() -> None:
    hint = full_report_hint("some app.apk", lang="zh-CN")
    assert hint.startswith("含全部证据的完整报告：apkaudit scan 'some app.apk' -o report.html")
    assert ENGLISH.findall(_prose(hint)) == []
    english = full_report_hint("x.apk")
    assert english.startswith("Full report with the evidence: apkaudit scan x.apk")
