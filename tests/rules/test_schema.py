"""The rule schema is strict: a bad rule file fails at load time, naming file, rule and key."""

from __future__ import annotations

import pytest

from apkaudit.errors import RuleError
from apkaudit.model import Severity
from apkaudit.rules import parse_rules
from apkaudit.rules.schema import CodeMatch, ReceiverMatch, Rule

GOOD = """
family = "CON"
behaviour = "contacts"

[[rule]]
id = "CON001"
name = "contacts-read"
title = "Reads the contact list"
severity = "high"
match = { type = "code", tags = ["contacts_uri"], permission = "android.permission.READ_CONTACTS" }
rationale = \"\"\"The code queries \\
the contacts provider.\"\"\"
remediation = "Remove contacts access."
references = ["developer.android.com/reference/android/provider/ContactsContract"]
positive = "loan-bulk-sms"
negative = "clean"
"""


def _parse(text: str) -> tuple[Rule, ...]:
    return parse_rules({"contacts.toml": text}).rules


def _bad(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


def test_a_good_rule_decodes_to_typed_data() -> None:
    (rule,) = _parse(GOOD)
    assert rule.match == CodeMatch(
        tags=("contacts_uri",), permission="android.permission.READ_CONTACTS"
    )
    assert rule.match.provider is None  # optional key: its declared default
    assert rule.severity is Severity.HIGH
    assert rule.family == "CON" and rule.behaviour == "contacts"
    assert rule.rationale == "The code queries the contacts provider."
    assert rule.permission == "android.permission.READ_CONTACTS"
    assert rule.help_uri == ("https://github.com/apkaudit/apkaudit/blob/main/docs/rules.md#con001")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            'severity = "high"',
            'severty = "high"',
            "contacts.toml: rule CON001: unknown key 'severty' .*did you mean 'severity'",
            id="misspelt-key",
        ),
        pytest.param(
            'tags = ["contacts_uri"]',
            'tag = ["contacts_uri"]',
            "contacts.toml: rule CON001: match 'code': unknown key 'tag' .*did you mean 'tags'",
            id="misspelt-match-field",
        ),
        pytest.param(
            'permission = "android.permission.READ_CONTACTS" }',
            'permission = "android.permission.READ_CONTACTS", high_priority = 999 }',
            "contacts.toml: rule CON001: match 'code': unknown key 'high_priority'",
            id="match-field-of-another-type",
        ),
        pytest.param(
            'remediation = "Remove contacts access."\n',
            "",
            "contacts.toml: rule CON001: missing required key 'remediation'",
            id="missing-key",
        ),
        pytest.param(
            'match = { type = "code", tags = ["contacts_uri"],',
            'match = { type = "code",',
            "contacts.toml: rule CON001: match 'code': missing required key 'tags'",
            id="missing-match-field",
        ),
        pytest.param(
            'references = ["developer.android.com/reference/android/provider/ContactsContract"]',
            'references = "developer.android.com/reference/android/provider/ContactsContract"',
            "contacts.toml: rule CON001: references: expected an array, got a string",
            id="string-for-array",
        ),
        pytest.param(
            'tags = ["contacts_uri"]',
            "tags = [1]",
            r"contacts.toml: rule CON001: match 'code': tags\[0\]: expected a string, got an int",
            id="wrong-item-type",
        ),
        pytest.param(
            'severity = "high"',
            'severity = "severe"',
            "contacts.toml: rule CON001: severity: expected one of 'info', .*got 'severe'",
            id="bad-enum",
        ),
        pytest.param(
            'permission = "android.permission.READ_CONTACTS" }',
            'permission = "android.permission.READ_CONTACTS", provider = "phonebook" }',
            "match 'code': provider: expected one of 'contacts', .*got 'phonebook'",
            id="bad-literal",
        ),
        pytest.param(
            'match = { type = "code",',
            'match = { type = "cod",',
            "contacts.toml: rule CON001: match: unknown match type 'cod' \\(expected one of code,",
            id="unknown-match-type",
        ),
        pytest.param(
            'title = "Reads the contact list"',
            "title = 3",
            "contacts.toml: rule CON001: title: expected a string, got an integer 3",
            id="int-for-string",
        ),
        pytest.param(
            'behaviour = "contacts"\n',
            'behaviour = "contacts"\nversion = 2\n',
            "contacts.toml: unknown key 'version'",
            id="unknown-file-key",
        ),
        pytest.param(
            'name = "contacts-read"',
            'name = "contacts-reader"',
            "rule CON001: the registry names it 'contacts-read', not 'contacts-reader'",
            id="renamed-rule",
        ),
        pytest.param(
            'id = "CON001"',
            'id = "CON099"',
            "rule CON099: not in the registry",
            id="unregistered-id",
        ),
        pytest.param(
            'id = "CON001"',
            'id = "SMS001"',
            "rule SMS001: rule id must be CON \\+ three digits",
            id="id-of-another-family",
        ),
        pytest.param(
            'behaviour = "contacts"',
            'behaviour = "contact"',
            "contacts.toml: the registry puts family CON in contacts.toml with behaviour",
            id="family-behaviour",
        ),
    ],
)
def test_a_bad_rule_fails_naming_file_rule_and_key(old: str, new: str, message: str) -> None:
    with pytest.raises(RuleError, match=message):
        _parse(_bad(old, new))


def test_an_unregistered_family_fails() -> None:
    text = GOOD.replace('family = "CON"', 'family = "XYZ"').replace("CON001", "XYZ001")
    with pytest.raises(RuleError, match=r"xyz\.toml: family 'XYZ' is not in"):
        parse_rules({"xyz.toml": text})


def test_receiver_priority_and_severity_go_together() -> None:
    old = GOOD[GOOD.index("match = ") : GOOD.index("\nrationale")]
    receiver = 'match = { type = "receiver", actions = ["a.B"], high_priority = 999 }'
    with pytest.raises(RuleError, match="high_priority and high_severity go together"):
        _parse(_bad(old, receiver))
    both = receiver.replace("999", '999, high_severity = "critical"')
    (rule,) = _parse(_bad(old, both))
    assert rule.match == ReceiverMatch(
        actions=("a.B",), high_priority=999, high_severity=Severity.CRITICAL
    )


def test_a_toml_syntax_error_names_the_file() -> None:
    with pytest.raises(RuleError, match=r"^contacts\.toml: "):
        _parse(GOOD + "\n[[rule]\n")
