#!/usr/bin/env python3
"""Benchmark `apkaudit scan` against androguard's `AnalyzeAPK` on real APKs.

Every measurement runs in its own child process, so the peak RSS reported is that run's own
(read from the child's rusage with ``os.wait4``; nothing is shared between runs). Wall time is
measured around the child, so it includes interpreter start-up and imports for both tools.

    python bench/bench_scan.py                       # every *.apk in ../shared/real-apks/
    python bench/bench_scan.py path/to/app.apk --repeat 5
    python bench/bench_scan.py --only-scan           # skip androguard

Results: a table on standard output and ``bench/results/latest.json``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DIR = REPO.parent / "shared" / "real-apks"
FIRST = "large-uiautomator2-server.apk"
DEFAULT_OUTPUT = REPO / "bench" / "results" / "latest.json"

# The child that runs androguard: loguru silenced (as apkaudit's adapter does), then the full
# AnalyzeAPK (APK + every DEX + Analysis with xrefs). It prints a few counts as proof of work.
ANALYZE_CHILD = r"""
import json, sys
from loguru import logger
logger.remove()
logger.disable("androguard")
from androguard.misc import AnalyzeAPK
a, d, dx = AnalyzeAPK(sys.argv[1])
print(json.dumps({"dex": len(d), "classes": sum(1 for _ in dx.get_classes()),
                  "methods": sum(1 for _ in dx.get_methods())}))
"""


@dataclass
class Run:
    wall_s: float
    peak_mib: float
    cpu_s: float  # user + system CPU seconds of the child (and its reaped children)
    exit_code: int  # negative: killed by that signal
    timed_out: bool = False
    stderr_tail: str = ""
    stdout_tail: str = ""


@dataclass
class ToolResult:
    runs: list[Run] = field(default_factory=list)
    median_wall_s: float | None = None
    median_cpu_s: float | None = None
    max_peak_mib: float | None = None
    ok: bool = False
    error: str | None = None  # why the tool did not produce a result, if it did not

    def summarise(self, ok_codes: tuple[int, ...]) -> None:
        good = [r for r in self.runs if not r.timed_out and r.exit_code in ok_codes]
        self.ok = bool(good) and len(good) == len(self.runs)
        if self.runs:
            self.median_wall_s = round(statistics.median(r.wall_s for r in self.runs), 3)
            self.median_cpu_s = round(statistics.median(r.cpu_s for r in self.runs), 3)
            self.max_peak_mib = round(max(r.peak_mib for r in self.runs), 1)
        bad = next((r for r in self.runs if r not in good), None)
        if bad is not None:
            if bad.timed_out:
                self.error = f"timed out after {bad.wall_s:.0f} s"
            elif bad.exit_code < 0:
                self.error = f"killed by signal {-bad.exit_code}"
            else:
                self.error = f"exit {bad.exit_code}: {_error_line(bad.stderr_tail)}"


@dataclass
class AppBench:
    file: str
    path: str
    size_bytes: int
    malformed: bool
    scan: ToolResult
    analyze: ToolResult | None  # None with --only-scan
    wall_ratio: float | None = None  # AnalyzeAPK median wall / scan median wall
    cpu_ratio: float | None = None  # scan median CPU / AnalyzeAPK median CPU (goal <= 0.03)
    rss_ratio: float | None = None  # AnalyzeAPK max peak / scan max peak


def measure(cmd: list[str], timeout: float) -> Run:
    """Run ``cmd`` in a new process group; wall time and the child's own peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            start_new_session=True,
        )  # fmt: skip
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # stop Popen from reaping again
        out.seek(0)
        err.seek(0)
        return Run(
            wall_s=round(wall, 3),
            cpu_s=round(usage.ru_utime + usage.ru_stime, 3),
            peak_mib=round(usage.ru_maxrss / 1024, 1),  # Linux: ru_maxrss is in KiB
            exit_code=proc.returncode,
            timed_out=timed_out,
            stderr_tail=err.read()[-2000:].decode("utf-8", "replace"),
            stdout_tail=out.read()[-500:].decode("utf-8", "replace"),
        )


