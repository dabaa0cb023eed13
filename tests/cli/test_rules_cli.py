"""``apkaudit rules list|show --format json``: the packaged rules for tooling."""

from __future__ import annotations

import json

from click.testing import CliRunner

from apkaudit.cli.main import cli
from apkaudit.cli.options import EXIT_OK, EXIT_USAGE
from apkaudit.rules import load_rules
from apkaudit.rules.registry import help_uri

KEYS = {
    "id",
    "name",
    "title",
    "family",
    "behaviour",
    "severity",
    "match",
    "rationale",
    "remediation",
    "references",
    "fixtures",
    "help_uri",
}


def rules(*args: str):
    return CliRunner().invoke(cli, ["rules", *args])


def test_rules_list_json_has_every_rule() -> None:
    result = rules("list", "--format", "json")
    assert result.exit_code == EXIT_OK, result.output
    doc = json.loads(result.stdout)
    ruleset = load_rules()
    assert doc["rules_version"] == ruleset.version
    assert [r["id"] for r in doc["rules"]] == [r.id for r in ruleset.rules]
    for r in doc["rules"]:
        assert set(r) == KEYS
        assert r["help_uri"] == help_uri(r["id"])
    sms010 = next(r for r in doc["rules"] if r["id"] == "SMS010")
    assert sms010["severity"] == "critical" and sms010["match"]["type"] == "chain"
    assert "contacts_to_sms_destination" in sms010["match"]["kinds"]


def test_rules_show_json_and_unknown_rule() -> None:
    result = rules("show", "con001", "-f", "json")
    assert result.exit_code == EXIT_OK
    doc = json.loads(result.stdout)
    assert doc["id"] == "CON001" and doc["name"] == "contacts-read"
    assert doc["fixtures"]["positive"] and doc["fixtures"]["negative"]
    assert rules("show", "NOPE001", "-f", "json").exit_code == EXIT_USAGE
    assert rules("list", "-f", "xml").exit_code == EXIT_USAGE


def test_rules_text_is_unchanged_by_default() -> None:
    result = rules("list")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ACC001  medium")  # the text table, sorted by rule id
    assert any(line.startswith("APP001  medium") for line in lines)
    assert "Documentation: https://" in rules("show", "APP001").stdout
