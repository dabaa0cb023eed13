"""SARIF 2.1.0 output: one run, every rule that ran, one result per finding.

Apps that could not be audited become ``toolExecutionNotifications`` of the one invocation
(semgrep's habit: errors beside results, not instead of them).

What GitHub code scanning needs (docs.github.com, "SARIF support for code scanning"): every
result's physical location has a region, so the APK file is given with ``startLine`` 1 and the
dex, class, method and offset go into ``logicalLocations`` and properties; each result carries
``partialFingerprints.primaryLocationLineHash`` (otherwise the upload action tries to hash the
lines of a binary file) next to apkaudit's own stable fingerprint; each rule has ``helpUri``,
``help.markdown`` and ``security-severity``. Messages are plain text with app strings made
literal (:func:`apkaudit.report.escape.sarif_text`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import quote

from apkaudit.model import AppResult, Destination, Evidence, Finding, JsonDict, Severity
from apkaudit.policies import Policy, PolicyRule
from apkaudit.policies.engine import Outcome, PolicyOutcome
from apkaudit.report.document import Report, RuleDoc
from apkaudit.report.escape import json_safe, sarif_text
from apkaudit.report.json_v1 import sort_findings
from apkaudit.rules.registry import VERDICT_RULES

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT_KEY = "apkaudit/v1"
LINE_HASH_KEY = "primaryLocationLineHash"
# An APK has no lines: every region is its first line.
REGION: JsonDict = {"startLine": 1}
# GitHub rejects a run of more results ("About code scanning limits on SARIF results").
MAX_RESULTS = 25_000
_LEVEL_ORDER = {"error": 0, "warning": 1, "note": 2, "none": 3}

LEVEL_FOR_SEVERITY: dict[Severity, str] = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}

SEVERITY_RANK = {s.value: s.rank for s in Severity}

# GitHub code scanning reads "security-severity" as a CVSS-like score in a string.
SECURITY_SEVERITY: dict[Severity, str] = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.5",
    Severity.INFO: "0.0",
}


def render_sarif(report: Report) -> str:
    return dump(report_to_sarif(report))


def dump(doc: JsonDict) -> str:
    """The SARIF text of ``doc``: UTF-8, with bidi and C1 controls as ``\\u`` escapes."""
    return json_safe(json.dumps(doc, indent=2, ensure_ascii=False)) + "\n"


def report_to_sarif(report: Report) -> JsonDict:
    policies = report.policies.policies
    ordered = sorted(report.rules.rules, key=lambda r: r.id)
    descriptors = [_rule_descriptor(r, policies) for r in ordered]
    index = {d["id"]: i for i, d in enumerate(descriptors)}
    # A finding whose rule was not handed in still needs a descriptor for ruleIndex.
    for app in report.apps:
        for f in sort_findings(app.findings):
            if f.rule_id not in index:
                index[f.rule_id] = len(descriptors)
                descriptors.append(_descriptor_from_finding(f, policies))

    artifacts = [_artifact(app) for app in report.apps]
    # policy rules each finding helps violate, per app: "rbi/RBI-1"
    broken = [violations_by_finding(outcomes) for outcomes in report.outcomes]
    results = [
        _result(f, app, i, index[f.rule_id], broken[i].get(f.fingerprint, ()))
        for i, app in enumerate(report.apps)
        for f in sort_findings(app.findings)
    ]
    results, left_out = _within_limit(results)
    failed = [(i, a) for i, a in enumerate(report.apps) if a.status != "ok"]
    invocation: JsonDict = {
        "executionSuccessful": not report.apps or len(failed) < len(report.apps),
        "toolExecutionNotifications": [
            {
                "level": "error",
                "message": {"text": sarif_text(a.error or "unknown error")},
                "locations": [_physical(a, i)],
                "descriptor": {"id": "input-error"},
            }
            for i, a in failed
        ]
        + (
            [
                {
                    "level": "warning",
                    "message": {
                        "text": f"{left_out} less severe result(s) left out: GitHub code scanning "
                        f"rejects more than {MAX_RESULTS} results per run; the JSON report has "
                        "every finding"
                    },
                    "descriptor": {"id": "results-limit"},
                }
            ]
            if left_out
            else []
        ),
    }
    run: JsonDict = {
        "tool": {
            "driver": {
                "name": "apkaudit",
                "version": report.tool_version,
                "semanticVersion": report.tool_version,
                "rules": descriptors,
                "properties": {"rules_version": report.rules_version},
            }
        },
        "invocations": [invocation],
        "artifacts": artifacts,
        "results": results,
        "columnKind": "utf16CodeUnits",
        "properties": {
            "generated_at": report.generated_at,
            "apps": [_app_summary(a) for a in report.apps],
        },
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def _within_limit(results: list[JsonDict]) -> tuple[list[JsonDict], int]:
    """At most MAX_RESULTS results, the most severe kept (by level, then security severity),
    in their original order; and how many were left out."""
    if len(results) <= MAX_RESULTS:
        return results, 0
    rank = sorted(
        range(len(results)),
        key=lambda i: (
            _LEVEL_ORDER.get(results[i]["level"], 3),
            -SEVERITY_RANK.get(results[i]["properties"]["severity"], 0),
            i,
        ),
    )
    keep = sorted(rank[:MAX_RESULTS])
    return [results[i] for i in keep], len(results) - MAX_RESULTS


# --------------------------------------------------------------------------- policies


def policy_tags(rule_id: str, permission: str | None, policies: Sequence[Policy]) -> list[str]:
    """``policy:ID`` tags for a finding rule: the policies whose rules cite what it shows."""
    return [
        f"policy:{policy.id}"
        for policy in policies
        if any(_cites(r, rule_id, permission) for r in policy.rules)
    ]


def _cites(rule: PolicyRule, rule_id: str, permission: str | None) -> bool:
    if rule_id in rule.findings:
        return True
    if any(rule_id in VERDICT_RULES.get(k, ()) for table in rule.verdicts for k in table):
        return True
    return permission is not None and permission in rule.permissions


def violations_by_finding(outcomes: Sequence[PolicyOutcome]) -> dict[str, list[str]]:
    """Finding fingerprint -> ids of the policy rules it helps violate (``rbi/RBI-1``)."""
    out: dict[str, list[str]] = {}
    for p in outcomes:
        for r in p.rules:
            if r.status is not Outcome.VIOLATION:
                continue
            for f in r.findings:
                out.setdefault(f.fingerprint, []).append(f"{p.policy.id}/{r.rule.id}")
    return out


# --------------------------------------------------------------------------- pieces


def _rule_descriptor(r: RuleDoc, policies: Sequence[Policy] = ()) -> JsonDict:
    permission = getattr(r, "permission", None)  # Rule.permission: the one its match names
    props: JsonDict = {
        "tags": ([r.behaviour] if r.behaviour else []) + policy_tags(r.id, permission, policies),
        "security-severity": SECURITY_SEVERITY[Severity(r.severity)],
        "severity": Severity(r.severity).value,
    }
    if r.references:
        props["references"] = list(r.references)
    help_uri = getattr(r, "help_uri", None)  # Rule.help_uri: its section of docs/rules.md
    return {
        "id": r.id,
        "name": r.name,
        "shortDescription": {"text": r.title or r.name},
        "fullDescription": {"text": r.rationale or r.title or r.name},
        "help": {
            "text": r.remediation or r.rationale or r.title or r.name,
            "markdown": help_markdown(r, help_uri),
        },
        **({"helpUri": help_uri} if help_uri else {}),
        "defaultConfiguration": {"level": LEVEL_FOR_SEVERITY[Severity(r.severity)]},
        "properties": props,
    }


def help_markdown(r: RuleDoc, help_uri: str | None = None) -> str:
    """The rule's documentation (the text of its docs/rules.md section), in Markdown."""
    lines = [f"**{r.name}**: {r.title}", ""]
    if r.rationale:
        lines += [f"**Rationale.** {r.rationale}", ""]
    if r.remediation:
        lines += [f"**Remediation.** {r.remediation}", ""]
    if r.references:
        lines += ["**References.**", "", *(f"- {ref}" for ref in r.references), ""]
    if help_uri:
        lines.append(f"[{r.id} in the apkaudit rule reference]({help_uri})")
    return "\n".join(lines).strip() + "\n"


