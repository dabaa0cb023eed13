"""Golden outputs: every format of two fixture reports, byte for byte.

A renderer change shows here as a diff to review. After a deliberate change, regenerate with
``APKAUDIT_UPDATE_GOLDEN=1 python -m pytest tests/report/test_golden.py`` and read the diff of
``tests/report/golden/`` before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import REPO, report_of

from apkaudit.audit import audit_app
from apkaudit.report.formats import RenderOptions, render

GOLDEN = Path(__file__).parent / "golden"
CASES = [
    ("loan-bulk-sms", "json", "en"),
    ("loan-bulk-sms", "sarif", "en"),
    ("loan-bulk-sms", "md", "en"),
    ("loan-bulk-sms", "html", "en"),
    ("loan-harvest-upload", "html", "zh-CN"),
    ("loan-harvest-upload", "sarif", "en"),
]


@pytest.mark.parametrize(("name", "fmt", "lang"), CASES, ids=lambda v: str(v))
def test_golden_output(name: str, fmt: str, lang: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A path relative to the repository, as a user would type it: no local folders in goldens.
    monkeypatch.chdir(REPO)
    result = audit_app(f"fixtures/apks/{name}.apk")
    text = render(report_of(result), fmt, RenderOptions(lang=lang))
    path = GOLDEN / f"{name}.{lang}.{fmt}"
    if os.environ.get("APKAUDIT_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), "run with APKAUDIT_UPDATE_GOLDEN=1 to create the golden file"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} changed"
