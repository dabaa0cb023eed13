"""Read a JSON v1 app object back into an :class:`~apkaudit.model.AppResult`.

The results store of ``apkaudit batch`` keeps the JSON v1 app object of every audited app
(``json_v1.app_to_dict``) and a small ``extras`` object (:func:`extras_of`) with what the HTML
report shows but JSON v1 does not carry: every manifest component in manifest order (JSON v1
lists only the exported ones), the permissions in manifest order, and the app's icon. With both,
HTML, SARIF and the policy checks are regenerated without auditing again: a test checks, on
fixtures and real APKs, that they equal those rendered from the original result.

What neither carries is not invented: the individual code references (``code_stats`` keeps
their count) and reachability. The JSON itself is therefore never re-rendered from a rebuilt
result; the stored object is written as is. Without ``extras`` (a JSON report from elsewhere),
only the exported components are known and the flags computed from all of them are kept as
written (:class:`StoredManifest`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, fields, replace
from typing import Any

from apkaudit.model import (
    AppIdentity,
    AppResult,
    Behaviours,
    BlindSpot,
    Certificate,
    Chain,
    CodeIndex,
    CodeLocation,
    Component,
    Confidence,
    Coverage,
    Evidence,
    Finding,
    Hop,
    InputInfo,
    IntentFilter,
    Level,
    ManifestFacts,
    Permission,
    Risk,
    Severity,
    Stage,
    Verdicts,
    java_to_descriptor,
)
from apkaudit.report.json_v1 import component_to_dict

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class StoredManifest(ManifestFacts):
    """Manifest facts rebuilt from JSON: only exported components survive, so the flag that
    depends on all of them and the per-kind counts are kept as stored."""

    stored_default_sms_candidate: bool = False
    stored_component_counts: tuple[tuple[str, int], ...] = ()

    @property
    def default_sms_candidate(self) -> bool:
        return self.stored_default_sms_candidate


def extras_of(result: AppResult) -> JsonDict:
    """What the reports need of ``result`` beyond its JSON v1 object (see module docstring)."""
    out: JsonDict = {}
    m = result.manifest
    if m is not None:
        out["manifest"] = {
            "permissions": [
                [p.name, p.protection_level, p.element, p.max_sdk] for p in m.permissions
            ],
            "components": [component_to_dict(c) for c in m.components],
        }
    icon = getattr(result, "icon", None)
    if icon is not None:
        data = base64.b64encode(icon.data).decode("ascii")
        out["icon"] = {"mime": icon.mime, "entry": icon.entry, "data": data}
    return out


def app_from_dict(d: JsonDict, extras: JsonDict | None = None) -> AppResult:
    """The :class:`AppResult` a JSON v1 app object (and its store ``extras``) was made from."""
    extras = extras or {}
    ok = d.get("status") == "ok"
    manifest = _manifest(d, extras.get("manifest"))
    verdicts = _verdicts(d.get("verdicts")) if ok else Verdicts()
    chains = tuple(_chain(c) for c in d.get("chains") or ())
    notes = tuple(d.get("notes") or ())
    queries = tuple(
        (loc, q.get("provider") or "", q.get("uri") or "")
        for q in d.get("queries") or ()
        if (loc := _location(q.get("location"))) is not None
    )
    behaviours = (
        Behaviours(verdicts=verdicts, chains=chains, notes=notes, queries=queries) if ok else None
    )
    risk = d.get("risk")
    more: dict[str, Any] = {}
    icon = extras.get("icon")
    if icon and "icon" in {f.name for f in fields(AppResult)}:
        from apkaudit.model import AppIcon

        data = base64.b64decode(icon["data"])
        more["icon"] = AppIcon(mime=icon["mime"], data=data, entry=icon.get("entry", ""))
    return AppResult(
        input=_input(d["input"]),
        status="ok" if ok else "error",
        error=None if ok else d.get("error"),
        manifest=manifest,
        code=_code(d.get("code_stats")),
        behaviours=behaviours,
        findings=tuple(_finding(f) for f in d.get("findings") or ()),
        coverage=_coverage(d.get("coverage")) if ok else Coverage(),
        risk=Risk(Severity(risk["level"]), int(risk["score"])) if risk else Risk(Severity.INFO, 0),
        **more,
    )


# --------------------------------------------------------------------------- pieces


def _input(i: JsonDict) -> InputInfo:
    return InputInfo(
        path=i["path"],
        sha256=i.get("sha256") or "",
        size=int(i.get("size") or 0),
        container=i.get("container") or "apk",
        sha1=i.get("sha1") or "",
        md5=i.get("md5") or "",
    )


def _identity(a: JsonDict | None) -> AppIdentity:
    if not a:
        return AppIdentity()
    return AppIdentity(
        package=a.get("package") or "",
        label=a.get("label") or "",
        version_name=a.get("version_name") or "",
        version_code=a.get("version_code") or "",
        min_sdk=a.get("min_sdk"),
        target_sdk=a.get("target_sdk"),
    )


def _manifest(d: JsonDict, full: JsonDict | None) -> ManifestFacts | None:
    if d.get("app") is None:
        return None
    comps = d.get("components") or {}
    flags = d.get("flags") or {}
    if full is not None:
        permissions = tuple(
            Permission(name=n, protection_level=level, element=element, max_sdk=max_sdk)
            for n, level, element, max_sdk in full.get("permissions") or ()
        )
        components = tuple(_component(c) for c in full.get("components") or ())
        facts = ManifestFacts(
            identity=_identity(d.get("app")), permissions=permissions, components=components
        )
        return replace(facts, **_manifest_rest(d, comps, flags))
    return StoredManifest(
        identity=_identity(d.get("app")),
        permissions=tuple(
            Permission(
                name=p["name"],
                protection_level=p["protection_level"],
                element=p.get("element") or "uses-permission",
                max_sdk=p.get("max_sdk"),
            )
            for p in d.get("permissions") or ()
        ),
        components=tuple(_component(c) for c in comps.get("exported") or ()),
        stored_default_sms_candidate=bool(flags.get("default_sms_candidate", False)),
        stored_component_counts=tuple(sorted((comps.get("counts") or {}).items())),
        **_manifest_rest(d, comps, flags),
    )


def _manifest_rest(d: JsonDict, comps: JsonDict, flags: JsonDict) -> dict[str, Any]:
    return dict(
        application_class=comps.get("application_class"),
        debuggable=bool(flags.get("debuggable", False)),
        allow_backup=flags.get("allow_backup"),
        uses_cleartext_traffic=flags.get("uses_cleartext_traffic"),
        certificates=tuple(_certificate(c) for c in d.get("signing") or ()),
        queries_all_packages=bool(flags.get("queries_all_packages", False)),
    )


def _component(c: JsonDict) -> Component:
    return Component(
        kind=c["kind"],
        name=c["name"],
        exported=bool(c.get("exported", True)),
        permission=c.get("permission"),
        enabled=bool(c.get("enabled", True)),
        intent_filters=tuple(
            IntentFilter(
                actions=tuple(f.get("actions") or ()),
                categories=tuple(f.get("categories") or ()),
                schemes=tuple(f.get("schemes") or ()),
                mime_types=tuple(f.get("mime_types") or ()),
                priority=f.get("priority"),
            )
            for f in c.get("intent_filters") or ()
        ),
    )


def _certificate(c: JsonDict) -> Certificate:
    return Certificate(
        subject=c.get("subject") or "",
        issuer=c.get("issuer") or "",
        sha256=c.get("sha256") or "",
        sha1=c.get("sha1") or "",
        serial=c.get("serial") or "",
        scheme=c.get("scheme") or "",
    )


def _verdicts(v: JsonDict | None) -> Verdicts:
    if not v:
        return Verdicts()
    return Verdicts(**{k: Level(level) for k, level in v.items() if k in Verdicts.__annotations__})


def _coverage(c: JsonDict | None) -> Coverage:
    if not c:
        return Coverage()
    return Coverage(
        complete=bool(c.get("complete", True)),
        blind_spots=tuple(BlindSpot(b["kind"], b["detail"]) for b in c.get("blind_spots") or ()),
    )


def _code(c: JsonDict | None) -> CodeIndex | None:
    if not c:
        return None
    return CodeIndex(
        dex_files=tuple(c.get("dex_files") or ()),
        refs=(),
        class_count=int(c.get("class_count") or 0),
        method_count=int(c.get("method_count") or 0),
        methods_decoded=int(c.get("methods_decoded") or 0),
    )


def _location(loc: JsonDict | None) -> CodeLocation | None:
    if loc is None:
        return None
    return CodeLocation(
        dex=loc["dex"],
        class_name=java_to_descriptor(loc["class"]),
        method=loc["method"],
        offset=int(loc["offset"]),
    )


def _stage(name: str) -> Stage:
    return Stage[name.upper()]


def _evidence(e: JsonDict) -> Evidence:
    return Evidence(
        kind=e["kind"],
        description=e.get("description") or "",
        location=_location(e.get("location")),
        excerpt=tuple(e.get("excerpt") or ()),
        manifest_element=e.get("manifest_element"),
    )


def _finding(f: JsonDict) -> Finding:
    return Finding(
        rule_id=f["rule_id"],
        name=f["name"],
        title=f.get("title") or "",
        behaviour=f.get("behaviour") or "",
        severity=Severity(f["severity"]),
        confidence=Confidence(f["confidence"]),
        stage=_stage(f.get("stage") or "declared"),
        message=f.get("message") or "",
        evidence=tuple(_evidence(e) for e in f.get("evidence") or ()),
        origin=f.get("origin") or "app",
        remediation=f.get("remediation") or "",
    )


def _hop(h: JsonDict) -> Hop:
    loc = _location(h.get("location"))
    return Hop(
        role=h["role"],
        description=h.get("description") or "",
        location=loc if loc is not None else CodeLocation("", "", "", 0),
        excerpt=tuple(h.get("excerpt") or ()),
    )


def _chain(c: JsonDict) -> Chain:
    return Chain(
        kind=c["kind"],
        source=c["source"],
        sink=c["sink"],
        hops=tuple(_hop(h) for h in c.get("hops") or ()),
        in_loop=bool(c.get("in_loop", False)),
        loop=c.get("loop") or "",
        stage=_stage(c.get("stage") or "dataflow"),
        reachable=c.get("reachable"),
        origin=c.get("origin") or "app",
        notes=tuple(c.get("notes") or ()),
    )
