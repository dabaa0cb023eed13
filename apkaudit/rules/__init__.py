"""Rules are data: one TOML file per family, decoded strictly (:mod:`apkaudit.rules.schema`)
and checked against the registry (:mod:`apkaudit.rules.registry`). IDs are stable, never reused.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from apkaudit.cache import cached_toml
from apkaudit.errors import RuleError
from apkaudit.model import VERDICT_KEYS
from apkaudit.rules import registry
from apkaudit.rules.schema import MATCH_TYPES, Match, Rule, parse_rule_file

__all__ = ["MATCH_TYPES", "Match", "Rule", "RuleSet", "load_rules", "parse_rules"]


@dataclass(frozen=True, slots=True)
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


def parse_rules(texts: dict[str, str]) -> RuleSet:
    """Rules from ``{file name: TOML text}``, decoded and checked against the registry."""
    rules: list[Rule] = []
    digest = hashlib.sha256()
    for name in sorted(texts):
        digest.update(name.encode() + b"\0" + texts[name].encode())
        try:
            data = cached_toml(texts[name])
        except tomllib.TOMLDecodeError as exc:
            raise RuleError(f"{name}: {exc}") from None
        file_rules = parse_rule_file(data, name)
        _check_file(name, data["family"], data["behaviour"])
        rules.extend(file_rules)
    ids = [r.id for r in rules]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise RuleError(f"duplicate rule ids: {sorted(dupes)}")
    rules.sort(key=lambda r: r.id)
    for r in rules:
        _check_code(r)
    return RuleSet(tuple(rules), digest.hexdigest()[:12])


@cache
def load_rules() -> RuleSet:
    """The packaged rules (``apkaudit/rules/*.toml``)."""
    pkg = files(__package__)
    ruleset = parse_rules(
        {e.name: e.read_text("utf-8") for e in pkg.iterdir() if e.name.endswith(".toml")}
    )
    _check_registry(ruleset.rules)
    return ruleset


def _check_file(name: str, family: str, behaviour: str) -> None:
    fam = registry.FAMILIES.get(family)
    if fam is None:
        raise RuleError(f"{name}: family {family!r} is not in apkaudit/rules/registry.py")
    if (fam.file, fam.behaviour) != (name, behaviour):
        raise RuleError(
            f"{name}: the registry puts family {family} in {fam.file} with behaviour "
            f"{fam.behaviour!r}"
        )


def _check_code(r: Rule) -> None:
    if r.id in registry.RETIRED:
        raise RuleError(f"rule {r.id}: the id is retired and must not be reused")
    issued = registry.CODES.get(r.id)
    if issued is None:
        raise RuleError(f"rule {r.id}: not in the registry (apkaudit/rules/registry.py CODES)")
    if issued != r.name:
        raise RuleError(f"rule {r.id}: the registry names it {issued!r}, not {r.name!r}")


def _check_registry(rules: Sequence[Rule]) -> None:
    """The shipped rules against the whole registry: every live id is shipped."""
    ids = {r.id for r in rules}
    if not set(registry.CODES) >= registry.RETIRED:
        raise RuleError("registry: a retired id must stay in CODES")
    unshipped = sorted(set(registry.CODES) - registry.RETIRED - ids)
    if unshipped:
        raise RuleError(f"registry: {unshipped} are neither shipped nor retired")
    if set(registry.VERDICT_RULES) != set(VERDICT_KEYS):
        raise RuleError("registry: VERDICT_RULES must have one entry per verdict (VERDICT_KEYS)")
    for verdict, rule_ids in registry.VERDICT_RULES.items():
        missing = sorted(set(rule_ids) - ids)
        if missing:
            raise RuleError(f"registry: verdict {verdict} names unknown rules {missing}")
