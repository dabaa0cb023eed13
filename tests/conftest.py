"""Shared paths and helpers: fixture APKs, the real third-party APKs, a per-session audit cache.

The real APKs live outside the repository (``../shared/real-apks``, or ``$APKAUDIT_REAL_APKS``);
some are live malware and are only ever parsed. They are present in CI, so a test that needs
them fails there when they are missing; on a developer machine it is skipped instead.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from apkaudit.audit import audit_app
from apkaudit.model import AppResult

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures" / "apks"
REAL = Path(os.environ.get("APKAUDIT_REAL_APKS", REPO / ".." / "shared" / "real-apks")).resolve()
REAL_INDEX = REAL / "INDEX.tsv"
IN_CI = bool(os.environ.get("CI"))

_MISSING_REAL = "<real APKs missing>"


def fixture_apk(name: str) -> Path:
    """Path of a committed fixture APK by its name without ``.apk``."""
    return FIXTURES / f"{name}.apk"


def require_real() -> Path:
    """The real-APK folder; fail in CI when it is missing, skip elsewhere."""
    if REAL_INDEX.is_file():
        return REAL
    message = (
        f"real APKs not found at {REAL} (set APKAUDIT_REAL_APKS to the folder holding INDEX.tsv)"
    )
    if IN_CI:
        pytest.fail(f"{message}; they must be present in CI")
    pytest.skip(message)


def real_index() -> list[dict[str, str]]:
    """The rows of INDEX.tsv, or [] when the real APKs are not available."""
    if not REAL_INDEX.is_file():
        return []
    with REAL_INDEX.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def real_params(select: Callable[[dict[str, str]], bool] = lambda row: True) -> list[object]:
    """pytest params, one per selected INDEX.tsv row (id = file name).

    When the real APKs are missing this is a single placeholder param, so the test still runs
    once and ``require_real()`` fails it in CI (or skips it elsewhere) with a clear message.
    """
    if not REAL_INDEX.is_file():
        return [pytest.param({"file": _MISSING_REAL}, id="real-apks-missing")]
    return [pytest.param(row, id=row["file"]) for row in real_index() if select(row)]


def is_malformed(row: dict[str, str]) -> bool:
    return row["file"].startswith("malformed-")


# The malformed files apkaudit refuses with a one-line error. The other malformed-* files are
# audited, with a blind spot that names the damage (a truncated zip is recovered from its local
# headers, a bomb entry is left uninflated, path-traversal names are flagged): see
# tests/test_real_apks.py and README "Inputs and limits".
REFUSED = frozenset({"malformed-bare-dex.apk"})


def is_refused(row: dict[str, str]) -> bool:
    return row["file"] in REFUSED


@pytest.fixture(scope="session")
def audit() -> Callable[[str | os.PathLike[str]], AppResult]:
    """``audit(path)``: ``audit_app`` with default options, each path audited once per session."""
    cache: dict[str, AppResult] = {}

    def run(path: str | os.PathLike[str]) -> AppResult:
        key = os.fspath(path)
        if key not in cache:
            cache[key] = audit_app(key)
        return cache[key]

    return run


def real_path(row: dict[str, str]) -> Path:
    """The path of one INDEX.tsv row's file (fails in CI / skips elsewhere when missing)."""
    path = require_real() / row["file"]
    if not path.is_file():
        pytest.fail(f"{path} is listed in INDEX.tsv but missing")
    return path
