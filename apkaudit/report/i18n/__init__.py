"""Report languages: the strings of the HTML and Markdown reports, per language, as data.

``apkaudit/i18n/<lang>.toml`` holds the interface strings, verdict sentences and, for languages
other than English, the translated rule texts (``[rules.ID]``: title, rationale, remediation)
and policy texts (``[policy.ID]``, ``[policy_rule.ID]``). English rule and policy texts are
read from the rule and policy files, so there is one English source for each. A test checks that
every language has exactly the keys English has.

App data (labels, package names, code, evidence) is never translated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Any

from apkaudit.cache import cached_toml
from apkaudit.model import Level

LANGUAGES = ("en", "zh-CN")
DEFAULT = "en"
RULE_FIELDS = ("title", "rationale", "remediation")
POLICY_FIELDS = ("name", "jurisdiction", "authority", "scope")
POLICY_RULE_FIELDS = (
    "title",
    "document",
    "section",
    "section_note",
    "date_note",
    "requirement",
    "note",
)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        elif isinstance(value, str):
            out[name] = value
        else:
            raise ValueError(f"i18n: {name} is not a string")
    return out


def _file_strings(lang: str) -> dict[str, str]:
    text = files(__package__).joinpath(f"{lang}.toml").read_text(encoding="utf-8")
    return _flatten(cached_toml(text))


def _english_data_strings() -> dict[str, str]:
    """Rule and policy texts from their own files: the English source of truth."""
    from apkaudit.policies import load_policies
    from apkaudit.rules import load_rules

    out: dict[str, str] = {}
    for rule in load_rules().rules:
        for name in RULE_FIELDS:
            out[f"rules.{rule.id}.{name}"] = getattr(rule, name)
    for policy in load_policies().policies:
        for name in POLICY_FIELDS:
            out[f"policy.{policy.id}.{name}"] = getattr(policy, name)
        for prule in policy.rules:
            for name in POLICY_RULE_FIELDS:
                out[f"policy_rule.{prule.id}.{name}"] = getattr(prule, name)
    return out


@dataclass(frozen=True)
class Catalog:
    """The strings of one language; missing keys fall back to English (tests forbid them)."""

    lang: str
    strings: Mapping[str, str]

    def t(self, key: str, /, **values: object) -> str:
        text = self.strings.get(key)
        if text is None:
            text = catalog(DEFAULT).strings[key] if self.lang != DEFAULT else key
        return text.format(**values) if values else text

    def get(self, key: str, default: str = "") -> str:
        text = self.strings.get(key)
        if text is None and self.lang != DEFAULT:
            text = catalog(DEFAULT).strings.get(key)
        return default if text is None else text

    def term(self, group: str, value: str) -> str:
        """A translated vocabulary word (``group.value``), else the value with spaces."""
        return self.get(f"{group}.{value}", value.replace("_", " "))

    def rule_text(self, rule_id: str, name: str, default: str = "") -> str:
        return self.get(f"rules.{rule_id}.{name}", default)

    def policy_text(self, policy_id: str, name: str) -> str:
        return self.get(f"policy.{policy_id}.{name}")

    def policy_rule_text(self, rule_id: str, name: str) -> str:
        return self.get(f"policy_rule.{rule_id}.{name}")

    def verdict_sentence(self, key: str, level: Level, *, complete: bool = True) -> str:
        third = self.t(f"verdict.{key}.third")
        infinitive = self.t(f"verdict.{key}.infinitive")
        if level is Level.NONE and not complete:
            prefix = self.t("verdict.inconclusive_prefix")
            return self.t("verdict.inconclusive", prefix=prefix, third=third)
        return self.t(f"verdict.{level.value}", third=third, infinitive=infinitive)


@cache
def catalog(lang: str = DEFAULT) -> Catalog:
    """The catalog of ``lang`` (one of ``LANGUAGES``); ``ValueError`` for any other."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    strings = _file_strings(lang)
    if lang == DEFAULT:
        strings.update(_english_data_strings())
    return Catalog(lang, MappingProxyType(strings))
