"""Findings -> one risk level and a 0-100 score. The weights are this one visible table.

When part of the code is hidden from analysis the level only covers the visible code: the Risk
says so (``complete=False``), and its label is "unknown" instead of low or info (an app that
hides its code is never shown as low risk)."""

from __future__ import annotations

from collections.abc import Sequence

from apkaudit.model import Confidence, Finding, Level, Risk, Severity, Verdicts

SEVERITY_POINTS: dict[Severity, int] = {
    Severity.CRITICAL: 40,
    Severity.HIGH: 20,
    Severity.MEDIUM: 8,
    Severity.LOW: 2,
    Severity.INFO: 0,
}
CONFIDENCE_FACTOR: dict[Confidence, float] = {
    Confidence.HIGH: 1.0,
    Confidence.MEDIUM: 0.6,
    Confidence.LOW: 0.25,
}

# Verdicts set a floor on the level: a confirmed contact blast is critical whatever else.
VERDICT_FLOOR: dict[tuple[str, Level], Severity] = {
    ("bulk_sms_to_contacts", Level.CONFIRMED): Severity.CRITICAL,
    ("contacts_upload", Level.CONFIRMED): Severity.CRITICAL,
    ("bulk_sms_to_contacts", Level.LIKELY): Severity.HIGH,
    ("contacts_upload", Level.LIKELY): Severity.HIGH,
    ("contacts_read", Level.CONFIRMED): Severity.HIGH,
    ("sms_read", Level.CONFIRMED): Severity.HIGH,
    ("call_log_read", Level.CONFIRMED): Severity.HIGH,
    ("sms_send", Level.CONFIRMED): Severity.HIGH,
}


def score(findings: Sequence[Finding], verdicts: Verdicts, *, complete: bool = True) -> Risk:
    points = sum(SEVERITY_POINTS[f.severity] * CONFIDENCE_FACTOR[f.confidence] for f in findings)
    value = min(100, round(points))
    level = _level_for(value)
    for key, lvl in ((k, getattr(verdicts, k)) for k, _ in VERDICT_FLOOR):
        floor = VERDICT_FLOOR.get((key, lvl))
        if floor is not None and floor.rank > level.rank:
            level = floor
    return Risk(level, value, complete=complete)


def _level_for(value: int) -> Severity:
    if value >= 60:
        return Severity.CRITICAL
    if value >= 35:
        return Severity.HIGH
    if value >= 15:
        return Severity.MEDIUM
    if value > 0:
        return Severity.LOW
    return Severity.INFO
