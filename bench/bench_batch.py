#!/usr/bin/env python3
"""Benchmark `apkaudit batch` over whole directories, against androguard's `AnalyzeAPK`.

In one run, over the same files:

1. ``python -m apkaudit batch DIR... --jobs N --rescan`` (every app audited, all outputs
   written) in a child process: whole-run wall time, apps/s, the per-app audit time measured
   in the workers (median) and the peak RSS of every worker (from the run's ``run.json``);
2. androguard ``AnalyzeAPK`` on every file the batch found, each in its own child process,
   N at a time: whole-set wall time, apps/s, the per-app time of the ``AnalyzeAPK`` call
   itself (median; printed by the child, so interpreter start-up is excluded as it is for the
   batch workers) and each child's peak RSS.

    python bench/bench_batch.py                        # ../shared/real-apks, --jobs 2
    python bench/bench_batch.py some/dir other/dir --jobs 4
    python bench/bench_batch.py --only-batch

Results: a Markdown table on standard output and ``bench/results/batch-latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scan import REPO, Run, _git_commit, _versions, machine, measure

DEFAULT_DIR = REPO.parent / "shared" / "real-apks"
DEFAULT_OUTPUT = REPO / "bench" / "results" / "batch-latest.json"

# AnalyzeAPK in a child: loguru silenced, then the timed call; prints the counts and seconds.
ANALYZE_CHILD = r"""
import json, sys, time
from loguru import logger
logger.remove()
logger.disable("androguard")
from androguard.misc import AnalyzeAPK
t = time.perf_counter()
a, d, dx = AnalyzeAPK(sys.argv[1])
seconds = time.perf_counter() - t
print(json.dumps({"seconds": round(seconds, 4), "dex": len(d),
                  "methods": sum(1 for _ in dx.get_methods())}))