def _descriptor_from_finding(f: Finding, policies: Sequence[Policy] = ()) -> JsonDict:
    return {
        "id": f.rule_id,
        "name": f.name,
        "shortDescription": {"text": f.title or f.name},
        "fullDescription": {"text": f.title or f.name},
        "help": {"text": f.remediation or f.title or f.name},
        "defaultConfiguration": {"level": LEVEL_FOR_SEVERITY[f.severity]},
        "properties": {
            "tags": ([f.behaviour] if f.behaviour else []) + policy_tags(f.rule_id, None, policies),
            "security-severity": SECURITY_SEVERITY[f.severity],
            "severity": f.severity.value,
        },
    }


def _uri(path: str) -> str:
    """The input path as given, as a URI reference: a relative path stays relative (GitHub
    resolves it against the checkout); an absolute one is a ``file://`` URI, as SARIF asks
    (the upload action makes those relative to the checkout)."""
    posix = path.replace("\\", "/")
    if len(posix) > 2 and posix[1] == ":" and posix[2] == "/" and posix[0].isalpha():
        return "file:///" + posix[:2] + quote(posix[2:], safe="/@!$&'()*+,;=-._~")  # C:/...
    uri = quote(posix, safe="/@!$&'()*+,;=-._~")
    return f"file://{uri}" if posix.startswith("/") else uri


