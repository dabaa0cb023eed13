"""End-to-end on real third-party APKs, against the labels in ``INDEX.tsv``.

The ``malformed-*`` files are either refused with a one-line reason (library and CLI: exit 3)
or audited with the blind spot that names the damage, never with a traceback. Every other file
must be audited, and its permissions, package and watched-API references must agree with the
labels (``1`` present, ``0`` absent).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REFUSED, REPO, is_malformed, is_refused, real_params, real_path

from apkaudit.code.catalogue import load_catalogue

PERMISSION_COLUMNS = ("READ_CONTACTS", "READ_SMS", "SEND_SMS", "READ_CALL_LOG")

# A word of the reason each refused file must be refused with.
REFUSED_REASON = {"malformed-bare-dex.apk": "bare DEX"}
# The blind spot (kind, words of its detail) each audited malformed file must carry, and
# whether it hides code (coverage incomplete).
MALFORMED_SPOT = {
    "malformed-truncated.apk": ("zip_damaged", "no end-of-central-directory record", False),
    "malformed-zip-bomb.apk": ("zip_bomb", "assets/bomb.bin inflates 1019.2 KiB to 1.0 GiB", True),
    "malformed-path-traversal.apk": ("zip_path_traversal", "../../../../tmp/zipslip_poc.txt", True),
}

ALL = real_params()
MALFORMED = real_params(is_malformed)
REFUSED_ROWS = real_params(is_refused)
SPOTTED = real_params(lambda row: is_malformed(row) and not is_refused(row))
READABLE = real_params(lambda row: not is_malformed(row))


def _cli(path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "apkaudit", "scan", "-f", "json", str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )


@pytest.mark.real
@pytest.mark.parametrize("row", ALL)
def test_audit_returns_a_result(row: dict[str, str], audit) -> None:
    path = real_path(row)
    result = audit(path)  # never raises on bad input
    assert result.status == ("error" if is_refused(row) else "ok"), result.error
    assert result.input.path == str(path)


@pytest.mark.real
def test_every_malformed_file_has_a_reason() -> None:
    rows = [p.values[0] for p in MALFORMED]
    real_path(rows[0])  # fails in CI / skips when the real APKs are missing
    assert {row["file"] for row in rows} == set(REFUSED_REASON) | set(MALFORMED_SPOT)
    assert set(REFUSED_REASON) == REFUSED


@pytest.mark.real
@pytest.mark.parametrize("row", REFUSED_ROWS)
def test_refused_with_one_line(row: dict[str, str], audit) -> None:
    path = real_path(row)
    result = audit(path)
    assert result.status == "error"
    assert result.findings == ()
    error = result.error or ""
    assert "\n" not in error and "\r" not in error
    assert error.startswith(f"{path}: ")
    assert REFUSED_REASON[row["file"]] in error.removeprefix(f"{path}: ")


@pytest.mark.real
@pytest.mark.parametrize("row", REFUSED_ROWS)
def test_cli_refuses_with_exit_3(row: dict[str, str], audit) -> None:
    path = real_path(row)
    proc = _cli(path)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [f"apkaudit: error: {audit(path).error}"]


@pytest.mark.real
@pytest.mark.parametrize("row", SPOTTED)
def test_malformed_is_audited_with_its_blind_spot(row: dict[str, str], audit) -> None:
    result = audit(real_path(row))
    assert result.status == "ok", result.error
    kind, words, complete = MALFORMED_SPOT[row["file"]]
    details = [b.detail for b in result.coverage.blind_spots if b.kind == kind]
    assert len(details) == 1 and words in details[0], result.coverage.blind_spots
    assert result.coverage.complete is complete
    if not complete:  # nothing is called clean: every "none" is shown as inconclusive
        assert all(b.detail and "\n" not in b.detail for b in result.coverage.blind_spots)


@pytest.mark.real
@pytest.mark.parametrize("row", SPOTTED)
def test_cli_audits_malformed_without_traceback(row: dict[str, str], audit) -> None:
    import json

    proc = _cli(real_path(row))
    assert "Traceback" not in proc.stderr
    # A salvaged, damaged container is still an input error (exit 3, one line naming the
    # file and the damage), and the partial report with its blind spot is written.
    assert proc.returncode == 3, proc.stderr
    doc = json.loads(proc.stdout)
    (app,) = doc["apps"]
    kind = MALFORMED_SPOT[row["file"]][0]
    assert kind in [b["kind"] for b in app["coverage"]["blind_spots"]]
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"apkaudit: error: {real_path(row)}: damaged input ({kind}): ")


@pytest.mark.real
@pytest.mark.parametrize("row", READABLE)
def test_package_and_permissions_match_index(row: dict[str, str], audit) -> None:
    result = audit(real_path(row))
    assert result.status == "ok", result.error
    assert result.identity.package == row["package"]
    got = {
        col: result.manifest.has_permission(f"android.permission.{col}")
        for col in PERMISSION_COLUMNS
    }
    want = {col: row[f"perm_{col}"] == "1" for col in PERMISSION_COLUMNS}
    assert got == want


@pytest.mark.real
@pytest.mark.parametrize(
    ("column", "tag"), [("sms_send_api", "sms_send"), ("contacts_api", "contacts_uri")]
)
@pytest.mark.parametrize("row", READABLE)
def test_api_labels_match_code_references(row: dict[str, str], column: str, tag: str, audit):
    result = audit(real_path(row))
    assert result.status == "ok", result.error
    ids = load_catalogue().tagged(tag)
    refs = [r for r in result.code.refs if r.api_id in ids]
    shown = [f"{r.api_id} at {r.location.short}" for r in refs[:5]]
    assert row[column] in ("0", "1"), f"no {column} label"
    if row[column] == "1":
        assert refs, f"INDEX.tsv says {column}=1 but there is no {tag} reference"
    else:
        assert not refs, f"INDEX.tsv says {column}=0 but found {shown}"
