"""The long fuzz run: ``python -m tests.fuzz --runs 100000 --jobs 2``.

Inputs are numbered; input ``i`` of target ``t`` with ``--seed s`` is always the same bytes
(``harness.input_for``), so any failure is reproduced with ``--replay t:s:i``. Failing inputs are
written to ``--out`` (default tests/fuzz/crashes/, ignored by git) with their traceback; a fixed
one becomes a regression test by moving the .bin file to tests/fuzz/regressions/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

from tests.fuzz import harness

HERE = Path(__file__).resolve().parent
MAX_SAVED = 5  # failing inputs written to --out per chunk of 500; the rest only counted


def _work(args: tuple[str, int, int, int, float, str]) -> dict:
    target, seed, start, stop, timeout, out = args
    fails, slowest, slowest_i = [], 0.0, -1
    with tempfile.TemporaryDirectory(prefix="apkaudit-fuzz.") as wd:
        for i in range(start, stop):
            data = harness.input_for(seed, i, target)
            t0 = time.perf_counter()
            problem = harness.check(target, data, timeout, wd)
            dt = time.perf_counter() - t0
            if dt > slowest:
                slowest, slowest_i = dt, i
            if problem and len(fails) >= MAX_SAVED:  # counted, not saved: a known failure
                fails.append(f"{target}:{seed}:{i}: {problem.strip().splitlines()[-1]}")
            elif problem:
                digest = hashlib.sha1(data).hexdigest()[:16]
                base = Path(out) / f"{target}-{digest}"
                base.with_suffix(".bin").write_bytes(data)
                base.with_suffix(".txt").write_text(f"{target}:{seed}:{i}\n{problem}")
                fails.append(
                    f"{target}:{seed}:{i} -> {base}.bin: {problem.strip().splitlines()[-1]}"
                )
    return {"target": target, "n": stop - start, "fails": fails, "slowest": slowest,
            "slowest_input": f"{target}:{seed}:{slowest_i}"}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10_000, help="inputs in total (all targets)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=30.0, help="per-input limit in seconds")
    ap.add_argument("--targets", default=",".join(harness.TARGETS))
    share = "container=6,manifest=2,dex=2,dexgrammar=2,bundle=2,render=2,axml=2"
    ap.add_argument("--share", default=share, help="relative share of the runs per target")
    ap.add_argument("--out", default=str(HERE / "crashes"))
    ap.add_argument("--replay", help="TARGET:SEED:INDEX: run one input and print the outcome")
    args = ap.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.replay:
        target, seed, index = args.replay.split(":")
        data = harness.input_for(int(seed), int(index), target)
        print(harness.check(target, data, args.timeout) or "ok")
        return 0
    targets = [t for t in args.targets.split(",") if t]
    share = {k: float(v) for k, v in (p.split("=") for p in args.share.split(","))}
    total_share = sum(share.get(t, 1.0) for t in targets)
    counts = {t: round(args.runs * share.get(t, 1.0) / total_share) for t in targets}
    chunk = 500
    tasks = [(t, args.seed, a, min(a + chunk, n), args.timeout, args.out)
             for t, n in counts.items() for a in range(0, n, chunk)]  # fmt: skip
    tasks.sort(key=lambda task: task[2])  # targets interleaved: a cut-short run covers all
    harness.load_seeds()  # fail fast if the fixtures are missing
    harness.warm()
    t0 = time.time()
    done = {t: 0 for t in targets}
    fails: list[str] = []
    slowest = (0.0, "")
    with mp.get_context("fork").Pool(args.jobs, maxtasksperchild=4) as pool:
        for res in pool.imap_unordered(_work, tasks):
            done[res["target"]] += res["n"]
            fails += res["fails"]
            if res["slowest"] > slowest[0]:
                slowest = (res["slowest"], res["slowest_input"])
            total = sum(done.values())
            print(f"\r{total}/{args.runs} inputs, {len(fails)} failure(s), "
                  f"{time.time() - t0:.0f} s", end="", file=sys.stderr, flush=True)  # fmt: skip
    wall = time.time() - t0
    print(file=sys.stderr)
    summary = {"inputs": sum(done.values()), "per_target": done, "failures": len(fails),
               "wall_seconds": round(wall, 1), "jobs": args.jobs, "seed": args.seed,
               "per_input_timeout": args.timeout, "slowest_seconds": round(slowest[0], 2),
               "slowest_input": slowest[1],
               "seeds": len(harness.load_seeds().containers)}  # fmt: skip
    print(json.dumps(summary, indent=2))
    for f in fails:
        print(f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
