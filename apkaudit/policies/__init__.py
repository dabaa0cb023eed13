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
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from types import MappingProxyType
from typing import Any, Literal, get_args

from apkaudit.cache import cached_toml
from apkaudit.errors import RuleError
from apkaudit.model import VERDICT_KEYS, Level
from apkaudit.rules.tables import FOLD, Decoder, decode, key

Verification = Literal["verified", "secondary"]
# A manifest role that exempts an app from a rule ("": none); see engine.default_phone_candidate.
Exemption = Literal["", "default_sms_handler", "default_phone_handler"]
VERIFICATION: tuple[str, ...] = get_args(Verification)
HANDLERS: tuple[str, ...] = tuple(h for h in get_args(Exemption) if h)
_POLICY_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_RULE_ID = re.compile(r"^[A-Z]+-\d+$")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_URL = re.compile(r"^https://[^\s/]+\.[^\s]+$")
_PERMISSION = re.compile(r"^[A-Za-z0-9_.]+\.[A-Z0-9_]+$")


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyRule:
    """One rule of a policy. The fields are the keys of a ``[[rule]]`` table; those with a
    default are optional (see :mod:`apkaudit.rules.tables`)."""

    id: str
    title: str
    document: str
    section: str = ""  # "" when the article/section number was not verified
    section_note: str = field(default="", metadata=FOLD)
    effective: str  # YYYY, YYYY-MM or YYYY-MM-DD
    date_note: str = field(default="", metadata=FOLD)
    url: str
    sources: tuple[str, ...] = ()  # the pages actually read, when they differ from ``url``
    verification: Verification
    requirement: str = field(metadata=FOLD)  # the requirement in one sentence
    note: str = field(default="", metadata=FOLD)
    permissions: tuple[str, ...] = ()  # requesting any of these breaks the rule
    allowed_dangerous: tuple[str, ...] | None = None  # any other dangerous permission breaks it
    ignore_permissions: tuple[str, ...] = ()  # dangerous, but not access to the user's data
    verdicts: tuple[Mapping[str, Level], ...] = ()  # any table whose verdicts all reach the level
    findings: tuple[str, ...] = ()  # any of these rule ids firing breaks the rule
    review_permissions: tuple[str, ...] = ()  # allowed only in a way the APK cannot show
    unless: Exemption = ""  # a manifest role that exempts the app (see HANDLERS)
    min_target_sdk: int | None = None  # below it the rule is "upcoming"

    @property
    def verified(self) -> bool:
        return self.verification == "verified"

    @property
    def uses_code(self) -> bool:
        """Whether the rule looks at code evidence (hidden code could then break it)."""
        return bool(self.verdicts or self.findings)


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    id: str
    order: int  # position in reports
    name: str
    jurisdiction: str
    authority: str
    scope: str = field(metadata=FOLD)
    aliases: tuple[str, ...] = ()
    lending: bool = False  # a lending law: not applicable to an app that is not a lending app
    languages: tuple[str, ...] = ()  # report languages whose readers live in this market
    rules: tuple[PolicyRule, ...] = field(default=(), metadata=key("rule"))


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


def _permissions(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise RuleError(f"{where}: expected an array of strings")
    bad = [n for n in raw if not _PERMISSION.match(n)]
    if bad:
        raise RuleError(f"{where}: not a permission name: {bad[0]!r}")
    return tuple(raw)


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


_RULE_DECODERS: dict[str, Decoder] = {
    "permissions": _permissions,
    "allowed_dangerous": _permissions,
    "ignore_permissions": _permissions,
    "review_permissions": _permissions,
    "verdicts": _verdict_tables,
}


def _rule(raw: object, where: str) -> PolicyRule:
    rid = raw.get("id") if isinstance(raw, dict) else None
    here = f"{where}: rule {rid if isinstance(rid, str) else '?'}"
    rule = decode(PolicyRule, raw, here, decoders=_RULE_DECODERS)
    _check_rule(rule, here)
    return rule


def _check_rule(rule: PolicyRule, here: str) -> None:
    if not _RULE_ID.match(rule.id):
        raise RuleError(f"{here}: id must look like ABC-1")
    if not _DATE.match(rule.effective):
        raise RuleError(f"{here}: effective must be YYYY, YYYY-MM or YYYY-MM-DD")
    if not _URL.match(rule.url) or not all(_URL.match(s) for s in rule.sources):
        raise RuleError(f"{here}: url and sources must be https:// URLs")
    if not rule.section and not rule.section_note:
        raise RuleError(f"{here}: an empty section needs a section_note saying why")
    checks = rule.permissions or rule.allowed_dangerous is not None or rule.uses_code
    if not checks and not rule.review_permissions:
        raise RuleError(f"{here}: the rule checks nothing")
    if not rule.requirement.endswith((".", "。", ")", "）")) or not rule.title:
        raise RuleError(f"{here}: requirement must be one full sentence and title non-empty")


def _policy(data: dict[str, Any], where: str) -> Policy:
    policy = decode(Policy, data, where, decoders={"rules": lambda raw, _: _rules(raw, where)})
    if not _POLICY_ID.match(policy.id) or where != f"{policy.id}.toml":
        raise RuleError(f"{where}: policy id must be kebab-case and match the file name")
    if not policy.rules:
        raise RuleError(f"{where}: a policy needs at least one rule")
    return policy


def _rules(raw: object, where: str) -> tuple[PolicyRule, ...]:
    if not isinstance(raw, list):
        raise RuleError(f"{where}: rule: expected [[rule]] tables")
    return tuple(_rule(r, where) for r in raw)


def parse_policies(texts: Mapping[str, str]) -> PolicySet:
    """Policies from ``{file name: TOML text}`` (sorted by file name), validated."""
    digest = hashlib.sha256()
    policies = []
    for name in sorted(texts):
        digest.update(name.encode() + b"\0" + texts[name].encode())
        try:
            data = cached_toml(texts[name])
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
