"""``apkaudit batch`` end to end: the real corpus, the results store, outputs, gating, worker
isolation (timeout, crash, memory limit) and the Dask executor on a local cluster."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from conftest import FIXTURES, IN_CI, REAL, is_refused, real_index, report_of, require_real
from sarif_check import assert_github_ready, validate_sarif

from apkaudit.cli.main import cli
from apkaudit.cli.options import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, EXIT_USAGE
from apkaudit.corpus.worker import HOOK_ENV, relabel
from apkaudit.model import Severity
from apkaudit.report.json_v1 import report_to_dict
from apkaudit.report.schema import load_schema
from apkaudit.rules import load_rules


def batch(*args: str | os.PathLike[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``apkaudit batch ARGS`` in-process; (exit code, stderr + stdout)."""
    runner = CliRunner()
    result = runner.invoke(cli, ["batch", *map(str, args)], env=env, catch_exceptions=False)
    return result.exit_code, result.output


def load(out: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / name).read_text(encoding="utf-8"))
    return data


def app_pages(out: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted((out / "apps").glob("*.html"))}


def expected_exit(apps: list[dict[str, Any]], fail_on: Severity | None, allow_errors: bool) -> int:
    if fail_on is not None and any(
        Severity(f["severity"]).rank >= fail_on.rank for a in apps for f in a["findings"]
    ):
        return EXIT_FINDINGS
    if any(a["status"] != "ok" for a in apps) and not allow_errors:
        return EXIT_INPUT
    return EXIT_OK


# --------------------------------------------------------------------------- the real corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One batch over the real APKs with --jobs 2 --fail-on high, then a second run."""
    real = require_real()
    out = tmp_path_factory.mktemp("corpus")
    same_date = {"SOURCE_DATE_EPOCH": "1767225600"}  # the two runs' outputs are compared
    code, output = batch(real, "--jobs", "2", "--out", out, "--fail-on", "high", env=same_date)
    first = {
        "code": code,
        "output": output,
        "json": load(out, "results.json"),
        "sarif": load(out, "results.sarif"),
        "stats": load(out, "run.json"),
        "html": app_pages(out),
    }
    code2, output2 = batch(real, "--jobs", "2", "--out", out, "--fail-on", "high", env=same_date)
    second = {
        "code": code2,
        "output": output2,
        "json": load(out, "results.json"),
        "sarif": load(out, "results.sarif"),
        "stats": load(out, "run.json"),
        "html": app_pages(out),
    }
    return {"out": out, "first": first, "second": second}


@pytest.mark.real
@pytest.mark.slow
def test_corpus_has_a_row_per_file_with_the_right_status(corpus: dict[str, Any], audit) -> None:
    rows = {Path(a["input"]["path"]).name: a for a in corpus["first"]["json"]["apps"]}
    index = real_index()
    assert set(rows) == {r["file"] for r in index} == {p.name for p in REAL.glob("*.apk")}
    for r in index:
        app = rows[r["file"]]
        want = "error" if is_refused(r) else "ok"
        assert app["status"] == want, (r["file"], app["error"])
        assert app["input"]["sha256"] == r["sha256"]
        if want == "error":
            assert app["error"] and "\n" not in app["error"]
        elif r["package"]:
            assert app["app"]["package"] == r["package"]
        # the isolated worker gives exactly what the library gives in this process, the input
        # named relative to the directory given (no local folders in shared outputs)
        here = relabel(audit(REAL / r["file"]), str(REAL / r["file"]), f"{REAL.name}/{r['file']}")
        assert app["input"]["path"] == f"{REAL.name}/{r['file']}"
        assert app == report_to_dict(report_of(here))["apps"][0], r["file"]


@pytest.mark.real
@pytest.mark.slow
def test_corpus_json_follows_the_v1_contract(corpus: dict[str, Any]) -> None:
    doc = corpus["first"]["json"]
    jsonschema.validate(doc, load_schema())
    assert doc["tool"]["rules_version"] == load_rules().version


@pytest.mark.real
@pytest.mark.slow
def test_corpus_sarif_validates_against_the_official_schema(corpus: dict[str, Any]) -> None:
    sarif, apps = corpus["first"]["sarif"], corpus["first"]["json"]["apps"]
    validate_sarif(sarif)
    assert_github_ready(sarif)  # region.startLine on every result, line hashes, helpUri...
    [run] = sarif["runs"]
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} >= {r.id for r in load_rules().rules}
    assert len(run["results"]) == sum(len(a["findings"]) for a in apps)
    assert all(r["partialFingerprints"]["apkaudit/v1"] for r in run["results"])
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert len(notes) == sum(1 for a in apps if a["status"] != "ok")
    assert len(run["artifacts"]) == len(apps)


