"""Models of the Android/Java APIs that matter, one small function per API family.

Each model gets the running ``MethodFlow`` and the call's arguments, and returns the call's result
``Value`` (or None to fall through to the generic handling: summaries of app methods, or default
propagation). Models create sources (a contacts cursor, a network response), record sinks (SMS
destination, network send, smsto: intent), and carry the meaning of values (URI providers,
StringBuilder contents, reflective method names, loop conditions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from apkaudit.behaviour.apis import (
    CURSOR_GETTERS,
    CURSOR_MOVES,
    INCOMING_SMS,
    NET_STREAM_SOURCES,
    NETWORK_SINKS,
    NETWORK_SOURCES,
    QUERY_CLASSES,
    SMS_MANAGERS,
    SMS_SEND_DEST,
    STREAM_WRAPPERS,
    TRANSFORMS,
    URL_SENDS,
    cls_short,
)
from apkaudit.behaviour.values import (
    BLANK,
    EMPTY,
    Label,
    Value,
    cap,
    classify_uri_string,
    extend_all,
    join_all,
)
from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.reader import Insn, MethodRef

if TYPE_CHECKING:
    from apkaudit.behaviour.flow import MethodFlow


Model = Callable[["MethodFlow", int, Insn, dict, MethodRef, list[int], list[Value]], Value | None]


def _query(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if ref.class_name not in QUERY_CLASSES and ref.name != "managedQuery":
        return None
    if len(args) < 2:
        return None
    uri = args[1]
    provider = _provider(uri)
    hop_desc = f"queries the {_PROVIDER_NAMES.get(provider, provider)} provider"
    hop = m.hop(insn, "source", hop_desc)
    m.ctx.record_query(hop, provider, _uri_text(uri))
    if provider in ("contacts", "sms", "call_log"):
        return Value(
            frozenset({Label(provider, path=(hop,))}),
            frozenset({("ret", insn.offset)}),
            frozenset({"cursor"}),
        )
    return Value(objs=frozenset({("ret", insn.offset)}), tags=frozenset({"cursor"}))


def _cursor_loader(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if ref.name != "<init>" or not ref.class_name.endswith("/CursorLoader;") or len(args) < 3:
        return None
    provider = _provider(args[2])
    m.ctx.record_query(
        m.hop(insn, "source", f"loads the {_PROVIDER_NAMES.get(provider, provider)} provider"),
        provider,
        _uri_text(args[2]),
    )
    return None


def _provider(uri: Value) -> str:
    for t in uri.tags:
        if t.startswith("uri:"):
            return t[4:]
    if isinstance(uri.const, str):  # a known string that is no provider we know
        return classify_uri_string(uri.const) or "other"
    return "unresolved"


def _uri_text(uri: Value) -> str:
    """The URI as far as it is known (a string constant, or a built prefix), clipped."""
    text = uri.const if isinstance(uri.const, str) else ""
    if not text:
        text = next((t[7:] + "…" for t in uri.tags if t.startswith("prefix:")), "")
    return text[:200]


_PROVIDER_NAMES = {
    "contacts": "contacts",
    "sms": "SMS",
    "call_log": "call-log",
    "calendar": "calendar",
    "other": "other",
    "unresolved": "(unresolved)",
}


def _cursor_get(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if not args or "cursor" not in args[0].tags:
        return None
    col = args[1].const if len(args) > 1 else None
    colname = col[4:] if isinstance(col, str) and col.startswith("col:") else "?"
    labels = args[0].labels
    if labels:
        labels = extend_all(
            labels, m.hop(insn, "source", f"reads column {colname} (Cursor.{ref.name})")
        )
    return Value(labels, frozenset({("ret", insn.offset)}))


def _column_index(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if len(args) > 1 and isinstance(args[1].const, str):
        return Value(const="col:" + args[1].const)
    return None


def _cursor_move(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if not args or "cursor" not in args[0].tags:
        return None
    return Value(args[0].labels, tags=frozenset({"cond:cursor"}))


def _iterator(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if not args or insn.op in O.STATIC_INVOKES:
        return None
    return Value(args[0].labels, args[0].objs, args[0].tags & {"msg_parts"})


def _has_next(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if not args:
        return None
    return Value(args[0].labels, tags=frozenset({"cond:iterator"}) | parts(args[0]))


def _size(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if not args or insn.op in O.STATIC_INVOKES or len(args) != 1:
        return None
    if "cursor" in args[0].tags and ref.name == "getCount":
        return Value(args[0].labels, tags=frozenset({"bound"}))
    return Value(args[0].labels, tags=frozenset({"bound"}) | parts(args[0]))


def parts(v: Value) -> frozenset[str]:
    return frozenset({"bound:parts"}) if "msg_parts" in v.tags else EMPTY


def _divide(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if ref.class_name not in SMS_MANAGERS:
        return None
    labels = args[1].labels if len(args) > 1 else EMPTY
    return Value(labels, frozenset({("ret", insn.offset)}), frozenset({"msg_parts"}))


def _sms_send(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if ref.class_name not in SMS_MANAGERS:
        return None
    dest_i, text_i = SMS_SEND_DEST[ref.name]
    _send(m, pos, insn, args, dest_i, text_i, f"SmsManager.{ref.name}")
    return BLANK


def _send(m: MethodFlow, pos, insn, args, dest_i, text_i, what: str) -> None:
    if dest_i < len(args) and args[dest_i].labels:
        m.sink(
            "sms_destination",
            args[dest_i].labels,
            m.hop(insn, "sink", f"{what}: destination number"),
            pos,
        )
    if text_i < len(args) and args[text_i].labels:
        m.sink("sms_body", args[text_i].labels, m.hop(insn, "sink", f"{what}: message text"), pos)


def _for_name(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if ref.class_name != "Ljava/lang/Class;" or not args or not isinstance(args[0].const, str):
        return None
    name = "L" + args[0].const.replace(".", "/") + ";"
    return Value(tags=frozenset({"class:" + name}), const=name)


def _get_method(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if ref.class_name != "Ljava/lang/Class;" or len(args) < 2 or not isinstance(args[1].const, str):
        return None
    classes = [t[6:] for t in args[0].tags if t.startswith("class:")]
    if not classes:
        return None
    return Value(tags=frozenset({f"method:{c}->{args[1].const}" for c in classes}))


def _method_invoke(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if ref.class_name != "Ljava/lang/reflect/Method;" or not args:
        return None
    targets = [t[7:] for t in args[0].tags if t.startswith("method:")]
    sends = [
        t for t in targets if t.split("->")[0] in SMS_MANAGERS and t.split("->")[1] in SMS_SEND_DEST
    ]
    if any(t.split("->")[1] == "getDefault" for t in targets):
        return Value(tags=frozenset({"smsmanager"}))
    if not sends:
        return None
    method = sends[0].split("->")[1]
    hop = m.hop(insn, "sink", f"Method.invoke → SmsManager.{method} (reflection)")
    if m._final:
        m.ctx.record_reflective_send((hop,))
    if len(args) > 2:
        arr = args[2]
        dest_i, text_i = SMS_SEND_DEST[method]
        for i, role in ((dest_i - 1, "destination number"), (text_i - 1, "message text")):
            elem = [m.heap[(o, i)] for o in arr.objs if (o, i) in m.heap]
            labels = join_all(elem).labels if elem else EMPTY
            if labels:
                sink = "sms_destination" if role.startswith("dest") else "sms_body"
                m.sink(
                    sink,
                    labels,
                    m.hop(insn, "sink", f"reflective SmsManager.{method}: {role}"),
                    pos,
                )
    return BLANK


def _uri_parse(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if ref.class_name != "Landroid/net/Uri;" or not args:
        return None
    s = args[0].const
    tags = {"uri"}
    if not isinstance(s, str):
        s = next((t[7:] for t in args[0].tags if t.startswith("prefix:")), None)
    kind = classify_uri_string(s) if isinstance(s, str) else None
    if kind:
        tags.add("uri:" + kind)
    return Value(args[0].labels, frozenset({("ret", insn.offset)}), frozenset(tags), args[0].const)


def _uri_derive(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if ref.class_name not in (
        "Landroid/net/Uri;",
        "Landroid/content/ContentUris;",
        "Landroid/net/Uri$Builder;",
    ):
        return None
    if not args:
        return None
    base = args[0]
    tags = frozenset(t for t in base.tags if t.startswith("uri"))
    const = base.const
    if (
        ref.name in ("appendPath", "appendEncodedPath")
        and len(args) > 1
        and isinstance(const, str)
        and isinstance(args[1].const, str)
    ):
        const = const.rstrip("/") + "/" + args[1].const
        st[areg[0]] = Value(base.labels, base.objs, base.tags, const)
    elif ref.name in ("scheme",) and len(args) > 1 and isinstance(args[1].const, str):
        const = args[1].const + "://"
        st[areg[0]] = Value(base.labels, base.objs, base.tags, const)
    elif (
        ref.name in ("authority", "encodedAuthority")
        and len(args) > 1
        and isinstance(args[1].const, str)
    ):
        const = (const if isinstance(const, str) else "content://") + args[1].const
        st[areg[0]] = Value(base.labels, base.objs, base.tags, const)
    elif ref.name == "build" and isinstance(const, str):
        kind = classify_uri_string(const)
        if kind:
            tags |= {"uri", "uri:" + kind}
    elif (
        ref.name == "withAppendedPath"
        and len(args) > 1
        and isinstance(const, str)
        and isinstance(args[1].const, str)
    ):
        const = const.rstrip("/") + "/" + args[1].const
    return Value(
        cap(frozenset().union(*(a.labels for a in args))),
        frozenset({("ret", insn.offset)}),
        tags,
        const,
    )


def _builder_init(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    cls = ref.class_name
    if cls in ("Ljava/lang/StringBuilder;", "Ljava/lang/StringBuffer;") and args:
        init = args[1].const if len(args) > 1 and isinstance(args[1].const, str) else ""
        if len(args) > 1 and not isinstance(args[1].const, str):
            init = None
        recv = st.get(areg[0], BLANK)
        st[areg[0]] = Value(recv.labels, recv.objs, recv.tags, init)
        if len(args) > 1:
            m.taint_obj(recv.objs, args[1].labels)
        return BLANK
    if cls == "Landroid/net/Uri$Builder;" and args:
        recv = st.get(areg[0], BLANK)
        st[areg[0]] = Value(recv.labels, recv.objs, recv.tags, "")
        return BLANK
    if cls in STREAM_WRAPPERS and len(args) > 1 and "net_stream" in args[1].tags:
        m.taint_obj(args[0].objs, EMPTY, frozenset({"net_stream"}))
        st[areg[0]] = args[0].with_tags("net_stream")
        return BLANK
    if cls == "Landroid/content/Intent;" and len(args) > 2 and "uri:smsto" in args[2].tags:
        _sms_intent(m, pos, insn, args[2])
        return None
    return _cursor_loader(m, pos, insn, st, ref, areg, args)


def _sms_intent(m: MethodFlow, pos, insn, uri: Value) -> None:
    if uri.labels:
        m.sink(
            "sms_intent",
            uri.labels,
            m.hop(insn, "sink", "opens the SMS app with this number (smsto: intent)"),
            pos,
        )


def _set_data(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if (
        ref.class_name == "Landroid/content/Intent;"
        and len(args) > 1
        and "uri:smsto" in args[1].tags
    ):
        _sms_intent(m, pos, insn, args[1])
    return None


def _append(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if (
        ref.class_name not in ("Ljava/lang/StringBuilder;", "Ljava/lang/StringBuffer;")
        or len(args) < 2
    ):
        return None
    recv = st.get(areg[0], BLANK)
    a = args[1]
    const = None
    tags = recv.tags
    if isinstance(recv.const, str) and a.const is not None and len(recv.const) < 4096:
        const = recv.const + (a.const if isinstance(a.const, str) else str(a.const))
    elif isinstance(recv.const, str) and recv.const:
        tags = tags | {"prefix:" + recv.const[:64]}  # "smsto:" + number keeps its scheme
    m.taint_obj(recv.objs, a.labels)
    new = Value(cap(recv.labels | a.labels), recv.objs, tags, const)
    st[areg[0]] = new
    return new


def _to_string(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if not args or insn.op in O.STATIC_INVOKES:
        return None
    v = args[0]
    transform = TRANSFORMS.get((ref.class_name, ref.name))
    labels = v.labels
    if transform and labels:
        labels = extend_all(labels, m.hop(insn, "transform", transform))
    if ref.class_name in (
        "Ljava/lang/StringBuilder;",
        "Ljava/lang/StringBuffer;",
        "Ljava/lang/String;",
        "Landroid/net/Uri;",
    ):
        keep = {t for t in v.tags if t.startswith(("uri", "prefix:"))}
        return Value(labels, frozenset({("ret", insn.offset)}), frozenset(keep), v.const)
    return Value(labels, frozenset({("ret", insn.offset)}))


def _value_of(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if ref.class_name != "Ljava/lang/String;" or not args:
        return None
    const = args[0].const if isinstance(args[0].const, (str, int)) else None
    return Value(
        args[0].labels,
        frozenset({("ret", insn.offset)}),
        const=None if const is None else str(const),
    )


def _concat(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if ref.class_name != "Ljava/lang/String;" or len(args) < 2:
        return None
    a, b = args[0], args[1]
    const = a.const + b.const if isinstance(a.const, str) and isinstance(b.const, str) else None
    return Value(cap(a.labels | b.labels), frozenset({("ret", insn.offset)}), frozenset(), const)


def _stream(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    """getInputStream (network source) / getOutputStream (network stream)."""
    if ref.class_name not in NET_STREAM_SOURCES:
        return None
    recv = args[0] if args else BLANK
    if recv.labels and ref.name in URL_SENDS:
        m._network_sink(pos, insn, [recv], "opens a connection whose URL carries the data")
    if ref.name == "getOutputStream":
        return Value(objs=frozenset({("ret", insn.offset)}), tags=frozenset({"net_stream"}))
    if (ref.class_name, ref.name) in NETWORK_SOURCES:
        hop = m.hop(
            insn, "source", f"reads a network response ({cls_short(ref.class_name)}.{ref.name})"
        )
        return Value(frozenset({Label("network", path=(hop,))}), frozenset({("ret", insn.offset)}))
    return None


def _net_execute(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if (ref.class_name, ref.name) in NETWORK_SOURCES:
        hop = m.hop(
            insn, "source", f"reads a network response ({cls_short(ref.class_name)}.{ref.name})"
        )
        return Value(frozenset({Label("network", path=(hop,))}), frozenset({("ret", insn.offset)}))
    return _net_sink_model(m, pos, insn, st, ref, areg, args)


def _net_sink_model(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    positions = NETWORK_SINKS.get((ref.class_name, ref.name))
    if positions is None:
        return None
    sent = [args[i] for i in positions if i < len(args)]
    if ref.name == "emit" and len(args) > 2:  # varargs Object[]: include the array's contents
        sent.append(args[2])
    m._network_sink(
        pos, insn, sent, f"sends over the network ({cls_short(ref.class_name)}.{ref.name})"
    )
    return None  # keep the default result handling


def _stream_write(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if not args or insn.op in O.STATIC_INVOKES or "net_stream" not in args[0].tags:
        return _net_sink_model(m, pos, insn, st, ref, areg, args)
    m._network_sink(
        pos, insn, args[1:], f"writes to a network stream ({cls_short(ref.class_name)}.{ref.name})"
    )
    return None


def _incoming_sms(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if not ref.class_name.endswith("/SmsMessage;"):
        return None
    hop = m.hop(insn, "source", f"reads an incoming SMS (SmsMessage.{ref.name})")
    return Value(frozenset({Label("sms", path=(hop,))}), frozenset({("ret", insn.offset)}))


def _add_js(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if ref.class_name != "Landroid/webkit/WebView;" or len(args) < 3:
        return None
    name = args[2].const if isinstance(args[2].const, str) else "?"
    classes = {o[2] for o in args[1].objs if o and o[0] == "new"}
    m.ctx.record_bridge(name, classes, m.hop(insn, "call", f'addJavascriptInterface(…, "{name}")'))
    return BLANK


def _get_system_service(m: MethodFlow, pos, insn, st, ref, areg, args) -> Value | None:
    if len(args) > 1 and "class:Landroid/telephony/SmsManager;" in args[1].tags:
        return Value(tags=frozenset({"smsmanager"}))
    return None


MODELS: dict[str, Model] = {
    "query": _query,
    "managedQuery": _query,
    "getColumnIndex": _column_index,
    "getColumnIndexOrThrow": _column_index,
    "iterator": _iterator,
    "listIterator": _iterator,
    "hasNext": _has_next,
    "next": _iterator,
    "size": _size,
    "length": _size,
    "getCount": _size,
    "divideMessage": _divide,
    "forName": _for_name,
    "getMethod": _get_method,
    "getDeclaredMethod": _get_method,
    "invoke": _method_invoke,
    "parse": _uri_parse,
    "withAppendedPath": _uri_derive,
    "withAppendedId": _uri_derive,
    "buildUpon": _uri_derive,
    "appendPath": _uri_derive,
    "appendEncodedPath": _uri_derive,
    "scheme": _uri_derive,
    "authority": _uri_derive,
    "encodedAuthority": _uri_derive,
    "build": _uri_derive,
    "<init>": _builder_init,
    "append": _append,
    "toString": _to_string,
    "toJson": _to_string,
    "valueOf": _value_of,
    "concat": _concat,
    "getInputStream": _stream,
    "getOutputStream": _stream,
    "connect": _stream,
    "getResponseCode": _stream,
    "execute": _net_execute,
    "newCall": _net_sink_model,
    "emit": _net_sink_model,
    "send": _net_sink_model,
    "add": _net_sink_model,
    "write": _stream_write,
    "print": _stream_write,
    "println": _stream_write,
    "writeBytes": _stream_write,
    "writeUTF": _stream_write,
    "addJavascriptInterface": _add_js,
    "getSystemService": _get_system_service,
    "setData": _set_data,
}
for _n in CURSOR_GETTERS:
    MODELS[_n] = _cursor_get
for _n in CURSOR_MOVES:
    MODELS[_n] = _cursor_move
for _n in SMS_SEND_DEST:
    MODELS[_n] = _sms_send
for _n in INCOMING_SMS:
    MODELS[_n] = _incoming_sms
