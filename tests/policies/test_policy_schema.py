"""The policy-pack schema is strict: unknown keys and wrong types fail, naming file, rule, key."""

from __future__ import annotations

import pytest

from apkaudit.errors import RuleError
from apkaudit.policies import parse_policies

GOOD = """
id = "demo"
order = 1
name = "Demo"
jurisdiction = "Nowhere"
authority = "Nobody"
scope = \"\"\"Tests \\
only.\"\"\"

[[rule]]
id = "DEMO-1"
title = "A rule"
document = "A document"
section_note = "Not verified."
effective = "2024-01-02"
url = "https://example.org/rule"
verification = "secondary"
requirement = "Apps must not do it."
permissions = ["android.permission.READ_CONTACTS"]
"""


def _parse(text: str):
    return parse_policies({"demo.toml": text})


def test_optional_keys_take_their_declared_defaults() -> None:
    (policy,) = _parse(GOOD).policies
    assert policy.scope == "Tests only."
    assert policy.aliases == ()
    (rule,) = policy.rules
    assert (rule.section, rule.note, rule.sources, rule.unless) == ("", "", (), "")
    assert rule.allowed_dangerous is None and rule.min_target_sdk is None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            "permissions = [",
            "permisions = [",
            "demo.toml: rule DEMO-1: unknown key 'permisions' .*did you mean 'permissions'",
            id="misspelt-rule-key",
        ),
        pytest.param(
            'authority = "Nobody"',
            'authority = "Nobody"\nalias = ["x"]',
            "demo.toml: unknown key 'alias' .*did you mean 'aliases'",
            id="misspelt-policy-key",
        ),
        pytest.param(
            'effective = "2024-01-02"\n',
            "",
            "demo.toml: rule DEMO-1: missing required key 'effective'",
            id="missing-key",
        ),
        pytest.param(
            "order = 1",
            'order = "1"',
            "demo.toml: order: expected an integer, got a string '1'",
            id="wrong-type",
        ),
        pytest.param(
            'requirement = "Apps must not do it."',
            'requirement = "Apps must not do it."\nmin_target_sdk = "37"',
            "demo.toml: rule DEMO-1: min_target_sdk: expected an integer",
            id="wrong-type-optional",
        ),
        pytest.param(
            'requirement = "Apps must not do it."',
            'requirement = "Apps must not do it."\nunless = "default_dialer"',
            "demo.toml: rule DEMO-1: unless: expected one of '', 'default_sms_handler'",
            id="bad-exemption",
        ),
        pytest.param(
            'permissions = ["android.permission.READ_CONTACTS"]',
            'permissions = "android.permission.READ_CONTACTS"',
            "demo.toml: rule DEMO-1: permissions: expected an array of strings",
            id="string-for-array",
        ),
    ],
)
def test_a_bad_policy_fails_naming_file_rule_and_key(old: str, new: str, message: str) -> None:
    assert old in GOOD
    with pytest.raises(RuleError, match=message):
        _parse(GOOD.replace(old, new, 1))