def scan_cmd(apk: Path) -> list[str]:
    return [sys.executable, "-m", "apkaudit", "scan", str(apk), "-o", os.devnull,
            "--format", "json"]  # fmt: skip


def analyze_cmd(apk: Path) -> list[str]:
    return [sys.executable, "-c", ANALYZE_CHILD, str(apk)]


def _fmt_run(run: Run) -> str:
    return (
        f"{run.wall_s:7.2f} s wall {run.cpu_s:7.2f} s CPU {run.peak_mib:8.1f} MiB"
        f" exit {run.exit_code}"
    )


def _error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    pick = next((ln for ln in lines if ln.startswith("apkaudit: error")), None)
    return (pick or (lines[-1] if lines else ""))[:300]


def bench_one(apk: Path, repeat: int, only_scan: bool, timeout: float, log) -> AppBench:
    """``repeat`` runs of each tool, interleaved (scan, AnalyzeAPK, scan, ...): on a shared
    machine whose speed drifts, both tools then sample the same stretch of time."""
    malformed = apk.name.startswith("malformed-")
    scan = ToolResult()
    analyze: ToolResult | None = None if only_scan else ToolResult()
    for i in range(repeat):
        run = measure(scan_cmd(apk), timeout)
        scan.runs.append(run)
        log(f"  scan       #{i + 1}: {_fmt_run(run)}")
        if run.exit_code == 3:  # input error: the file is not auditable
            malformed = True
        # AnalyzeAPK stops at its first failure (it may crash or blow up; that is recorded).
        if analyze is not None and (not analyze.runs or analyze.runs[-1].exit_code == 0):
            run = measure(analyze_cmd(apk), timeout)
            analyze.runs.append(run)
            log(f"  AnalyzeAPK #{i + 1}: {_fmt_run(run)}")
        if malformed:  # one run of each tool is enough for a malformed file
            break
    scan.summarise((0, 1, 3) if malformed else (0, 1))
    if malformed and scan.runs and scan.runs[-1].exit_code == 3:
        scan.error = "input error (exit 3): " + _error_line(scan.runs[-1].stderr_tail)
    if analyze is not None:
        analyze.summarise((0,))

    result = AppBench(apk.name, str(apk), apk.stat().st_size, malformed, scan, analyze)
    if (
        analyze is not None and analyze.ok and scan.ok and not malformed
        and scan.median_wall_s and scan.max_peak_mib
    ):  # fmt: skip
        result.wall_ratio = round(analyze.median_wall_s / scan.median_wall_s, 1)
        if analyze.median_cpu_s:
            result.cpu_ratio = round((scan.median_cpu_s or 0) / analyze.median_cpu_s, 3)
        result.rss_ratio = round(analyze.max_peak_mib / scan.max_peak_mib, 1)
    return result


def default_apks() -> list[Path]:
    apks = sorted(DEFAULT_DIR.glob("*.apk"))
    return sorted(apks, key=lambda p: (p.name != FIRST, p.name))


