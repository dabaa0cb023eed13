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
from dataclasses import replace

from apkaudit.behaviour.apis import (
    CURSOR_GETTERS,
    CURSOR_MOVES,
    INCOMING_SMS,
    NETWORK_READ_NAMES,
    SMS_SEND_DEST,
)
from apkaudit.behaviour.call import Call
from apkaudit.behaviour.models import (
    files,
    outputs,
    personal,
    providers,
    reflection,
    sinks,
    stores,
    strings,
)
from apkaudit.behaviour.values import BLANK, Value

Model = Callable[[Call], Value | None]


def _first(*models: Model) -> Model:
    """The first of ``models`` that handles the call (they check the class themselves)."""

    def run(c: Call) -> Value | None:
        for m in models:
            out = m(c)
            if out is not None:
                return out
        return None

    return run


def _write(c: Call) -> Value | None:
    """write/print on a stream: standard output (the log), a file, or the network."""
    if c.static or not c.args:
        return sinks.stream_write(c)
    if c.ref.name == "writeObject" and len(c.args) == 2:  # the object's fields are written
        obj = c.args[1]
        held = c.flow.contents(obj.objs)
        if held:
            c = replace(c, args=[c.args[0], Value(obj.labels | held, obj.objs, obj.tags)])
    if outputs.std_print(c) or files.stream_write(c):
        return None
    files.write_through(c)
    if "net_stream" not in c.args[0].tags:
        files.param_stream_write(c)
    return sinks.stream_write(c)


def _intent(c: Call) -> Value | None:
    """Intent constructors and setters: whether the Intent names the app or another app."""
    if c.ref.class_name != "Landroid/content/Intent;" or c.static or not c.args:
        return None
    tags = outputs.intent_target(c, c.args[0])
    if tags:
        recv = c.receiver()
        c.flow.taint_obj(recv.objs, frozenset(), tags)
        c.set_receiver(recv.with_tags(*tags))
    return None


def _init(c: Call) -> Value | None:
    """Constructors: builders start empty or with their argument; wrappers of a network stream
    are network streams; an Intent with an smsto: URI opens the SMS app; CursorLoader queries."""
    cls, args = c.ref.class_name, c.args
    if cls in strings.BUILDERS and args:
        return strings.builder_init(c)
    if cls == files.FILE and args:
        return files.file_init(c)
    if cls == "Landroid/content/Intent;" and args:
        _intent(c)
    handled = files.stream_init(c)
    if handled is not None:
        return handled
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
    "getOutputStream": sinks.stream,
    "connect": sinks.stream,
    "execute": sinks.net_send,
    "newCall": sinks.net_send,
    "emit": sinks.net_send,
    "send": sinks.net_send,
    "add": sinks.net_send,
    "loadUrl": sinks.net_send,
    "postUrl": sinks.net_send,
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
MODELS["getString"] = _first(strings.resource_text, providers.cursor_get)
MODELS["getText"] = strings.resource_text
# Personal data sources, sinks that stay on the phone or go to another app, and stores.
for _name in personal.NAMES:
    MODELS[_name] = _first(personal.returns, MODELS[_name]) if _name in MODELS else personal.returns
for _name in ("exec", "start", "command", "<init>"):
    MODELS[_name] = (
        _first(outputs.process_start, MODELS[_name]) if _name in MODELS else outputs.process_start
    )
for _name in outputs.LOG_METHODS:
    MODELS[_name] = _first(outputs.log, MODELS[_name]) if _name in MODELS else outputs.log
for _name in outputs.INTENT_SENDS:
    MODELS[_name] = outputs.intent_send
for _name in ("setClass", "setClassName", "setComponent", "setPackage", "setAction"):
    MODELS[_name] = _intent
for _name in files.DIRS:
    MODELS[_name] = files.directory
for _name in ("write", "print", "println", "printf", "format", "writeBytes", "writeUTF",
              "writeObject", "writeChars"):  # fmt: skip
    MODELS[_name] = _write
MODELS["arraycopy"] = files.copy_into
MODELS["getChars"] = files.copy_into
MODELS["append"] = _first(strings.append, _write)
for _name in ("getAbsolutePath", "getPath", "getCanonicalPath"):
    MODELS[_name] = files.file_path
MODELS["toString"] = _first(files.file_path, MODELS["toString"])
MODELS["openFileOutput"] = files.open_write
MODELS["openFileInput"] = files.open_read
MODELS["listFiles"] = files.listing
MODELS["list"] = files.listing
MODELS["read"] = files.read_into
MODELS["readFully"] = files.read_into
for _name in ("getSharedPreferences", "getDefaultSharedPreferences", "getPreferences"):
    MODELS[_name] = stores.prefs_open
MODELS["edit"] = stores.prefs_edit
for _name in stores.PREFS_PUTS:
    MODELS[_name] = stores.prefs_put
for _name in stores.PREFS_GETS:
    MODELS[_name] = _first(stores.prefs_get, MODELS[_name]) if _name in MODELS else stores.prefs_get
MODELS["put"] = stores.values_put
for _name in (*stores.DB_INSERTS, "execSQL"):
    MODELS[_name] = stores.db_write
for _name in providers.PROVIDER_WRITES:
    MODELS[_name] = _first(stores.db_write, providers.provider_write)
for _name in stores.DB_QUERIES:
    MODELS[_name] = _first(stores.db_query, MODELS[_name]) if _name in MODELS else stores.db_query
MODELS.update(dict.fromkeys(CURSOR_MOVES, providers.cursor_move))
MODELS.update(dict.fromkeys(SMS_SEND_DEST, sinks.sms_send))
MODELS.update(dict.fromkeys(INCOMING_SMS, sinks.incoming_sms))
# Reflection on constant and folded names (models/reflection.py).
MODELS["forName"] = reflection.for_name
MODELS["loadClass"] = reflection.for_name
MODELS["getClass"] = reflection.get_class
MODELS["getConstructor"] = reflection.get_constructor
MODELS["getDeclaredConstructor"] = reflection.get_constructor
MODELS["newInstance"] = reflection.new_instance
MODELS["getMethod"] = reflection.get_method
MODELS["getDeclaringClass"] = reflection.method_info
MODELS["getName"] = reflection.method_info
MODELS["getDeclaredMethod"] = reflection.get_method
MODELS["invoke"] = reflection.invoke
for _name in ("reverse", "substring", "toUpperCase", "toLowerCase", "trim", "intern", "replace"):
    MODELS[_name] = reflection.fold_text
# Reads of a network response (apis.NETWORK_READS) before anything else of the same name: the
# result is what the server sent, never the request's data.
for _name in NETWORK_READ_NAMES:
    _read = sinks.network_read
    MODELS[_name] = _first(_read, MODELS[_name]) if _name in MODELS else _read
