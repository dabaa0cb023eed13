"""The rule schema: a :class:`Rule` with one typed match per match type, decoded strictly.

Each match type is a frozen dataclass whose fields are the keys its ``match`` table may have
(see :mod:`apkaudit.rules.tables`): an unknown or misspelt key, a missing required one or a value
of the wrong type fails when the rules load, naming the file, the rule and the key. ``doc`` is
the sentence docs/rules.md prints for the type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

from apkaudit.errors import RuleError
from apkaudit.model import Severity
from apkaudit.rules import registry
from apkaudit.rules.tables import FOLD, decode

_ID = re.compile(r"^[A-Z]{3}\d{3}$")
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

Flag = Literal["debuggable", "allow_backup", "cleartext"]
# Providers a content-provider query resolves to (apkaudit.behaviour: Behaviours.queries).
Provider = Literal["contacts", "sms", "call_log", "calendar", "media", "other", "unresolved"]
# Who triggers an SMS send (apkaudit.model.Trigger; Behaviours.sms_sends).
TriggerName = Literal["automatic", "user_action", "user_mediated"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeMatch:
    type: ClassVar[str] = "code"
    doc: ClassVar[str] = (
        "fires when the code references any catalogue item carrying one of the tags"
    )
    tags: tuple[str, ...]
    provider: Provider | None = None  # also fire on queries resolved to this provider
    permission: str | None = None  # shown as evidence, or said to be missing
    # only the references at SMS send sites with one of these triggers (empty: every reference)
    triggers: tuple[TriggerName, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PermissionUnusedMatch:
    type: ClassVar[str] = "permission_unused"
    doc: ClassVar[str] = (
        "fires when the permission is requested but no item with the tags is "
        "referenced in the visible code"
    )
    permission: str
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeWithoutPermissionMatch:
    type: ClassVar[str] = "code_without_permission"
    doc: ClassVar[str] = (
        "fires when items with the tags are referenced but the permission is not requested"
    )
    tags: tuple[str, ...]
    permission: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainMatch:
    type: ClassVar[str] = "chain"
    doc: ClassVar[str] = (
        "fires when the behaviour stage proves a data-flow chain of one of the kinds"
    )
    kinds: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiverMatch:
    type: ClassVar[str] = "receiver"
    doc: ClassVar[str] = "fires when a manifest receiver handles one of the actions"
    actions: tuple[str, ...]
    # a receiver at this priority or above raises the finding to high_severity
    high_priority: int | None = None
    high_severity: Severity | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeAndReceiverMatch:
    type: ClassVar[str] = "code_and_receiver"
    doc: ClassVar[str] = (
        "fires when the code references the tagged items and a receiver handles one of the actions"
    )
    tags: tuple[str, ...]
    actions: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class DefaultSmsCandidateMatch:
    type: ClassVar[str] = "default_sms_candidate"
    doc: ClassVar[str] = (
        "fires when the manifest declares every component Android requires of a default SMS app"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PermissionMatch:
    type: ClassVar[str] = "permission"
    doc: ClassVar[str] = "fires when the permission is requested"
    permission: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FlagMatch:
    type: ClassVar[str] = "flag"
    doc: ClassVar[str] = "fires when the application flag is set"
    flag: Flag


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryMatch:
    type: ClassVar[str] = "query"
    doc: ClassVar[str] = "fires when a content-provider query is resolved to one of the providers"
    providers: tuple[Provider, ...]


Match = (
    CodeMatch
    | PermissionUnusedMatch
    | CodeWithoutPermissionMatch
    | ChainMatch
    | ReceiverMatch
    | CodeAndReceiverMatch
    | DefaultSmsCandidateMatch
    | PermissionMatch
    | FlagMatch
    | QueryMatch
)
# match type name -> its dataclass, in the order docs list them
MATCH_TYPES: dict[str, type[Match]] = {
    cls.type: cls
    for cls in (
        CodeMatch,
        PermissionUnusedMatch,
        CodeWithoutPermissionMatch,
        ChainMatch,
        ReceiverMatch,
        CodeAndReceiverMatch,
        DefaultSmsCandidateMatch,
        PermissionMatch,
        FlagMatch,
        QueryMatch,
    )
}


def match_fields(match: Match) -> dict[str, Any]:
    """The keys a match was written with (optional ones left at their default omitted)."""
    out = {}
    for f in fields(match):
        value = getattr(match, f.name)
        if value != f.default:
            out[f.name] = value
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    id: str
    name: str
    title: str
    family: str  # from the file's header
    behaviour: str  # the file's, unless the rule names its own
    severity: Severity
    match: Match
    rationale: str = field(metadata=FOLD)
    remediation: str = field(metadata=FOLD)
    references: tuple[str, ...]
    positive: str  # fixture that must trigger it
    negative: str  # fixture that must not

    @property
    def match_type(self) -> str:
        return self.match.type

    @property
    def permission(self) -> str | None:
        """The permission the rule's match names, if any."""
        return getattr(self.match, "permission", None)

    @property
    def help_uri(self) -> str:
        """The rule's section of docs/rules.md."""
        return registry.help_uri(self.id)


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleFile:
    """The header of one rule file; its ``[[rule]]`` tables are decoded one by one."""

    family: str
    behaviour: str
    rule: tuple[dict[str, Any], ...] = ()


def parse_rule_file(data: dict[str, Any], where: str) -> tuple[Rule, ...]:
    header = decode(RuleFile, data, where, decoders={"rule": _tables})
    return tuple(_rule(raw, header, where) for raw in header.rule)


def _tables(raw: object, where: str) -> tuple[dict[str, Any], ...]:
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise RuleError(f"{where}: expected [[rule]] tables")
    return tuple(raw)


def _rule(raw: dict[str, Any], header: RuleFile, where: str) -> Rule:
    rid = raw.get("id")
    here = f"{where}: rule {rid if isinstance(rid, str) else '?'}"
    given: dict[str, Any] = {"family": header.family}
    if "behaviour" not in raw:
        given["behaviour"] = header.behaviour
    rule = decode(Rule, raw, here, given=given, decoders={"match": _match})
    if not _ID.match(rule.id) or not rule.id.startswith(rule.family):
        raise RuleError(f"{here}: rule id must be {rule.family} + three digits")
    if not _NAME.match(rule.name):
        raise RuleError(f"{here}: name must be kebab-case")
    if not rule.references:
        raise RuleError(f"{here}: needs at least one reference")
    if isinstance(rule.match, ReceiverMatch) and (rule.match.high_priority is None) != (
        rule.match.high_severity is None
    ):
        raise RuleError(f"{here}: match: high_priority and high_severity go together")
    return rule


def _match(raw: object, where: str) -> Match:
    if not isinstance(raw, dict):
        raise RuleError(f"{where}: expected a table, got {type(raw).__name__}")
    table = dict(raw)
    mtype = table.pop("type", None)
    cls = MATCH_TYPES.get(mtype) if isinstance(mtype, str) else None
    if cls is None:
        raise RuleError(
            f"{where}: unknown match type {mtype!r} (expected one of {', '.join(MATCH_TYPES)})"
        )
    return decode(cls, table, f"{where} {mtype!r}")
