"""Renderers: JSON contract v1 (+ schema, golden file), SARIF 2.1.0 and the HTML report."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

import jsonschema
import pytest

from apkaudit.model import (
    AppIdentity,
    AppResult,
    Behaviours,
    BlindSpot,
    Certificate,
    Chain,
    CodeIndex,
    CodeLocation,
    Component,
    Confidence,
    Coverage,
    Evidence,
    Finding,
    Hop,
    InputInfo,
    IntentFilter,
    Level,
    ManifestFacts,
    Permission,
    Risk,
    Severity,
    Stage,
    Verdicts,
)
from apkaudit.report.document import Report, RuleRun, build_report
from apkaudit.report.html import INCONCLUSIVE, render_html, verdict_sentence
from apkaudit.report.json_v1 import render_json, report_to_dict
from apkaudit.report.sarif import render_sarif
from apkaudit.report.schema import load_schema

GOLDEN = Path(__file__).parent / "golden"
GENERATED_AT = "2024-05-01T12:00:00Z"
HOSTILE_LABEL = "<script>alert(1)</script>"
SHA = "ab" * 32


@dataclass(frozen=True)
class FakeRule:
    id: str
    name: str
    title: str
    severity: Severity
    behaviour: str
    rationale: str
    remediation: str
    references: tuple[str, ...] = ()


RULES = (
    FakeRule(
        "AA101",
        "bulk-sms-to-contacts",
        "Sends SMS to every contact",
        Severity.CRITICAL,
        "bulk_sms",
        "Numbers read from the contacts provider flow into SmsManager.sendTextMessage in a loop.",
        "Remove the code; never message a borrower's contacts.",
        ("Google Play Financial Services policy", "https://example.org/policy"),
    ),
    FakeRule(
        "AA201",
        "read-contacts-permission",
        "Requests READ_CONTACTS",
        Severity.MEDIUM,
        "contacts_read",
        "Personal-loan apps may not access contacts.",
        "Drop the permission.",
    ),
    FakeRule(
        "AA999",
        "never-fires",
        "A rule that ran without findings",
        Severity.LOW,
        "other",
        "Listed in SARIF because it ran.",
        "",
    ),
)


def _loc(dex: str, cls: str, method: str, offset: int) -> CodeLocation:
    return CodeLocation(dex, cls, method, offset)


SEND = _loc("classes2.dex", "Lcom/loan/Spam;", "blast(Landroid/content/Context;)V", 0x2A)
QUERY = _loc("classes.dex", "Lcom/loan/Spam;", "collect()Ljava/util/List;", 0x10)


def rich_app() -> AppResult:
    manifest = ManifestFacts(
        identity=AppIdentity(
            package="com.loan.fast",
            label=HOSTILE_LABEL,
            version_name="1.2.3",
            version_code="123",
            min_sdk=21,
            target_sdk=33,
        ),
        permissions=(
            Permission("android.permission.SEND_SMS", "dangerous"),
            Permission("android.permission.READ_CONTACTS", "dangerous"),
            Permission("android.permission.INTERNET", "normal"),
        ),
        components=(
            Component(
                "receiver",
                "com.loan.fast.SmsIn",
                exported=True,
                intent_filters=(
                    IntentFilter(
                        actions=("android.provider.Telephony.SMS_RECEIVED",), priority=999
                    ),
                ),
            ),
            Component("activity", "com.loan.fast.Main", exported=True),
            Component("service", "com.loan.fast.Hidden", exported=False),
        ),
        application_class="com.loan.fast.App",
        allow_backup=True,
        certificates=(
            Certificate(
                "CN=Loan Dev, O=Fast Loans", "CN=Loan Dev", "cd" * 32, "ef" * 20, "1", "v2"
            ),
        ),
    )
    chain = Chain(
        kind="contacts_to_sms_destination",
        source="contacts",
        sink="sms_destination",
        hops=(
            Hop(
                "source",
                "query ContactsContract.CommonDataKinds.Phone",
                QUERY,
                ("invoke-virtual {v0, v1}, Landroid/content/ContentResolver;->query(...)",),
            ),
            Hop(
                "call",
                "numbers passed to blast()",
                _loc("classes.dex", "Lcom/loan/Main;", "onCreate(Landroid/os/Bundle;)V", 0x8),
            ),
            Hop(
                "sink",
                "sendTextMessage(number, ...)",
                SEND,
                (
                    "> invoke-virtual {v3, v4, v5}, Landroid/telephony/SmsManager;"
                    "->sendTextMessage",
                    "  if-nez v2, :loop_top",
                ),
            ),
        ),
        in_loop=True,
        loop="cursor",
        stage=Stage.LOOP,
        reachable=True,
        notes=("loop driven by Cursor.moveToNext",),
    )
    findings = (
        Finding(
            rule_id="AA201",
            name="read-contacts-permission",
            title="Requests READ_CONTACTS",
            behaviour="contacts_read",
            severity=Severity.MEDIUM,
            confidence=Confidence.LOW,
            stage=Stage.DECLARED,
            message="The app declares READ_CONTACTS.",
            evidence=(
                Evidence(
                    "manifest",
                    "permission declared",
                    manifest_element='<uses-permission name="android.permission.READ_CONTACTS">',
                ),
            ),
        ),
        Finding(
            rule_id="AA101",
            name="bulk-sms-to-contacts",
            title="Sends SMS to every contact",
            behaviour="bulk_sms",
            severity=Severity.CRITICAL,
            confidence=Confidence.HIGH,
            stage=Stage.LOOP,
            message="Contact numbers reach SmsManager.sendTextMessage inside a cursor loop.",
            evidence=(
                Evidence(
                    "code",
                    "sendTextMessage call",
                    SEND,
                    (
                        "> invoke-virtual {v3, v4, v5}, Landroid/telephony/SmsManager;->"
                        "sendTextMessage",
                    ),
                ),
                Evidence("chain", "contacts query", QUERY),
            ),
            origin="app",
            remediation="Remove the code; never message a borrower's contacts.",
        ),
        Finding(
            rule_id="AA301",
            name="sdk-sms-read",
            title="SDK reads the SMS inbox",
            behaviour="sms_read",
            severity=Severity.HIGH,
            confidence=Confidence.MEDIUM,
            stage=Stage.REFERENCED,
            message="content://sms/inbox is queried by an analytics SDK.",
            evidence=(
                Evidence(
                    "code",
                    "query content://sms/inbox",
                    _loc("classes2.dex", "Lio/tracker/Sms;", "scan()V", 0x100),
                ),
            ),
            origin="sdk:Tracker",
        ),
    )
    return AppResult(
        input=InputInfo("apks/loan fast.apk", SHA, 123456, "apk", sha1="12" * 20, md5="34" * 16),
        manifest=manifest,
        code=CodeIndex(
            ("classes.dex", "classes2.dex"),
            (),
            class_count=40,
            method_count=300,
            methods_decoded=12,
        ),
        behaviours=Behaviours(
            Verdicts(
                contacts_read=Level.CONFIRMED,
                sms_read=Level.POSSIBLE,
                call_log_read=Level.NONE,
                contacts_upload=Level.LIKELY,
                sms_send=Level.CONFIRMED,
                bulk_sms_to_contacts=Level.CONFIRMED,
            ),
            chains=(chain,),
        ),
        findings=findings,
        coverage=Coverage(False, (BlindSpot("dynamic_code", "DexClassLoader loads assets/x.bin"),)),
        risk=Risk(Severity.CRITICAL, 97),
        timings=(("load", 0.12, 0.1),),
    )


def error_app() -> AppResult:
    return AppResult(
        input=InputInfo("apks/broken.apk", "", 40647),
        status="error",
        error="apks/broken.apk: not a zip archive (truncated central directory)",
    )


def clean_app() -> AppResult:
    return AppResult(
        input=InputInfo("clean.apk", "cd" * 32, 1000),
        manifest=ManifestFacts(identity=AppIdentity(package="com.example.clean", label="Clean")),
        behaviours=Behaviours(Verdicts()),
    )


def make_report(*apps: AppResult, rules: tuple[FakeRule, ...] = ()) -> Report:
    """Every policy checked; ``rules``: the rules that ran (none by default)."""
    ran = RuleRun(version="2024.05", rules=rules)
    return build_report(apps, rules=ran, tool_version="0.1.0", generated_at=GENERATED_AT)


def with_rules(report: Report) -> Report:
    return replace(report, rules=RuleRun(version=report.rules_version, rules=RULES))


@pytest.fixture
def rich() -> Report:
    return make_report(rich_app())


@pytest.fixture
def mixed() -> Report:
    return make_report(rich_app(), error_app())


# --------------------------------------------------------------------------- JSON


def _validate(doc: dict) -> None:
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(doc)


def test_json_validates_and_has_contract_keys(mixed: Report) -> None:
    doc = json.loads(render_json(mixed))
    _validate(doc)
    assert doc["schema_version"] == 1
    assert doc["tool"] == {"name": "apkaudit", "version": "0.1.0", "rules_version": "2024.05"}
    assert doc["generated_at"] == GENERATED_AT
    ok, err = doc["apps"]
    contract = {"input", "status", "error", "app", "verdicts", "coverage", "findings", "risk"}
    assert contract <= set(ok) and contract <= set(err)
    assert set(ok["input"]) >= {"path", "sha256", "size", "container"}
    assert set(ok["app"]) == {
        "package",
        "version_name",
        "version_code",
        "min_sdk",
        "target_sdk",
        "label",
    }
    assert ok["app"]["label"] == HOSTILE_LABEL
    assert ok["verdicts"] == {
        "contacts_read": "confirmed",
        "sms_read": "possible",
        "call_log_read": "none",
        "contacts_upload": "likely",
        "sms_send": "confirmed",
        "bulk_sms_to_contacts": "confirmed",
    }
    assert ok["coverage"] == {
        "complete": False,
        "blind_spots": [{"kind": "dynamic_code", "detail": "DexClassLoader loads assets/x.bin"}],
    }
    assert ok["risk"] == {"level": "critical", "score": 97, "complete": True}
    assert [f["rule_id"] for f in ok["findings"]] == ["AA101", "AA301", "AA201"]
    f = ok["findings"][0]
    assert {
        "rule_id",
        "name",
        "severity",
        "confidence",
        "message",
        "behaviour",
        "evidence",
        "origin",
    } <= set(f)
    assert f["stage"] == "loop" and re.fullmatch(r"[0-9a-f]{16}", f["fingerprint"])
    assert f["evidence"][0]["location"] == {
        "dex": "classes2.dex",
        "class": "com.loan.Spam",
        "method": "blast(Landroid/content/Context;)V",
        "offset": 42,
    }
    assert ok["findings"][2]["evidence"][0]["location"] is None
    assert ok["findings"][1]["origin"] == "sdk:Tracker"
    assert ok["chains"][0]["stage"] == "loop" and len(ok["chains"][0]["hops"]) == 3
    assert ok["flags"]["default_sms_candidate"] is False
    assert "timings" not in json.dumps(doc)  # wall-clock data would break reproducibility


def test_json_error_row_makes_no_claims(mixed: Report) -> None:
    err = report_to_dict(mixed)["apps"][1]
    assert err["status"] == "error"
    assert err["error"].startswith("apks/broken.apk: not a zip")
    assert err["app"] is None and err["verdicts"] is None
    assert err["coverage"] is None and err["risk"] is None
    assert err["findings"] == []


def test_schema_rejects_contract_violations(rich: Report) -> None:
    doc = report_to_dict(rich)
    bad_level = json.loads(json.dumps(doc))
    bad_level["apps"][0]["verdicts"]["sms_send"] = "maybe"
    missing = json.loads(json.dumps(doc))
    del missing["apps"][0]["verdicts"]["sms_read"]
    ok_without_verdicts = json.loads(json.dumps(doc))
    ok_without_verdicts["apps"][0]["verdicts"] = None
    for broken in (bad_level, missing, ok_without_verdicts):
        with pytest.raises(jsonschema.ValidationError):
            _validate(broken)


def test_json_is_deterministic(rich: Report) -> None:
    shuffled = replace(
        rich, apps=(replace(rich.apps[0], findings=tuple(reversed(rich.apps[0].findings))),)
    )
    assert render_json(rich) == render_json(shuffled)


def test_json_golden(rich: Report) -> None:
    text = render_json(rich)
    path = GOLDEN / "report_rich.json"
    if os.environ.get("APKAUDIT_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), "run with APKAUDIT_UPDATE_GOLDEN=1 to create the golden file"
    assert text == path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- SARIF


def test_sarif_results_rules_fingerprints(mixed: Report) -> None:
    doc = json.loads(render_sarif(with_rules(mixed)))
    assert doc["version"] == "2.1.0"
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "apkaudit" and driver["version"] == "0.1.0"
    assert "informationUri" not in driver
    ids = [r["id"] for r in driver["rules"]]
    assert {"AA101", "AA201", "AA999", "AA301"} == set(ids)  # AA301 fired but was not handed in
    aa101 = driver["rules"][ids.index("AA101")]
    assert aa101["shortDescription"]["text"] == "Sends SMS to every contact"
    assert aa101["fullDescription"]["text"].startswith("Numbers read")
    assert aa101["help"]["text"].startswith("Remove the code")
    assert aa101["properties"]["tags"] == ["bulk_sms"]
    assert aa101["properties"]["security-severity"] == "9.5"

    results = run["results"]
    findings = mixed.apps[0].findings
    assert len(results) == len(findings)
    by_rule = {r["ruleId"]: r for r in results}
    assert by_rule["AA101"]["level"] == "error"
    assert by_rule["AA301"]["level"] == "error"
    assert by_rule["AA201"]["level"] == "warning"
    for f in findings:
        r = by_rule[f.rule_id]
        assert r["partialFingerprints"] == {
            "apkaudit/v1": f.fingerprint,
            "primaryLocationLineHash": f"{f.fingerprint}:1",
        }
        assert ids[r["ruleIndex"]] == f.rule_id
        assert r["message"]["text"] == f.message
    loc = by_rule["AA101"]["locations"][0]
    assert loc["physicalLocation"]["artifactLocation"]["uri"] == "apks/loan%20fast.apk"
    logical = loc["logicalLocations"][0]
    assert logical["fullyQualifiedName"] == "com.loan.Spam.blast"
    assert logical["properties"]["offset"] == 42
    assert len(by_rule["AA101"]["relatedLocations"]) == 1

    (inv,) = run["invocations"]
    assert inv["executionSuccessful"] is True
    (note,) = inv["toolExecutionNotifications"]
    assert note["level"] == "error"
    assert note["message"]["text"].startswith("apks/broken.apk: not a zip")
    uri = note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "apks/broken.apk"


def test_sarif_all_failed_is_unsuccessful() -> None:
    doc = json.loads(render_sarif(make_report(error_app(), rules=RULES)))
    run = doc["runs"][0]
    assert run["results"] == []
    assert run["invocations"][0]["executionSuccessful"] is False
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == {"AA101", "AA201", "AA999"}


# --------------------------------------------------------------------------- HTML


EXTERNAL = re.compile(
    r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//""", re.IGNORECASE
)


