"""Why a policy rule got its result, in words: one sentence per :class:`Reason`, in the
catalog's language (the HTML and Markdown reports, and the ``text`` of JSON v1 reasons)."""

from __future__ import annotations

from apkaudit.model import Level
from apkaudit.policies.engine import Reason
from apkaudit.report.i18n import Catalog


def describe(reason: Reason, tr: Catalog) -> str:
    """One reason as a sentence in the catalog's language."""
    kind = reason.kind
    if kind in ("permission", "not_allowed", "review"):
        return tr.t(f"reason.{kind}", permission=reason.subject.rsplit(".", 1)[-1])
    if kind == "verdicts":
        return " ".join(tr.verdict_sentence(k, Level(v)) for k, v in reason.levels)
    if kind == "finding":
        title = tr.rule_text(reason.subject, "title", reason.subject)
        return tr.t("reason.finding", rule_id=reason.subject, title=title)
    if kind == "target_sdk":
        minimum = dict(reason.levels).get("min", "")
        if not reason.subject:
            return tr.t("reason.target_sdk_unknown", min=minimum)
        return tr.t("reason.target_sdk", min=minimum, target=reason.subject)
    if kind == "exempt":
        return tr.t(f"reason.exempt_{reason.subject}")
    return tr.t(f"reason.{kind}")
