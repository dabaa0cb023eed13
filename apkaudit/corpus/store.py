"""Results store of ``apkaudit batch``: one SQLite file, one row per audited app and version.

A row is keyed by the input's content hash (SHA-256 of the file; for an app directory, of its
files' names and hashes), the tool version and the rules version: a re-run with the same
versions finds the row and does not audit the app again. The row holds the JSON v1 app object
(``apkaudit.report.json_v1.app_to_dict``), so every output can be regenerated from the store.

Only results that the same versions would reproduce are stored: audited apps and input errors
(a malformed file stays malformed). Timeouts, crashes, memory-limit kills and analyses cut
short by their own deadline depend on the machine and the limits, so they are not stored and
the next run tries those apps again.

Beside the JSON object a row keeps what the HTML report shows and JSON v1 does not carry (the
app's icon). The store is written by one process (the batch driver), never by the workers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from apkaudit.model import VERDICT_KEYS

SCHEMA_VERSION = 1
DEFAULT_NAME = "results.sqlite"
EXPORT_FORMATS = ("jsonl", "csv")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    sha256        TEXT NOT NULL,
    tool_version  TEXT NOT NULL,
    rules_version TEXT NOT NULL,
    path          TEXT NOT NULL,
    status        TEXT NOT NULL,
    app_json      TEXT NOT NULL,
    audited_at    TEXT NOT NULL,
    seconds       REAL,
    peak_rss_kib  INTEGER,
    extras_json   TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (sha256, tool_version, rules_version)
);
"""

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class StoredRow:
    sha256: str
    tool_version: str
    rules_version: str
    path: str  # the path the app had when it was audited
    status: str
    app: JsonDict  # JSON v1 app object
    audited_at: str
    seconds: float | None = None
    peak_rss_kib: int | None = None
    extras: JsonDict = field(default_factory=dict)  # beyond JSON v1: the app icon (base64)


class ResultsStore:
    """A thin typed wrapper over the SQLite file. Use as a context manager."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        parent = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(parent, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            self._db.commit()
        elif row[0] != str(SCHEMA_VERSION):
            raise ValueError(
                f"{self.path}: results store schema {row[0]}, this apkaudit reads {SCHEMA_VERSION}"
            )

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def get(self, sha256: str, tool_version: str, rules_version: str) -> StoredRow | None:
        cur = self._db.execute(
            "SELECT * FROM results WHERE sha256=? AND tool_version=? AND rules_version=?",
            (sha256, tool_version, rules_version),
        )
        row = cur.fetchone()
        return _row(row) if row else None

    def put(self, row: StoredRow) -> None:
        """Insert or replace the row of (sha256, tool version, rules version); commits."""
        self._db.execute(
            "INSERT OR REPLACE INTO results (sha256, tool_version, rules_version, path, status,"
            " app_json, audited_at, seconds, peak_rss_kib, extras_json)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.sha256,
                row.tool_version,
                row.rules_version,
                row.path,
                row.status,
                json.dumps(row.app, sort_keys=True, ensure_ascii=False),
                row.audited_at,
                row.seconds,
                row.peak_rss_kib,
                json.dumps(row.extras, sort_keys=True),
            ),
        )
        self._db.commit()

    def rows(
        self, *, tool_version: str | None = None, rules_version: str | None = None
    ) -> Iterator[StoredRow]:
        """Every row (optionally of one tool/rules version), ordered by path then hash."""
        where, args = [], []
        if tool_version is not None:
            where.append("tool_version=?")
            args.append(tool_version)
        if rules_version is not None:
            where.append("rules_version=?")
            args.append(rules_version)
        sql = "SELECT * FROM results"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY path, sha256, tool_version, rules_version"
        for row in self._db.execute(sql, args):
            yield _row(row)

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])


def _row(r: tuple[Any, ...]) -> StoredRow:
    return StoredRow(
        sha256=r[0],
        tool_version=r[1],
        rules_version=r[2],
        path=r[3],
        status=r[4],
        app=json.loads(r[5]),
        audited_at=r[6],
        seconds=r[7],
        peak_rss_kib=r[8],
        extras=json.loads(r[9] or "{}"),
    )


# --------------------------------------------------------------------------- export

CSV_COLUMNS = (
    "path",
    "sha256",
    "tool_version",
    "rules_version",
    "audited_at",
    "status",
    "error",
    "container",
    "size",
    "package",
    "label",
    "version_name",
    "version_code",
    "risk_level",
    "risk_score",
    *VERDICT_KEYS,
    "coverage_complete",
    "findings",
    "rule_ids",
)


def export_jsonl(rows: Iterator[StoredRow]) -> Iterator[str]:
    """One JSON object per line: the store key, when and how long, and the v1 app object."""
    for r in rows:
        yield (
            json.dumps(
                {
                    "sha256": r.sha256,
                    "tool_version": r.tool_version,
                    "rules_version": r.rules_version,
                    "audited_at": r.audited_at,
                    "seconds": r.seconds,
                    "app": r.app,
                },
                sort_keys=True,
                ensure_ascii=False,
            )
            + "\n"
        )


def csv_record(r: StoredRow) -> dict[str, object]:
    a = r.app
    ident = a.get("app") or {}
    verdicts = a.get("verdicts") or {}
    risk = a.get("risk") or {}
    cov = a.get("coverage")
    findings = a.get("findings") or []
    inp = a.get("input") or {}
    return {
        "path": inp.get("path", r.path),
        "sha256": r.sha256,
        "tool_version": r.tool_version,
        "rules_version": r.rules_version,
        "audited_at": r.audited_at,
        "status": a.get("status", r.status),
        "error": a.get("error") or "",
        "container": inp.get("container", ""),
        "size": inp.get("size", ""),
        "package": ident.get("package") or "",
        "label": ident.get("label") or "",
        "version_name": ident.get("version_name") or "",
        "version_code": ident.get("version_code") or "",
        "risk_level": risk.get("level", ""),
        "risk_score": risk.get("score", ""),
        **{k: verdicts.get(k, "") for k in VERDICT_KEYS},
        "coverage_complete": "" if cov is None else str(bool(cov.get("complete"))).lower(),
        "findings": len(findings),
        "rule_ids": " ".join(sorted({f["rule_id"] for f in findings})),
    }


def export_csv(rows: Iterator[StoredRow]) -> Iterator[str]:
    """A header line, then one line per app (see ``CSV_COLUMNS``)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    yield buf.getvalue()
    for r in rows:
        buf.seek(0)
        buf.truncate()
        writer.writerow(csv_record(r))
        yield buf.getvalue()


def export(rows: Iterator[StoredRow], fmt: str) -> Iterator[str]:
    if fmt == "jsonl":
        return export_jsonl(rows)
    if fmt == "csv":
        return export_csv(rows)
    raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(EXPORT_FORMATS)})")