def _assert_self_contained(page: str) -> None:
    assert not EXTERNAL.search(page)
    assert "<link" not in page.lower()
    assert "<script" not in page.lower()  # no script at all (and the hostile label is escaped)
    assert "@import" not in page


def test_html_verdicts_in_plain_words(mixed: Report) -> None:
    page = render_html(with_rules(mixed))
    _assert_self_contained(page)
    bulk = "This app sends SMS to the people in your contact list without asking you."
    assert bulk in page
    upload = (
        "This app very probably uploads your contact list (names and phone numbers) to a server."
    )
    assert upload in page
    assert "This app may read your SMS messages." in page
    # coverage incomplete: a "none" verdict is inconclusive, never "no sign"
    assert INCONCLUSIVE in page and "No sign that" not in page
    assert "DexClassLoader loads assets/x.bin" in page
    # most serious first
    assert page.index(bulk) < page.index("This app reads your contact list.")
    assert page.index("This app reads your contact list.") < page.index("This app may read")


def test_html_escapes_apk_data(mixed: Report) -> None:
    page = render_html(mixed)
    assert HOSTILE_LABEL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;uses-permission name=&#34;android.permission.READ_CONTACTS&#34;&gt;" in page


def test_html_sections(mixed: Report) -> None:
    page = render_html(with_rules(mixed))
    # identity
    for text in (
        "com.loan.fast",
        "1.2.3",
        "123",
        SHA,
        "12" * 20,
        "34" * 16,
        "CN=Loan Dev, O=Fast Loans",
        "cd" * 32,
        "apks/loan fast.apk",
    ):
        assert text in page, text
    # findings grouped: bulk messaging before contacts before SMS reading
    assert page.index("Bulk messaging") < page.index("<h3>Contacts") < page.index("SMS reading")
    assert "com.loan.Spam.blast @ 0x2a in classes2.dex" in page
    assert "SDK: Tracker" in page and "app code" in page
    assert 'href="#rule-AA101"' in page and 'id="rule-AA101"' in page
    # chains: one row per hop with class.method@offset
    assert "com.loan.Spam.collect@0x10" in page and "com.loan.Main.onCreate@0x8" in page
    # permissions and the appendix; references are text, not links
    assert "android.permission.SEND_SMS" in page
    assert "https://example.org/policy" in page
    assert 'href="https://example.org' not in page
    # error row
    assert "Could not audit apks/broken.apk: not a zip archive (truncated" in page
    # footer
    assert GENERATED_AT in page and "2024.05" in page
    assert page.count('<section class="app"') == 2


def test_html_complete_coverage_says_no_sign() -> None:
    page = render_html(make_report(clean_app()))
    _assert_self_contained(page)
    assert "No sign that this app sends SMS to the people in your contact list" in page
    assert INCONCLUSIVE not in page
    assert "Part of this app's code is hidden" not in page


def test_html_is_deterministic(rich: Report) -> None:
    assert render_html(rich) == render_html(rich)


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (Level.CONFIRMED, "This app reads your call history."),
        (Level.LIKELY, "This app very probably reads your call history."),
        (Level.POSSIBLE, "This app may read your call history."),
        (Level.NONE, "No sign that this app reads your call history."),
    ],
)
def test_verdict_sentence(level: Level, expected: str) -> None:
    assert verdict_sentence("call_log_read", level) == expected
    if level is not Level.NONE:
        assert verdict_sentence("call_log_read", level, complete=False) == expected
    else:
        assert verdict_sentence("call_log_read", level, complete=False).startswith(INCONCLUSIVE)