@pytest.mark.real
@pytest.mark.slow
def test_corpus_exit_code_follows_fail_on(corpus: dict[str, Any]) -> None:
    apps = corpus["first"]["json"]["apps"]
    want = expected_exit(apps, Severity.HIGH, allow_errors=False)
    assert want == EXIT_FINDINGS  # the corpus holds malware with high findings
    assert corpus["first"]["code"] == want, corpus["first"]["output"]
    assert corpus["second"]["code"] == want
    assert "gate FAIL" in corpus["first"]["output"]


@pytest.mark.real
@pytest.mark.slow
def test_second_run_skips_every_app(corpus: dict[str, Any]) -> None:
    first, second = corpus["first"], corpus["second"]
    n = len(first["json"]["apps"])
    assert first["stats"]["audited"] == n and first["stats"]["from_store"] == 0
    assert second["stats"]["audited"] == 0 and second["stats"]["from_store"] == n
    assert {r["source"] for r in second["stats"]["rows"]} == {"store"}
    # the store's promise: every output rendered from stored rows equals the fresh one
    assert second["json"]["apps"] == first["json"]["apps"]
    assert second["sarif"] == first["sarif"]
    assert second["html"] == first["html"] and len(first["html"]) == n
    assert f"0 analysed now, {n} from the store" in second["output"]


@pytest.mark.real
@pytest.mark.slow
def test_corpus_summary_page(corpus: dict[str, Any]) -> None:
    out = corpus["out"]
    html = (out / "index.html").read_text(encoding="utf-8")
    apps = corpus["first"]["json"]["apps"]
    links = re.findall(r'href="(apps/[^"]+\.html)"', html)
    assert len(links) == len(apps) == len(set(links))
    assert all((out / link).is_file() for link in links)
    for a in apps:
        assert Path(a["input"]["path"]).name in html
    assert html.count("<svg") >= 3 and "chart-verdicts" in html and "chart-permissions" in html
    assert_self_contained(html)
    # pre-sorted by risk: the first row is the highest score
    scores = [
        int(s)
        for s in re.findall(r'<td data-label="Risk" data-v="(-?\d+)"><span class="badge sev-', html)
    ]
    assert scores and scores == sorted(scores, reverse=True)


def assert_self_contained(html: str) -> None:
    without_ns = html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert not re.search(r"https?://", without_ns)
    assert not re.search(r"<(link|img|iframe|object|embed)\b", html)
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert "url(" not in html
    [script] = re.findall(r"<script>(.*?)</script>", html, re.S)
    digest = hashlib.sha256(script.encode()).digest()
    import base64

    assert f"script-src 'sha256-{base64.b64encode(digest).decode()}'" in html


@pytest.mark.real
@pytest.mark.slow
def test_gates_and_baseline_on_stored_results(corpus: dict[str, Any], tmp_path: Path) -> None:
    real, src = require_real(), corpus["out"]
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(src / "results.sqlite", out / "results.sqlite")  # everything is in the store
    apps = corpus["first"]["json"]["apps"]

    code, _ = batch(real, "--out", out, "-q")
    assert code == EXIT_INPUT  # no gate, but some inputs could not be audited
    code, _ = batch(real, "--out", out, "-q", "--allow-errors")
    assert code == EXIT_OK
    code, _ = batch(real, "--out", out, "-q", "--fail-on", "critical", "--allow-errors")
    assert code == expected_exit(apps, Severity.CRITICAL, allow_errors=True)

    bulk = [a for a in apps if (a["verdicts"] or {}).get("bulk_sms_to_contacts") == "confirmed"]
    code, _ = batch(real, "--out", out, "-q", "--fail-on-verdict", "bulk_sms_to_contacts=confirmed")
    assert code == (EXIT_FINDINGS if bulk else EXIT_INPUT)

    baseline = tmp_path / "baseline.json"
    code, _ = batch(real, "--out", out, "-q", "--write-baseline", baseline)
    doc = json.loads(baseline.read_text())
    assert len(doc["findings"]) == len(
        {
            (a["app"]["package"], f["fingerprint"])
            for a in apps
            if a["status"] == "ok"
            for f in a["findings"]
        }
    )
    code, output = batch(
        real,
        "--out",
        out,
        "--fail-on",
        "info",
        "--fail-on-verdict",
        "sms_send=possible",
        "--baseline",
        baseline,
        "--allow-errors",
    )
    assert code == EXIT_OK, output
    assert "PASS" in output
    sarif = load(out, "results.sarif")
    validate_sarif(sarif)
    assert {r["baselineState"] for r in sarif["runs"][0]["results"]} == {"unchanged"}
    assert load(out, "run.json")["audited"] == 0


