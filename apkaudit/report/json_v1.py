"""JSON report, contract v1 (see docs: design.md "JSON contract (v1)").

Pure functions of the :class:`~apkaudit.report.document.Report`: no I/O, no clock. The output is
deterministic: keys sorted, findings sorted by (severity, confidence, rule, fingerprint),
permissions by name. Rows of apps that could not be audited carry ``error`` and ``null``
verdicts/app/risk/coverage: "not analysed" is never rendered as "clean".

The contract keys are fixed by the schema (``apkaudit/report/schema/report-v1.schema.json``);
``chains``, ``permissions``, ``components``, ``signing``, ``flags``, ``code_stats``, ``notes``,
``policies`` (the policy outcomes the :class:`Report` holds), ``destinations``, ``sms_sends``,
``lending_app`` (json_answers.py) and the extra finding keys (``title``, ``stage``,
``fingerprint``, ``remediation``, ``trigger``) are the documented extensions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from apkaudit.model import (
    AppResult,
    Chain,
    CodeIndex,
    CodeLocation,
    Component,
    Coverage,
    Evidence,
    Finding,
    Hop,
    JsonDict,
    ManifestFacts,
)
from apkaudit.policies.engine import PolicyOutcome, Reason
from apkaudit.report.dataflows import DataFlow, data_flows
from apkaudit.report.document import Report
from apkaudit.report.headline import headline, headline_text
from apkaudit.report.i18n import Catalog, catalog
from apkaudit.report.json_answers import destination_to_dict, lending_to_dict, sms_send_to_dict
from apkaudit.report.reasons import describe
from apkaudit.report.risk import risk_label

SCHEMA_VERSION = 1
TOOL_NAME = "apkaudit"


def render_json(report: Report, *, timings: bool = False) -> str:
    """The v1 JSON document for ``report`` (UTF-8 text, 2-space indent, sorted keys, final LF).
    ``timings`` adds each app's per-stage wall and CPU seconds (never reproducible)."""
    doc = report_to_dict(report, timings=timings)
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def report_to_dict(report: Report, *, timings: bool = False) -> JsonDict:
    apps = [app_to_dict(app, outcomes) for app, outcomes in report.checked()]
    if timings:
        for row, app in zip(apps, report.apps, strict=True):
            row["timings"] = timings_to_json(app)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {
            "name": TOOL_NAME,
            "version": report.tool_version,
            "rules_version": report.rules_version,
        },
        "generated_at": report.generated_at,
        "policy_packs": {"version": report.policies.version, "ids": list(report.policies.ids)},
        "apps": apps,
    }


def timings_to_json(app: AppResult) -> list[JsonDict]:
    """The stages of the audit in order, with their wall and CPU seconds."""
    return [{"stage": s, "wall_s": wall, "cpu_s": cpu} for s, wall, cpu in app.timings]


def app_to_dict(app: AppResult, outcomes: Sequence[PolicyOutcome] = ()) -> JsonDict:
    """One app row, with the outcomes of the policies it was checked against."""
    ok = app.status == "ok"
    m = app.manifest
    b = app.behaviours
    return {
        "input": _input(app),
        "status": "ok" if ok else "error",
        "error": None if ok else (app.error or "unknown error"),
        "app": _identity(app) if (ok or m is not None) else None,
        "verdicts": app.verdicts.as_dict() if ok else None,
        "coverage": _coverage(app.coverage) if ok else None,
        "findings": [finding_to_dict(f) for f in sort_findings(app.findings)],
        "risk": _risk(app) if ok else None,
        "headline": _headline(app) if ok else None,
        "chains": [chain_to_dict(c) for c in app.behaviours.chains] if app.behaviours else [],
        "data_flows": [data_flow_to_dict(f) for f in data_flows(app.behaviours.chains)]
        if app.behaviours
        else [],
        "queries": [
            {"location": location_to_dict(q.location), "provider": q.provider, "uri": q.uri or None}
            for q in app.behaviours.queries
        ]
        if app.behaviours
        else [],
        "notes": list(app.behaviours.notes) if app.behaviours else [],
        "destinations": [destination_to_dict(d, app_level=True) for d in b.destinations]
        if b
        else [],
        "sms_sends": [sms_send_to_dict(x) for x in b.sms_sends] if b else [],
        "lending_app": lending_to_dict(b.lending_app) if b else None,
        "permissions": _permissions(m) if m else [],
        "components": _components(m) if m else None,
        "signing": _signing(m) if m else [],
        "flags": _flags(m) if m else None,
        "code_stats": _code_stats(app.code) if app.code else None,
        "policies": outcomes_to_json(outcomes),
    }


