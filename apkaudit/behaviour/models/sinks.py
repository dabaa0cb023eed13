"""Models of where data leaves the app, and of network data coming in.

SMS sends (direct and reflective), smsto: intents, network sends (HTTP clients, sockets, streams
opened on a connection), JavaScript bridges; network responses and incoming SMS as sources.
"""

from __future__ import annotations

from apkaudit.behaviour.apis import (
    NET_STREAM_SOURCES,
    NETWORK_READS,
    NETWORK_SINKS,
    SMS_MANAGERS,
    SMS_SEND_DEST,
    STREAM_WRAPPERS,
    URL_SENDS,
    cls_short,
)
from apkaudit.behaviour.call import Call
from apkaudit.behaviour.kinds import HopRole, LabelKind, Sink
from apkaudit.behaviour.models.outputs import SMS_APP
from apkaudit.behaviour.values import BLANK, EMPTY, Value, join_all, new_classes, source


def sms_send(c: Call) -> Value | None:
    ref = c.ref
    if ref.class_name not in SMS_MANAGERS:
        return None
    dest_i, text_i = SMS_SEND_DEST[ref.name]
    what = f"SmsManager.{ref.name}"
    args = c.args
    if dest_i < len(args) and args[dest_i].labels:
        c.sink(
            Sink.SMS_DESTINATION,
            args[dest_i].labels,
            c.step(HopRole.SINK, f"{what}: destination number"),
        )
    if text_i < len(args) and args[text_i].labels:
        c.sink(Sink.SMS_BODY, args[text_i].labels, c.step(HopRole.SINK, f"{what}: message text"))
    return BLANK


def method_invoke(c: Call) -> Value | None:
    """Method.invoke on a method named by getMethod: a reflective SmsManager send."""
    args = c.args
    if c.ref.class_name != "Ljava/lang/reflect/Method;" or not args:
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
    c.flow.record_reflective_send(
        (c.step(HopRole.SINK, f"Method.invoke → SmsManager.{method} (reflection)"),)
    )
    if len(args) > 2:
        arr = args[2]
        dest_i, text_i = SMS_SEND_DEST[method]
        for i, role in ((dest_i - 1, "destination number"), (text_i - 1, "message text")):
            elem = c.flow.elements(arr, i)
            labels = join_all(elem).labels if elem else EMPTY
            if labels:
                sink = Sink.SMS_DESTINATION if role.startswith("dest") else Sink.SMS_BODY
                c.sink(
                    sink, labels, c.step(HopRole.SINK, f"reflective SmsManager.{method}: {role}")
                )
    return BLANK


def sms_intent(c: Call, uri: Value) -> None:
    if uri.labels:
        c.sink(
            Sink.SMS_INTENT,
            uri.labels,
            c.step(HopRole.SINK, "opens the SMS app with this number (smsto: intent)"),
        )


def set_data(c: Call) -> Value | None:
    args = c.args
    if (
        c.ref.class_name == "Landroid/content/Intent;"
        and len(args) > 1
        and "uri:smsto" in args[1].tags
    ):
        sms_intent(c, args[1])
        recv = c.receiver()  # the Intent now opens the SMS app (outputs.SMS_APP)
        c.flow.taint_obj(recv.objs, frozenset(), frozenset({SMS_APP}))
        c.set_receiver(recv.with_tags(SMS_APP))
    return None


def stream_init(c: Call) -> Value | None:
    """new OutputStreamWriter(connection stream) and the like: still a network stream."""
    args = c.args
    if c.ref.class_name in STREAM_WRAPPERS and len(args) > 1 and "net_stream" in args[1].tags:
        c.flow.taint_obj(args[0].objs, EMPTY, frozenset({"net_stream"}))
        c.set_receiver(args[0].with_tags("net_stream"))
        return BLANK
    return None


def _response(c: Call) -> Value:
    ref = c.ref
    step = c.step(
        HopRole.SOURCE, f"reads a network response ({cls_short(ref.class_name)}.{ref.name})"
    )
    return Value(frozenset({source(LabelKind.NETWORK, step)}), c.result_objs)


def _url_send(c: Call, read: bool = False) -> None:
    """Opening a connection (or URL.openStream) sends its URL; so does any ``read`` of an
    HTTP connection's response (status, headers), which connects first."""
    ref = c.ref
    recv = c.args[0] if c.args and not c.static else BLANK
    if recv.labels and (ref.name in URL_SENDS or read):
        c.network_sink([recv], "opens a connection whose URL carries the data")


def stream(c: Call) -> Value | None:
    """connect / getOutputStream (a network stream) on a connection: its URL is sent."""
    if c.ref.class_name not in NET_STREAM_SOURCES:
        return None
    _url_send(c)
    if c.ref.name == "getOutputStream":
        return Value(objs=c.result_objs, tags=frozenset({"net_stream"}))
    return None


def network_read(c: Call) -> Value | None:
    """A read of what a server sent (apis.NETWORK_READS): the request is sent (a network sink,
    as before), and the result is a fresh network response, not the request's data."""
    ref = c.ref
    if (ref.class_name, ref.name) not in NETWORK_READS:
        return None
    if ref.class_name in NET_STREAM_SOURCES or ref.class_name == "Ljava/net/URL;":
        _url_send(c, read=ref.class_name.endswith("URLConnection;"))
    else:
        net_send(c)
    return _response(c)


def net_send(c: Call) -> Value | None:
    ref, args = c.ref, c.args
    positions = NETWORK_SINKS.get((ref.class_name, ref.name))
    if positions is None:
        return None
    sent = [args[i] for i in positions if i < len(args)]
    if ref.name == "emit" and len(args) > 2:  # varargs Object[]: include the array's contents
        sent.append(args[2])
    c.network_sink(sent, f"sends over the network ({cls_short(ref.class_name)}.{ref.name})")
    return None  # keep the default result handling


def stream_write(c: Call) -> Value | None:
    args = c.args
    if not args or c.static or "net_stream" not in args[0].tags:
        return net_send(c)
    ref = c.ref
    c.network_sink(args[1:], f"writes to a network stream ({cls_short(ref.class_name)}.{ref.name})")
    return None


def incoming_sms(c: Call) -> Value | None:
    if not c.ref.class_name.endswith("/SmsMessage;"):
        return None
    step = c.step(HopRole.SOURCE, f"reads an incoming SMS (SmsMessage.{c.ref.name})")
    return Value(frozenset({source(LabelKind.SMS, step)}), c.result_objs)


def add_js(c: Call) -> Value | None:
    args = c.args
    if c.ref.class_name != "Landroid/webkit/WebView;" or len(args) < 3:
        return None
    name = args[2].const if isinstance(args[2].const, str) else "?"
    classes = new_classes(args[1].objs)
    c.flow.record_bridge(
        name, classes, c.step(HopRole.CALL, f'addJavascriptInterface(…, "{name}")')
    )
    return BLANK


def get_system_service(c: Call) -> Value | None:
    args = c.args
    if len(args) > 1 and "class:Landroid/telephony/SmsManager;" in args[1].tags:
        return Value(tags=frozenset({"smsmanager"}))
    return None
