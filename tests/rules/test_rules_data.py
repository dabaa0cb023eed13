"""The rule files: they load, ids are sound, and each rule's own fixtures prove it.

Every rule names a ``positive`` fixture that must trigger it and a ``negative`` one that must
not. Chain rules are checked in their own test so a failure there is clearly the behaviour
stage's (data-flow chains), not the rule engine's.
"""

from __future__ import annotations

import re
import tomllib
from importlib.resources import files

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, fixture_apk

from apkaudit.cli.main import cli
from apkaudit.rules import MATCH_TYPES, Rule, load_rules
from apkaudit.rules.registry import FAMILIES

RULES = load_rules().rules
PLAIN = [pytest.param(r, id=r.id) for r in RULES if r.match_type != "chain"]
CHAIN = [pytest.param(r, id=r.id) for r in RULES if r.match_type == "chain"]
FAMILY_FILES = {f.code: f.file for f in FAMILIES.values()}


def test_rule_files_declare_their_families() -> None:
    pkg = files("apkaudit.rules")
    families = {}
    for entry in pkg.iterdir():
        if entry.name.endswith(".toml"):
            families[tomllib.loads(entry.read_text("utf-8"))["family"]] = entry.name
    assert families == FAMILY_FILES


def test_ids_are_unique_and_family_prefixed() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    assert ids == sorted(ids)
    for r in RULES:
        assert re.fullmatch(r"[A-Z]{3}\d{3}", r.id), r.id
        assert r.id[:3] == r.family, f"{r.id} is in family {r.family}"
        assert r.family in FAMILY_FILES


def test_names_are_unique_kebab_case() -> None:
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    for name in names:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name), name


@pytest.mark.parametrize("rule", [pytest.param(r, id=r.id) for r in RULES])
def test_rule_is_complete(rule: Rule) -> None:
    assert isinstance(rule.match, MATCH_TYPES[rule.match_type])
    assert rule.title and rule.rationale and rule.remediation
    assert rule.references
    assert "\n" not in rule.rationale
    assert rule.positive != rule.negative
    assert fixture_apk(rule.positive).is_file(), f"no {rule.positive}.apk in {FIXTURES}"
    assert fixture_apk(rule.negative).is_file(), f"no {rule.negative}.apk in {FIXTURES}"


def _fired(audit, fixture: str) -> set[str]:
    result = audit(fixture_apk(fixture))
    assert result.status == "ok", result.error
    return {f.rule_id for f in result.findings}


@pytest.mark.parametrize("rule", PLAIN)
def test_rule_fires_on_its_positive_fixture_only(rule: Rule, audit) -> None:
    assert rule.id in _fired(audit, rule.positive), f"{rule.id} silent on {rule.positive}"
    assert rule.id not in _fired(audit, rule.negative), f"{rule.id} fired on {rule.negative}"


@pytest.mark.parametrize("rule", CHAIN)
def test_chain_rule_fires_on_its_positive_fixture_only(rule: Rule, audit) -> None:
    assert rule.id in _fired(audit, rule.positive), f"{rule.id} silent on {rule.positive}"
    assert rule.id not in _fired(audit, rule.negative), f"{rule.id} fired on {rule.negative}"


@pytest.mark.parametrize("rule", [pytest.param(r, id=r.id) for r in RULES])
def test_rules_show_prints_rationale_and_references(rule: Rule) -> None:
    result = CliRunner().invoke(cli, ["rules", "show", rule.id.lower()])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(f"{rule.id} {rule.name}: {rule.title}\n")
    assert rule.rationale in out
    assert f"Remediation: {rule.remediation}" in out
    for ref in rule.references:
        assert f"  - {ref}\n" in out
    assert f"positive {rule.positive}, negative {rule.negative}" in out


def test_rules_show_unknown_id_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["rules", "show", "XXX999"])
    assert result.exit_code == 2
    assert "no rule 'XXX999'" in result.stderr


def test_rules_list_has_one_line_per_rule() -> None:
    result = CliRunner().invoke(cli, ["rules", "list"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [r.id for r in RULES]