def data_flow_to_dict(flow: DataFlow) -> JsonDict:
    return {
        "source": flow.source,
        "sink": flow.sink,
        "level": flow.level.value,
        "chains": list(flow.chains),
    }


def _risk(app: AppResult) -> JsonDict:
    """``level`` is never low or info with code hidden (``unknown``); ``complete`` says whether
    it covers all of the code."""
    return {"level": risk_label(app.risk), "score": app.risk.score, "complete": app.risk.complete}


def _headline(app: AppResult) -> JsonDict:
    head = headline(app)
    return {"key": head.key, "level": head.level, "text": headline_text(head, catalog("en"))}


def sort_findings(findings: tuple[Finding, ...]) -> list[Finding]:
    """Most severe, then most certain first; ties broken by rule id and fingerprint."""
    return sorted(
        findings,
        key=lambda f: (-f.severity.rank, -f.confidence.rank, f.rule_id, f.fingerprint),
    )


def location_to_dict(loc: CodeLocation | None) -> JsonDict | None:
    if loc is None:
        return None
    return {"dex": loc.dex, "class": loc.java_class, "method": loc.method, "offset": loc.offset}


def evidence_to_dict(ev: Evidence) -> JsonDict:
    return {
        "kind": ev.kind,
        "description": ev.description,
        "location": location_to_dict(ev.location),
        "excerpt": list(ev.excerpt),
        "manifest_element": ev.manifest_element,
    }


def finding_to_dict(f: Finding) -> JsonDict:
    return {
        "rule_id": f.rule_id,
        "name": f.name,
        "title": f.title,
        "severity": f.severity.value,
        "confidence": f.confidence.value,
        "stage": f.stage.name.lower(),
        "message": f.message,
        "behaviour": f.behaviour,
        "evidence": [evidence_to_dict(e) for e in f.evidence],
        "origin": f.origin,
        "fingerprint": f.fingerprint,
        "remediation": f.remediation,
        "trigger": f.trigger.value if f.trigger else None,
    }


def hop_to_dict(h: Hop) -> JsonDict:
    return {
        "role": h.role,
        "description": h.description,
        "location": location_to_dict(h.location),
        "excerpt": list(h.excerpt),
    }


def chain_to_dict(c: Chain) -> JsonDict:
    return {
        "kind": c.kind,
        "source": c.source,
        "sink": c.sink,
        "in_loop": c.in_loop,
        "loop": c.loop,
        "stage": c.stage.name.lower(),
        "reachable": c.reachable,
        "origin": c.origin,
        "notes": list(c.notes),
        "hops": [hop_to_dict(h) for h in c.hops],
        "destination": destination_to_dict(c.destination) if c.destination else None,
        "trigger": c.trigger.value if c.trigger else None,
    }


# --------------------------------------------------------------------------- sections


def _input(app: AppResult) -> JsonDict:
    i = app.input
    out: JsonDict = {
        "path": i.path,
        "sha256": i.sha256,
        "size": i.size,
        "container": i.container,
    }
    if i.sha1:
        out["sha1"] = i.sha1
    if i.md5:
        out["md5"] = i.md5
    return out


def _opt(s: str) -> str | None:
    return s or None


def _identity(app: AppResult) -> JsonDict:
    ident = app.identity
    return {
        "package": _opt(ident.package),
        "version_name": _opt(ident.version_name),
        "version_code": _opt(ident.version_code),
        "min_sdk": ident.min_sdk,
        "target_sdk": ident.target_sdk,
        "label": _opt(ident.label),
    }