def _num(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def table(results: list[AppBench]) -> str:
    head = ("file", "size MB", "scan s", "scan CPU s", "scan MiB", "AnalyzeAPK s",
            "AnalyzeAPK CPU s", "AnalyzeAPK MiB", "x time", "scan/AnalyzeAPK CPU",
            "x RSS")  # fmt: skip
    rows = [head]
    for r in results:
        a = r.analyze
        if a is None:
            a_wall = a_cpu = a_rss = "skipped"
        elif not a.ok:
            a_wall, a_cpu, a_rss = "error", "-", _num(a.max_peak_mib, ".0f")
        else:
            a_wall, a_rss = _num(a.median_wall_s, ".2f"), _num(a.max_peak_mib, ".0f")
            a_cpu = _num(a.median_cpu_s, ".2f")
        s_wall = _num(r.scan.median_wall_s, ".2f") + ("" if r.scan.ok else " (err)")
        if r.malformed and r.scan.ok:
            s_wall += " (exit 3)"  # refused, or salvaged with a partial report
        rows.append((
            r.file, f"{r.size_bytes / 1e6:.2f}", s_wall, _num(r.scan.median_cpu_s, ".2f"),
            _num(r.scan.max_peak_mib, ".0f"), a_wall, a_cpu, a_rss, _num(r.wall_ratio, ".1f"),
            _num(r.cpu_ratio, ".3f"), _num(r.rss_ratio, ".1f"),
        ))  # fmt: skip
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    lines = []
    for n, row in enumerate(rows):
        cells = [str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in
                 enumerate(zip(row, widths, strict=True))]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    notes = [
        f"- {r.file}: {tool} {res.error}"
        for r in results
        for tool, res in (("scan", r.scan), ("AnalyzeAPK", r.analyze))
        if res is not None and res.error
    ]
    return "\n".join(lines + (["", *notes] if notes else []))


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "apkaudit"], cwd=REPO, capture_output=True,
            text=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def machine(load_before: tuple[float, ...], load_after: tuple[float, ...]) -> dict[str, Any]:
    """What the figures depend on: CPUs, platform, Python and the load around the run."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
    }


def _versions() -> dict[str, str | None]:
    code = (
        "import importlib.metadata as m, json\n"
        "def v(n):\n"
        "    try: return m.version(n)\n"
        "    except Exception: return None\n"
        "out = {n: v(n) for n in ('apkaudit', 'androguard')}\n"
        "import apkaudit\n"  # the working tree's version (run from the repository root)
        "out['apkaudit'] = apkaudit.__version__\n"
        "print(json.dumps(out))"
    )
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
        return json.loads(out.stdout)
    except (OSError, ValueError):
        return {}


def _compile_bytecode(log: Callable[[str], None]) -> None:
    """Byte-compile apkaudit's modules once, as pip does when it installs a wheel (androguard's
    are compiled that way). Without it, under ``PYTHONDONTWRITEBYTECODE`` (set in some
    environments, ours included) every run of ``scan`` recompiles ~180 modules: ~0.2 s of
    CPU that an installed copy never pays."""
    import compileall

    import apkaudit

    package = Path(apkaudit.__file__).parent
    if not compileall.compile_dir(str(package), quiet=1):
        log(f"note: could not byte-compile {package}; scan figures include compiling it")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "apks",
        nargs="*",
        type=Path,
        help=f"APK files (default: every *.apk in {DEFAULT_DIR}, {FIRST} first)",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs per tool and APK; the median wall and max RSS are reported",
    )
    ap.add_argument("--only-scan", action="store_true", help="do not run androguard AnalyzeAPK")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per run (default 900)")
    ap.add_argument(
        "-o",
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="JSON results (default: bench/results/latest.json)",
    )
    ap.add_argument("-q", "--quiet", action="store_true", help="no per-run progress on stderr")
    args = ap.parse_args(argv)  # fmt: skip
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    apks = args.apks or default_apks()
    if not apks:
        ap.error(f"no APKs given and none found in {DEFAULT_DIR}")
    missing = [str(p) for p in apks if not p.is_file()]
    if missing:
        ap.error("not a file: " + ", ".join(missing))

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    _compile_bytecode(log)
    load_before = os.getloadavg()
    started = datetime.now(UTC).replace(microsecond=0).isoformat()
    results = []
    for apk in apks:
        log(f"{apk.name} ({apk.stat().st_size / 1e6:.2f} MB)")
        results.append(bench_one(apk, args.repeat, args.only_scan, args.timeout, log))
    load_after = os.getloadavg()

    doc = {
        "started_at": started,
        "machine": machine(load_before, load_after),
        "versions": _versions(),
        "git_commit": _git_commit(),
        "repeat": args.repeat,
        "only_scan": args.only_scan,
        "units": {
            "wall": "seconds (median)",
            "cpu": "user + system CPU seconds of the child (median)",
            "peak": "MiB (max ru_maxrss of the child)",
        },
        "results": [asdict(r) for r in results],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")

    print(table(results))
    print(
        f"\n{os.cpu_count()} CPUs; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after; repeat {args.repeat}; results: {args.output}"
    )
    return 0 if all(r.scan.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
