#!/usr/bin/env python3
"""Score apkaudit on DroidBench 3.0: reported source→sink flows against the documented leaks.

    python bench/droidbench.py                          # audit ../shared/droidbench, --jobs 2
    python bench/droidbench.py --jobs 1 --per-app       # also list every app
    python bench/droidbench.py --from results.json      # score a finished `apkaudit batch` run
    python bench/droidbench.py --from-snap /tmp/snap-x  # score the JSON reports of tools/snap.py
    python bench/droidbench.py --min-recall 85 --min-precision 90   # exit 1 below the targets

Ground truth: ``droidbench_truth.tsv`` next to the apps (one row per APK: ``expected_leaks``, the
``@number_of_leaks`` of the test's own source, and the source and sink families the test uses).

What counts as one reported flow: one **sink instruction** (dex, class, method, offset: the last
hop of a chain) that a chain from a personal-data source reaches, at level ``likely`` or
``confirmed`` (a chain with an end proven unreachable is reported as ``possible``: the report says
the code is there but does not run, so it is not counted; ``--count-possible`` counts it).
DroidBench marks each leak at its sink statement (``// sink, leak``), and counts a statement once
however many sources reach it; two chains that end at the same instruction (an SMS destination and
its text, or two paths from one identifier) are one flow. Chains without a data source
(``reflection``: a reflective SmsManager call found, no data followed) are not flows.

Per app, a reported flow is *on family* when its source kind and its sink kind are among the
families the test uses (``source_families``/``sink_families``; ``-`` accepts any). Flows off
family are false positives outright; of the rest, ``TP = min(on-family, expected)``, the surplus
is FP, and ``FN = expected - TP``. Apps whose truth is unknown (no ``@number_of_leaks``) are
listed but not scored. Recall = TP / (TP + FN), precision = TP / (TP + FP), over all scored apps
and per category.

The apps run through ``python -m apkaudit batch --jobs N --rescan -f json`` (the same engine
and tables as for every app), so the figure includes the batch machinery; the wall time of
that run is reported too. Results: a Markdown table on standard output and
``bench/results/droidbench-latest.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DIR = REPO.parent / "shared" / "droidbench"
DEFAULT_OUTPUT = REPO / "bench" / "results" / "droidbench-latest.json"

# Chain sink kind -> DroidBench sink family (truth column sink_families).
SINK_FAMILY = {
    "sms_destination": "sms",
    "sms_body": "sms",
    "sms_intent": "sms",
    "log": "log",
    "file": "file",
    "network": "network",
    "js_bridge": "network",
    "ipc": "ipc",
}
# Chain source kinds that are data (everything else, e.g. "reflection", is not a flow).
DATA_SOURCES = frozenset(
    {
        "contacts",
        "sms",
        "call_log",
        "device_id",
        "phone_number",
        "location",
        "accounts",
        "installed_apps",
        "media",
        "calendar",
        "clipboard",
        "user_input",
        "network_response",
        "network",  # the older name of network_response
    }
)


@dataclass(frozen=True, slots=True)
class Truth:
    apk: str  # path under the DroidBench folder
    category: str
    app: str
    expected: int | None  # None: the test states no @number_of_leaks
    sources: frozenset[str]  # empty: any
    sinks: frozenset[str]  # empty: any


@dataclass(frozen=True, slots=True)
class Flow:
    source: str
    sink: str
    at: str  # "class.method@offset" of the sink instruction (dex-qualified)

    @property
    def label(self) -> str:
        return f"{self.source}->{self.sink} @ {self.at}"


@dataclass(slots=True)
class AppScore:
    truth: Truth
    status: str  # ok | error | missing
    flows: list[Flow] = field(default_factory=list)
    off_family: list[Flow] = field(default_factory=list)
    tp: int = 0
    fp: int = 0
    fn: int = 0
    seconds: float | None = None


def _families(cell: str) -> frozenset[str]:
    parts = {p.strip() for p in cell.split(",")}
    return frozenset(p for p in parts if p and p != "-")


def read_truth(path: Path) -> list[Truth]:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    out = []
    for r in rows:
        exp = r["expected_leaks"].strip()
        out.append(
            Truth(
                r["apk"],
                r["category"],
                r["app"],
                int(exp) if exp.isdigit() else None,
                _families(r["source_families"]),
                _families(r["sink_families"]),
            )
        )
    return out


def flows_of(app: Mapping[str, Any], count_possible: bool = False) -> list[Flow]:
    """The distinct sink instructions reached by a data chain, one Flow each (first chain wins,
    in report order, which is deterministic)."""
    seen: dict[str, Flow] = {}
    for chain in app.get("chains") or ():
        source = chain.get("source", "")
        hops = chain.get("hops") or ()
        if source not in DATA_SOURCES or not hops:
            continue
        if chain.get("reachable") is False and not count_possible:
            continue
        loc = hops[-1]["location"]
        at = f"{loc.get('dex', '')}!{loc['class']}.{loc['method']}@{loc['offset']:#x}"
        if at not in seen:
            seen[at] = Flow(source, chain.get("sink", ""), at)
    return list(seen.values())


def _on_family(flow: Flow, t: Truth) -> bool:
    src = flow.source if flow.source != "network" else "network_response"
    src_ok = not t.sources or src in t.sources
    sink_ok = not t.sinks or SINK_FAMILY.get(flow.sink, flow.sink) in t.sinks
    return src_ok and sink_ok


def score_app(t: Truth, app: Mapping[str, Any] | None, count_possible: bool = False) -> AppScore:
    if app is None:
        s = AppScore(t, "missing")
    elif app.get("status") != "ok":
        s = AppScore(t, "error")
    else:
        s = AppScore(t, "ok")
        for f in flows_of(app, count_possible):
            (s.flows if _on_family(f, t) else s.off_family).append(f)
    if t.expected is None:
        return s
    s.tp = min(len(s.flows), t.expected)
    s.fp = len(s.flows) - s.tp + len(s.off_family)
    s.fn = t.expected - s.tp
    return s


@dataclass(frozen=True, slots=True)
class Totals:
    apps: int
    expected: int
    tp: int
    fp: int
    fn: int

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None


def totals(scores: Iterable[AppScore]) -> Totals:
    ss = [s for s in scores if s.truth.expected is not None]
    return Totals(
        len(ss),
        sum(s.truth.expected or 0 for s in ss),
        sum(s.tp for s in ss),
        sum(s.fp for s in ss),
        sum(s.fn for s in ss),
    )


# ---------------------------------------------------------------------------- inputs


def _key(path: str, root: Path) -> str:
    """An app's truth key: its path under the DroidBench folder (``Category/[Sub/]App.apk``)."""
    p = Path(path)
    if not p.is_absolute():  # batch names an input relative to its folder's parent
        p = root.parent / p
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