def _artifact(app: AppResult) -> JsonDict:
    out: JsonDict = {"location": {"uri": _uri(app.input.path)}, "length": app.input.size}
    hashes = {
        k: v
        for k, v in (
            ("sha-256", app.input.sha256),
            ("sha-1", app.input.sha1),
            ("md5", app.input.md5),
        )
        if v
    }
    if hashes:
        out["hashes"] = hashes
    return out


def _physical(app: AppResult, artifact_index: int) -> JsonDict:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": _uri(app.input.path), "index": artifact_index},
            "region": dict(REGION),
        }
    }


def _location(ev: Evidence, app: AppResult, artifact_index: int) -> JsonDict:
    loc = _physical(app, artifact_index)
    if ev.location is not None:
        cl = ev.location
        loc["logicalLocations"] = [
            {
                "fullyQualifiedName": f"{cl.java_class}.{cl.method.split('(', 1)[0]}",
                "kind": "function",
                "properties": {
                    "dex": cl.dex,
                    "offset": cl.offset,
                    "offsetHex": f"{cl.offset:#x}",
                    "method": cl.method,
                },
            }
        ]
    elif ev.manifest_element:
        loc["logicalLocations"] = [
            {"fullyQualifiedName": f"AndroidManifest.xml/{ev.manifest_element}", "kind": "element"}
        ]
    if ev.description:
        loc["message"] = {"text": sarif_text(ev.description)}
    return loc


def _result(
    f: Finding,
    app: AppResult,
    artifact_index: int,
    rule_index: int,
    policy_rules: Sequence[str] = (),
) -> JsonDict:
    evidence = sorted(f.evidence, key=lambda e: e.location is None)  # code locations first
    locations = [_location(e, app, artifact_index) for e in evidence]
    if not locations:
        locations = [_physical(app, artifact_index)]
    result: JsonDict = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": LEVEL_FOR_SEVERITY[f.severity],
        "message": {"text": sarif_text(f.message or f.title or f.name)},
        "locations": locations[:1],
        "partialFingerprints": {
            FINGERPRINT_KEY: f.fingerprint,
            # GitHub's key for "same alert"; the region is always line 1, so the finding's
            # own fingerprint stands for the line's content
            LINE_HASH_KEY: f"{f.fingerprint}:1",
        },
        "properties": {
            "severity": f.severity.value,
            "confidence": f.confidence.value,
            "stage": f.stage.name.lower(),
            "behaviour": f.behaviour,
            "origin": f.origin,
            "package": app.identity.package,
        },
    }
    if f.trigger is not None:  # SMS findings: who makes the messages go out
        result["properties"]["trigger"] = f.trigger.value
    sent_to = finding_destinations(f, app)
    if sent_to:  # where the data of this finding goes (the sinks among its evidence)
        result["properties"]["destinations"] = sent_to
    if policy_rules:  # the policy rules this finding helps violate, and their policies' tags
        result["properties"]["policy_violations"] = list(policy_rules)
        result["properties"]["tags"] = sorted({f"policy:{p.split('/')[0]}" for p in policy_rules})
    if len(locations) > 1:
        result["relatedLocations"] = [
            {"id": i, **loc} for i, loc in enumerate(locations[1:], start=1)
        ]
    return result


def _app_summary(app: AppResult) -> JsonDict:
    ok = app.status == "ok"
    return {
        "path": app.input.path,
        "status": "ok" if ok else "error",
        "package": app.identity.package or None,
        "verdicts": app.verdicts.as_dict() if ok else None,
        "coverage_complete": app.coverage.complete if ok else None,
        "destinations": [_destination(d) for d in app.behaviours.destinations]
        if ok and app.behaviours
        else [],
    }


def _destination(d: Destination) -> JsonDict:
    return {
        "url": d.url or None,
        "host": d.host or None,
        "resolution": d.resolution.value,
        "api": d.api or None,
        "data": [str(k) for k in d.data],
    }


def finding_destinations(f: Finding, app: AppResult) -> list[str]:
    """The addresses (URL, else host, else "unresolved") of the app's destinations whose sink
    is one of the finding's evidence locations."""
    if app.behaviours is None:
        return []
    where = {e.location for e in f.evidence if e.location is not None}
    out = [
        d.url or d.host or "unresolved"
        for d in app.behaviours.destinations
        if d.location is not None and d.location in where
    ]
    return list(dict.fromkeys(out))
