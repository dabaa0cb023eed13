"""The same answer every time: byte-identical JSON reports whatever the hash seed.

Every fixture (fixtures/apks, fixtures/edge) and every file of ../shared/real-apks is audited
under PYTHONHASHSEED 0, 1, 7 and 42, one child process per seed (set and string iteration
orders change with the seed, so an ordering that reaches a report without being made explicit
shows up here). The child prints one line per input: its name and the sha256 of its JSON
report (SOURCE_DATE_EPOCH fixed, so the report date is too).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import FIXTURES, REPO, require_real

SEEDS = ("0", "1", "7", "42")

CHILD = r"""
import hashlib, json, sys
from apkaudit.audit import audit_app
from apkaudit.cli.scan import make_report
from apkaudit.report.formats import render
from apkaudit.rules import load_rules

rules = load_rules()
out = {}
for path in sys.argv[1:]:
    app = audit_app(path)
    text = render(make_report((app,), rules), "json")
    out[path] = hashlib.sha256(text.encode()).hexdigest()
print(json.dumps(out))
"""


def _inputs() -> list[str]:
    real = require_real()
    edge = FIXTURES.parent / "edge"
    # edge inputs: the files with a container suffix, and the folder of split APKs
    # hostile-big-dex takes most of its time limit by design: its report depends on the clock
    timed = {"hostile-big-dex.apk"}
    found = [*FIXTURES.glob("*.apk"), *edge.glob("*.*"), edge / "split-sms-dir"]
    found = [p for p in found if p.name not in timed]
    found += real.glob("*.apk")
    return sorted(str(p) for p in found if p.exists())


def _digests(seed: str, paths: list[str]) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONHASHSEED": seed,
        "SOURCE_DATE_EPOCH": "1767225600",
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *paths],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.real
@pytest.mark.slow
def test_json_reports_identical_under_every_hash_seed() -> None:
    paths = _inputs()
    first = _digests(SEEDS[0], paths)
    assert set(first) == set(paths)
    for seed in SEEDS[1:]:
        other = _digests(seed, paths)
        differ = sorted(os.path.basename(p) for p in paths if other[p] != first[p])
        assert not differ, f"PYTHONHASHSEED={seed} changes the JSON report of {differ}"
