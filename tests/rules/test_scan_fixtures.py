"""End-to-end scans of the fixture APKs: which rules fire, and with what evidence.

Every expectation is taken from ``fixtures/README.md`` (classes, methods and byte offsets of
the key calls), not from the engine's output. Chain rules (data-flow chains) are left out of
the exact-set comparison: the behaviour stage owns them and tests them on its own fixtures.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from conftest import fixture_apk

from apkaudit.model import AppResult, CodeLocation, Confidence, Finding, Level, Severity

CHAIN_RULES = frozenset({"CON004", "CON005", "SMR004", "CLG004", "SMS010", "SMS011", "SMS012"})
# Chain rules of the data kinds (issue 11): asserted on the kind-* fixtures in tests/behaviour.
CHAIN_RULES |= {"ACC001", "APP003", "APS001", "CAL001", "CLP002", "DEV001", "INP001", "LOC002",
                "MED002", "PHN001"}  # fmt: skip
HIGH, LOW = Confidence.HIGH, Confidence.LOW


def at(pkg: str, cls: str, method: str, offset: int, dex: str = "classes.dex") -> CodeLocation:
    """A code location in the fixture package ``com.apkaudit.fixture.<pkg>``."""
    return CodeLocation(dex, f"Lcom/apkaudit/fixture/{pkg}/{cls};", method, offset)


@dataclass(frozen=True)
class Key:
    """A finding that must be present, with its grading and its evidence.

    Its code evidence must include every location in ``code`` and may also hold those in
    ``also`` (README-listed sites that the behaviour stage adds, e.g. a provider query whose
    URI it resolved), nothing else.
    """

    rule_id: str
    severity: Severity
    confidence: Confidence
    code: tuple[CodeLocation, ...] = ()
    manifest: tuple[str, ...] = ()  # substrings that some manifest evidence element contains
    also: tuple[CodeLocation, ...] = ()


@dataclass(frozen=True)
class Case:
    fixture: str
    rules: frozenset[str]  # every non-chain rule that fires, no more and no less
    keys: tuple[Key, ...] = ()


def perm(name: str) -> str:
    return f'<uses-permission android:name="android.permission.{name}"/>'


CTX = "(Landroid/content/Context;)"
BULK = "loanbulksms"
HARVEST = "loanharvestupload"
EXTRAS = "harvestextras"
NOPERM = "codenoperm"
SPY = "onReceive(Landroid/content/Context;Landroid/content/Intent;)V"

CASES = [
    # ------------------------------------------------------------------ issue-2 scan fixtures
    Case(
        "loan-bulk-sms",
        frozenset({"CON001", "SMS001"}),
        (
            Key(
                "CON001",
                Severity.HIGH,
                HIGH,
                (at(BULK, "Blaster", f"blastContacts{CTX}V", 0x08),),
                (perm("READ_CONTACTS"),),
                also=(at(BULK, "Blaster", f"blastContacts{CTX}V", 0x14),),  # query
            ),
            Key(
                "SMS001",
                Severity.HIGH,
                HIGH,
                (at(BULK, "Blaster", f"blastContacts{CTX}V", 0x4E),),
                (perm("SEND_SMS"),),
            ),
        ),
    ),
    Case(
        "loan-harvest-upload",
        frozenset({"CON001", "SMR001", "CLG001", "NET001"}),
        (
            Key(
                "CON001",
                Severity.HIGH,
                HIGH,
                (at(HARVEST, "Collector", f"collectContacts{CTX}Lorg/json/JSONArray;", 0x12),),
                (perm("READ_CONTACTS"),),
                also=(at(HARVEST, "Collector", f"collectContacts{CTX}Lorg/json/JSONArray;", 0x1E),),
            ),
            Key(
                "SMR001",
                Severity.HIGH,
                HIGH,
                (at(HARVEST, "Collector", f"collectSms{CTX}Lorg/json/JSONArray;", 0x12),),
                (perm("READ_SMS"),),
                also=(at(HARVEST, "Collector", f"collectSms{CTX}Lorg/json/JSONArray;", 0x26),),
            ),
            Key(
                "CLG001",
                Severity.HIGH,
                HIGH,
                (at(HARVEST, "Collector", f"collectCallLogs{CTX}Lorg/json/JSONArray;", 0x12),),
                (perm("READ_CALL_LOG"),),
                also=(at(HARVEST, "Collector", f"collectCallLogs{CTX}Lorg/json/JSONArray;", 0x1E),),
            ),
            Key(
                "NET001",
                Severity.INFO,
                HIGH,
                (at(HARVEST, "Uploader", "upload(Ljava/lang/String;)V", 0x2C),),
                (perm("INTERNET"),),
            ),
        ),
    ),
    Case(
        "sms-intent-only",
        frozenset({"SMS005"}),
        (
            Key(
                "SMS005",
                Severity.INFO,
                HIGH,
                (
                    at("smsintentonly", "Reminder", f"remind{CTX}V", 0x04),  # "smsto:5551234"
                    at("smsintentonly", "Reminder", f"remind{CTX}V", 0x1A),  # "sms_body"
                ),
            ),
        ),
    ),
    Case(
        "perms-unused",
        frozenset({"CON002", "SMR002", "CLG002", "SMS003"}),
        tuple(
            Key(rule, Severity.LOW, LOW, (), (perm(name),))
            for rule, name in [
                ("CON002", "READ_CONTACTS"),
                ("SMR002", "READ_SMS"),
                ("CLG002", "READ_CALL_LOG"),
                ("SMS003", "SEND_SMS"),
            ]
        ),
    ),
    Case("clean", frozenset()),
    Case(
        "multidex-sms",
        frozenset({"SMS001"}),
        (
            Key(
                "SMS001",
                Severity.HIGH,
                HIGH,
                (at("multidexsms", "Sender", "send(Ljava/lang/String;)V", 0x14, "classes2.dex"),),
                (perm("SEND_SMS"),),
            ),
        ),
    ),
    # READ_CONTACTS + a query of an unknown URI: neither CON001 (no contacts URI) nor CON002
    # (a provider query exists, so the permission may be used through it).
    # The unresolved query is PRV001, whose evidence carries the hostile dex string.
    Case("hostile-label", frozenset({"PRV001"})),
    # ------------------------------------------------------------------ rule fixtures
    Case(
        "sms-receiver",
        frozenset({"INT001", "INT002", "INT003"}),
        (
            Key(
                "INT001",
                Severity.HIGH,  # priority 999 raises it from medium
                LOW,
                (),
                (
                    '<receiver android:name="com.apkaudit.fixture.smsreceiver.SmsSpy">'
                    '<intent-filter android:priority="999">'
                    '<action android:name="android.provider.Telephony.SMS_RECEIVED"/>',
                ),
            ),
            Key(
                "INT002",
                Severity.MEDIUM,
                HIGH,
                (
                    at("smsreceiver", "SmsSpy", SPY, 0x00),  # getMessagesFromIntent
                    at("smsreceiver", "SmsSpy", SPY, 0x62),  # createFromPdu
                ),
                (perm("RECEIVE_SMS"),),
            ),
            Key(
                "INT003",
                Severity.HIGH,
                HIGH,
                (at("smsreceiver", "SmsSpy", SPY, 0x90),),  # abortBroadcast
                ('android:priority="999"',),
            ),
        ),
    ),
    Case(
        "default-sms",
        frozenset({"INT004", "INT005"}),
        (
            Key(
                "INT004",
                Severity.HIGH,
                HIGH,
                (at("defaultsms", "MainActivity", "onCreate(Landroid/os/Bundle;)V", 0x16),),
            ),
            Key(
                "INT005",
                Severity.MEDIUM,
                LOW,
                (),
                (
                    '<receiver android:name="com.apkaudit.fixture.defaultsms.SmsDeliver">',
                    '<receiver android:name="com.apkaudit.fixture.defaultsms.MmsDeliver">',
                    '<service android:name="com.apkaudit.fixture.defaultsms.HeadlessSend">',
                    '<activity android:name="com.apkaudit.fixture.defaultsms.Compose">',
                ),
            ),
        ),
    ),
    Case(
        "harvest-extras",
        frozenset(
            {
                "HRV001",
                "HRV002",
                "HRV003",
                "HRV004",
                "SMS001",  # sendTextMessageWithoutPersisting is a send method too
                "SMS002",
                "NET002",
                "APP001",
                "APP002",
            }
        ),
        (
            Key(
                "HRV001",
                Severity.MEDIUM,
                HIGH,
                (
                    at(EXTRAS, "Harvester", f"apps{CTX}V", 0x0A),
                    at(EXTRAS, "Harvester", f"apps{CTX}V", 0x12),
                ),
            ),
            Key(
                "HRV002", Severity.MEDIUM, HIGH, (at(EXTRAS, "Harvester", f"accounts{CTX}V", 0x08),)
            ),
            Key(
                "HRV003",
                Severity.MEDIUM,
                HIGH,
                tuple(at(EXTRAS, "Harvester", f"ids{CTX}V", o) for o in (0x10, 0x18, 0x20, 0x28)),
            ),
            Key("HRV004", Severity.MEDIUM, LOW, (), (perm("QUERY_ALL_PACKAGES"),)),
            Key(
                "SMS002",
                Severity.CRITICAL,
                HIGH,
                (at(EXTRAS, "Harvester", "hiddenSms()V", 0x16),),
                (perm("SEND_SMS"),),
            ),
            Key("NET002", Severity.LOW, LOW, (), ('android:usesCleartextTraffic="true"',)),
            Key("APP001", Severity.MEDIUM, LOW, (), ('android:debuggable="true"',)),
            Key("APP002", Severity.INFO, LOW, (), ('android:allowBackup="true"',)),
        ),
    ),
    Case(
        "code-noperm",
        # The *-code-without-permission rules, and the plain code rules too: the code is there.
        frozenset({"CON001", "CON003", "SMR001", "SMR003", "CLG001", "CLG003", "SMS001", "SMS004"}),
        (
            Key(
                "CON003", Severity.INFO, HIGH, (at(NOPERM, "Dormant", f"readContacts{CTX}V", 0x08),)
            ),
            Key("SMR003", Severity.INFO, HIGH, (at(NOPERM, "Dormant", f"readSms{CTX}V", 0x08),)),
            Key(
                "CLG003", Severity.INFO, HIGH, (at(NOPERM, "Dormant", f"readCallLog{CTX}V", 0x08),)
            ),
            Key("SMS004", Severity.INFO, HIGH, (at(NOPERM, "Dormant", "sendSms()V", 0x16),)),
        ),
    ),
]


def _finding(result: AppResult, rule_id: str) -> Finding:
    found = [f for f in result.findings if f.rule_id == rule_id]
    assert len(found) == 1, f"expected exactly one {rule_id} finding, got {len(found)}"
    return found[0]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.fixture)
def test_rules_that_fire(case: Case, audit) -> None:
    result = audit(fixture_apk(case.fixture))
    assert result.status == "ok", result.error
    fired = {f.rule_id for f in result.findings} - CHAIN_RULES
    assert fired == case.rules


KEYS = [
    pytest.param(case, key, id=f"{case.fixture}-{key.rule_id}")
    for case in CASES
    for key in case.keys
]


@pytest.mark.parametrize(("case", "key"), KEYS)
def test_key_finding(case: Case, key: Key, audit) -> None:
    finding = _finding(audit(fixture_apk(case.fixture)), key.rule_id)
    assert (finding.severity, finding.confidence) == (key.severity, key.confidence)
    assert finding.origin == "app"
    code = {e.location for e in finding.evidence if e.kind == "code"}
    assert set(key.code) - code == set(), "README evidence missing"
    assert code - set(key.code) - set(key.also) == set(), "evidence the README does not list"
    elements = [e.manifest_element or "" for e in finding.evidence if e.kind == "manifest"]
    for wanted in key.manifest:
        assert any(wanted in el for el in elements), f"no manifest evidence with {wanted!r}"


# ---------------------------------------------------------------------- verdicts

NON_FLOW = ("contacts_read", "sms_read", "call_log_read", "sms_send")
N = frozenset({Level.NONE})
C = frozenset({Level.CONFIRMED})
AT_MOST_POSSIBLE = frozenset({Level.NONE, Level.POSSIBLE})


def allowed(contacts_read, sms_read, call_log_read, sms_send) -> dict[str, frozenset[Level]]:
    return dict(zip(NON_FLOW, (contacts_read, sms_read, call_log_read, sms_send), strict=True))


# fixtures/README.md "Expected verdict", for the verdicts that need no data-flow chain; a set
# of several levels where the README allows a range ("at most possible").
VERDICTS = {
    "loan-bulk-sms": allowed(C, N, N, C),
    "loan-harvest-upload": allowed(C, C, C, N),
    "sms-intent-only": allowed(N, N, N, N),
    "perms-unused": allowed(*[AT_MOST_POSSIBLE] * 4),
    "multidex-sms": allowed(N, N, N, C),
    "hostile-label": allowed(AT_MOST_POSSIBLE, N, N, N),
}


@pytest.mark.parametrize("fixture", sorted(VERDICTS))
def test_non_flow_verdicts(fixture: str, audit) -> None:
    verdicts = audit(fixture_apk(fixture)).verdicts
    got = {k: getattr(verdicts, k) for k in NON_FLOW}
    bad = {k: v.value for k, v in got.items() if v not in VERDICTS[fixture][k]}
    assert not bad, f"verdicts outside fixtures/README.md: {bad}"


def test_clean_has_nothing_to_report(audit) -> None:
    result = audit(fixture_apk("clean"))
    assert result.status == "ok"
    assert result.findings == ()
    assert result.verdicts.as_dict() == {
        "contacts_read": "none",
        "sms_read": "none",
        "call_log_read": "none",
        "contacts_upload": "none",
        "sms_send": "none",
        "bulk_sms_to_contacts": "none",
    }
    assert result.coverage.complete is True
    assert result.coverage.blind_spots == ()


def test_multidex_code_is_indexed_in_its_own_dex(audit) -> None:
    result = audit(fixture_apk("multidex-sms"))
    assert result.code is not None
    assert result.code.dex_files == ("classes.dex", "classes2.dex")
    sends = {r.location.dex for r in result.code.refs if r.api_id == "sms.send.sendTextMessage"}
    assert sends == {"classes2.dex"}


def test_identity_of_hostile_label_is_decoded_literally(audit) -> None:
    identity = audit(fixture_apk("hostile-label")).identity
    assert identity.label == "<script>alert('label')</script><img src=x onerror=alert(1)>"
    assert identity.package == "com.apkaudit.fixture.hostilelabel"
