"""``data_flows`` (issue 11): source kind x sink kind with the strongest level, in JSON (schema-
valid) and in the HTML section "Data that leaves the phone" (en, zh-CN); and the new finding
families fire on their fixtures."""

from __future__ import annotations

import json

import jsonschema
import pytest
from conftest import fixture_apk, report_of

from apkaudit.report.html import render_html
from apkaudit.report.json_v1 import render_json
from apkaudit.report.schema import load_schema


def _flows(doc: dict) -> list[tuple[str, str, str]]:
    return [(f["source"], f["sink"], f["level"]) for f in doc["apps"][0]["data_flows"]]


def _json(audit, name: str) -> dict:
    doc = json.loads(render_json(report_of(audit(fixture_apk(name)))))
    jsonschema.Draft202012Validator(load_schema()).validate(doc)
    return doc


def test_data_flows_name_kinds_levels_and_their_chains(audit) -> None:
    doc = _json(audit, "kind-device-id")
    assert _flows(doc) == [("device_id", "network", "confirmed")]
    (flow,) = doc["apps"][0]["data_flows"]
    chains = doc["apps"][0]["chains"]
    assert flow["chains"] and all(chains[i]["source"] == "device_id" for i in flow["chains"])
    assert all(chains[i]["sink"] == "network" for i in flow["chains"])


def test_v1_kinds_are_data_flows_too(audit) -> None:
    doc = _json(audit, "loan-harvest-upload")
    assert set(_flows(doc)) == {
        ("contacts", "network", "confirmed"),
        ("sms", "network", "confirmed"),
        ("call_log", "network", "confirmed"),
    }


def test_a_flow_in_unreachable_code_is_possible(audit) -> None:
    doc = _json(audit, "kind-reflect-ctor-neg")
    assert ("contacts", "sms_destination", "possible") in _flows(doc)


def test_strongest_first_and_file_stays_on_the_phone(audit) -> None:
    doc = _json(audit, "kind-file-staging")
    assert _flows(doc) == [
        ("contacts", "network", "confirmed"),
        ("contacts", "file", "confirmed"),
    ]


def test_no_data_flows_without_chains(audit) -> None:
    assert _flows(_json(audit, "kind-device-id-neg")) == []


@pytest.mark.parametrize(
    ("lang", "heading", "data", "goes_to"),
    [
        ("en", "Data that leaves the phone", "text you type", "the system log"),
        ("zh-CN", "离开手机的数据", "您输入的文字", "系统日志"),
    ],
)
def test_html_section(audit, lang: str, heading: str, data: str, goes_to: str) -> None:
    page = render_html(report_of(audit(fixture_apk("kind-user-input"))), lang=lang)
    section = page.split('class="part part-data-flows"', 1)[1].split("</section>", 1)[0]
    assert heading in section and data in section and goes_to in section
    for link in ('href="#app-1-chain-0"', 'href="#app-1-chain-1"'):
        assert link in section
        assert f'id="{link[7:-1]}"' in page  # every row links to a chain on the page


# fixture -> (rules for reading the data, rules for the data leaving the phone): the positive
# fires both; its -neg twin, which reads the data but keeps it, fires none of the second.
FAMILY_RULES = {
    "kind-device-id": ({"HRV003"}, {"DEV001"}),
    "kind-phone-number": ({"HRV003"}, {"PHN001"}),
    "kind-location": ({"LOC001"}, {"LOC002"}),
    "kind-accounts": ({"HRV002"}, {"ACC001"}),
    "kind-installed-apps": ({"HRV001"}, {"APS001"}),
    "kind-media": ({"MED001"}, {"MED002"}),
    "kind-calendar-upload": ({"PRV002"}, {"CAL001"}),
    "kind-clipboard": ({"CLP001"}, {"CLP002"}),
    "kind-user-input": (set(), {"INP001", "APP003"}),
}


@pytest.mark.parametrize("name", sorted(FAMILY_RULES))
def test_family_rules_fire_on_the_positive_not_on_the_twin(audit, name: str) -> None:
    read, leave = FAMILY_RULES[name]
    assert read | leave <= {f.rule_id for f in audit(fixture_apk(name)).findings}
    assert not leave & {f.rule_id for f in audit(fixture_apk(name + "-neg")).findings}


def test_report_vocabulary_is_the_behaviour_vocabulary() -> None:
    from apkaudit.behaviour.kinds import SINKS, SOURCES
    from apkaudit.report import dataflows

    assert tuple(SOURCES) == dataflows.SOURCES
    assert tuple(SINKS) == dataflows.SINKS
    assert {s for s, info in SINKS.items() if not info.leaves_phone} == dataflows.STAYS_ON_PHONE