def run_batch(root: Path, jobs: int, timeout: float) -> tuple[dict[str, Any], dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="apkaudit-droidbench-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "apkaudit",
            "batch",
            str(root),
            "--jobs",
            str(jobs),
            "--out",
            tmp,
            "--rescan",
            "-q",
            "-f",
            "json",
            "--allow-errors",
            "--timeout",
            str(timeout),
        ]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        wall = round(time.perf_counter() - start, 2)
        results = Path(tmp) / "results.json"
        if not results.is_file():
            raise SystemExit(f"batch failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
        report = json.loads(results.read_text())
        stats = json.loads((Path(tmp) / "run.json").read_text())
    stats["driver_wall_seconds"] = wall
    stats["exit_code"] = proc.returncode
    return report, stats


def apps_from_report(report: Mapping[str, Any], root: Path) -> dict[str, dict[str, Any]]:
    return {_key(a["input"]["path"], root): a for a in report.get("apps", ())}


def apps_from_snap(snap: Path, root: Path) -> dict[str, dict[str, Any]]:
    """tools/snap.py names each report ``shared__droidbench__<Category>__<App>.apk.json``."""
    out: dict[str, dict[str, Any]] = {}
    for f in sorted(snap.glob("shared__droidbench__*.apk.json")):
        key = f.name[len("shared__droidbench__") : -len(".json")].replace("__", "/")
        try:
            doc = json.loads(f.read_text())
        except ValueError:
            continue
        if doc.get("apps"):
            out[key] = doc["apps"][0]
    return out


# ---------------------------------------------------------------------------- output


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f} %"


