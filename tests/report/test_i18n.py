"""Report languages: every key in every language, every rule translated, HTML in zh-CN."""

from __future__ import annotations

import re
import string

import pytest
from click.testing import CliRunner
from conftest import fixture_apk, report_of

from apkaudit.cli.main import cli
from apkaudit.model import VERDICT_KEYS, Level
from apkaudit.policies import load_policies
from apkaudit.report.formats import RenderOptions, render
from apkaudit.report.i18n import LANGUAGES, RULE_FIELDS, catalog
from apkaudit.rules import load_rules

CJK = re.compile(r"[\u4e00-\u9fff]")
OTHERS = [lang for lang in LANGUAGES if lang != "en"]


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_languages() -> None:
    assert LANGUAGES == ("en", "zh-CN")


@pytest.mark.parametrize("lang", OTHERS)
def test_every_key_exists_in_every_language(lang: str) -> None:
    en = catalog("en").strings
    other = catalog(lang).strings
    assert sorted(set(en) - set(other)) == [], f"missing in {lang}"
    assert sorted(set(other) - set(en)) == [], f"unknown keys in {lang} (typo?)"


@pytest.mark.parametrize("lang", OTHERS)
def test_translations_keep_placeholders_and_emptiness(lang: str) -> None:
    en = catalog("en").strings
    other = catalog(lang).strings
    for key, text in en.items():
        assert _fields(other[key]) == _fields(text), key
        assert bool(other[key]) == bool(text), key


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_rule_has_title_rationale_and_remediation(lang: str) -> None:
    tr = catalog(lang)
    for rule in load_rules().rules:
        for name in RULE_FIELDS:
            text = tr.strings.get(f"rules.{rule.id}.{name}", "")
            assert text.strip(), f"{lang}: rules.{rule.id}.{name}"
            if lang == "zh-CN":
                assert CJK.search(text), f"{lang}: rules.{rule.id}.{name} is not translated"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_policy_is_translated(lang: str) -> None:
    tr = catalog(lang)
    for policy in load_policies().policies:
        assert tr.strings.get(f"policy.{policy.id}.name"), policy.id
        for rule in policy.rules:
            for name in ("title", "requirement", "document"):
                text = tr.strings.get(f"policy_rule.{rule.id}.{name}", "")
                assert text, f"{lang}: {rule.id}.{name}"
            if lang == "zh-CN":
                assert CJK.search(tr.strings[f"policy_rule.{rule.id}.title"]), rule.id


def test_chinese_ui_strings_are_chinese() -> None:
    zh = catalog("zh-CN").strings
    untranslated = [
        k
        for k, v in zh.items()
        if k.startswith(("ui.", "verdict.", "status.", "level.", "reason.", "group."))
        and v
        and not CJK.search(v)
        and v == catalog("en").strings[k]
        and k not in ("ui.paren",)
        and not re.fullmatch(r"[{}\w\s.:()/-]*", v)  # bare placeholders and codes
    ]
    assert untranslated == []


@pytest.mark.parametrize("key", VERDICT_KEYS)
def test_chinese_verdict_sentences(key: str) -> None:
    zh = catalog("zh-CN")
    for level in Level:
        sentence = zh.verdict_sentence(key, level)
        assert sentence.endswith("。") and CJK.search(sentence)
    assert zh.verdict_sentence(key, Level.NONE, complete=False).startswith("无法下结论")
    assert zh.verdict_sentence("bulk_sms_to_contacts", Level.CONFIRMED) == (
        "此应用会在未征求您同意的情况下，给您通讯录中的联系人发送短信。"
    )


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language"):
        catalog("fr")
    result = CliRunner().invoke(cli, ["scan", str(fixture_apk("clean")), "--lang", "fr"])
    assert result.exit_code == 2


# --------------------------------------------------------------------------- the HTML


@pytest.fixture(scope="module")
def bulk_pages(audit) -> dict[str, str]:
    app = audit(fixture_apk("loan-bulk-sms"))
    return {lang: render(report_of(app), "html", RenderOptions(lang=lang)) for lang in LANGUAGES}


def test_zh_report_is_chinese_and_app_data_is_not_translated(bulk_pages) -> None:
    page = bulk_pages["zh-CN"]
    assert '<html lang="zh-CN">' in page
    assert "此应用会在未征求您同意的情况下，给您通讯录中的联系人发送短信。" in page
    assert "此应用能对您的数据做什么" in page
    assert "借贷规定与应用商店政策" in page
    assert "给通讯录中的联系人发送短信" in page  # SMS010 title
    assert "绝不要给用户的联系人发送短信。" in page  # SMS010 remediation
    # app data as is
    assert "QuickCash Loan" in page and "com.apkaudit.fixture.loanbulksms" in page
    assert "Your friend owes us money" in page  # the dex string in the excerpt


def test_zh_report_has_no_english_interface_text(bulk_pages) -> None:
    page = bulk_pages["zh-CN"]
    en = catalog("en").strings
    leaked = [
        text
        for key, text in en.items()
        if key.startswith(("ui.", "verdict.", "group.", "status."))
        and len(text) > 12
        and "{" not in text
        and text in page
    ]
    assert leaked == []
    for rule in load_rules().rules:
        assert f">{rule.title}<" not in page, rule.id


def test_en_report_keeps_its_wording(bulk_pages) -> None:
    page = bulk_pages["en"]
    assert '<html lang="en">' in page
    assert "This app sends SMS to the people in your contact list without asking you." in page
    assert "What this app can do with your data" in page
    # Chinese appears only where the source is Chinese: the titles of the Chinese rules
    china = re.compile(r'<details class="policy" id="app-1-policy-china".*?</details>', re.S)
    assert not CJK.search(china.sub("", page.split("<body>", 1)[1]))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_in_page_link_has_a_target(lang: str, bulk_pages) -> None:
    page = bulk_pages[lang]
    targets = set(re.findall(r'href="#([^"]+)"', page))
    ids = set(re.findall(r'id="([^"]+)"', page))
    assert targets and targets <= ids, sorted(targets - ids)
    # each finding links to its rule's entry in the appendix
    assert 'href="#rule-SMS010"' in page and 'id="rule-SMS010"' in page
