"""Models of content providers, cursors and URIs: where contacts, SMS and call-log data enter.

A query whose URI resolves to a personal-data provider returns a tainted cursor; a cursor getter
carries that taint into the column value; URIs are followed through Uri.parse, builders and
ContentUris so the provider of a query is known even when the URI is assembled in code.
"""

from __future__ import annotations

from apkaudit.behaviour.apis import QUERY_CLASSES
from apkaudit.behaviour.call import Call
from apkaudit.behaviour.kinds import HopRole, Provider
from apkaudit.behaviour.models import stores
from apkaudit.behaviour.values import (
    PERSONAL,
    Value,
    cap,
    classify_uri_string,
    extend_all,
    source,
)

_PROVIDER_NAMES = {
    Provider.CONTACTS: "contacts",
    Provider.SMS: "SMS",
    Provider.CALL_LOG: "call-log",
    Provider.CALENDAR: "calendar",
    Provider.MEDIA: "media",
    Provider.OTHER: "other",
    Provider.UNRESOLVED: "(unresolved)",
}
PICKED_QUERY = "a contact the user picked"
_URI_CLASSES = ("Landroid/net/Uri;", "Landroid/content/ContentUris;", "Landroid/net/Uri$Builder;")


def query(c: Call) -> Value | None:
    ref, args = c.ref, c.args
    if ref.class_name not in QUERY_CLASSES and ref.name != "managedQuery":
        return None
    if len(args) < 2:
        return None
    uri = args[1]
    provider = provider_of(uri)
    desc = f"queries the {_PROVIDER_NAMES.get(provider, provider)} provider"
    if "picked" in uri.tags:  # the Intent an ACTION_PICK returned (icc.py)
        desc += f" ({PICKED_QUERY})"
    step = c.step(HopRole.SOURCE, desc)
    c.flow.record_query(step, provider, _uri_text(uri))
    kind = PERSONAL.get(provider)
    if kind is not None:
        return Value(frozenset({source(kind, step)}), c.result_objs, frozenset({"cursor"}))
    tags = {"cursor"}
    table = _provider_table(uri, provider)
    if table:  # a provider of the app's own (or another app's): what was inserted there
        tags.add("sql:" + table)
    return Value(objs=c.result_objs, tags=frozenset(tags))


# ContentResolver writes: method -> the ContentValues argument.
PROVIDER_WRITES = {"insert": 2, "update": 2}


def provider_write(c: Call) -> Value | None:
    """ContentResolver.insert(uri, values) / update(uri, values, ...) on a content URI we can
    name that is no personal-data provider: the rows go to a store (models/stores.py) keyed by
    the URI, which a query of the same URI reads back (DroidBench's content-provider leaks; an
    app's own provider hands data between its components this way)."""
    ref, args = c.ref, c.args
    i = PROVIDER_WRITES.get(ref.name)
    if ref.class_name not in QUERY_CLASSES or i is None or len(args) <= i:
        return None
    table = _provider_table(args[1], provider_of(args[1]))
    if not table:
        return None
    cv = args[i]
    cols = sorted(t[4:] for t in cv.tags if t.startswith("col:")) or [stores.UNKNOWN]
    return stores.db_store(c, table, cols, cv.labels)


def _provider_table(uri: Value, provider: Provider) -> str:
    """The store table of a content URI that is a known string and no provider we model."""
    if provider is not Provider.OTHER or not isinstance(uri.const, str):
        return ""
    text = uri.const.strip().split("?", 1)[0].rstrip("/")
    head, _, last = text.rpartition("/")
    if last.isdigit() and head.count("/") > 2:  # content://auth/table/17: the table's row
        text = head
    return "content:" + text[len("content://") :][:200]


