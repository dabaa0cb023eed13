"""Policy packs (apkaudit/policies/*.toml) and their verdicts on the fixture APKs.

The expected violations are a table over every fixture in fixtures/apks: adding a fixture
means saying here what Google Play and RBI make of it.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

import jsonschema
import pytest
from click.testing import CliRunner
from conftest import FIXTURES, fixture_apk, report_of

from apkaudit.cli.main import cli
from apkaudit.errors import RuleError
from apkaudit.model import (
    AppResult,
    BlindSpot,
    Coverage,
    LendingApp,
    Level,
    Permission,
    Verdicts,
)
from apkaudit.policies import load_policies, parse_policies
from apkaudit.policies.engine import (
    Outcome,
    evaluate_policies,
    evaluate_rule,
)
from apkaudit.report.formats import render
from apkaudit.report.sarif import policy_tags
from apkaudit.report.schema import load_schema
from apkaudit.rules import load_rules
from apkaudit.rules.registry import VERDICT_RULES

REQUIRED_POLICIES = {
    "google-play-financial",
    "google-play-sms-call-log",
    "google-play-contacts",
    "rbi",
    "ojk",
    "cbk-odpc",
    "fccpc",
    "sec-npc",
    "china",
}
GOOGLE_PLAY = ("google-play-financial", "google-play-sms-call-log", "google-play-contacts")
# Rules that give a section number: each one was stated by the source notes, not guessed.
# Adding one here means checking domain-lending.md §2 says it.
# Sections the sources give (policy-review.md §1.6-1.7 quotes CN-2's category 四-1 and PIPL art. 6).
SECTIONED = {
    "PH-1": "Section 1",
    "CN-1": "第五条（十二）网络借贷类",
    "CN-2": "认定方法 四-1; PIPL 第六条",
    # policy-review.md §1.7: the proposed CN-1b cites 三-1 and PIPL art. 6; art. 13/14 for contacts
    "CN-4": "认定方法 三-1; PIPL 第六条",
    "CN-5": "PIPL 第十三条、第十四条",
}

CONTACTS = {"GPFIN-1", "GPFIN-2"}  # READ_CONTACTS (and reading them) breaks both
SMS = {"GPSMS-1"}
RBI = {"RBI-1", "RBI-2"}
# fixture -> (Google Play rules violated, RBI rules violated) if the app were a lending app (the
# test makes it one: lending laws do not apply to the others, see
# test_lending_laws_do_not_apply_to_apps_that_are_not_lenders). All fixtures target API 33, so
# the contacts policy (API 37+) is never a violation here; see test_contacts_policy_needs_api_37.
EXPECTED: dict[str, tuple[set[str], set[str]]] = {
    "calendar-read": (set(), set()),
    "chain-split-helpers": (CONTACTS | SMS, RBI),
    "clean": (set(), set()),
    "code-noperm": (set(), set()),  # code without permissions: nothing can run
    "contacts-aes-okhttp": (CONTACTS, RBI),
    "contacts-field-static": (CONTACTS | SMS, RBI),
    "contacts-socketio": (CONTACTS, RBI),
    "default-sms": (set(), set()),
    "dest-asynctask": (CONTACTS, RBI),
    "dest-asynctask-neg": (CONTACTS, RBI),
    "dest-base-url": (CONTACTS, RBI),
    "dest-base-url-neg": (CONTACTS, RBI),
    "dest-builders": (CONTACTS, RBI),
    "dest-builders-neg": (CONTACTS, RBI),
    "dest-endpoint1": (CONTACTS, RBI),
    "dest-endpoint1-neg": (CONTACTS, RBI),
    "dest-json-post": (CONTACTS, RBI),
    "dest-json-post-neg": (set(), set()),
    "dest-libs": (CONTACTS, RBI),
    "dest-packed-lending": (CONTACTS, RBI),
    "dest-retrofit-url": (CONTACTS, RBI),
    "dest-retrofit-url-neg": (CONTACTS, RBI),
    "dest-packed-lending-neg": (CONTACTS, RBI),
    "dest-sms-click": (SMS, RBI),
    "dest-sms-click-neg": (CONTACTS | SMS, RBI),
    "dest-sms-nonlending": (SMS, RBI),
    "dest-sms-nonlending-neg": (SMS, RBI),
    "dest-webview": (CONTACTS, RBI),
    "dest-webview-neg": (CONTACTS, RBI),
    "dest-worm-service": (CONTACTS | SMS, RBI),
    "dest-worm-service-neg": (CONTACTS, RBI),
    "divide-message-loop": (SMS, RBI),
    "flow-async-postexecute": (CONTACTS, RBI),
    "flow-async-postexecute-neg": (CONTACTS, RBI),
    "flow-async-progress": (CONTACTS | SMS, RBI),
    "flow-async-progress-neg": (CONTACTS | SMS, RBI),
    "flow-field-container": (CONTACTS, RBI),
    "flow-field-container-map": (CONTACTS, RBI),
    "flow-field-container-map-neg": (CONTACTS, RBI),
    "flow-field-container-neg": (CONTACTS, RBI),
    "flow-field-container-sb": (CONTACTS, RBI),
    "flow-field-container-sb-neg": (CONTACTS, RBI),
    "flow-field-container-static": (CONTACTS, RBI),
    "flow-field-container-static-neg": (CONTACTS, RBI),
    "flow-handler-bundle": (CONTACTS, RBI),
    "flow-handler-bundle-neg": (CONTACTS, RBI),
    "flow-handler-message": (CONTACTS, RBI),
    "flow-handler-message-neg": (CONTACTS, RBI),
    "flow-icc": (CONTACTS, RBI),
    "flow-icc-implicit": (CONTACTS, RBI),
    "flow-array-index": (CONTACTS | SMS, RBI),
    "flow-array-index-neg": (CONTACTS | SMS, RBI),
    "flow-dead-branch": (CONTACTS | SMS, RBI),
    "flow-dead-branch-neg": (CONTACTS | SMS, RBI),
    "flow-disabled-component": (CONTACTS | SMS, RBI),
    "flow-disabled-component-neg": (CONTACTS | SMS, RBI),
    "flow-exception-message": (CONTACTS | SMS, RBI),
    "flow-exception-message-neg": (CONTACTS | SMS, RBI),
    "flow-factory-dispatch": (CONTACTS | SMS, RBI),
    "flow-factory-dispatch-neg": (CONTACTS | SMS, RBI),
    "flow-handler-dispatch": (CONTACTS | SMS, RBI),
    "flow-handler-dispatch-neg": (CONTACTS | SMS, RBI),
    "flow-strong-update": (CONTACTS | SMS, RBI),
    "flow-strong-update-neg": (CONTACTS | SMS, RBI),
    "flow-unreachable-private": (CONTACTS | SMS, RBI),
    "flow-unreachable-private-neg": (CONTACTS | SMS, RBI),
    "flow-icc-implicit-neg": (CONTACTS, RBI),
    "flow-icc-neg": (CONTACTS, RBI),
    "flow-icc-sms-receiver": (SMS, RBI),
    "flow-icc-sms-receiver-neg": (SMS, RBI),  # RECEIVE_SMS declared
    "flow-lifecycle-field": (CONTACTS | SMS, RBI),
    "flow-lifecycle-field-neg": (CONTACTS | SMS, RBI),
    "flow-loop-via-field": (CONTACTS | SMS, RBI),
    "flow-loop-via-icc": (CONTACTS | SMS, RBI),
    "flow-loop-via-icc-neg": (CONTACTS | SMS, RBI),
    "flow-loop-via-static": (CONTACTS | SMS, RBI),
    "flow-loop-via-static-neg": (CONTACTS | SMS, RBI),
    "flow-loop-via-field-neg": (CONTACTS | SMS, RBI),
    "flow-object-sensitivity": (CONTACTS | SMS, RBI),
    "flow-object-sensitivity-neg": (CONTACTS | SMS, RBI),
    "flow-picked-contact": (CONTACTS | SMS, RBI),
    "flow-picked-contact-neg": (CONTACTS | SMS, RBI),
    "flow-sdk-loop": (CONTACTS | SMS, RBI),
    "flow-sdk-loop-neg": (CONTACTS | SMS, RBI),
    "harvest-extras": ({"GPFIN-2"} | SMS, RBI),  # QUERY_ALL_PACKAGES, SEND_SMS
    "hostile-label": (CONTACTS, RBI),
    "js-bridge-contacts": (CONTACTS, RBI),
    "kind-accounts": (set(), set()),
    "kind-accounts-neg": (set(), set()),
    "kind-calendar-upload": (set(), set()),
    "kind-calendar-upload-neg": (set(), set()),
    "kind-clipboard": (set(), set()),
    "kind-clipboard-neg": (set(), set()),
    "kind-device-id": (set(), set()),
    "kind-device-id-neg": (set(), set()),
    "kind-file-staging": (CONTACTS, RBI),
    "kind-file-staging-neg": (CONTACTS, RBI),
    "kind-installed-apps": ({"GPFIN-2"}, set()),
    "kind-installed-apps-neg": ({"GPFIN-2"}, set()),
    "kind-icc-log": (set(), set()),
    "kind-icc-log-neg": (set(), set()),
    "flow-icc-component": (set(), set()),
    "flow-icc-component-neg": (set(), set()),
    "flow-icc-messenger": (set(), set()),
    "flow-icc-ordered": (set(), set()),
    "flow-icc-setter-data": (set(), set()),
    "flow-icc-setter-data-neg": (set(), set()),
    "kind-provider-staging": (set(), set()),
    "kind-provider-staging-neg": (set(), set()),
    "flow-icc-ordered-neg": (set(), set()),
    "flow-icc-any-action": (set(), set()),
    "flow-icc-any-action-neg": (set(), set()),
    "flow-icc-messenger-neg": (set(), set()),
    "kind-reflect-field-names": (set(), set()),
    "kind-reflect-field-names-neg": (set(), set()),
    "lifecycle-saved-state": (set(), set()),
    "lifecycle-saved-state-neg": (set(), set()),
    "field-inherited-static": (set(), set()),
    "field-inherited-static-neg": (set(), set()),
    "flow-try-result": (set(), set()),
    "flow-try-result-neg": (set(), set()),
    "entry-layout-view": (SMS, RBI),  # SEND_SMS, texts the IMEI from a layout view
    "entry-layout-view-neg": (SMS, RBI),
    "flow-icc-list": (set(), set()),
    "flow-icc-list-neg": (set(), set()),
    "flow-icc-intent-helper": (set(), set()),
    "flow-icc-intent-helper-neg": (set(), set()),
    "flow-icc-reflect-array": (set(), set()),
    "flow-icc-reflect-array-neg": (set(), set()),
    "flow-inherited-field": (set(), set()),
    "flow-inherited-field-neg": (set(), set()),
    "flow-reflect-dispatch": (set(), set()),
    "flow-reflect-dispatch-neg": (set(), set()),
    "flow-nested-array": (set(), set()),
    "flow-nested-array-neg": (set(), set()),
    "flow-serialized-object": (set(), set()),
    "flow-serialized-object-neg": (set(), set()),
    "flow-icc-reflect-intent": (set(), set()),
    "flow-icc-reflect-intent-neg": (set(), set()),
    "kind-process-exec": (set(), set()),
    "kind-process-exec-neg": (set(), set()),
    "flow-reflect-intent": (set(), set()),
    "flow-reflect-intent-neg": (set(), set()),
    "flow-nested-new": (set(), set()),
    "flow-nested-new-neg": (set(), set()),
    "flow-table-lookup": (set(), set()),
    "flow-table-lookup-neg": (set(), set()),
    "flow-response-fresh": (set(), set()),
    "flow-response-fresh-neg": (set(), set()),
    "kind-ipc-extra": (set(), set()),
    "kind-ipc-extra-neg": (set(), set()),
    "kind-location": (CONTACTS, set()),
    "kind-location-neg": (CONTACTS, set()),
    "kind-media": (CONTACTS, RBI),
    "kind-media-neg": (CONTACTS, RBI),
    "kind-phone-number": ({"GPFIN-1", "GPFIN-2"} | SMS, RBI),  # READ_PHONE_NUMBERS: both lists
    "kind-phone-number-neg": ({"GPFIN-1", "GPFIN-2"} | SMS, RBI),
    "kind-prefs-staging": (CONTACTS, RBI),
    "kind-prefs-staging-neg": (CONTACTS, RBI),
    "kind-reflect-ctor": (CONTACTS | SMS, RBI),
    "kind-reflect-ctor-neg": (CONTACTS | SMS, RBI),
    "kind-reflect-decrypt": (CONTACTS | SMS, RBI),
    "kind-reflect-decrypt-neg": (CONTACTS | SMS, RBI),
    "kind-reflect-opaque": (CONTACTS | SMS, RBI),
    "kind-sqlite-staging": (CONTACTS, RBI),
    "kind-sqlite-staging-neg": (CONTACTS, RBI),
    "kind-stream-param": (CONTACTS, RBI),
    "kind-stream-param-neg": (CONTACTS, RBI),
    "kind-user-input": (SMS, RBI),
    "kind-user-input-neg": (SMS, RBI),
    "loan-bulk-sms": (CONTACTS | SMS, RBI),
    "loan-harvest-upload": (CONTACTS | SMS | {"GPSMS-2"}, RBI),
    "multidex-sms": (SMS, RBI),
    "multidex-shadowed": (CONTACTS | SMS, RBI),
    "multidex-shadowed-neg": (CONTACTS | SMS, RBI),  # the permissions; the sender never loads
    "perms-unused": (CONTACTS | SMS | {"GPSMS-2"}, RBI),  # permissions alone break them
    "reflection-sms": (CONTACTS | SMS, RBI),
    "sendto-loop": (CONTACTS, RBI),
    "server-sms": (SMS, RBI),
    "sms-body-only": (CONTACTS | SMS, RBI),
    "sms-forward": (SMS, RBI),
    "sms-intent-only": (set(), set()),  # the user's own SMS app sends: no permission needed
    "sms-receiver": (SMS, RBI),
    "unreachable-sdk": (CONTACTS, RBI),
    "uri-string-concat": (CONTACTS | SMS, RBI),
}


def _violations(app: AppResult, policy_ids: tuple[str, ...]) -> set[str]:
    chosen = load_policies().select(policy_ids)
    return {
        r.rule.id
        for o in evaluate_policies(app, chosen)
        for r in o.rules
        if r.status is Outcome.VIOLATION
    }


def _status(app: AppResult, rule_id: str) -> Outcome:
    for o in evaluate_policies(app):
        for r in o.rules:
            if r.rule.id == rule_id:
                return r.status
    raise KeyError(rule_id)


def _with(app: AppResult, **identity: object) -> AppResult:
    assert app.manifest is not None
    ident = replace(app.manifest.identity, **identity)
    return replace(app, manifest=replace(app.manifest, identity=ident))


def _as_lender(app: AppResult, value: str = "yes") -> AppResult:
    """The app as the lending classifier would see a lender (``value`` yes, no or unknown)."""
    assert app.behaviours is not None
    return replace(app, behaviours=replace(app.behaviours, lending_app=LendingApp(value=value)))


def _with_permissions(app: AppResult, *names: str, level: str = "dangerous") -> AppResult:
    assert app.manifest is not None
    perms = app.manifest.permissions + tuple(Permission(n, level) for n in names)
    return replace(app, manifest=replace(app.manifest, permissions=perms))


# --------------------------------------------------------------------------- the data


def test_required_policies_are_packaged() -> None:
    policies = load_policies()
    assert set(policies.ids) >= REQUIRED_POLICIES
    assert len(policies.ids) == len(set(policies.ids))


def test_every_rule_row_has_url_date_and_verification() -> None:
    for policy in load_policies().policies:
        for rule in policy.rules:
            where = f"{policy.id}/{rule.id}"
            assert rule.url.startswith("https://"), where
            assert re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", rule.effective), where
            assert rule.verification in ("verified", "secondary"), where
            assert rule.document and rule.title and rule.requirement, where
            assert all(s.startswith("https://") for s in rule.sources), where


def test_sections_are_only_those_the_sources_give() -> None:
    """Article numbers are never guessed: an empty section always says why."""
    given = {}
    for policy in load_policies().policies:
        for rule in policy.rules:
            if rule.section:
                given[rule.id] = rule.section
            else:
                assert rule.section_note, rule.id
    assert given == SECTIONED


def test_unverified_sources_are_marked_secondary() -> None:
    """domain-lending.md marks only the Google Play SMS/Call Log and Contacts policies as read
    in the primary text; everything else is secondary."""
    verified = {
        r.id for p in load_policies().policies for r in p.rules if r.verification == "verified"
    }
    assert verified == {"GPSMS-1", "GPSMS-2", "GPCON-1"}


def test_policies_name_real_rules_and_verdicts() -> None:
    rule_ids = {r.id for r in load_rules().rules}
    for policy in load_policies().policies:
        for rule in policy.rules:
            assert set(rule.findings) <= rule_ids, rule.id
            for table in rule.verdicts:
                assert set(table) <= set(VERDICT_RULES), rule.id


def test_the_contacts_policy_is_target_sdk_37() -> None:
    rule = load_policies().get("google-play-contacts").rules[0]
    assert rule.min_target_sdk == 37
    assert rule.effective == "2026-10-28"
    assert "android.permission.READ_CONTACTS" in rule.permissions


_GOOD = """
id = "demo"
order = 1
name = "Demo"
jurisdiction = "Nowhere"
authority = "Nobody"
scope = "Tests."

