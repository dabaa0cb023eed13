"""The README's GitHub Actions recipe, as documented: its "Audit" step runs on a repository with
APKs and no baseline (the first run), then with the baseline it tells the user to write, and
leaves a SARIF file that the upload step can send (GitHub's requirements checked)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import FIXTURES, REPO
from sarif_check import assert_github_ready, validate_sarif

pytestmark = pytest.mark.slow


def workflow() -> dict[str, Any]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("```yaml\nname: apkaudit\n") + len("```yaml\n")
    doc: dict[str, Any] = yaml.safe_load(text[start : text.index("```", start)])
    return doc


def step(name: str) -> dict[str, Any]:
    steps = workflow()["jobs"]["audit"]["steps"]
    return next(s for s in steps if s.get("name") == name)


def run_audit(repo: Path) -> subprocess.CompletedProcess[str]:
    """The Audit step's script in ``repo``, with this environment's apkaudit on PATH."""
    bindir = Path(sys.executable).parent
    if not (bindir / "apkaudit").is_file():
        pytest.skip("the apkaudit console script is not installed next to this interpreter")
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run(
        ["bash", "-e", "-c", step("Audit")["run"]],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_recipe_installs_from_the_repository() -> None:
    installs = [
        s["run"] for s in workflow()["jobs"]["audit"]["steps"] if "pip install" in s.get("run", "")
    ]
    assert installs and all("git+https://" in r for r in installs), installs
    upload = next(
        s for s in workflow()["jobs"]["audit"]["steps"] if "upload-sarif" in s.get("uses", "")
    )
    assert upload["with"]["sarif_file"] == "apkaudit-out/results.sarif"


def test_recipe_first_run_without_baseline_then_with_it(tmp_path: Path) -> None:
    (tmp_path / "apks").mkdir()
    shutil.copy(FIXTURES / "loan-bulk-sms.apk", tmp_path / "apks" / "loan.apk")
    shutil.copy(FIXTURES / "clean.apk", tmp_path / "apks" / "clean.apk")

    first = run_audit(tmp_path)  # no apkaudit-baseline.json: every high finding is new
    assert first.returncode == 1, first.stderr
    assert "Traceback" not in first.stderr and "gate FAIL" in first.stderr
    sarif = json.loads((tmp_path / "apkaudit-out" / "results.sarif").read_text())
    validate_sarif(sarif)
    assert_github_ready(sarif)
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif["runs"][0]["results"]
    }
    assert uris == {"apks/loan.apk"}  # relative to the checkout: alerts point at the file

    # the README's way to accept the current state, then the same step passes
    apkaudit = Path(sys.executable).parent / "apkaudit"
    store = ["--store", ".apkaudit-store/results.sqlite"]
    accepted = ["--write-baseline", "apkaudit-baseline.json"]
    accept = subprocess.run(
        [apkaudit, "batch", "apks/", "--out", "apkaudit-out", *store, *accepted, "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert accept.returncode == 0, accept.stderr
    second = run_audit(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "gate PASS" in second.stderr and "0 analysed now" in second.stderr  # from the store
