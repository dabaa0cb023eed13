"""Store-and-forward: data written to a file, SharedPreferences or SQLite and read back later.

Spyware stages what it collects and uploads it in a batch, from another component; so a store is
a channel, not (only) an end. Each place data can be kept is a *store key* in the whole-app field
store (``store:`` pseudo-fields, read and written like static fields, so the fixpoint follows
them and the chain names the write and the read):

- files by resolved path (``store:file:{files}/c.txt``), with the directory (``…/**``) and the
  whole file system (``store:file:**``) as aggregates for directory listings and unresolved
  reads, and ``{*}`` for writes to a path we could not resolve;
- SharedPreferences by (file, key): ``store:prefs:cache:c`` (``{*}``: unresolved key);
- SQLite by (table, column): ``store:sql:contacts:number``.

Files are files.py's (a file write is also a ``file`` sink: files may be on shared storage or
in backups); this module models SharedPreferences and SQLite, private to the app, so only a
channel.
"""

from __future__ import annotations

import re

from apkaudit.behaviour.call import Call
from apkaudit.behaviour.kinds import HopRole
from apkaudit.behaviour.models.files import UNKNOWN, clip
from apkaudit.behaviour.values import BLANK, EMPTY, Value

PREFS = "Landroid/content/SharedPreferences;"
EDITOR = "Landroid/content/SharedPreferences$Editor;"
PREFS_PUTS = frozenset({"putString", "putInt", "putLong", "putBoolean", "putFloat",
                        "putStringSet"})  # fmt: skip
PREFS_GETS = frozenset({"getString", "getInt", "getLong", "getBoolean", "getFloat",
                        "getStringSet", "getAll"})  # fmt: skip
DB = "Landroid/database/sqlite/SQLiteDatabase;"
DB_INSERTS = {"insert": 3, "insertOrThrow": 3, "insertWithOnConflict": 3, "replace": 3,
              "replaceOrThrow": 3, "update": 2}  # fmt: skip  # method -> ContentValues arg
DB_QUERIES = frozenset({"query", "queryWithFactory", "rawQuery", "rawQueryWithFactory"})
_SQL_WRITE = re.compile(
    r"^\s*(?:insert(?:\s+or\s+\w+)?\s+into|replace\s+into|update(?:\s+or\s+\w+)?)\s+[`\"\[]?(\w+)",
    re.I,
)
_SQL_FROM = re.compile(r"\bfrom\s+[`\"\[]?(\w+)", re.I)


# ---------------------------------------------------------------------------- SharedPreferences


def prefs_open(c: Call) -> Value | None:
    name = c.ref.name
    if name == "getSharedPreferences" and len(c.args) > 1:
        f = c.args[1].const
        file = clip(f) if isinstance(f, str) else UNKNOWN
    elif name == "getDefaultSharedPreferences":
        file = "{default}"
    elif name == "getPreferences" and not c.static:
        file = "{activity}"
    else:
        return None
    return Value(EMPTY, c.result_objs, frozenset({"prefs:" + file}))


def _prefs_file(v: Value) -> str | None:
    files = sorted(t[6:] for t in v.tags if t.startswith("prefs:"))
    return files[0] if files else None


def prefs_edit(c: Call) -> Value | None:
    if c.ref.class_name != PREFS or c.static or not c.args:
        return None
    file = _prefs_file(c.args[0])
    if file is None:
        return None
    return Value(EMPTY, c.result_objs, frozenset({"prefs:" + file}))


def prefs_put(c: Call) -> Value | None:
    if c.ref.class_name != EDITOR or c.ref.name not in PREFS_PUTS or len(c.args) < 3:
        return None
    ed = c.args[0]
    file = _prefs_file(ed) or UNKNOWN
    k = c.args[1].const
    key = clip(k) if isinstance(k, str) else UNKNOWN
    labels = c.args[2].labels
    if labels:
        step = c.step(HopRole.TRANSFORM, f"stores it in preferences {file}, key {key}")
        keys = [f"store:prefs:{file}:{key}", f"store:prefs:{file}:**", "store:prefs:**"]
        c.flow.write_store(keys, Value(labels), step)
    return Value(EMPTY, ed.objs, ed.tags & {"prefs:" + file})


