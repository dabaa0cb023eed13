"""SARIF that GitHub code scanning accepts: the 2.1.0 schema and GitHub's own requirements,
on fixtures whose findings have code locations, manifest locations and none."""

from __future__ import annotations

import json

import pytest
from conftest import REPO, fixture_apk, report_of
from sarif_check import assert_github_ready, validate_sarif

from apkaudit.audit import audit_app
from apkaudit.report.formats import render
from apkaudit.report.sarif import help_markdown
from apkaudit.rules import load_rules
from apkaudit.rules.registry import help_uri

FIXTURES = ("loan-bulk-sms", "loan-harvest-upload", "harvest-extras", "clean")


@pytest.mark.parametrize("name", FIXTURES)
def test_sarif_validates_and_is_github_ready(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the path as a CI job gives it: relative to the checkout
    doc = json.loads(render(report_of(audit_app(f"fixtures/apks/{name}.apk")), "sarif"))
    validate_sarif(doc)
    assert_github_ready(doc)


def test_locations_keep_dex_class_method_offset_logically(audit) -> None:
    doc = json.loads(render(report_of(audit(fixture_apk("loan-bulk-sms"))), "sarif"))
    [run] = doc["runs"]
    sms010 = next(r for r in run["results"] if r["ruleId"] == "SMS010")
    [loc] = sms010["locations"]
    assert loc["physicalLocation"]["region"] == {"startLine": 1}
    assert loc["physicalLocation"]["artifactLocation"]["uri"].endswith("loan-bulk-sms.apk")
    [logical] = loc["logicalLocations"]
    assert logical["fullyQualifiedName"] == "com.apkaudit.fixture.loanbulksms.Blaster.blastContacts"
    assert logical["properties"] == {
        "dex": "classes.dex",
        "offset": 20,
        "offsetHex": "0x14",
        "method": "blastContacts(Landroid/content/Context;)V",
    }
    fp = sms010["partialFingerprints"]
    assert fp["primaryLocationLineHash"] == f"{fp['apkaudit/v1']}:1"


def test_rules_carry_help_uri_and_the_rule_docs() -> None:
    doc = json.loads(render(report_of(), "sarif"))
    rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    for rule in load_rules().rules:
        d = rules[rule.id]
        assert d["helpUri"] == help_uri(rule.id)
        assert d["help"]["markdown"] == help_markdown(rule, help_uri(rule.id))
        assert f"**Rationale.** {rule.rationale}" in d["help"]["markdown"]
        assert d["help"]["markdown"].rstrip().endswith(f"({help_uri(rule.id)})")
    assert rules["SMS010"]["properties"]["security-severity"] == "9.5"


def test_results_carry_destinations_and_trigger(audit) -> None:
    doc = json.loads(render(report_of(audit(fixture_apk("loan-harvest-upload"))), "sarif"))
    [run] = doc["runs"]
    by_rule = {r["ruleId"]: r["properties"] for r in run["results"]}
    url = "https://api.rupeenow.example/v1/collect"
    for rule_id in ("CON004", "CLG004", "SMR004"):
        assert by_rule[rule_id]["destinations"] == [url], rule_id
    assert "destinations" not in by_rule["CON001"]  # reading is not sending
    [app] = run["properties"]["apps"]
    assert app["destinations"] == [
        {
            "url": url,
            "host": "api.rupeenow.example",
            "resolution": "constant",
            "api": "urlconnection",
            "data": ["call_log", "contacts", "sms"],
        }
    ]
    bulk = json.loads(render(report_of(audit(fixture_apk("loan-bulk-sms"))), "sarif"))
    props = {r["ruleId"]: r["properties"] for r in bulk["runs"][0]["results"]}
    assert props["SMS001"]["trigger"] == "automatic"


def test_artifact_uris() -> None:
    from apkaudit.report.sarif import _uri

    assert _uri("apks/loan fast.apk") == "apks/loan%20fast.apk"  # relative stays relative
    assert _uri("/home/u/a b.apk") == "file:///home/u/a%20b.apk"  # absolute: a file URI
    assert _uri("C:\\Users\\u\\x.apk") == "file:///C:/Users/u/x.apk"
    assert _uri("c:x.apk") == "c%3Ax.apk"  # not read as a URI scheme


def test_results_over_githubs_limit_keep_the_most_severe(
    audit, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apkaudit.report import sarif

    monkeypatch.setattr(sarif, "MAX_RESULTS", 2)
    doc = json.loads(render(report_of(audit(fixture_apk("loan-harvest-upload"))), "sarif"))
    validate_sarif(doc)
    [run] = doc["runs"]
    assert [r["ruleId"] for r in run["results"]] == ["CLG004", "CON004"]  # critical first
    [note] = run["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "warning" and note["descriptor"]["id"] == "results-limit"
    assert note["message"]["text"].startswith("5 less severe result(s) left out")
