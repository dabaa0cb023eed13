"""CI gating of a batch: which findings and verdicts fail the run, and the baseline file.

Works on :class:`~apkaudit.model.AppResult` values, fresh or from the results store, so a
gate can be evaluated on results that were not audited in this run.

- ``fail_on``: a finding of this severity or higher fails the run, unless its confidence is
  below ``min_confidence``;
- ``verdicts``: ``bulk_sms_to_contacts=likely`` fails the run when an app's verdict is at that
  level or higher;
- ``baseline``: findings (by app and stable fingerprint) and verdicts (by app, verdict and level)
  already accepted; they never fail the run, only new ones do.

An app is identified by its package name (so a baseline survives a new version of the app),
or by ``sha256:<hash>`` when the package is unknown. The library decides; the CLI maps the
outcome to an exit code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from apkaudit.model import VERDICT_KEYS, AppResult, Confidence, Finding, JsonDict, Level, Severity

BASELINE_FORMAT = 1


def app_id(app: AppResult) -> str:
    return app.identity.package or f"sha256:{app.input.sha256}"


@dataclass(frozen=True)
class Baseline:
    findings: frozenset[tuple[str, str]] = frozenset()  # (app id, fingerprint)
    verdicts: Mapping[tuple[str, str], Level] = field(default_factory=dict)  # (app, key) -> lvl

    def accepts_finding(self, app: str, fingerprint: str) -> bool:
        return (app, fingerprint) in self.findings

    def accepts_verdict(self, app: str, key: str, level: Level) -> bool:
        accepted = self.verdicts.get((app, key))
        return accepted is not None and accepted.rank >= level.rank

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Baseline:
        """Read a baseline file; ValueError with a one-line reason if it is not one."""
        try:
            with open(path, encoding="utf-8") as fh:
                doc = json.load(fh)
        except OSError as exc:
            raise ValueError(f"cannot read baseline {os.fspath(path)}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"baseline {os.fspath(path)} is not JSON: {exc}") from None
        if not isinstance(doc, dict) or doc.get("apkaudit_baseline") != BASELINE_FORMAT:
            raise ValueError(
                f"{os.fspath(path)} is not an apkaudit baseline "
                f'(expected "apkaudit_baseline": {BASELINE_FORMAT})'
            )
        try:
            findings = frozenset((f["app"], f["fingerprint"]) for f in doc.get("findings", []))
            verdicts = {
                (v["app"], v["verdict"]): Level(v["level"]) for v in doc.get("verdicts", [])
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"baseline {os.fspath(path)} has a malformed entry: {exc}") from None
        return cls(findings, verdicts)


def baseline_document(
    apps: Sequence[AppResult], *, tool_version: str, rules_version: str, generated_at: str
) -> JsonDict:
    """Every finding and every verdict above ``none`` of ``apps``, as an accepted baseline."""
    findings: dict[tuple[str, str], JsonDict] = {}
    verdicts: dict[tuple[str, str], JsonDict] = {}
    for app in apps:
        if app.status != "ok":
            continue
        aid = app_id(app)
        for f in app.findings:
            findings[(aid, f.fingerprint)] = {
                "app": aid,
                "fingerprint": f.fingerprint,
                "rule_id": f.rule_id,
                "severity": f.severity.value,
                "confidence": f.confidence.value,
            }
        for key, level in app.verdicts.as_dict().items():
            if level != Level.NONE.value:
                old = verdicts.get((aid, key))
                if old is None or Level(old["level"]).rank < Level(level).rank:
                    verdicts[(aid, key)] = {"app": aid, "verdict": key, "level": level}
    return {
        "apkaudit_baseline": BASELINE_FORMAT,
        "tool_version": tool_version,
        "rules_version": rules_version,
        "generated_at": generated_at,
        "findings": [findings[k] for k in sorted(findings)],
        "verdicts": [verdicts[k] for k in sorted(verdicts)],
    }


def parse_verdict_gate(spec: str) -> tuple[str, Level]:
    """``bulk_sms_to_contacts=likely`` -> (key, Level). ValueError on anything else."""
    key, sep, level = spec.partition("=")
    key, level = key.strip(), level.strip().lower()
    if not sep or key not in VERDICT_KEYS:
        raise ValueError(f"expected VERDICT=LEVEL with VERDICT one of {', '.join(VERDICT_KEYS)}")
    try:
        lvl = Level(level)
    except ValueError:
        raise ValueError(
            f"unknown level {level!r} (one of {', '.join(x.value for x in Level)})"
        ) from None
    if lvl is Level.NONE:
        raise ValueError("a verdict gate at 'none' would fail every app; use possible or higher")
    return key, lvl


@dataclass(frozen=True)
class GatePolicy:
    fail_on: Severity | None = None
    min_confidence: Confidence | None = None
    verdicts: tuple[tuple[str, Level], ...] = ()
    baseline: Baseline | None = None

    @property
    def active(self) -> bool:
        return self.fail_on is not None or bool(self.verdicts)


@dataclass(frozen=True)
class GateHit:
    """One new finding or verdict that fails the run."""

    path: str
    app: str
    kind: str  # finding | verdict
    what: str  # rule id or verdict key
    level: str  # severity or verdict level
    fingerprint: str = ""


@dataclass(frozen=True)
class GateResult:
    hits: tuple[GateHit, ...]
    accepted: int  # findings/verdicts at or above the gate that the baseline accepted
    errors: int  # apps that could not be audited

    @property
    def failed(self) -> bool:
        return bool(self.hits)


def finding_counts(policy: GatePolicy, f: Finding) -> bool:
    """Does this finding reach the severity gate (ignoring the baseline)?"""
    if policy.fail_on is None or f.severity.rank < policy.fail_on.rank:
        return False
    return policy.min_confidence is None or f.confidence.rank >= policy.min_confidence.rank


def evaluate(apps: Sequence[AppResult], policy: GatePolicy) -> GateResult:
    hits: list[GateHit] = []
    accepted = errors = 0
    base = policy.baseline or Baseline()
    for app in apps:
        if app.status != "ok":
            errors += 1
            continue
        aid, path = app_id(app), app.input.path
        for f in app.findings:
            if not finding_counts(policy, f):
                continue
            if base.accepts_finding(aid, f.fingerprint):
                accepted += 1
            else:
                hits.append(
                    GateHit(path, aid, "finding", f.rule_id, f.severity.value, f.fingerprint)
                )
        for key, threshold in policy.verdicts:
            level: Level = getattr(app.verdicts, key)
            if level.rank < threshold.rank:
                continue
            if base.accepts_verdict(aid, key, level):
                accepted += 1
            else:
                hits.append(GateHit(path, aid, "verdict", key, level.value))
    return GateResult(tuple(hits), accepted, errors)


def is_new(policy: GatePolicy, app: AppResult, fingerprint: str) -> bool:
    """True unless the baseline accepts this finding of this app."""
    return policy.baseline is None or not policy.baseline.accepts_finding(app_id(app), fingerprint)