@pytest.mark.real
@pytest.mark.slow
def test_export_jsonl_and_csv(corpus: dict[str, Any]) -> None:
    out, apps = corpus["out"], corpus["first"]["json"]["apps"]
    code, text = batch("--out", out, "--export", "jsonl")
    assert code == 0
    lines = [json.loads(ln) for ln in text.splitlines()]
    assert len(lines) == len(apps)  # the real files all differ
    assert {ln["sha256"] for ln in lines} == {a["input"]["sha256"] for a in apps}
    assert all(ln["app"]["status"] in ("ok", "error") for ln in lines)
    code, text = batch("--out", out, "--export", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(apps)
    assert {r["status"] for r in rows} == {"ok", "error"}
    assert all(
        r["bulk_sms_to_contacts"] in ("", "none", "possible", "likely", "confirmed") for r in rows
    )


# --------------------------------------------------------------------------- isolation


@pytest.mark.slow
def test_timeout_crash_and_memory_limit_become_error_rows(tmp_path: Path) -> None:
    apps = tmp_path / "apps"
    apps.mkdir()
    for name in ("clean", "code-noperm", "perms-unused", "loan-bulk-sms"):
        shutil.copy(FIXTURES / f"{name}.apk", apps / f"{name}.apk")
    out = tmp_path / "out"
    # The timeout leaves a healthy app ample time on a loaded machine (a worker's start and a
    # fixture audit take well under a second when idle) and is far below the hook's sleep.
    hook = "sleep:900@clean;crash@code-noperm;memory@perms-unused"
    env = {HOOK_ENV: hook}
    start = time.monotonic()
    code, output = batch(
        apps, "--out", out, "--jobs", "2", "--timeout", "15", "--memory-limit", "700", env=env
    )
    assert time.monotonic() - start < 300, "a stuck worker held up the run"
    assert code == EXIT_INPUT, output
    rows = {Path(a["input"]["path"]).stem: a for a in load(out, "results.json")["apps"]}
    assert rows["loan-bulk-sms"]["status"] == "ok"
    assert rows["clean"]["status"] == "error"
    assert "timed out after 15 s" in rows["clean"]["error"]
    assert rows["code-noperm"]["status"] == "error"
    assert "worker killed by SIGABRT" in rows["code-noperm"]["error"]
    assert rows["perms-unused"]["status"] == "error"
    assert "memory limit exceeded (700 MiB)" in rows["perms-unused"]["error"]
    for a in rows.values():
        if a["status"] == "error":
            assert a["input"]["sha256"] and a["verdicts"] is None  # never "clean"
    stats = load(out, "run.json")
    assert {r["kind"] for r in stats["rows"]} == {"ok", "timeout", "crash", "memory"}
    validate_sarif(load(out, "results.sarif"))

    # Those failures are not stored: the next run (no hook) audits exactly those three again.
    code, output = batch(apps, "--out", out, "--jobs", "2", "--timeout", "60")
    assert code == EXIT_OK, output
    stats = load(out, "run.json")
    assert stats["audited"] == 3 and stats["from_store"] == 1
    assert all(a["status"] == "ok" for a in load(out, "results.json")["apps"])


@pytest.mark.slow
def test_rescan_audits_again(tmp_path: Path) -> None:
    apk = FIXTURES / "loan-bulk-sms.apk"
    out = tmp_path / "out"
    assert batch(apk, "--out", out, "-q", "-f", "json")[0] == EXIT_OK
    assert batch(apk, "--out", out, "-q", "-f", "json")[0] == EXIT_OK
    assert load(out, "run.json")["from_store"] == 1
    assert batch(apk, "--out", out, "-q", "-f", "json", "--rescan")[0] == EXIT_OK
    assert load(out, "run.json")["audited"] == 1
    assert not (out / "index.html").exists() and not (out / "results.sarif").exists()


@pytest.mark.slow
def test_same_content_at_two_paths_is_audited_once(tmp_path: Path) -> None:
    for name in ("a.apk", "b.apk"):
        shutil.copy(FIXTURES / "loan-bulk-sms.apk", tmp_path / name)
    out = tmp_path / "out"
    code, _ = batch(tmp_path / "a.apk", tmp_path / "b.apk", "--out", out, "-q")
    assert code == EXIT_OK
    stats = load(out, "run.json")
    assert stats["audited"] == 1 and len(stats["rows"]) == 2
    paths = [a["input"]["path"] for a in load(out, "results.json")["apps"]]
    assert paths == ["a.apk", "b.apk"]  # files given by absolute path: their names
    assert len(list((out / "apps").glob("*.html"))) == 2


@pytest.mark.slow
def test_usage_errors(tmp_path: Path) -> None:
    assert batch()[0] == EXIT_USAGE
    # inputs that name no app are input errors, as in scan (exit 3, one line)
    assert batch(tmp_path / "missing.apk") == (
        EXIT_INPUT,
        f"apkaudit: error: {tmp_path / 'missing.apk'}: no such file or directory\n",
    )
    assert batch(str(tmp_path / "*.apk"))[0] == EXIT_INPUT  # pattern matched nothing
    assert batch(tmp_path)[0] == EXIT_INPUT  # a directory without apps
    apk = FIXTURES / "clean.apk"
    assert batch(apk, "--export", "csv")[0] == EXIT_USAGE
    assert batch("--out", tmp_path / "none", "--export", "csv")[0] == EXIT_USAGE
    assert batch(apk, "--executor", "dask")[0] == EXIT_USAGE
    assert batch(apk, "--fail-on-verdict", "bulk=likely")[0] == EXIT_USAGE
    assert batch(apk, "--fail-on-verdict", "sms_send=none")[0] == EXIT_USAGE
    assert batch(apk, "--limit", "max_nothing=3")[0] == EXIT_USAGE
    assert batch(apk, "-f", "pdf")[0] == EXIT_USAGE
    bad = tmp_path / "baseline.json"
    bad.write_text("{}")
    assert batch(apk, "--baseline", bad)[0] == EXIT_USAGE


# --------------------------------------------------------------------------- Dask


@pytest.mark.slow
def test_dask_executor_on_a_local_cluster(tmp_path: Path) -> None:
    if IN_CI:
        import distributed
    else:
        distributed = pytest.importorskip("distributed")
    names = ("loan-bulk-sms", "clean", "sms-forward")
    apps = tmp_path / "apps"
    apps.mkdir()
    for name in names:
        shutil.copy(FIXTURES / f"{name}.apk", apps / f"{name}.apk")
    local, remote = tmp_path / "local", tmp_path / "dask"
    assert batch(apps, "--out", local, "-q")[0] == EXIT_OK

    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
    ) as cluster:
        code, output = batch(
            apps, "--out", remote, "--executor", "dask", "--scheduler", cluster.scheduler_address
        )
        assert code == EXIT_OK, output
        assert load(remote, "run.json")["audited"] == len(names)
        # the same store logic: a second Dask run takes everything from the store
        code, _ = batch(
            apps,
            "--out",
            remote,
            "-q",
            "--executor",
            "dask",
            "--scheduler",
            cluster.scheduler_address,
        )
        assert code == EXIT_OK
        assert load(remote, "run.json")["from_store"] == len(names)
    assert load(remote, "results.json")["apps"] == load(local, "results.json")["apps"]


@pytest.mark.real
@pytest.mark.slow
def test_rows_and_fingerprints_do_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    """Baselines and SARIF fingerprints compare runs made by different processes: the rows must
    not depend on PYTHONHASHSEED (each worker process gets its own)."""
    import subprocess
    import sys

    from conftest import REPO

    apks = [str(FIXTURES / "loan-harvest-upload.apk")]
    real = REAL / "harvester-ahmyth.apk"
    if real.is_file():
        apks.append(str(real))
    code = (
        "import json, sys\n"
        "from apkaudit.audit import audit_app\n"
        "from apkaudit.report.document import RuleRun, build_report\n"
        "from apkaudit.report.json_v1 import render_json\n"
        "from apkaudit.rules import load_rules\n"
        "apps = [audit_app(p) for p in sys.argv[1:]]\n"
        "rules = RuleRun.of(load_rules())\n"
        "print(render_json(build_report(apps, rules=rules, tool_version='1', generated_at='t')))\n"
    )
    outs = []
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        proc = subprocess.run(
            [sys.executable, "-c", code, *apks],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            cwd=tmp_path,
        )
        assert proc.returncode == 0, proc.stderr
        outs.append(proc.stdout)
    assert outs[0] == outs[1] == outs[2]
