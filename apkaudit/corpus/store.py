"""Results store of ``apkaudit batch``: one SQLite file, one row per audited app and version.

A row is keyed by the input's content hash (SHA-256 of the file; for an app directory, of its
files' names and hashes), the tool version and the rules version: a re-run with the same
versions finds the row and does not audit the app again. The row holds the app's
:class:`~apkaudit.model.AppResult` in the batch codec (:mod:`apkaudit.corpus.codec`), so every
output is rendered from the store exactly as from a fresh audit; policy outcomes are not stored
(they are evaluated from the result when a report is made, so new policy packs apply to stored
results too).

Only results that the same versions would reproduce are stored: audited apps and input errors
(a malformed file stays malformed). Timeouts, crashes, memory-limit kills and analyses cut
short by their own deadline depend on the machine and the limits, so they are not stored and
the next run tries those apps again. A row written with another codec version (a development
build whose result types differ) is never decoded: it counts as absent, and the app is audited
again and the row replaced.

A store written by an apkaudit that kept JSON v1 rows (schema 1) is refused with a message
saying so (:class:`StoreError`); it is not converted, since JSON v1 does not hold a whole
result. The store is written by one process (the batch driver), never by the workers.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from apkaudit.corpus import codec
from apkaudit.errors import OutputError
from apkaudit.model import VERDICT_KEYS, AppResult

SCHEMA_VERSION = 2
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
    codec         TEXT NOT NULL,
    result        TEXT NOT NULL,
    audited_at    TEXT NOT NULL,
    seconds       REAL,
    peak_rss_kib  INTEGER,
    PRIMARY KEY (sha256, tool_version, rules_version)
);
"""
_COLUMNS = "sha256, tool_version, rules_version, path, result, audited_at, seconds, peak_rss_kib"


class StoreError(ValueError):
    """The file is not a results store this apkaudit can read (one line, for the user)."""


def _write_error(path: str, exc: BaseException) -> OutputError:
    reason = getattr(exc, "strerror", None) or str(exc)
    return OutputError(f"cannot write the results store {path}: {reason}")


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredRow:
    sha256: str
    tool_version: str
    rules_version: str
    path: str  # the path the app had when it was audited
    result: AppResult  # input.path == path
    audited_at: str
    seconds: float | None = None
    peak_rss_kib: int | None = None

    @property
    def status(self) -> str:
        return self.result.status


