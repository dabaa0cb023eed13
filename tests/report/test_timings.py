"""Per-stage timings: in the JSON report only on request (scan --timings), wall and CPU."""

from __future__ import annotations

import json

import jsonschema
from click.testing import CliRunner
from conftest import fixture_apk

from apkaudit.cli.main import cli
from apkaudit.report.schema import load_schema

STAGES = ["load", "manifest", "codeindex", "behaviour", "rules"]


def _scan(*extra: str) -> dict:
    done = CliRunner().invoke(cli, ["scan", str(fixture_apk("sms-receiver")), "-f", "json", *extra])
    assert done.exit_code in (0, 1), done.output
    doc: dict = json.loads(done.stdout)
    return doc


def test_timings_only_on_request_with_wall_and_cpu() -> None:
    assert "timings" not in _scan()["apps"][0]  # default reports stay byte-reproducible
    doc = _scan("--timings", "-q")
    jsonschema.Draft202012Validator(load_schema()).validate(doc)
    rows = doc["apps"][0]["timings"]
    assert [r["stage"] for r in rows] == STAGES
    assert all(r["wall_s"] >= 0 and r["cpu_s"] >= 0 for r in rows)