def category_rows(scores: list[AppScore]) -> list[tuple[str, Totals]]:
    cats: dict[str, list[AppScore]] = {}
    for s in scores:
        cats.setdefault(s.truth.category, []).append(s)
    rows = [(c, totals(ss)) for c, ss in sorted(cats.items())]
    rows.append(("**all**", totals(scores)))
    return rows


def markdown(scores: list[AppScore], per_app: bool) -> str:
    lines = [
        "| category | apps | expected leaks | TP | FP | FN | recall | precision |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for cat, t in category_rows(scores):
        lines.append(
            f"| {cat} | {t.apps} | {t.expected} | {t.tp} | {t.fp} | {t.fn} | "
            f"{_pct(t.recall)} | {_pct(t.precision)} |"
        )
    unscored = [s.truth.apk for s in scores if s.truth.expected is None]
    if unscored:
        lines.append("")
        lines.append(f"Not scored (no `@number_of_leaks` in the test): {', '.join(unscored)}.")
    bad = [f"{s.truth.apk} ({s.status})" for s in scores if s.status != "ok"]
    if bad:
        lines.append(f"Not audited: {', '.join(bad)}.")
    if per_app:
        lines += [
            "",
            "| app | expected | reported | TP | FP | FN | flows |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for s in scores:
            exp = "?" if s.truth.expected is None else str(s.truth.expected)
            flows = "; ".join(
                [f.label for f in s.flows] + [f"off-family {f.label}" for f in s.off_family]
            )
            lines.append(
                f"| {s.truth.apk} | {exp} | {len(s.flows) + len(s.off_family)} | {s.tp} | "
                f"{s.fp} | {s.fn} | {flows} |"
            )
    return "\n".join(lines)


def as_json(scores: list[AppScore], stats: dict[str, Any] | None) -> dict[str, Any]:
    def tot(t: Totals) -> dict[str, Any]:
        return {**asdict(t), "recall": t.recall, "precision": t.precision}

    return {
        "overall": tot(totals(scores)),
        "categories": {c: tot(t) for c, t in category_rows(scores)[:-1]},
        "apps": [
            {
                "apk": s.truth.apk,
                "category": s.truth.category,
                "status": s.status,
                "expected": s.truth.expected,
                "tp": s.tp,
                "fp": s.fp,
                "fn": s.fn,
                "flows": [asdict(f) for f in s.flows],
                "off_family": [asdict(f) for f in s.off_family],
            }
            for s in scores
        ],
        "batch": stats,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--dir", type=Path, default=DEFAULT_DIR, help="DroidBench folder (with the truth)"
    )
    ap.add_argument("--jobs", "-j", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=300.0, help="per-app limit of the batch")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--from", dest="from_json", type=Path, help="score this results.json")
    src.add_argument("--from-snap", type=Path, help="score a tools/snap.py output folder")
    ap.add_argument("--per-app", action="store_true", help="also print one row per app")
    ap.add_argument(
        "--count-possible", action="store_true", help="also count chains proven unreachable"
    )
    ap.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    ap.add_argument("--min-recall", type=float, help="exit 1 if overall recall (%%) is lower")
    ap.add_argument("--min-precision", type=float, help="exit 1 if overall precision (%%) is lower")
    args = ap.parse_args(argv)

    truth = read_truth(args.dir / "droidbench_truth.tsv")
    stats: dict[str, Any] | None = None
    if args.from_json:
        apps = apps_from_report(json.loads(args.from_json.read_text()), args.dir)
    elif args.from_snap:
        apps = apps_from_snap(args.from_snap, args.dir)
    else:
        report, stats = run_batch(args.dir, args.jobs, args.timeout)
        apps = apps_from_report(report, args.dir)
    scores = [score_app(t, apps.get(t.apk), args.count_possible) for t in truth]
    print(markdown(scores, args.per_app))
    if stats:
        print(
            f"\nbatch --jobs {stats.get('jobs')}: {stats.get('apps')} apps in "
            f"{stats.get('wall_seconds')} s (driver {stats.get('driver_wall_seconds')} s)"
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(as_json(scores, stats), indent=1) + "\n")
    overall = totals(scores)
    failed = False
    if args.min_recall is not None and 100 * (overall.recall or 0) < args.min_recall:
        failed = True
    if args.min_precision is not None and 100 * (overall.precision or 0) < args.min_precision:
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
