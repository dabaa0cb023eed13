"""The one library entry point: ``audit_app(path, options) -> AppResult``.

Bad input never raises out of here: it becomes an AppResult with status "error" and a one-line
reason. Only programming errors propagate (the CLI maps them to exit code 4).
"""

from __future__ import annotations

import gc
import os
import time
from dataclasses import dataclass, field

from apkaudit.behaviour import analyse
from apkaudit.behaviour.program import Program
from apkaudit.behaviour.verdicts import derive_verdicts
from apkaudit.code.attribution import Attributor, app_packages
from apkaudit.code.catalogue import load_catalogue
from apkaudit.code.index import build_code_index, open_dex_set
from apkaudit.coverage import hidden
from apkaudit.coverage.hidden import coverage_of
from apkaudit.coverage.obfuscation import string_payloads
from apkaudit.errors import DexFormatError, InputError
from apkaudit.facts import AppFacts
from apkaudit.limits import DEFAULT_LIMITS, Deadline, Limits
from apkaudit.load.files import open_regular, regular_size
from apkaudit.load.icon import read_icon
from apkaudit.load.layouts import inflated_classes
from apkaudit.load.loader import load_app
from apkaudit.manifest.coherence import unreadable_manifest
from apkaudit.manifest.splits import app_manifest
from apkaudit.model import AppResult, Behaviours, BlindSpot, BlindSpotKind, InputInfo
from apkaudit.rules import RuleSet, load_rules
from apkaudit.rules.engine import evaluate
from apkaudit.rules.excerpts import with_excerpts
from apkaudit.rules.scoring import score


@dataclass(frozen=True)
class AuditOptions:
    limits: Limits = DEFAULT_LIMITS
    rules: RuleSet = field(default_factory=load_rules)
    # the file's sha1 and md5 besides its sha256: only some report formats show them
    legacy_digests: bool = True


def audit_app(path: str | os.PathLike[str], options: AuditOptions | None = None) -> AppResult:
    opts = options or AuditOptions()
    spath = os.fspath(path)
    try:
        return _audit(spath, opts)
    except InputError as exc:
        return AppResult(input=_input_info(spath), status="error", error=str(exc))
    except MemoryError:
        # Only under a process memory cap (apkaudit scan --max-memory-mb): the input needed
        # more than the cap allows. Answered below, outside this handler: its traceback holds
        # the frames, and so the memory, of the analysis that ran out.
        pass
    gc.collect()
    return AppResult(
        input=_input_info(spath),
        status="error",
        error=f"{spath}: ran out of memory (over the process memory limit)",
    )


def error_result(path: str, reason: str) -> AppResult:
    """The result of an app that could not be audited: one line naming the file and why."""
    return AppResult(input=_input_info(path), status="error", error=f"{path}: {reason}")


def _audit(path: str, opts: AuditOptions) -> AppResult:
    timings: list[tuple[str, float, float]] = []  # stage, wall seconds, CPU seconds
    clock, cpu = time.perf_counter(), time.process_time()
    deadline = Deadline(opts.limits.max_seconds)

    def lap(name: str) -> None:
        nonlocal clock, cpu
        now, now_cpu = time.perf_counter(), time.process_time()
        timings.append((name, round(now - clock, 4), round(now_cpu - cpu, 4)))
        clock, cpu = now, now_cpu

    loaded = load_app(path, opts.limits, legacy_digests=opts.legacy_digests)
    lap("load")
    read = app_manifest(
        loaded.manifest,
        loaded.manifest_format,
        loaded.split_manifests,
        arsc=loaded.arsc,
        certificates=loaded.certificates,
        path=path,
        expired=deadline.expired,
    )
    manifest = read.facts
    lap("manifest")
    dexset, dex_spots = open_dex_set(loaded.dex)
    decoded, payload_spots = string_payloads(dexset, opts.limits.max_embedded_size)
    if decoded:  # dex files Base64/hex-encoded in dex strings: analysed as embedded code
        dexset, dex_spots = open_dex_set(loaded.dex + decoded)
    dex_spots += payload_spots
    attributor = Attributor.for_app(
        app_packages(manifest.identity.package, (c.name for c in manifest.components))
    )
    catalogue = load_catalogue()
    index, index_spots = build_code_index(
        dexset,
        catalogue,
        attributor.origin,
        max_methods=opts.limits.max_methods_decoded,
        deadline=deadline,
    )
    lap("codeindex")
    spots = loaded.spots + read.blind_spots + dex_spots + index_spots
    spots += unreadable_manifest(manifest, index.refs, read.tricks)
    spots += hidden.detect(loaded, manifest, index, dexset, catalogue, attributor.origin)
    if not loaded.dex:
        spots += (BlindSpot(BlindSpotKind.NO_DEX, "the app contains no readable dex file"),)
    coverage = coverage_of(spots)
    facts = AppFacts(manifest=manifest, code=index, coverage=coverage)
    classes = dexset.classes
    inflated = inflated_classes(
        path,
        loaded.entries,
        lambda name: classes[name][1].superclass if name in classes else None,
        classes,
        opts.limits,
    )
    program = Program(
        dex=dexset,
        catalogue=catalogue,
        attributor=attributor,
        arsc=loaded.arsc,
        layout_classes=inflated,
    )
    try:
        behaviours = analyse(facts, program, deadline)
    except DexFormatError as exc:
        # A dex whose tables open cleanly but whose code breaks when followed: verdicts from
        # the code index alone (no data-flow chains), and the damage reported.
        behaviours = Behaviours(derive_verdicts(facts, (), {}, {}, flow_analysed=False))
        cut = BlindSpot(BlindSpotKind.UNREADABLE_DEX, f"behaviour analysis stopped: {exc}")
        coverage = coverage_of((*coverage.blind_spots, cut))
    if behaviours.blind_spots:
        coverage = coverage_of((*coverage.blind_spots, *behaviours.blind_spots))
    if "behaviour" in deadline.hit:
        cut = BlindSpot(
            BlindSpotKind.TIME_LIMIT,
            f"behaviour analysis stopped at the {deadline.seconds} s time limit; "
            "chains may be missing",
        )
        coverage = coverage_of((*coverage.blind_spots, cut))
    lap("behaviour")
    findings = with_excerpts(evaluate(opts.rules, facts, behaviours), dexset.excerpt)
    risk = score(findings, behaviours.verdicts, complete=coverage.complete)
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
        icon=read_icon(path, read.xml, loaded.arsc),
    )


def _input_info(path: str) -> InputInfo:
    """Best-effort identity of a file we could not audit: hashed only if it is a regular file
    (never a FIFO or a device) small enough to hash."""
    import hashlib

    try:
        size = regular_size(path)
        if size > DEFAULT_LIMITS.max_file_size:
            return InputInfo(path=path, sha256="", size=size)
        h = hashlib.sha256()
        with open_regular(path) as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        return InputInfo(path=path, sha256=h.hexdigest(), size=size)
    except (OSError, InputError):
        return InputInfo(path=path, sha256="", size=0)