def prefs_get(c: Call) -> Value | None:
    if c.ref.class_name != PREFS or c.ref.name not in PREFS_GETS or not c.args:
        return None
    file = _prefs_file(c.args[0])
    if file is None:
        file = UNKNOWN
    k = c.args[1].const if len(c.args) > 1 else None
    if c.ref.name == "getAll" or not isinstance(k, str):
        keys = [f"store:prefs:{file}:**"] if file != UNKNOWN else ["store:prefs:**"]
        where = f"preferences {file}"
    else:
        key = clip(k)
        keys = [f"store:prefs:{file}:{key}", f"store:prefs:{file}:{UNKNOWN}"]
        keys += [f"store:prefs:{UNKNOWN}:{key}"] if file != UNKNOWN else ["store:prefs:**"]
        where = f"preferences {file}, key {key}"
    data = c.flow.read_store(keys, c.step(HopRole.TRANSFORM, f"reads it back from {where}"))
    default = c.args[2].labels if len(c.args) > 2 else EMPTY
    return Value(data.labels | default, c.result_objs)


# ---------------------------------------------------------------------------- SQLite


def values_put(c: Call) -> Value | None:
    """ContentValues.put(column, value): the column travels as a tag of the ContentValues."""
    if c.ref.class_name != "Landroid/content/ContentValues;" or len(c.args) < 3:
        return None
    col = c.args[1].const
    tag = "col:" + (clip(col) if isinstance(col, str) else UNKNOWN)
    c.flow.taint_obj(c.args[0].objs, c.args[2].labels, frozenset({tag}))
    return BLANK


def db_write(c: Call) -> Value | None:
    if c.ref.class_name != DB or c.static:
        return None
    args = c.args
    if c.ref.name == "execSQL" and len(args) > 1:
        sql = args[1].const
        m = _SQL_WRITE.match(sql) if isinstance(sql, str) else None
        labels = frozenset().union(*(a.labels for a in args[1:]))
        if not m and isinstance(sql, str):
            return None  # a constant statement that writes no table (CREATE, DELETE...)
        table = clip(m.group(1)) if m else UNKNOWN
        return db_store(c, table, [UNKNOWN], labels)
    i = DB_INSERTS.get(c.ref.name)
    if i is None or len(args) <= i:
        return None
    t = args[1].const
    table = clip(t) if isinstance(t, str) else UNKNOWN
    cv = args[i]
    cols = sorted(tag[4:] for tag in cv.tags if tag.startswith("col:")) or [UNKNOWN]
    return db_store(c, table, cols, cv.labels)


def db_store(c: Call, table: str, cols: list[str], labels) -> Value | None:
    if labels:
        step = c.step(HopRole.TRANSFORM, f"stores it in database table {table} ({', '.join(cols)})")
        keys = [f"store:sql:{table}:{col}" for col in cols]
        keys += [f"store:sql:{table}:**", "store:sql:**"]
        c.flow.write_store(keys, Value(labels), step)
    return None  # default result handling (a row id or count)


def db_query(c: Call) -> Value | None:
    if c.ref.class_name != DB or c.ref.name not in DB_QUERIES or c.static:
        return None
    args = c.args
    table = UNKNOWN
    if c.ref.name.startswith("rawQuery"):
        sql = args[1].const if len(args) > 1 else None
        m = _SQL_FROM.search(sql) if isinstance(sql, str) else None
        table = clip(m.group(1)) if m else UNKNOWN
    else:
        strs = [a.const for a in args[1:3] if isinstance(a.const, str)]
        table = clip(strs[0]) if strs else UNKNOWN
    return Value(EMPTY, c.result_objs, frozenset({"cursor", "sql:" + table}))


def cursor_read(c: Call, column: str) -> Value | None:
    """Cursor.getString(i) on a cursor over an app database table: what was stored there."""
    cur = c.args[0]
    tables = [t[4:] for t in cur.tags if t.startswith("sql:")]
    if not tables:
        return None
    table = tables[0]
    if table == UNKNOWN:
        keys = ["store:sql:**"]
    elif column == "?":
        keys = [f"store:sql:{table}:**"]
    else:
        keys = [f"store:sql:{table}:{clip(column)}", f"store:sql:{table}:{UNKNOWN}"]
    where = f"table {table}" + ("" if column == "?" else f", column {column}")
    data = c.flow.read_store(keys, c.step(HopRole.TRANSFORM, f"reads it back from {where}"))
    return Value(data.labels | cur.labels, c.result_objs)
