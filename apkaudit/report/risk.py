"""The overall risk as a reader sees it: never "low" or "info" when part of the code is hidden.

``Risk.level`` is what the visible code shows; when coverage is incomplete and that is low or
info, the risk shown is ``unknown`` ("unknown: code hidden"); a higher level is shown as resting
on what was seen ("at least high"). JSON v1 writes the same ``risk.level`` (:func:`risk_label`).
"""

from __future__ import annotations

from apkaudit.model import AppResult, Risk, Severity
from apkaudit.report.i18n import Catalog


def risk_label(risk: Risk) -> str:
    """The level shown: a severity, or ``unknown`` for low or info with code hidden."""
    if not risk.complete and risk.level.rank <= Severity.LOW.rank:
        return "unknown"
    return risk.level.value


def risk_key(app: AppResult) -> str:
    """The CSS/catalog key of the risk shown: a severity, or ``unknown``."""
    return risk_label(app.risk)


def risk_text(app: AppResult, tr: Catalog) -> str:
    risk = app.risk
    if risk_label(risk) == "unknown":
        return tr.t("ui.risk_unknown")
    text = tr.t(f"severity.{risk.level.value}")
    return text if risk.complete else tr.t("ui.risk_at_least", level=text)