def _coverage(cov: Coverage) -> JsonDict:
    return {
        "complete": cov.complete,
        "blind_spots": [{"kind": b.kind, "detail": b.detail} for b in cov.blind_spots],
    }


def _permissions(m: ManifestFacts) -> list[JsonDict]:
    perms = sorted(m.permissions, key=lambda p: (p.name, p.element, p.max_sdk or 0))
    return [
        {
            "name": p.name,
            "protection_level": p.protection_level,
            "element": p.element,
            "max_sdk": p.max_sdk,
        }
        for p in perms
    ]


def component_to_dict(c: Component) -> JsonDict:
    return {
        "kind": c.kind,
        "name": c.name,
        "exported": c.exported,
        "enabled": c.enabled,
        "permission": c.permission,
        "intent_filters": [
            {
                "actions": list(f.actions),
                "categories": list(f.categories),
                "schemes": list(f.schemes),
                "mime_types": list(f.mime_types),
                "priority": f.priority,
            }
            for f in c.intent_filters
        ],
    }


def _components(m: ManifestFacts) -> JsonDict:
    counts: dict[str, int] = {}
    for c in m.components:
        counts[c.kind] = counts.get(c.kind, 0) + 1
    # Entry points other apps (or the system) can reach: the interesting part for an audit.
    exported = sorted((c for c in m.components if c.exported), key=lambda c: (c.kind, c.name))
    return {
        "application_class": m.application_class,
        "counts": counts,
        "exported": [component_to_dict(c) for c in exported],
    }


def _signing(m: ManifestFacts) -> list[JsonDict]:
    return [
        {
            "subject": c.subject,
            "issuer": c.issuer,
            "sha256": c.sha256,
            "sha1": c.sha1,
            "serial": c.serial,
            "scheme": c.scheme,
        }
        for c in m.certificates
    ]


def _flags(m: ManifestFacts) -> JsonDict:
    return {
        "debuggable": m.debuggable,
        "allow_backup": m.allow_backup,
        "uses_cleartext_traffic": m.uses_cleartext_traffic,
        "default_sms_candidate": m.default_sms_candidate,
        "queries_all_packages": m.queries_all_packages,
    }


def _code_stats(code: CodeIndex) -> JsonDict:
    return {
        "dex_files": list(code.dex_files),
        "class_count": code.class_count,
        "method_count": code.method_count,
        "methods_decoded": code.methods_decoded,
        "refs": len(code.refs),
    }


# --------------------------------------------------------------------------- policy outcomes


def _reason_json(reason: Reason, tr: Catalog) -> JsonDict:
    return {
        "kind": reason.kind,
        "subject": reason.subject,
        "levels": dict(reason.levels),
        "text": describe(reason, tr),
    }


def outcomes_to_json(outcomes: Sequence[PolicyOutcome]) -> list[JsonDict]:
    """The ``policies`` value of an app row (English texts)."""
    tr = catalog("en")
    return [
        {
            "id": o.policy.id,
            "name": o.policy.name,
            "jurisdiction": o.policy.jurisdiction,
            "authority": o.policy.authority,
            "status": o.status.value,
            "rules": [
                {
                    "id": r.rule.id,
                    "title": r.rule.title,
                    "document": r.rule.document,
                    "section": r.rule.section,
                    "section_note": r.rule.section_note,
                    "effective": r.rule.effective,
                    "date_note": r.rule.date_note,
                    "url": r.rule.url,
                    "sources": list(r.rule.sources),
                    "verification": r.rule.verification,
                    "requirement": r.rule.requirement,
                    "note": r.rule.note,
                    "status": r.status.value,
                    "reasons": [_reason_json(x, tr) for x in r.reasons],
                    "findings": [
                        {"rule_id": f.rule_id, "fingerprint": f.fingerprint} for f in r.findings
                    ],
                }
                for r in o.rules
            ],
        }
        for o in outcomes
    ]
