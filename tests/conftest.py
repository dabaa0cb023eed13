"""Shared paths and helpers: fixture APKs, the real third-party APKs, a per-session audit cache.

The real APKs live outside the repository (``../shared/real-apks``, or ``$APKAUDIT_REAL_APKS``);
some are live malware and are only ever parsed. They are present in CI, so a test that needs
them fails there when they are missing; on a developer machine it is skipped instead.

Markers: ``real`` (needs the real APKs) and ``slow`` (builds a wheel, opens a browser, starts
worker pools or a fuzz run). ``pytest`` runs neither, so the default run stays fast;
``pytest --all`` (the README's test command and CI) runs everything. A test that reaches the
real APKs without the ``real`` marker fails, so the marker cannot drift.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from apkaudit import __version__
from apkaudit.audit import audit_app
from apkaudit.model import AppResult, Chain, Hop
from apkaudit.report.document import Report, RuleRun, build_report
from apkaudit.rules import load_rules

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures" / "apks"
REAL = Path(os.environ.get("APKAUDIT_REAL_APKS", REPO / ".." / "shared" / "real-apks")).resolve()
REAL_INDEX = REAL / "INDEX.tsv"
IN_CI = bool(os.environ.get("CI"))

_MISSING_REAL = "<real APKs missing>"
_MARKERS = {
    "real": "needs the real third-party APKs (../shared/real-apks)",
    "slow": "takes seconds: a wheel build, a browser, worker pools, a fuzz run",
}
_current_marks: set[str] = set()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--all", action="store_true", help="also run the tests marked real and slow")


def pytest_configure(config: pytest.Config) -> None:
    for name, text in _MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--all") or config.getoption("-m"):
        return
    keep = [i for i in items if not set(_MARKERS) & {m.name for m in i.iter_markers()}]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture of the test is set up (module fixtures included)."""
    _current_marks.clear()
    _current_marks.update(m.name for m in item.iter_markers())


def fixture_apk(name: str) -> Path:
    """Path of a committed fixture APK by its name without ``.apk``."""
    return FIXTURES / f"{name}.apk"


def require_real() -> Path:
    """The real-APK folder; fail in CI when it is missing, skip elsewhere."""
    if "real" not in _current_marks:
        pytest.fail("this test reads the real APKs: mark it @pytest.mark.real")
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
        return [
            pytest.param({"file": _MISSING_REAL}, id="real-apks-missing", marks=pytest.mark.real)
        ]
    return [
        pytest.param(row, id=row["file"], marks=pytest.mark.real)
        for row in real_index()
        if select(row)
    ]


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


REPORT_DATE = "2024-01-01T00:00:00Z"


def report_of(
    *apps: AppResult, policies: tuple[str, ...] | None = None, rules: RuleRun | None = None
) -> Report:
    """The report of ``apps`` as ``scan`` makes it: the packaged rules (or ``rules``), the
    selected policies checked (None: all)."""
    return build_report(
        apps,
        rules=rules or RuleRun.of(load_rules()),
        tool_version=__version__,
        generated_at=REPORT_DATE,
        policy_ids=policies,
    )


# --------------------------------------------------------------------------- chain hops


def _hop(h: Hop) -> tuple[str, str, int]:
    cls = h.location.class_name.rsplit("/", 1)[-1].rstrip(";")
    return h.role, f"{cls}.{h.location.method.split('(')[0]}", h.location.offset


def hops(chain: Chain) -> list[tuple[str, str, int]]:
    """(role, Class.method, offset) per hop, the class without its package."""
    return [_hop(h) for h in chain.hops]


def hop_names(chain: Chain) -> list[str]:
    """``Class.method@0xoffset`` per hop, the class without its package."""
    return [f"{name}@{offset:#x}" for _role, name, offset in hops(chain)]


def is_subsequence(wanted: list[str], got: list[str]) -> bool:
    it = iter(got)
    return all(any(w == g for g in it) for w in wanted)
