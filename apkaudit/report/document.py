"""The :class:`Report`: everything a renderer needs, assembled before any renderer runs.

semgrep's shape: the rules that ran, the results and the errors are handed to the formatter
together. A Report holds the audited apps (their findings inside), the policy outcomes of each
app (evaluated here, by :func:`build_report`, never by a renderer), the rules that ran with their
version, the policy packs that were checked with their version, and the apps that could not be
audited (:attr:`Report.errors`). Renderers are pure functions of it: no I/O, no clock, no policy
evaluation, no rule loading.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from apkaudit.model import AppResult, Severity
from apkaudit.policies import Policy, PolicySet, load_policies
from apkaudit.policies.engine import PolicyOutcome, evaluate_policies


class RuleDoc(Protocol):
    """What the renderers need to know of a rule (any object with these attributes)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def severity(self) -> Severity: ...
    @property
    def behaviour(self) -> str: ...
    @property
    def rationale(self) -> str: ...
    @property
    def remediation(self) -> str: ...
    @property
    def references(self) -> tuple[str, ...]: ...


class RuleCatalogue(Protocol):
    """A set of rules and its version (:class:`apkaudit.rules.RuleSet` is one)."""

    @property
    def version(self) -> str: ...
    @property
    def rules(self) -> Sequence[RuleDoc]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleRun:
    """The rules an audit ran, sorted by id, and the version of that rule set."""

    version: str
    rules: tuple[RuleDoc, ...] = ()

    @classmethod
    def of(cls, catalogue: RuleCatalogue) -> RuleRun:
        return cls(version=catalogue.version, rules=tuple(sorted(catalogue.rules, key=_rule_id)))


def _rule_id(rule: RuleDoc) -> str:
    return rule.id


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyRun:
    """The policy packs checked (in report order; () when none was) and the packs' version."""

    version: str
    policies: tuple[Policy, ...] = ()
    explicit: bool = False  # chosen by the user (--policy), not the default "all"

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.policies)


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    tool_version: str
    generated_at: str  # ISO-8601 UTC, injected so outputs are reproducible
    rules: RuleRun
    policies: PolicyRun
    apps: tuple[AppResult, ...]
    # the policy outcomes of each app, in the order of ``apps`` (() for an app not audited)
    outcomes: tuple[tuple[PolicyOutcome, ...], ...]

    def __post_init__(self) -> None:
        if len(self.outcomes) != len(self.apps):
            raise ValueError("a Report needs one tuple of policy outcomes per app")

    @property
    def rules_version(self) -> str:
        return self.rules.version

    @property
    def errors(self) -> tuple[AppResult, ...]:
        """The apps that could not be audited (they carry a one-line ``error``)."""
        return tuple(a for a in self.apps if a.status != "ok")

    def checked(self) -> Iterator[tuple[AppResult, tuple[PolicyOutcome, ...]]]:
        """Each app with its policy outcomes."""
        return zip(self.apps, self.outcomes, strict=True)


def build_report(
    apps: Iterable[AppResult],
    *,
    rules: RuleRun,
    tool_version: str,
    generated_at: str,
    policy_ids: Iterable[str] | None = None,
    policy_set: PolicySet | None = None,
) -> Report:
    """The report of ``apps``, audited with ``rules``: each app checked against the selected
    policies of ``policy_set`` (default: the packaged ones; ``policy_ids`` None: all of them).

    Unknown policy ids raise ``KeyError``.
    """
    packs = policy_set or load_policies()
    chosen = packs.select(None if policy_ids is None else tuple(policy_ids))
    results = tuple(apps)
    return Report(
        tool_version=tool_version,
        generated_at=generated_at,
        rules=rules,
        policies=PolicyRun(version=packs.version, policies=chosen, explicit=policy_ids is not None),
        apps=results,
        outcomes=tuple(evaluate_policies(app, chosen) for app in results),
    )
