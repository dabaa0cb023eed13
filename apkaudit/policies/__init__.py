"""Lending policies and platform rules as data: one TOML file per policy, validated on load.

Each rule names the document it comes from (title, section, date, URL), states the requirement
in one sentence, says what it forbids (permissions, verdicts, findings) and whether the primary
text was seen (``verified``) or only a secondary account of it (``secondary``). Sections that
were not verified are left empty, with the reason in ``section_note``: article numbers are never
guessed. Evaluation against an app is in :mod:`apkaudit.policies.engine`.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Any

from apkaudit.errors import RuleError
from apkaudit.model import VERDICT_KEYS, Level

VERIFICATION = ("verified", "secondary")
HANDLERS = ("default_sms_handler", "default_phone_handler")
_POLICY_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_RULE_ID = re.compile(r"^[A-Z]+-\d+$")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_URL = re.compile(r"^https://[^\s/]+\.[^\s]+$")
_PERMISSION = re.compile(r"^[A-Za-z0-9_.]+\.[A-Z0-9_]+$")


@dataclass(frozen=True)
class PolicyRule:
    id: str
    title: str
    document: str
    section: str  # "" when the article/section number was not verified
    section_note: str
    effective: str  # YYYY, YYYY-MM or YYYY-MM-DD
    date_note: str
    url: str
    sources: tuple[str, ...]  # the pages actually read, when they differ from ``url``
    verification: str  # verified | secondary
    requirement: str  # the requirement in one sentence
    note: str
    permissions: tuple[str, ...] = ()  # requesting any of these breaks the rule
    allowed_dangerous: tuple[str, ...] | None = None  # any other dangerous permission breaks it
    ignore_permissions: tuple[str, ...] = ()  # dangerous, but not access to the user's data
    verdicts: tuple[Mapping[str, Level], ...] = ()  # any table whose verdicts all reach the level
    findings: tuple[str, ...] = ()  # any of these rule ids firing breaks the rule
    review_permissions: tuple[str, ...] = ()  # allowed only in a way the APK cannot show
    unless: str = ""  # a manifest role that exempts the app (see HANDLERS)
    min_target_sdk: int | None = None  # below it the rule is "upcoming"

    @property
    def verified(self) -> bool:
        return self.verification == "verified"

    @property
    def uses_code(self) -> bool:
        """Whether the rule looks at code evidence (hidden code could then break it)."""
        return bool(self.verdicts or self.findings)


@dataclass(frozen=True)
class Policy:
    id: str
    order: int  # position in reports
    name: str
    jurisdiction: str
    authority: str
    scope: str
    aliases: tuple[str, ...]
    rules: tuple[PolicyRule, ...]


@dataclass(frozen=True)
class PolicySet:
    policies: tuple[Policy, ...]
    version: str  # content hash of the policy files

    def get(self, policy_id: str) -> Policy:
        for p in self.policies:
            if p.id == policy_id:
                return p
        raise KeyError(policy_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.policies)

    def select(self, names: Iterable[str] | None) -> tuple[Policy, ...]:
        """Policies by id or alias, in file order; ``None`` selects all, ``none`` selects none.

        Raises ``KeyError`` naming the first unknown name.
        """
        if names is None:
            return self.policies
        wanted: set[str] = set()
        for raw in names:
            name = raw.strip().lower()
            if not name:
                continue
            if name == "all":
                return self.policies
            if name == "none":
                continue
            hits = {p.id for p in self.policies if name == p.id or name in p.aliases}
            if not hits:
                raise KeyError(name)
            wanted |= hits
        return tuple(p for p in self.policies if p.id in wanted)


def _strs(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise RuleError(f"{where}: expected a list of strings")
    return tuple(raw)


def _permissions(raw: Any, where: str) -> tuple[str, ...]:
    names = _strs(raw, where)
    bad = [n for n in names if not _PERMISSION.match(n)]
    if bad:
        raise RuleError(f"{where}: not a permission name: {bad[0]!r}")
    return names


def _verdict_tables(raw: Any, where: str) -> tuple[Mapping[str, Level], ...]:
    if not isinstance(raw, list):
        raise RuleError(f"{where}: verdicts must be a list of tables")
    out = []
    for table in raw:
        if not isinstance(table, dict) or not table:
            raise RuleError(f"{where}: each verdicts entry must be a non-empty table")
        unknown = set(table) - set(VERDICT_KEYS)
        if unknown:
            raise RuleError(f"{where}: unknown verdict {sorted(unknown)[0]!r}")
        try:
            levels = {k: Level(v) for k, v in table.items()}
        except ValueError as exc:
            raise RuleError(f"{where}: {exc}") from None
        if Level.NONE in levels.values():
            raise RuleError(f"{where}: a verdict threshold of 'none' always holds")
        out.append(MappingProxyType(levels))
    return tuple(out)


def _rule(raw: dict[str, Any], where: str) -> PolicyRule:
    rid = raw.get("id", "?")
    here = f"{where}: rule {rid}"
    try:
        allowed = raw.get("allowed_dangerous")
        rule = PolicyRule(
            id=raw["id"],
            title=raw["title"],
            document=raw["document"],
            section=raw.get("section", ""),
            section_note=" ".join(raw.get("section_note", "").split()),
            effective=raw["effective"],
            date_note=" ".join(raw.get("date_note", "").split()),
            url=raw["url"],
            sources=_strs(raw.get("sources", []), here),
            verification=raw["verification"],
            requirement=" ".join(raw["requirement"].split()),
            note=" ".join(raw.get("note", "").split()),
            permissions=_permissions(raw.get("permissions", []), here),
            allowed_dangerous=None if allowed is None else _permissions(allowed, here),
            ignore_permissions=_permissions(raw.get("ignore_permissions", []), here),
            verdicts=_verdict_tables(raw.get("verdicts", []), here),
            findings=_strs(raw.get("findings", []), here),
            review_permissions=_permissions(raw.get("review_permissions", []), here),
            unless=raw.get("unless", ""),
            min_target_sdk=raw.get("min_target_sdk"),
        )
    except KeyError as exc:
        raise RuleError(f"{here}: missing field {exc}") from None
    except (AttributeError, TypeError) as exc:
        raise RuleError(f"{here}: bad field ({exc})") from None
    _check_rule(rule, here)
    return rule


def _check_rule(rule: PolicyRule, here: str) -> None:
    if not _RULE_ID.match(rule.id):
        raise RuleError(f"{here}: id must look like ABC-1")
    if rule.verification not in VERIFICATION:
        raise RuleError(f"{here}: verification must be one of {VERIFICATION}")
    if not _DATE.match(rule.effective):
        raise RuleError(f"{here}: effective must be YYYY, YYYY-MM or YYYY-MM-DD")
    if not _URL.match(rule.url) or not all(_URL.match(s) for s in rule.sources):
        raise RuleError(f"{here}: url and sources must be https:// URLs")
    if not rule.section and not rule.section_note:
        raise RuleError(f"{here}: an empty section needs a section_note saying why")
    if rule.unless and rule.unless not in HANDLERS:
        raise RuleError(f"{here}: unless must be one of {HANDLERS}")
    checks = rule.permissions or rule.allowed_dangerous is not None or rule.uses_code
    if not checks and not rule.review_permissions:
        raise RuleError(f"{here}: the rule checks nothing")
    if not rule.requirement.endswith((".", "。", ")", "）")) or not rule.title:
        raise RuleError(f"{here}: requirement must be one full sentence and title non-empty")
    if rule.min_target_sdk is not None and not isinstance(rule.min_target_sdk, int):
        raise RuleError(f"{here}: min_target_sdk must be an integer")


def _policy(data: dict[str, Any], where: str) -> Policy:
    try:
        policy = Policy(
            id=data["id"],
            order=int(data["order"]),
            name=data["name"],
            jurisdiction=data["jurisdiction"],
            authority=data["authority"],
            scope=" ".join(data["scope"].split()),
            aliases=_strs(data.get("aliases", []), where),
            rules=tuple(_rule(r, where) for r in data.get("rule", [])),
        )
    except KeyError as exc:
        raise RuleError(f"{where}: missing field {exc}") from None
    except (TypeError, ValueError) as exc:
        raise RuleError(f"{where}: bad field ({exc})") from None
    if not _POLICY_ID.match(policy.id) or where != f"{policy.id}.toml":
        raise RuleError(f"{where}: policy id must be kebab-case and match the file name")
    if not policy.rules:
        raise RuleError(f"{where}: a policy needs at least one rule")
    return policy


def parse_policies(texts: Mapping[str, str]) -> PolicySet:
    """Policies from ``{file name: TOML text}`` (sorted by file name), validated."""
    digest = hashlib.sha256()
    policies = []
    for name in sorted(texts):
        digest.update(name.encode() + b"\0" + texts[name].encode())
        try:
            data = tomllib.loads(texts[name])
        except tomllib.TOMLDecodeError as exc:
            raise RuleError(f"{name}: {exc}") from None
        policies.append(_policy(data, name))
    policies.sort(key=lambda p: (p.order, p.id))
    rule_ids = [r.id for p in policies for r in p.rules]
    dupes = sorted({i for i in rule_ids if rule_ids.count(i) > 1})
    if dupes:
        raise RuleError(f"duplicate policy rule ids: {dupes}")
    aliases = {a for p in policies for a in p.aliases}
    if aliases & {p.id for p in policies} or aliases & {"all", "none"}:
        raise RuleError("an alias must not be a policy id, 'all' or 'none'")
    return PolicySet(tuple(policies), digest.hexdigest()[:12])


@cache
def load_policies() -> PolicySet:
    """The packaged policies (``apkaudit/policies/*.toml``)."""
    pkg = files(__package__)
    texts = {e.name: e.read_text("utf-8") for e in pkg.iterdir() if e.name.endswith(".toml")}
    return parse_policies(texts)
