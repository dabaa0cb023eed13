"""The disassembly excerpts of the code evidence the findings show.

The code index keeps only where each reference is; the few the findings cite (at most
``engine.MAX_EVIDENCE`` per finding, of thousands of references in a large app) get their
excerpt here, after the rules ran, from the code index stage's reader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from apkaudit.model import CodeLocation, Evidence, Finding

Excerpter = Callable[[CodeLocation], tuple[str, ...]]


def with_excerpts(findings: tuple[Finding, ...], excerpt: Excerpter) -> tuple[Finding, ...]:
    """``findings`` with an excerpt on every code evidence that has a location and none yet."""
    return tuple(_finding(f, excerpt) for f in findings)


def _finding(f: Finding, excerpt: Excerpter) -> Finding:
    evidence = tuple(_evidence(e, excerpt) for e in f.evidence)
    return f if evidence == f.evidence else replace(f, evidence=evidence)


def _evidence(e: Evidence, excerpt: Excerpter) -> Evidence:
    if e.kind != "code" or e.location is None or e.excerpt:
        return e
    return replace(e, excerpt=excerpt(e.location))