"""


@dataclass
class AnalyzeResult:
    path: str
    ok: bool
    seconds: float | None  # the AnalyzeAPK call, measured in the child
    run: Run


def run_batch(dirs: list[Path], jobs: int, timeout: float) -> tuple[Run, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="apkaudit-bench-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "apkaudit",
            "batch",
            *map(str, dirs),
            "--jobs",
            str(jobs),
            "--out",
            tmp,
            "--rescan",
            "-q",
            "--timeout",
            str(timeout),
        ]
        run = measure(cmd, timeout * 10)
        stats_file = Path(tmp) / "run.json"
        if not stats_file.is_file():
            raise SystemExit(f"batch failed (exit {run.exit_code}):\n{run.stderr_tail}")
        stats: dict[str, Any] = json.loads(stats_file.read_text())
    return run, stats


def analyze_one(path: str, timeout: float) -> AnalyzeResult:
    run = measure([sys.executable, "-c", ANALYZE_CHILD, path], timeout)
    seconds = None
    if run.exit_code == 0 and not run.timed_out:
        try:
            seconds = json.loads(run.stdout_tail.strip().splitlines()[-1])["seconds"]
        except (ValueError, IndexError, KeyError):
            seconds = None
    return AnalyzeResult(path, seconds is not None, seconds, run)


def run_analyze(paths: list[str], jobs: int, timeout: float) -> tuple[float, list[AnalyzeResult]]:
    import time

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as ex:
        results = list(ex.map(lambda p: analyze_one(p, timeout), paths))
    return round(time.perf_counter() - start, 3), results


def _median(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 3) if xs else None


def _fmt(v: float | None, spec: str, unit: str = "") -> str:
    return "-" if v is None else f"{format(v, spec)}{unit}"


def summarise(
    batch_run: Run,
    stats: dict[str, Any],
    a_wall: float | None,
    analyzed: list[AnalyzeResult] | None,
    jobs: int,
) -> dict[str, Any]:
    rows = stats["rows"]
    n = len(rows)
    ok_rows = [r for r in rows if r["status"] == "ok"]
    peaks = {k: round(v / 1024, 1) for k, v in stats["worker_peak_rss_kib"].items()}
    out: dict[str, Any] = {
        "files": n,
        "jobs": jobs,
        "batch": {
            "wall_s": batch_run.wall_s,
            "cpu_s": batch_run.cpu_s,  # driver + every worker, user + system
            "exit_code": batch_run.exit_code,
            "apps_per_s": round(n / batch_run.wall_s, 2) if batch_run.wall_s else None,
            "ok": len(ok_rows),
            "error_rows": n - len(ok_rows),
            "median_app_s": _median([r["seconds"] for r in rows if r["seconds"] is not None]),
            "median_ok_app_s": _median([r["seconds"] for r in ok_rows if r["seconds"] is not None]),
            "worker_peak_mib": peaks,
            "max_worker_peak_mib": max(peaks.values()) if peaks else None,
            "workers_started": stats.get("workers_started"),
            "driver_and_workers_peak_mib": batch_run.peak_mib,
        },
    }
    if analyzed is not None:
        good = [a for a in analyzed if a.ok]
        ok_paths = {r["path"] for r in ok_rows}
        out["analyze"] = {
            "wall_s": a_wall,
            "cpu_s": round(sum(a.run.cpu_s for a in analyzed), 3),
            "apps_per_s": round(n / a_wall, 2) if a_wall else None,
            "ok": len(good),
            "failed": len(analyzed) - len(good),
            "median_app_s": _median([a.seconds for a in good if a.seconds is not None]),
            "median_ok_app_s": _median(
                [a.seconds for a in good if a.seconds is not None and a.path in ok_paths]
            ),
            "median_process_wall_s": _median([a.run.wall_s for a in good]),
            "max_peak_mib": max((a.run.peak_mib for a in analyzed), default=None),
            "median_peak_mib": _median([a.run.peak_mib for a in good]),
        }
    return out


def table(s: dict[str, Any], analyzed: list[AnalyzeResult] | None, stats: dict[str, Any]) -> str:
    b, a = s["batch"], s.get("analyze")
    j = s["jobs"]
    peaks = ", ".join(f"{v:.0f}" for v in b["worker_peak_mib"].values())
    rows = [
        ("", f"apkaudit batch --jobs {j}", f"AnalyzeAPK, one process per file, {j} at a time"),
        ("files", str(s["files"]), str(s["files"])),
        (
            "results",
            f"{b['ok']} ok, {b['error_rows']} error rows",
            f"{a['ok']} ok, {a['failed']} failed" if a else "skipped",
        ),
        ("whole-directory wall time", f"{b['wall_s']:.2f} s", _fmt(a and a["wall_s"], ".2f", " s")),
        (
            "whole-run CPU (user + system)",
            f"{b['cpu_s']:.2f} s",
            _fmt(a and a["cpu_s"], ".2f", " s"),
        ),
        ("apps/s", _fmt(b["apps_per_s"], ".2f"), _fmt(a and a["apps_per_s"], ".2f")),
        (
            "per-app median (all that completed)",
            _fmt(b["median_app_s"], ".3f", " s"),
            _fmt(a and a["median_app_s"], ".3f", " s"),
        ),
        (
            "per-app median (apps apkaudit audited)",
            _fmt(b["median_ok_app_s"], ".3f", " s"),
            _fmt(a and a["median_ok_app_s"], ".3f", " s"),
        ),
        (
            "peak RSS per worker / process",
            f"max {b['max_worker_peak_mib']:.0f} MiB ({peaks})",
            f"max {a['max_peak_mib']:.0f} MiB, median {a['median_peak_mib']:.0f} MiB" if a else "-",
        ),
    ]
    lines = _md(rows)
    if analyzed is not None:
        by_path = {r["path"]: r for r in stats["rows"]}
        per = [("file", "apkaudit status", "apkaudit s", "AnalyzeAPK s", "AnalyzeAPK MiB")]
        for res in analyzed:
            r = by_path.get(res.path, {})
            a_s = (
                _fmt(res.seconds, ".2f")
                if res.ok
                else ("timeout" if res.run.timed_out else f"failed (exit {res.run.exit_code})")
            )
            per.append(
                (
                    Path(res.path).name,
                    f"{r.get('status')} ({r.get('kind')})",
                    _fmt(r.get("seconds"), ".3f"),
                    a_s,
                    f"{res.run.peak_mib:.0f}",
                )
            )
        lines += ["", *_md(per)]
    return "\n".join(lines)


def _md(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="*", type=Path, help=f"directories (default: {DEFAULT_DIR})")
    ap.add_argument("--jobs", type=int, default=2, help="workers / parallel processes (2)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per app (300)")
    ap.add_argument("--only-batch", action="store_true", help="do not run AnalyzeAPK")
    ap.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results")
    args = ap.parse_args(argv)
    dirs = args.dirs or [DEFAULT_DIR]
    missing = [str(d) for d in dirs if not d.is_dir()]
    if missing:
        ap.error("not a directory: " + ", ".join(missing))

    load_before = os.getloadavg()
    started = datetime.now(UTC).replace(microsecond=0).isoformat()
    print(
        f"apkaudit batch --jobs {args.jobs} over {', '.join(map(str, dirs))} ...",
        file=sys.stderr,
        flush=True,
    )
    batch_run, stats = run_batch(dirs, args.jobs, args.timeout)
    analyzed = a_wall = None
    if not args.only_batch:
        paths = [str(Path(r["path"]).resolve()) for r in stats["rows"]]
        print(
            f"AnalyzeAPK on {len(paths)} files, {args.jobs} at a time ...",
            file=sys.stderr,
            flush=True,
        )
        a_wall, analyzed = run_analyze(paths, args.jobs, args.timeout)
        for r in stats["rows"]:  # same keys for the per-file table
            r["path"] = str(Path(r["path"]).resolve())
    load_after = os.getloadavg()
    summary = summarise(batch_run, stats, a_wall, analyzed, args.jobs)
    doc = {
        "started_at": started,
        "machine": machine(load_before, load_after),
        "versions": _versions(),
        "git_commit": _git_commit(),
        "dirs": [str(d) for d in dirs],
        "summary": summary,
        "batch_run": asdict(batch_run),
        "batch_stats": stats,
        "analyze": [asdict(a) for a in analyzed] if analyzed is not None else None,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(table(summary, analyzed, stats))
    print(
        f"\n{os.cpu_count()} CPUs; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after; results: {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
