"""What ``scan`` imports: only what the command and the format need. No batch/corpus/Dask code
for ``scan``, no jinja2 unless the format is HTML, and no androguard for an app whose manifest
Android accepts (our own readers cover certificates, resources and platform data)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import fixture_apk

_PROBE = """
import json, sys
sys.argv = ["apkaudit", *sys.argv[1:]]
from apkaudit.cli.main import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def _modules(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=300
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def _top(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules} | {m for m in modules if m.startswith("apkaudit.")}


@pytest.mark.parametrize("fmt", ["json", "sarif", "text"])
def test_scan_imports_only_what_it_needs(fmt: str, tmp_path) -> None:
    out = tmp_path / f"r.{'txt' if fmt == 'text' else fmt}"
    loaded = _top(_modules("scan", str(fixture_apk("loan-bulk-sms")), "-f", fmt, "-o", str(out)))
    assert out.is_file()
    unwanted = {"jinja2", "androguard", "loguru", "dask", "distributed", "apkaudit.cli.batch",
                "apkaudit.corpus", "apkaudit.cli.rules", "asn1crypto"}  # fmt: skip
    assert loaded & unwanted == set()


def test_html_brings_jinja2_and_still_no_androguard(tmp_path) -> None:
    out = tmp_path / "r.html"
    loaded = _top(_modules("scan", str(fixture_apk("loan-bulk-sms")), "-o", str(out)))
    assert "jinja2" in loaded
    assert not loaded & {"androguard", "loguru", "apkaudit.cli.batch"}


def test_sha1_and_md5_only_for_the_formats_that_show_them() -> None:
    from apkaudit.audit import AuditOptions, audit_app
    from apkaudit.report.formats import FORMATS, SHOWS_LEGACY_DIGESTS

    apk = fixture_apk("loan-bulk-sms")
    full, lean = audit_app(apk), audit_app(apk, AuditOptions(legacy_digests=False))
    assert len(full.input.sha1) == 40 and len(full.input.md5) == 32
    assert (lean.input.sha1, lean.input.md5) == ("", "")
    assert lean.input.sha256 == full.input.sha256
    assert {"html", "json", "sarif"} == SHOWS_LEGACY_DIGESTS and set(FORMATS) >= {"md", "text"}
