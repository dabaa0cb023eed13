"""Rules are data: one TOML file per family, validated on load. IDs are stable, never reused."""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Any

from apkaudit.errors import RuleError
from apkaudit.model import Severity

MATCH_TYPES = {
    "code": {"tags"},
    "permission_unused": {"permission", "tags"},
    "code_without_permission": {"tags", "permission"},
    "chain": {"kinds"},
    "receiver": {"actions"},
    "code_and_receiver": {"tags", "actions"},
    "default_sms_candidate": set(),
    "permission": {"permission"},
    "flag": {"flag"},
    "query": {"providers"},
}
_ID = re.compile(r"^[A-Z]{3}\d{3}$")
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    title: str
    family: str
    behaviour: str
    severity: Severity
    match: MappingProxyType[str, Any]
    rationale: str
    remediation: str
    references: tuple[str, ...]
    positive: str  # fixture that must trigger it
    negative: str  # fixture that must not

    @property
    def match_type(self) -> str:
        return self.match["type"]


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    version: str  # content hash of the rule files: changes whenever a rule changes

    def get(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    def as_mapping(self) -> dict[str, Rule]:
        return {r.id: r for r in self.rules}


def _rule(raw: dict[str, Any], family: str, behaviour: str, where: str) -> Rule:
    try:
        rule = Rule(
            id=raw["id"],
            name=raw["name"],
            title=raw["title"],
            family=family,
            behaviour=raw.get("behaviour", behaviour),
            severity=Severity(raw["severity"]),
            match=MappingProxyType(dict(raw["match"])),
            rationale=" ".join(raw["rationale"].split()),
            remediation=" ".join(raw["remediation"].split()),
            references=tuple(raw["references"]),
            positive=raw["positive"],
            negative=raw["negative"],
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise RuleError(f"{where}: rule {raw.get('id', '?')}: missing or bad field {exc}") from None
    if not _ID.match(rule.id) or not rule.id.startswith(family):
        raise RuleError(f"{where}: rule id {rule.id} must be {family} + three digits")
    if not _NAME.match(rule.name):
        raise RuleError(f"{where}: rule {rule.id} name must be kebab-case")
    mtype = rule.match.get("type")
    if mtype not in MATCH_TYPES:
        raise RuleError(f"{where}: rule {rule.id} has unknown match type {mtype!r}")
    missing = MATCH_TYPES[mtype] - set(rule.match)
    if missing:
        raise RuleError(f"{where}: rule {rule.id} match needs {sorted(missing)}")
    if not rule.references:
        raise RuleError(f"{where}: rule {rule.id} needs at least one reference")
    return rule


@cache
def load_rules() -> RuleSet:
    rules: list[Rule] = []
    digest = hashlib.sha256()
    pkg = files(__package__)
    for entry in sorted(pkg.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".toml"):
            continue
        text = entry.read_text("utf-8")
        digest.update(entry.name.encode() + b"\0" + text.encode())
        data = tomllib.loads(text)
        family, behaviour = data["family"], data["behaviour"]
        rules.extend(_rule(r, family, behaviour, entry.name) for r in data.get("rule", []))
    ids = [r.id for r in rules]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise RuleError(f"duplicate rule ids: {sorted(dupes)}")
    rules.sort(key=lambda r: r.id)
    return RuleSet(tuple(rules), digest.hexdigest()[:12])
