"""Limits (issue 4, part 4): documented, overridable, and never an unbounded allocation.

Peak memory is measured in a child process (its peak RSS), on the zip bomb and the 512 MiB
dex bomb of fixtures/edge/ and on the real 1 GiB zip bomb.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REAL, REPO

from apkaudit import limits as limits_module
from apkaudit.audit import AuditOptions, audit_app
from apkaudit.limits import DEFAULT_LIMITS, Deadline, Limits, parse_size

EDGE = REPO / "fixtures" / "edge"
PEAK_RSS_MB = 300


def test_every_limit_is_documented_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Inputs and limits") :]
    for name in Limits.names():
        assert f"`{name}`" in section, f"{name} is not documented in README 'Inputs and limits'"


@pytest.mark.parametrize(
    ("raw", "value"),
    [("300", 300), ("64K", 64 << 10), ("512M", 512 << 20), ("1G", 1 << 30), ("2_000", 2000),
     ("8MiB", 8 << 20)],
)  # fmt: skip
def test_parse_size(raw: str, value: int) -> None:
    assert parse_size(raw) == value


def test_overrides_from_strings() -> None:
    lim = DEFAULT_LIMITS.with_overrides(["max_dex_files=8", "max_dex_size=64M"])
    assert (lim.max_dex_files, lim.max_dex_size) == (8, 64 << 20)
    with pytest.raises(ValueError, match="unknown limit"):
        DEFAULT_LIMITS.with_overrides(["max_apples=1"])
    with pytest.raises(ValueError, match="NAME=VALUE"):
        DEFAULT_LIMITS.with_overrides(["max_dex_files"])
    with pytest.raises(ValueError, match="not a number"):
        DEFAULT_LIMITS.with_overrides(["max_dex_files=-1"])


def _cli(*args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "apkaudit", "scan", *args],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout,
    )  # fmt: skip


def test_cli_limit_override_gives_a_partial_result() -> None:
    proc = _cli(str(EDGE / "split-sms-dir"), "-f", "json", "--limit", "max_dex_files=1")
    assert proc.returncode == 0, proc.stderr
    (app,) = json.loads(proc.stdout)["apps"]
    spots = {b["kind"]: b["detail"] for b in app["coverage"]["blind_spots"]}
    assert (
        spots["limit"]
        == "split_feature_sms.apk!classes.dex not analysed: over the 1 dex files limit"
    )
    assert app["coverage"]["complete"] is False
    assert "INCOMPLETE" in proc.stderr


def test_cli_rejects_an_unknown_limit() -> None:
    proc = _cli(str(EDGE / "split-sms.xapk"), "--limit", "max_apples=3")
    assert proc.returncode == 2
    assert "unknown limit(s): max_apples" in proc.stderr and "max_dex_files" in proc.stderr


def test_cli_memory_cap_turns_an_allocation_into_an_input_error() -> None:
    # The dex bomb with its limits lifted needs > 512 MiB: under a 400 MiB cap it is an input
    # error (exit 3), not a crash and not a machine out of memory.
    args = ["--limit", "max_dex_size=1G", "--limit", "max_ratio=100000",
            "--limit", "max_total_dex_size=2G"]  # fmt: skip
    proc = _cli(str(EDGE / "dex-bomb.apk"), "-f", "json", *args, "--max-memory-mb", "400")
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 3
    assert proc.stderr.strip().endswith("ran out of memory (over the process memory limit)")


# VmHWM, the peak RSS of this process image: unlike ru_maxrss, which Linux carries across
# execve from the forking parent (a big pytest process would mask the child's own peak).
_PEAK = """
import sys
from apkaudit.audit import audit_app
result = audit_app(sys.argv[1])
spots = [b.kind for b in result.coverage.blind_spots]
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(result.status, hwm // 1024, *spots)
"""


def _peak(path: Path) -> tuple[str, int, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", _PEAK, str(path)], capture_output=True,
                         text=True, env=env, timeout=120, check=True).stdout.split()  # fmt: skip
    return out[0], int(out[1]), out[2:]


@pytest.mark.parametrize(
    ("name", "spot"),
    [("zip-bomb.apk", "zip_bomb"), ("dex-bomb.apk", "limit"), ("zip-bomb-overlap.apk", None)],
)
def test_peak_memory_on_bombs(name: str, spot: str | None) -> None:
    status, peak_mb, spots = _peak(EDGE / name)
    assert peak_mb < PEAK_RSS_MB, f"{name}: peak RSS {peak_mb} MB"
    if spot is None:
        assert status == "error"
    else:
        assert status == "ok" and spot in spots


@pytest.mark.real
def test_peak_memory_on_the_real_zip_bomb() -> None:
    from conftest import require_real

    require_real()
    status, peak_mb, spots = _peak(REAL / "malformed-zip-bomb.apk")
    assert (status, "zip_bomb" in spots) == ("ok", True)
    assert peak_mb < PEAK_RSS_MB, f"peak RSS {peak_mb} MB on a 1 GiB zip bomb"


def test_a_giant_method_is_a_limit_blind_spot_not_gigabytes() -> None:
    # fixtures/edge/giant-method.apk (21 KB): loan-bulk-sms whose onCreate sets 8,000 registers
    # and then branches 4,000 times. Interpreting it would hold 32 million register entries
    # (1.2 GB, next test); the method is skipped as over MAX_FLOW_COST and said so.
    status, peak_mb, spots = _peak(EDGE / "giant-method.apk")
    assert (status, spots) == ("ok", ["limit"])
    assert peak_mb < PEAK_RSS_MB, f"peak RSS {peak_mb} MB"
    result = audit_app(EDGE / "giant-method.apk")
    (spot,) = result.coverage.blind_spots
    assert spot.detail == (
        "1 method(s) too large for data-flow analysis (over 500,000 blocks x registers), "
        "e.g. MainActivity.onCreate(): their calls are indexed, data flow through them is "
        "not followed"
    )
    assert result.coverage.complete is False
    # the contacts -> SMS loop is in Blaster, which is analysed as usual
    assert result.verdicts.bulk_sms_to_contacts.value == "confirmed"


_UNBOUNDED = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (800 << 20, 800 << 20))
import apkaudit.behaviour.interproc as interproc
interproc.MAX_FLOW_COST = 10**12  # the bound lifted: the giant method is interpreted
from apkaudit.audit import audit_app
result = audit_app(sys.argv[1])
print(result.status, result.error)
"""


def test_running_out_of_memory_mid_analysis_is_a_clean_error() -> None:
    # The MemoryError is answered outside its handler: inside it, the traceback still held
    # the analysis' memory and reporting the error raised a second MemoryError (exit 4).
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    path = EDGE / "giant-method.apk"
    proc = subprocess.run([sys.executable, "-c", _UNBOUNDED, str(path)], capture_output=True,
                          text=True, env=env, timeout=120)  # fmt: skip
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout.strip() == (
        f"error {path}: ran out of memory (over the process memory limit)"
    )


class _Clock:
    """time.monotonic that jumps an hour after ``calls`` calls: the deadline passes mid-run."""

    def __init__(self, calls: int) -> None:
        self.calls, self.now = calls, 1000.0

    def monotonic(self) -> float:
        self.calls -= 1
        if self.calls < 0:
            self.now += 3600
        return self.now


def test_deadline_cuts_the_code_index(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits_module, "time", _Clock(calls=1))
    result = audit_app(REPO / "fixtures" / "apks" / "loan-bulk-sms.apk",
                       AuditOptions(limits=Limits().override(max_seconds=5)))  # fmt: skip
    assert result.status == "ok"
    cuts = [b.detail for b in result.coverage.blind_spots if b.kind == "time_limit"]
    assert "code index stopped at the 5 s time limit in classes.dex" in cuts
    assert result.coverage.complete is False


def test_deadline_cuts_the_behaviour_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    from apkaudit.code import index as codeindex

    monkeypatch.setattr(codeindex, "NO_DEADLINE", Deadline(None))  # index runs whole
    clock = _Clock(calls=10**9)
    monkeypatch.setattr(limits_module, "time", clock)
    original = codeindex.build_code_index

    def index_then_expire(*args, **kwargs):
        out = original(*args, **{**kwargs, "deadline": Deadline(None)})
        clock.calls = 0  # the clock jumps once the behaviour stage starts polling
        return out

    monkeypatch.setattr("apkaudit.audit.build_code_index", index_then_expire)
    result = audit_app(REPO / "fixtures" / "apks" / "loan-bulk-sms.apk",
                       AuditOptions(limits=Limits().override(max_seconds=5)))  # fmt: skip
    spots = {b.kind: b.detail for b in result.coverage.blind_spots}
    assert spots["time_limit"].startswith("behaviour analysis stopped at the 5 s time limit")
    assert result.verdicts.sms_send.value == "confirmed"  # from the code index alone
    assert result.coverage.complete is False


def test_no_deadline_never_expires() -> None:
    d = Deadline(None)
    assert not d.expired() and not d.check("x") and d.hit == []
    assert Deadline(0).check("x") is False  # 0: no deadline