class ResultsStore:
    """A thin typed wrapper over the SQLite file. Use as a context manager."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        parent = os.path.dirname(os.path.abspath(self.path))
        try:
            os.makedirs(parent, exist_ok=True)
            self._db = sqlite3.connect(self.path)
        except (OSError, sqlite3.OperationalError) as exc:
            raise _write_error(self.path, exc) from None
        try:
            self._open()
        except sqlite3.OperationalError as exc:  # disk full, read-only, locked: not the file
            self._db.close()
            raise _write_error(self.path, exc) from None
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(f"{self.path}: not an apkaudit results store ({exc})") from None
        except StoreError:
            self._db.close()
            raise

    def _open(self) -> None:
        found = None
        if self._has_table("meta"):
            query = "SELECT value FROM meta WHERE key='schema_version'"
            found = self._db.execute(query).fetchone()
        if found is not None and found[0] != str(SCHEMA_VERSION):
            older = found[0] == "1"
            raise StoreError(
                f"{self.path}: results store schema {found[0]}"
                + (" (JSON v1 rows, written by an older apkaudit)" if older else "")
                + f"; this apkaudit reads schema {SCHEMA_VERSION}. Remove the file, or give "
                "another --store, to audit the apps again"
            )
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        if found is None:
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            self._db.commit()

    def _has_table(self, name: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)
        ).fetchone()
        return row is not None

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def get(self, sha256: str, tool_version: str, rules_version: str) -> StoredRow | None:
        """The row of these versions, None if there is none of this codec version."""
        cur = self._db.execute(
            f"SELECT {_COLUMNS} FROM results"
            " WHERE sha256=? AND tool_version=? AND rules_version=? AND codec=?",
            (sha256, tool_version, rules_version, codec.VERSION),
        )
        row = cur.fetchone()
        return _row(row) if row else None

    def put(self, row: StoredRow) -> None:
        """Insert or replace the row of (sha256, tool version, rules version); commits.
        A store that cannot be written (a full disk) raises OutputError."""
        try:
            self._put(row)
        except sqlite3.OperationalError as exc:
            raise _write_error(self.path, exc) from None

    def _put(self, row: StoredRow) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO results (sha256, tool_version, rules_version, path, status,"
            " codec, result, audited_at, seconds, peak_rss_kib)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.sha256,
                row.tool_version,
                row.rules_version,
                row.path,
                row.status,
                codec.VERSION,
                codec.dumps(row.result),
                row.audited_at,
                row.seconds,
                row.peak_rss_kib,
            ),
        )
        self._db.commit()

    def rows(
        self, *, tool_version: str | None = None, rules_version: str | None = None
    ) -> Iterator[StoredRow]:
        """Every row of this codec version (optionally of one tool/rules version), ordered by
        path then hash."""
        where, args = ["codec=?"], [codec.VERSION]
        if tool_version is not None:
            where.append("tool_version=?")
            args.append(tool_version)
        if rules_version is not None:
            where.append("rules_version=?")
            args.append(rules_version)
        sql = f"SELECT {_COLUMNS} FROM results WHERE " + " AND ".join(where)
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
        result=codec.loads(r[4]),
        audited_at=r[5],
        seconds=r[6],
        peak_rss_kib=r[7],
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
    """One JSON object per line: the store key, when and how long, and the JSON v1 app object
    (with the outcomes of every policy pack)."""
    from apkaudit.policies.engine import evaluate_policies
    from apkaudit.report.json_v1 import app_to_dict

    for r in rows:
        yield (
            json.dumps(
                {
                    "sha256": r.sha256,
                    "tool_version": r.tool_version,
                    "rules_version": r.rules_version,
                    "audited_at": r.audited_at,
                    "seconds": r.seconds,
                    "app": app_to_dict(r.result, evaluate_policies(r.result)),
                },
                sort_keys=True,
                ensure_ascii=False,
            )
            + "\n"
        )


def csv_record(r: StoredRow) -> dict[str, object]:
    a = r.result
    ok = a.status == "ok"
    ident = a.identity
    return {
        "path": a.input.path,
        "sha256": r.sha256,
        "tool_version": r.tool_version,
        "rules_version": r.rules_version,
        "audited_at": r.audited_at,
        "status": a.status,
        "error": "" if ok else (a.error or "unknown error"),
        "container": a.input.container,
        "size": a.input.size,
        "package": ident.package,
        "label": ident.label,
        "version_name": ident.version_name,
        "version_code": ident.version_code,
        "risk_level": a.risk.level.value if ok else "",
        "risk_score": a.risk.score if ok else "",
        **{k: (v if ok else "") for k, v in a.verdicts.as_dict().items()},
        "coverage_complete": str(a.coverage.complete).lower() if ok else "",
        "findings": len(a.findings),
        "rule_ids": " ".join(sorted({f.rule_id for f in a.findings})),
    }


def export_csv(rows: Iterator[StoredRow]) -> Iterator[str]:
    """A header line, then one line per app (see ``CSV_COLUMNS``). Every field is quoted and
    goes through :func:`~apkaudit.report.escape.csv_cell`: no formula (``=HYPERLINK(...)``
    from a package name), no bare CR or LF splitting a row."""
    from apkaudit.report.escape import csv_cell

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writeheader()
    yield buf.getvalue()
    for r in rows:
        buf.seek(0)
        buf.truncate()
        writer.writerow({k: csv_cell(v) for k, v in csv_record(r).items()})
        yield buf.getvalue()


def export(rows: Iterator[StoredRow], fmt: str) -> Iterator[str]:
    if fmt == "jsonl":
        return export_jsonl(rows)
    if fmt == "csv":
        return export_csv(rows)
    raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(EXPORT_FORMATS)})")