[[rule]]
id = "DEMO-1"
title = "A rule"
document = "A document"
section = ""
section_note = "Not verified."
effective = "2024-01-02"
url = "https://example.org/rule"
verification = "secondary"
requirement = "Apps must not do it."
permissions = ["android.permission.READ_CONTACTS"]
"""


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('url = "https://example.org/rule"', 'url = "http://example.org/rule"', "https"),
        ('effective = "2024-01-02"', 'effective = "2 Jan 2024"', "YYYY"),
        ('verification = "secondary"', 'verification = "primary"', "verification"),
        ('section_note = "Not verified."', "", "section_note"),
        ('permissions = ["android.permission.READ_CONTACTS"]', "", "checks nothing"),
        ("requirement", "requirment", "unknown key 'requirment'.*did you mean 'requirement'"),
        (
            'permissions = ["android.permission.READ_CONTACTS"]',
            'verdicts = [{ contact_read = "likely" }]',
            "unknown verdict",
        ),
        ('id = "DEMO-1"', 'id = "demo 1"', "ABC-1"),
    ],
)
def test_validator_rejects_bad_rules(old: str, new: str, message: str) -> None:
    assert parse_policies({"demo.toml": _GOOD}).ids == ("demo",)
    with pytest.raises(RuleError, match=message):
        parse_policies({"demo.toml": _GOOD.replace(old, new, 1)})


def test_validator_wants_the_file_named_after_the_policy() -> None:
    with pytest.raises(RuleError, match="file name"):
        parse_policies({"other.toml": _GOOD})


# --------------------------------------------------------------------------- fixtures


def test_the_table_covers_every_fixture_apk() -> None:
    assert {p.stem for p in FIXTURES.glob("*.apk")} == set(EXPECTED)


@pytest.mark.parametrize("fixture", sorted(EXPECTED))
def test_google_play_and_rbi_violations(fixture: str, audit) -> None:
    app = _as_lender(audit(fixture_apk(fixture)))
    assert app.status == "ok"
    play, rbi = EXPECTED[fixture]
    assert _violations(app, GOOGLE_PLAY) == play
    assert _violations(app, ("rbi",)) == rbi


@pytest.mark.parametrize("fixture", ["loan-bulk-sms", "contacts-aes-okhttp", "clean"])
def test_policies_in_json_validate(fixture: str, audit) -> None:
    app = audit(fixture_apk(fixture))
    doc = json.loads(render(report_of(app), "json"))
    jsonschema.validate(doc, load_schema())
    assert doc["policy_packs"]["ids"] == list(load_policies().ids)
    [row] = doc["apps"]
    assert [p["id"] for p in row["policies"]] == list(load_policies().ids)
    fingerprints = {f["fingerprint"] for f in row["findings"]}
    for policy in row["policies"]:
        for rule in policy["rules"]:
            assert rule["url"] and rule["effective"] and rule["verification"]
            assert {f["fingerprint"] for f in rule["findings"]} <= fingerprints
            if rule["status"] == "violation":
                assert rule["reasons"] and all(r["text"] for r in rule["reasons"])


def test_bulk_sms_violations_cite_the_findings_behind_them(audit) -> None:
    app = audit(fixture_apk("loan-bulk-sms"))
    by_id = {r.rule.id: r for o in evaluate_policies(app) for r in o.rules}
    assert {f.rule_id for f in by_id["KE-1"].findings} >= {"SMS010"}
    assert {f.rule_id for f in by_id["GPSMS-1"].findings} == {"SMS001"}  # SEND_SMS evidence
    assert "CON001" in {f.rule_id for f in by_id["RBI-1"].findings}
    assert by_id["CN-3"].status is Outcome.VIOLATION
    assert by_id["PH-1"].status is Outcome.VIOLATION


# --------------------------------------------------------------------------- semantics


def test_contacts_policy_needs_api_37(audit) -> None:
    app = audit(fixture_apk("loan-bulk-sms"))
    assert _status(app, "GPCON-1") is Outcome.UPCOMING  # targets API 33
    assert _status(_with(app, target_sdk=37), "GPCON-1") is Outcome.VIOLATION
    assert _status(_with(app, target_sdk=38), "GPCON-1") is Outcome.VIOLATION
    unknown = _with(app, target_sdk=None)
    assert _status(unknown, "GPCON-1") is Outcome.UPCOMING
    rule = load_policies().get("google-play-contacts").rules[0]
    kinds = [r.kind for r in evaluate_rule(rule, unknown).reasons]
    assert kinds[0] == "target_sdk"
    clean = audit(fixture_apk("clean"))
    assert _status(_with(clean, target_sdk=37), "GPCON-1") is Outcome.PASS


def test_hidden_code_turns_a_pass_into_cannot_tell(audit) -> None:
    clean = _as_lender(audit(fixture_apk("clean")))
    hidden = replace(clean, coverage=Coverage(False, (BlindSpot("packer", "stub"),)))
    assert _status(clean, "RBI-1") is Outcome.PASS
    assert _status(hidden, "RBI-1") is Outcome.CANNOT_TELL  # looks at code: cannot pass
    assert _status(hidden, "GPFIN-2") is Outcome.PASS  # manifest only: fully visible
    assert _status(hidden, "GPSMS-1") is Outcome.PASS


def test_a_violation_stays_a_violation_with_hidden_code(audit) -> None:
    app = audit(fixture_apk("loan-bulk-sms"))
    hidden = replace(app, coverage=Coverage(False, (BlindSpot("packer", "stub"),)))
    assert _status(hidden, "RBI-1") is Outcome.VIOLATION


def test_default_sms_app_is_exempt_from_the_sms_rule(audit) -> None:
    app = _with_permissions(audit(fixture_apk("default-sms")), "android.permission.SEND_SMS")
    assert app.manifest is not None and app.manifest.default_sms_candidate
    rule = load_policies().get("google-play-sms-call-log").rules[0]
    outcome = evaluate_rule(rule, app)
    assert outcome.status is Outcome.PASS
    assert [r.kind for r in outcome.reasons] == ["exempt"]
    plain = _with_permissions(audit(fixture_apk("clean")), "android.permission.SEND_SMS")
    assert evaluate_rule(rule, plain).status is Outcome.VIOLATION


def test_one_time_kyc_access_cannot_be_told(audit) -> None:
    clean = _as_lender(audit(fixture_apk("clean")))
    assert _status(clean, "RBI-3") is Outcome.PASS
    camera = _with_permissions(clean, "android.permission.CAMERA")
    assert _status(camera, "RBI-3") is Outcome.CANNOT_TELL


def test_ojk_allows_only_camera_microphone_and_location(audit) -> None:
    clean = _as_lender(audit(fixture_apk("clean")))
    allowed = _with_permissions(
        clean,
        "android.permission.CAMERA",
        "android.permission.RECORD_AUDIO",
        "android.permission.ACCESS_FINE_LOCATION",
        "android.permission.POST_NOTIFICATIONS",
    )
    assert _status(allowed, "OJK-1") is Outcome.PASS
    calendar = _as_lender(audit(fixture_apk("calendar-read")))  # READ_CALENDAR is dangerous
    assert _status(calendar, "OJK-1") is Outcome.VIOLATION
    normal = _with_permissions(clean, "android.permission.INTERNET", level="normal")
    assert _status(normal, "OJK-1") is Outcome.PASS


def test_verdict_levels_below_the_rule_do_not_break_it(audit) -> None:
    clean = _as_lender(audit(fixture_apk("clean")))
    likely = replace(
        clean, behaviours=replace(clean.behaviours, verdicts=Verdicts(contacts_read=Level.LIKELY))
    )
    assert _status(likely, "RBI-1") is Outcome.PASS  # reads need "confirmed"
    bulk = replace(
        clean,
        behaviours=replace(clean.behaviours, verdicts=Verdicts(bulk_sms_to_contacts=Level.LIKELY)),
    )
    assert _status(bulk, "KE-1") is Outcome.VIOLATION  # flows need "likely"


def test_an_app_that_was_not_audited_gets_no_policy_verdict() -> None:
    from apkaudit.model import InputInfo

    broken = AppResult(InputInfo("x.apk", "", 1), status="error", error="x.apk: not an APK")
    assert evaluate_policies(broken) == ()
    doc = json.loads(render(report_of(broken), "json"))
    assert doc["apps"][0]["policies"] == []


# --------------------------------------------------------------------------- CLI and SARIF


def _scan(*args: str):
    return CliRunner().invoke(cli, ["scan", str(fixture_apk("loan-bulk-sms")), *args])


def test_cli_policy_selection() -> None:
    result = _scan("-f", "json", "-q", "--policy", "google-play,rbi")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    ids = [p["id"] for p in doc["apps"][0]["policies"]]
    assert ids == [*GOOGLE_PLAY, "rbi"]
    assert doc["policy_packs"]["ids"] == ids


def test_cli_policy_aliases_and_none() -> None:
    doc = json.loads(_scan("-f", "json", "-q", "--policy", "china,kenya").stdout)
    assert [p["id"] for p in doc["apps"][0]["policies"]] == ["cbk-odpc", "china"]
    doc = json.loads(_scan("-f", "json", "-q", "--policy", "none").stdout)
    assert doc["apps"][0]["policies"] == []
    html = _scan("-q", "--policy", "none").stdout
    assert "--policy none" in html and 'id="app-1-policy-' not in html


def test_cli_unknown_policy_is_a_usage_error() -> None:
    result = _scan("--policy", "google-play,atlantis")
    assert result.exit_code == 2
    assert "atlantis" in result.output


def test_sarif_rules_carry_policy_tags(audit) -> None:
    app = audit(fixture_apk("loan-bulk-sms"))
    doc = json.loads(render(report_of(app), "sarif"))
    [run] = doc["runs"]
    tags = {r["id"]: r["properties"]["tags"] for r in run["tool"]["driver"]["rules"]}
    assert "policy:google-play-sms-call-log" in tags["SMS001"]
    assert "policy:rbi" in tags["SMS001"]
    assert "policy:google-play-financial" in tags["CON001"]
    assert "policy:cbk-odpc" in tags["SMS010"]
    assert tags["APP001"] == ["app_hygiene"]  # cited by no policy
    results = {r["ruleId"]: r for r in run["results"]}
    assert "rbi/RBI-1" in results["SMS010"]["properties"]["policy_violations"]
    assert "policy:rbi" in results["SMS010"]["properties"]["tags"]


def test_sarif_tags_follow_the_policy_selection(audit) -> None:
    app = audit(fixture_apk("loan-bulk-sms"))
    report = report_of(app, policies=("rbi",))
    doc = json.loads(render(report, "sarif"))
    tags = {r["id"]: r["properties"]["tags"] for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    assert tags["SMS001"] == ["sms_send", "policy:rbi"]
    assert policy_tags("SMS001", None, ()) == []


LENDING_PACKS = ("google-play-financial", "rbi", "ojk", "cbk-odpc", "fccpc", "sec-npc", "china")


@pytest.mark.parametrize("fixture", ["loan-bulk-sms", "dest-sms-nonlending", "clean"])
def test_lending_laws_do_not_apply_to_apps_that_are_not_lenders(fixture: str, audit) -> None:
    app = audit(fixture_apk(fixture))
    for value in ("no", "unknown", "yes"):
        outcomes = {o.policy.id: o for o in evaluate_policies(_as_lender(app, value))}
        assert {p for p, o in outcomes.items() if o.policy.lending} == set(LENDING_PACKS)
        for pid in LENDING_PACKS:
            na = outcomes[pid].status is Outcome.NOT_APPLICABLE
            assert na is (value == "no"), (pid, value)
            if na:
                assert {r.status for r in outcomes[pid].rules} == {Outcome.NOT_APPLICABLE}
                assert [x.kind for r in outcomes[pid].rules for x in r.reasons][:1] == [
                    "not_lending"
                ]
        # the store's SMS and contacts policies apply to every app
        assert outcomes["google-play-sms-call-log"].status is not Outcome.NOT_APPLICABLE


def test_the_lending_classifier_decides_which_laws_apply(audit) -> None:
    lender = audit(fixture_apk("loan-bulk-sms"))
    other = audit(fixture_apk("dest-sms-nonlending"))
    assert lender.behaviours and lender.behaviours.lending_app
    assert other.behaviours and other.behaviours.lending_app
    assert lender.behaviours.lending_app.value == "yes"
    assert other.behaviours.lending_app.value == "no"
    assert _status(lender, "RBI-1") is Outcome.VIOLATION
    assert _status(other, "RBI-1") is Outcome.NOT_APPLICABLE


def test_contact_messaging_needs_the_bulk_verdict(audit) -> None:
    """China, Kenya and the Philippines: messaging the contacts is a violation only when the
    bulk-SMS verdict itself is likely or confirmed, not for a contacts read plus any send."""
    clean = _as_lender(audit(fixture_apk("clean")))
    assert clean.behaviours is not None
    both = Verdicts(contacts_read=Level.CONFIRMED, sms_send=Level.CONFIRMED)
    app = replace(clean, behaviours=replace(clean.behaviours, verdicts=both))
    for rid in ("CN-3", "KE-1", "PH-1"):
        assert _status(app, rid) is not Outcome.VIOLATION, rid
    bulk = Verdicts(bulk_sms_to_contacts=Level.POSSIBLE)
    app = replace(clean, behaviours=replace(clean.behaviours, verdicts=bulk))
    assert _status(app, "CN-3") is not Outcome.VIOLATION
    bulk = Verdicts(bulk_sms_to_contacts=Level.LIKELY)
    app = replace(clean, behaviours=replace(clean.behaviours, verdicts=bulk))
    assert _status(app, "CN-3") is Outcome.VIOLATION


def test_philippine_contact_access_alone_cannot_be_told(audit) -> None:
    """NPC Circular 2022-02 allows limited contact-list access: READ_CONTACTS alone is cannot
    tell; an upload of the contact list is a violation."""
    clean = _as_lender(audit(fixture_apk("clean")))
    assert clean.behaviours is not None
    contacts = _with_permissions(clean, "android.permission.READ_CONTACTS")
    assert _status(contacts, "PH-2") is Outcome.CANNOT_TELL
    upload = replace(
        contacts,
        behaviours=replace(clean.behaviours, verdicts=Verdicts(contacts_upload=Level.LIKELY)),
    )
    assert _status(upload, "PH-2") is Outcome.VIOLATION


def test_google_play_financial_list_is_the_one_the_policy_page_gives() -> None:
    gpfin1 = next(
        r for r in load_policies().get("google-play-financial").rules if r.id == "GPFIN-1"
    )
    names = {p.rsplit(".", 1)[-1] for p in gpfin1.permissions}
    assert "READ_CALL_LOG" not in names and "WRITE_EXTERNAL_STORAGE" not in names
    assert "READ_PHONE_NUMBERS" in names
    assert not any("call_log_read" in table for table in gpfin1.verdicts)


# ---------------------------------------------------------------- consent (CN-4, CN-5, OJK-3)


@pytest.mark.parametrize(
    ("rule", "positive", "negative"),
    [
        # uploads contacts, SMS and call log / reads and texts the contacts, uploads nothing
        ("CN-4", "loan-harvest-upload", "loan-bulk-sms"),
        # the contact list uploaded / one contact offered to the user's own SMS app
        ("CN-5", "loan-harvest-upload", "dest-worm-service-neg"),
        ("CN-5", "loan-bulk-sms", "dest-sms-click"),  # texts every contact / a typed number
        # texts every contact / reads the contacts and opens the user's SMS app for one
        ("OJK-3", "loan-bulk-sms", "dest-worm-service-neg"),
    ],
)
def test_consent_rules(rule: str, positive: str, negative: str, audit) -> None:
    assert _status(_as_lender(audit(fixture_apk(positive))), rule) is Outcome.VIOLATION
    assert _status(_as_lender(audit(fixture_apk(negative))), rule) is not Outcome.VIOLATION


def test_cn4_cites_the_upload_findings(audit) -> None:
    app = _as_lender(audit(fixture_apk("loan-harvest-upload")))
    [cn4] = [r for o in evaluate_policies(app) for r in o.rules if r.rule.id == "CN-4"]
    assert {"SMR004", "CLG004"} <= {f.rule_id for f in cn4.findings}


def test_emergency_contacts_are_cannot_tell_for_a_contacts_read(audit) -> None:
    """OJK-3: the owner's consent is not visible in an APK; reading the contacts without texting
    them cannot be passed."""
    app = _as_lender(audit(fixture_apk("dest-worm-service-neg")))
    assert _status(app, "OJK-3") is Outcome.CANNOT_TELL
    assert _status(_as_lender(audit(fixture_apk("clean"))), "OJK-3") is Outcome.PASS
