"""Every table that must agree with the rules agrees with the one registry.

apkaudit/rules/registry.py holds the rule codes, the families and the verdict -> rule map; the
loader refuses rule files that disagree with it. These tests hold the tables elsewhere to it:
the verdicts of the model, the scoring floors, the report catalogs, the chain kinds and query
providers of the behaviour stage, the watched-API tags, the policy packs.
"""

from __future__ import annotations

import json
import re
from dataclasses import fields
from typing import get_args

import pytest
from conftest import fixture_apk, report_of

from apkaudit.behaviour import chains
from apkaudit.behaviour.models import providers
from apkaudit.code.catalogue import load_catalogue
from apkaudit.model import VERDICT_KEYS, Verdicts
from apkaudit.policies import load_policies
from apkaudit.report.formats import render
from apkaudit.report.i18n import LANGUAGES, catalog
from apkaudit.rules import load_rules
from apkaudit.rules.registry import CODES, FAMILIES, RETIRED, VERDICT_RULES, help_uri
from apkaudit.rules.schema import ChainMatch, Provider
from apkaudit.rules.scoring import VERDICT_FLOOR

RULES = load_rules().rules


def test_every_issued_code_is_shipped_or_retired() -> None:
    assert {r.id for r in RULES} == set(CODES) - RETIRED
    assert set(CODES) >= RETIRED
    for code in CODES:
        assert re.fullmatch(r"[A-Z]{3}\d{3}", code) and code[:3] in FAMILIES, code
    assert len(set(CODES.values())) == len(CODES), "a rule name is used twice"


def test_verdict_tables_name_the_model_verdicts() -> None:
    assert tuple(f.name for f in fields(Verdicts)) == VERDICT_KEYS
    assert tuple(VERDICT_RULES) == VERDICT_KEYS
    assert {verdict for verdict, _level in VERDICT_FLOOR} <= set(VERDICT_KEYS)


def test_verdict_rules_are_live_rules() -> None:
    live = {r.id for r in RULES}
    for verdict, ids in VERDICT_RULES.items():
        assert ids and set(ids) <= live, verdict


def test_policies_cite_live_rules_and_known_verdicts() -> None:
    live = {r.id for r in RULES}
    for policy in load_policies().policies:
        for rule in policy.rules:
            assert set(rule.findings) <= live, rule.id
            for table in rule.verdicts:
                assert set(table) <= set(VERDICT_RULES), rule.id


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_family_behaviour_is_in_the_catalog(lang: str) -> None:
    strings = catalog(lang).strings
    for family in FAMILIES.values():
        assert f"behaviour.{family.behaviour}" in strings, (lang, family.code)
    for rule in RULES:
        assert f"behaviour.{rule.behaviour}" in strings, (lang, rule.id)


def test_chain_rules_name_kinds_the_behaviour_stage_builds() -> None:
    built = chains.known_kinds()
    for rule in RULES:
        if isinstance(rule.match, ChainMatch):
            assert set(rule.match.kinds) <= built, rule.id


def test_query_providers_are_the_behaviour_stage_providers() -> None:
    assert set(get_args(Provider)) == set(providers._PROVIDER_NAMES)


def test_rule_tags_are_catalogue_tags() -> None:
    tags = {t for item in load_catalogue().items for t in item.tags}
    for rule in RULES:
        assert set(getattr(rule.match, "tags", ())) <= tags, rule.id


def test_help_uris_are_derived_from_the_id() -> None:
    uris = [r.help_uri for r in RULES]
    assert len(set(uris)) == len(uris)
    for r in RULES:
        assert r.help_uri == help_uri(r.id)
        assert r.help_uri.startswith("https://") and r.help_uri.endswith(f"#{r.id.lower()}")


def test_sarif_rules_carry_their_help_uri(audit) -> None:
    doc = json.loads(render(report_of(audit(fixture_apk("loan-bulk-sms"))), "sarif"))
    [run] = doc["runs"]
    described = {d["id"]: d.get("helpUri") for d in run["tool"]["driver"]["rules"]}
    assert described == {r.id: r.help_uri for r in RULES}
