"""Models of the Android/Java APIs that matter, one small function per API family.

A model gets the ``Call`` being interpreted and returns the call's result ``Value``, or None to
fall through to the generic handling (summaries of app methods, or default propagation). Models
create sources (a contacts cursor, a network response), record sinks (SMS destination, network
send, smsto: intent) and carry the meaning of values (URI providers, StringBuilder contents,
reflective method names, loop conditions). ``MODELS`` maps a method name to its model; each
model checks the class itself.
"""

from __future__ import annotations

from collections.abc import Callable

from apkaudit.behaviour.apis import CURSOR_GETTERS, CURSOR_MOVES, INCOMING_SMS, SMS_SEND_DEST
from apkaudit.behaviour.call import Call
from apkaudit.behaviour.models import providers, sinks, strings
from apkaudit.behaviour.values import BLANK, Value

Model = Callable[[Call], Value | None]


def _init(c: Call) -> Value | None:
    """Constructors: builders start empty or with their argument; wrappers of a network stream
    are network streams; an Intent with an smsto: URI opens the SMS app; CursorLoader queries."""
    cls, args = c.ref.class_name, c.args
    if cls in strings.BUILDERS and args:
        return strings.builder_init(c)
    if cls == "Landroid/net/Uri$Builder;" and args:
        recv = c.receiver()
        c.set_receiver(Value(recv.labels, recv.objs, recv.tags, ""))
        return BLANK
    handled = sinks.stream_init(c)
    if handled is not None:
        return handled
    if cls == "Landroid/content/Intent;" and len(args) > 2 and "uri:smsto" in args[2].tags:
        sinks.sms_intent(c, args[2])
        return None
    return providers.cursor_loader(c)


MODELS: dict[str, Model] = {
    "query": providers.query,
    "managedQuery": providers.query,
    "getColumnIndex": providers.column_index,
    "getColumnIndexOrThrow": providers.column_index,
    "iterator": strings.iterator,
    "listIterator": strings.iterator,
    "hasNext": strings.has_next,
    "next": strings.iterator,
    "size": strings.size,
    "length": strings.size,
    "getCount": strings.size,
    "divideMessage": strings.divide,
    "forName": strings.for_name,
    "getMethod": strings.get_method,
    "getDeclaredMethod": strings.get_method,
    "invoke": sinks.method_invoke,
    "parse": providers.uri_parse,
    "withAppendedPath": providers.uri_derive,
    "withAppendedId": providers.uri_derive,
    "buildUpon": providers.uri_derive,
    "appendPath": providers.uri_derive,
    "appendEncodedPath": providers.uri_derive,
    "scheme": providers.uri_derive,
    "authority": providers.uri_derive,
    "encodedAuthority": providers.uri_derive,
    "build": providers.uri_derive,
    "<init>": _init,
    "append": strings.append,
    "toString": strings.to_string,
    "toJson": strings.to_string,
    "valueOf": strings.value_of,
    "concat": strings.concat,
    "getInputStream": sinks.stream,
    "getOutputStream": sinks.stream,
    "connect": sinks.stream,
    "getResponseCode": sinks.stream,
    "execute": sinks.net_execute,
    "newCall": sinks.net_send,
    "emit": sinks.net_send,
    "send": sinks.net_send,
    "add": sinks.net_send,
    "write": sinks.stream_write,
    "print": sinks.stream_write,
    "println": sinks.stream_write,
    "writeBytes": sinks.stream_write,
    "writeUTF": sinks.stream_write,
    "addJavascriptInterface": sinks.add_js,
    "getSystemService": sinks.get_system_service,
    "setData": sinks.set_data,
}
MODELS.update(dict.fromkeys(CURSOR_GETTERS, providers.cursor_get))
MODELS.update(dict.fromkeys(CURSOR_MOVES, providers.cursor_move))
MODELS.update(dict.fromkeys(SMS_SEND_DEST, sinks.sms_send))
MODELS.update(dict.fromkeys(INCOMING_SMS, sinks.incoming_sms))
