"""The one library entry point: ``audit_app(path, options) -> AppResult``.

Bad input never raises out of here: it becomes an AppResult with status "error" and a one-line
reason. Only programming errors propagate (the CLI maps them to exit code 4).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from apkaudit import androguard_adapter as ag
from apkaudit.attribution import Attributor, app_packages
from apkaudit.behaviour import analyse
from apkaudit.catalogue import load_catalogue
from apkaudit.codeindex import build_code_index, open_dex_set
from apkaudit.errors import InputError
from apkaudit.facts import AppFacts
from apkaudit.limits import DEFAULT_LIMITS, Limits
from apkaudit.loader import load_apk
from apkaudit.manifest import parse_manifest
from apkaudit.model import AppResult, BlindSpot, Coverage, InputInfo, java_to_descriptor
from apkaudit.rules import RuleSet, load_rules
from apkaudit.rules.engine import evaluate
from apkaudit.scoring import score


@dataclass(frozen=True)
class AuditOptions:
    limits: Limits = DEFAULT_LIMITS
    rules: RuleSet = field(default_factory=load_rules)


def audit_app(path: str | os.PathLike[str], options: AuditOptions | None = None) -> AppResult:
    opts = options or AuditOptions()
    spath = os.fspath(path)
    try:
        return _audit(spath, opts)
    except InputError as exc:
        return AppResult(input=_input_info(spath), status="error", error=str(exc))


def _audit(path: str, opts: AuditOptions) -> AppResult:
    timings: list[tuple[str, float]] = []
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings.append((name, round(now - clock, 4)))
        clock = now

    loaded = load_apk(path, opts.limits)
    lap("load")
    xml = ag.manifest_xml(loaded.manifest, path)
    manifest = parse_manifest(xml, arsc=loaded.arsc, certificates=ag.certificates(path))
    lap("manifest")
    dexset, dex_spots = open_dex_set(loaded.dex)
    attributor = Attributor.for_app(
        app_packages(manifest.identity.package, (c.name for c in manifest.components))
    )
    catalogue = load_catalogue()
    index, index_spots = build_code_index(
        dexset, catalogue, attributor.origin, max_methods=opts.limits.max_methods_decoded
    )
    lap("codeindex")
    spots = dex_spots + index_spots + _missing_components(manifest, dexset)
    if not loaded.dex:
        spots += (BlindSpot("no_dex", "the APK contains no classes.dex"),)
    coverage = Coverage(complete=not spots, blind_spots=spots)
    facts = AppFacts(loaded, manifest, index, dexset, catalogue, attributor, coverage)
    behaviours = analyse(facts)
    lap("behaviour")
    findings = evaluate(opts.rules, facts, behaviours)
    risk = score(findings, behaviours.verdicts)
    lap("rules")
    return AppResult(
        input=loaded.input,
        manifest=manifest,
        code=index,
        behaviours=behaviours,
        findings=findings,
        coverage=coverage,
        risk=risk,
        timings=tuple(timings),
    )


def _missing_components(manifest, dexset) -> tuple[BlindSpot, ...]:
    """Components the manifest declares but no dex defines: their code is hidden (packed,
    encrypted or loaded at run time), so what we see is not the whole app."""
    names = [c.name for c in manifest.components if c.kind != "activity-alias"]
    if manifest.application_class:
        names.append(manifest.application_class)
    missing = [n for n in names if java_to_descriptor(n) not in dexset.classes]
    if not missing:
        return ()
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    return (
        BlindSpot(
            "missing_class",
            f"{len(missing)} manifest component class(es) are in no dex file: {shown}",
        ),
    )


def _input_info(path: str) -> InputInfo:
    """Best-effort identity of a file we could not audit (hash only if it is small enough)."""
    import hashlib

    try:
        size = os.path.getsize(path)
    except OSError:
        return InputInfo(path=path, sha256="", size=0)
    digest = ""
    if size <= DEFAULT_LIMITS.max_file_size:
        h = hashlib.sha256()
        try:
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
            digest = h.hexdigest()
        except OSError:
            pass
    return InputInfo(path=path, sha256=digest, size=size)