def cursor_loader(c: Call) -> Value | None:
    """new CursorLoader(context, uri, ...): a query run by the loader framework."""
    ref, args = c.ref, c.args
    if ref.name != "<init>" or not ref.class_name.endswith("/CursorLoader;") or len(args) < 3:
        return None
    provider = provider_of(args[2])
    c.flow.record_query(
        c.step(HopRole.SOURCE, f"loads the {_PROVIDER_NAMES.get(provider, provider)} provider"),
        provider,
        _uri_text(args[2]),
    )
    return None


def provider_of(uri: Value) -> Provider:
    for t in uri.tags:
        if t.startswith("uri:"):
            return Provider(t[4:])
    if isinstance(uri.const, str):  # a known string that is no provider we know
        return classify_uri_string(uri.const) or Provider.OTHER
    return Provider.UNRESOLVED


def _uri_text(uri: Value) -> str:
    """The URI as far as it is known (a string constant, or a built prefix), clipped."""
    text = uri.const if isinstance(uri.const, str) else ""
    if not text:
        text = next((t[7:] + "…" for t in uri.tags if t.startswith("prefix:")), "")
    return text[:200]


def cursor_get(c: Call) -> Value | None:
    args = c.args
    if not args or "cursor" not in args[0].tags:
        return None
    col = args[1].const if len(args) > 1 else None
    colname = col[4:] if isinstance(col, str) and col.startswith("col:") else "?"
    stored = stores.cursor_read(c, colname)  # a cursor over one of the app's own tables
    if stored is not None:
        return stored
    labels = args[0].labels
    if labels:
        labels = extend_all(
            labels, c.step(HopRole.SOURCE, f"reads column {colname} (Cursor.{c.ref.name})")
        )
    return Value(labels, c.result_objs)


def column_index(c: Call) -> Value | None:
    args = c.args
    if len(args) > 1 and isinstance(args[1].const, str):
        return Value(const="col:" + args[1].const)
    return None


def cursor_move(c: Call) -> Value | None:
    args = c.args
    if not args or "cursor" not in args[0].tags:
        return None
    return Value(args[0].labels, tags=frozenset({"cond:cursor"}))


def uri_parse(c: Call) -> Value | None:
    args = c.args
    if c.ref.class_name != "Landroid/net/Uri;" or not args:
        return None
    s = args[0].const
    tags = {"uri"}
    if not isinstance(s, str):
        s = next((t[7:] for t in args[0].tags if t.startswith("prefix:")), None)
    kind = classify_uri_string(s) if isinstance(s, str) else None
    if kind:
        tags.add("uri:" + kind)
    return Value(args[0].labels, c.result_objs, frozenset(tags), args[0].const)


def uri_derive(c: Call) -> Value | None:
    """Uri.withAppendedPath, ContentUris.withAppendedId, Uri.Builder steps: the URI so far."""
    ref, args = c.ref, c.args
    if ref.class_name not in _URI_CLASSES or not args:
        return None
    base = args[0]
    tags = frozenset(t for t in base.tags if t.startswith("uri"))
    const = base.const
    arg = args[1].const if len(args) > 1 else None
    name = ref.name
    if (
        name in ("appendPath", "appendEncodedPath")
        and isinstance(const, str)
        and isinstance(arg, str)
    ):
        const = const.rstrip("/") + "/" + arg
        c.set_receiver(Value(base.labels, base.objs, base.tags, const))
    elif name == "scheme" and isinstance(arg, str):
        const = arg + "://"
        c.set_receiver(Value(base.labels, base.objs, base.tags, const))
    elif name in ("authority", "encodedAuthority") and isinstance(arg, str):
        const = (const if isinstance(const, str) else "content://") + arg
        c.set_receiver(Value(base.labels, base.objs, base.tags, const))
    elif name == "build" and isinstance(const, str):
        kind = classify_uri_string(const)
        if kind:
            tags |= {"uri", "uri:" + kind}
    elif name == "withAppendedPath" and isinstance(const, str) and isinstance(arg, str):
        const = const.rstrip("/") + "/" + arg
    return Value(
        cap(frozenset().union(*(a.labels for a in args))),
        c.result_objs,
        tags,
        const,
    )
