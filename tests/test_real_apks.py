"""End-to-end on real third-party APKs, against the labels in ``INDEX.tsv``.

The four ``malformed-*`` files must be refused with a one-line reason (library and CLI); every
other file must be audited, and its permissions, package and watched-API references must agree
with the labels (``1`` present, ``0`` absent).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO, is_malformed, real_params, real_path

from apkaudit.catalogue import load_catalogue

PERMISSION_COLUMNS = ("READ_CONTACTS", "READ_SMS", "SEND_SMS", "READ_CALL_LOG")

# A word of the reason each malformed file must be refused with.
MALFORMED_REASON = {
    "malformed-bare-dex.apk": "bare DEX",
    "malformed-truncated.apk": "truncated",
    "malformed-zip-bomb.apk": "assets/bomb.bin",
    "malformed-path-traversal.apk": "path traversal",
}

ALL = real_params()
MALFORMED = real_params(is_malformed)
READABLE = real_params(lambda row: not is_malformed(row))


@pytest.mark.parametrize("row", ALL)
def test_audit_returns_a_result(row: dict[str, str], audit) -> None:
    path = real_path(row)
    result = audit(path)  # never raises on bad input
    assert result.status == ("error" if is_malformed(row) else "ok"), result.error
    assert result.input.path == str(path)


def test_every_malformed_file_has_a_reason() -> None:
    rows = [p.values[0] for p in MALFORMED]
    real_path(rows[0])  # fails in CI / skips when the real APKs are missing
    assert {row["file"] for row in rows} == set(MALFORMED_REASON)


@pytest.mark.parametrize("row", MALFORMED)
def test_malformed_is_refused_with_one_line(row: dict[str, str], audit) -> None:
    path = real_path(row)
    result = audit(path)
    assert result.status == "error"
    assert result.findings == ()
    error = result.error or ""
    assert "\n" not in error and "\r" not in error
    assert error.startswith(f"{path}: ")
    assert MALFORMED_REASON[row["file"]] in error.removeprefix(f"{path}: ")


@pytest.mark.parametrize("row", MALFORMED)
def test_cli_refuses_malformed_with_exit_3(row: dict[str, str], audit) -> None:
    path = real_path(row)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "apkaudit", "scan", str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [f"apkaudit: error: {audit(path).error}"]


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
