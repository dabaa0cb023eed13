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


def test_the_cli_module_loads_no_analysis_code() -> None:
    """``apkaudit --help``, ``--version`` and every command start from here: the audit, its
    behaviour stages, the XML and template libraries and the TOML data come later, if needed."""
    probe = "import json, sys, apkaudit.cli.main; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded = _top(set(json.loads(done.stdout)))
    heavy = {"androguard", "jinja2", "lxml", "tomllib", "apkaudit.audit", "apkaudit.behaviour",
             "apkaudit.code", "apkaudit.rules", "apkaudit.policies"}  # fmt: skip
    assert loaded & heavy == set()


_GC_PROBE = """
import gc, json, runpy, sys
sys.argv = ["apkaudit", *sys.argv[1:]]
try:
    runpy.run_module("apkaudit", run_name="__main__")
except SystemExit:
    pass
print(json.dumps([gc.isenabled(), gc.get_freeze_count()]))
"""


def test_scan_pauses_the_collector_only_while_loading(tmp_path) -> None:
    """Start-up objects are frozen (no collector pass walks them again, cli/collector.py), and
    the collector is on again for the audit itself and after it."""
    out = tmp_path / "r.json"
    args = ["scan", str(fixture_apk("uri-string-concat")), "-o", str(out), "-q"]
    done = subprocess.run(
        [sys.executable, "-c", _GC_PROBE, *args], capture_output=True, text=True, timeout=300
    )
    enabled, frozen = json.loads(done.stdout.splitlines()[-1])
    assert out.is_file()
    assert enabled and frozen > 10_000


def test_the_collector_is_restored_after_loading() -> None:
    import gc

    from apkaudit.cli.collector import loading

    assert gc.isenabled()
    with loading():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with loading():
            pass
        assert not gc.isenabled()  # off before, off after
    finally:
        gc.enable()
        gc.unfreeze()
