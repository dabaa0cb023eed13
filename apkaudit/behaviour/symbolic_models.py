"""Models of the APIs that build strings and addresses, for the symbolic evaluator.

One function per API family; each gets the call's method reference and argument values
(receiver first) and returns the result value, a ``Mutation`` of the receiver, or
``NotImplemented`` (not modelled here). Descriptors are from the Android, Java, OkHttp,
Volley, Apache HttpClient, Retrofit and socket.io references.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from apkaudit.behaviour.symbolic import (
    EMPTY_TEXT,
    UNKNOWN,
    Num,
    Obj,
    Text,
    concat,
    text_of,
)
from apkaudit.behaviour.symbolic_libs import (
    http_request_call,
    mutate,
    obj,
    okhttp_call,
    retrofit_call,
    socket_call,
    url_of,
    webview_call,
)
from apkaudit.code.dex.reader import MethodRef

Model = Callable[[MethodRef, list[object]], object]

_SB = {"Ljava/lang/StringBuilder;", "Ljava/lang/StringBuffer;"}
_STREAM_WRAPPERS = {
    "Ljava/io/OutputStreamWriter;",
    "Ljava/io/BufferedWriter;",
    "Ljava/io/DataOutputStream;",
    "Ljava/io/PrintWriter;",
    "Ljava/io/BufferedOutputStream;",
    "Ljava/io/PrintStream;",
    "Ljava/util/zip/GZIPOutputStream;",
    "Ljava/io/ObjectOutputStream;",
}
_CONNECTIONS = {
    "Ljava/net/HttpURLConnection;",
    "Ljava/net/URLConnection;",
    "Ljavax/net/ssl/HttpsURLConnection;",
}
_TEXT_FIELDS = {
    "Landroid/widget/EditText;",
    "Landroid/widget/TextView;",
    "Landroid/widget/AutoCompleteTextView;",
    "Lcom/google/android/material/textfield/TextInputEditText;",
    "Landroidx/appcompat/widget/AppCompatEditText;",
}
_RESOURCE_OWNERS = ("Landroid/content/", "Landroid/app/", "Landroid/content/res/Resources;")


# --------------------------------------------------------------------------- strings


def _string_builder(ref: MethodRef, args: list[object]) -> object:
    if ref.class_name not in _SB:
        return NotImplemented
    recv = args[0] if args else UNKNOWN
    if ref.name == "<init>":
        start = text_of(args[1]) if len(args) > 1 and ref.param_types[0] != "I" else EMPTY_TEXT
        return mutate(recv, "sb", text=start)
    if ref.name == "append" and len(args) > 1:
        base = recv.get("text") if isinstance(recv, Obj) else None
        return mutate(recv, "sb", text=concat(base if base is not None else Text((None,)), args[1]))
    if ref.name == "toString":
        return text_of(recv)
    return NotImplemented


def _string(ref: MethodRef, args: list[object]) -> object:
    if ref.class_name != "Ljava/lang/String;":
        return NotImplemented
    name = ref.name
    if name in ("valueOf", "copyValueOf") and args:
        return text_of(args[0])
    if name == "concat" and len(args) > 1:
        return concat(args[0], args[1])
    if name == "format":
        fmt_i = 1 if ref.param_types and ref.param_types[0] == "Ljava/util/Locale;" else 0
        if len(args) > fmt_i + 1:
            return _format(args[fmt_i], args[fmt_i + 1])
    if name in ("trim", "toString", "intern", "toLowerCase", "toUpperCase") and args:
        return args[0]
    return NotImplemented


_SPEC = re.compile(r"%(?:\d+\$)?[-#+ 0,(]*\d*(?:\.\d+)?[a-zA-Z%]")


def _format(fmt: object, arr: object) -> object:
    if not isinstance(fmt, Text) or fmt.literal is None:
        return Text((None,), built=True)
    elems = arr if isinstance(arr, Obj) and arr.kind == "array" else None
    pieces: list[object] = []
    pos = 0
    n = 0
    for m in _SPEC.finditer(fmt.literal):
        pieces.append(Text((fmt.literal[pos : m.start()],), fmt.origins))
        spec = m.group(0)
        if spec == "%%":
            pieces.append(Text(("%",)))
        elif spec == "%n":
            pieces.append(Text(("\n",)))
        else:
            idx = n
            if "$" in spec:
                idx = int(spec[1 : spec.index("$")]) - 1
            else:
                n += 1
            v = elems.get(f"e{idx}") if elems is not None else None
            pieces.append(v if v is not None else Text((None,)))
        pos = m.end()
    pieces.append(Text((fmt.literal[pos:],), fmt.origins))
    return concat(*pieces)


def _kotlin(ref: MethodRef, args: list[object]) -> object:
    """Kotlin's ``a + b`` on strings: Intrinsics.stringPlus(String, Object)."""
    if ref.class_name == "Lkotlin/jvm/internal/Intrinsics;" and len(args) > 1:
        return concat(args[0], args[1])
    return NotImplemented


def _text_field(ref: MethodRef, args: list[object]) -> object:
    if ref.name == "getText" and ref.class_name in _TEXT_FIELDS:
        return Text((None,), user_input=True)
    return NotImplemented


def _encode(ref: MethodRef, args: list[object]) -> object:
    if ref.class_name in ("Landroid/net/Uri;", "Ljava/net/URLEncoder;") and args:
        t = text_of(args[0])
        if isinstance(t, Text) and t.literal is not None and re.fullmatch(r"[\w.~-]*", t.literal):
            return t
        return Text((None,), t.origins if isinstance(t, Text) else frozenset(), built=True)
    return NotImplemented


# --------------------------------------------------------------------------- URIs and URLs


def _uri(ref: MethodRef, args: list[object]) -> object:
    cls, name = ref.class_name, ref.name
    if cls == "Lokhttp3/HttpUrl$Companion;" and name in ("parse", "get") and len(args) > 1:
        return obj("uri", args[1], url=text_of(args[1]))  # OkHttp 4: HttpUrl.Companion.get(s)
    if cls in ("Landroid/net/Uri;", "Ljava/net/URI;", "Lokhttp3/HttpUrl;"):
        if name in ("parse", "create", "get") and args:
            return obj("uri", args[0], url=text_of(args[0]))
        if name == "<init>" and len(args) > 1:
            return mutate(args[0], "uri", url=text_of(args[1]))
        if name in ("toString", "toURL", "toURI", "url", "uri") and args:
            return (
                obj("uri", args[0], url=url_of(args[0])) if name != "toString" else url_of(args[0])
            )
        if name == "withAppendedPath" and len(args) > 1:
            return obj("uri", args[0], url=concat(url_of(args[0]), "/", args[1]))
        if name in ("buildUpon", "newBuilder") and args:
            return Obj("uri_builder", ("anon", "uri_builder")).with_attrs(base=url_of(args[0]))
    return NotImplemented


_BUILDER_PARTS = {  # Uri.Builder / HttpUrl.Builder method -> how it changes the address
    "scheme": "scheme",
    "authority": "authority",
    "encodedAuthority": "authority",
    "host": "authority",
    "port": "port",
    "path": "path",
    "encodedPath": "path",
    "appendPath": "append",
    "appendEncodedPath": "append",
    "addPathSegment": "append",
    "addPathSegments": "append",
    "addEncodedPathSegment": "append",
    "addEncodedPathSegments": "append",
    "appendQueryParameter": "query",
    "addQueryParameter": "query",
    "addEncodedQueryParameter": "query",
}


def _uri_builder(ref: MethodRef, args: list[object]) -> object:
    if ref.class_name not in ("Landroid/net/Uri$Builder;", "Lokhttp3/HttpUrl$Builder;"):
        return NotImplemented
    recv = args[0] if args else UNKNOWN
    if ref.name == "<init>":
        return mutate(recv, "uri_builder")
    if ref.name == "build":
        return obj("uri", recv, url=_assemble(recv))
    part = _BUILDER_PARTS.get(ref.name)
    if part is None or not isinstance(recv, Obj):
        return recv if isinstance(recv, Obj) else NotImplemented
    value = args[1] if len(args) > 1 else Text((None,))
    if part == "append":
        return mutate(recv, "uri_builder", path=concat(recv.get("path") or EMPTY_TEXT, "/", value))
    if part == "query":
        old = recv.get("query")
        sep = "&" if old is not None else "?"
        v2 = args[2] if len(args) > 2 else Text((None,))
        q = concat(old or EMPTY_TEXT, sep, value, "=", v2)
        return mutate(recv, "uri_builder", query=q)
    return mutate(recv, "uri_builder", **{part: value})


def _assemble(b: object) -> object:
    if not isinstance(b, Obj):
        return Text((None,))
    base = b.get("base")
    if base is not None:
        return concat(base, b.get("path") or EMPTY_TEXT, b.get("query") or EMPTY_TEXT)
    scheme = b.get("scheme")
    auth = b.get("authority")
    port = b.get("port")
    path = b.get("path") or EMPTY_TEXT
    if isinstance(path, Text) and path.literal and not path.literal.startswith("/"):
        path = concat("/", path)
    pieces: list[object] = []
    if scheme is not None:
        pieces += [scheme, "://"]
    pieces.append(auth if auth is not None else Text((None,)))
    if port is not None:
        pieces += [":", port]
    pieces += [path, b.get("query") or EMPTY_TEXT]
    return concat(*pieces)


def _url(ref: MethodRef, args: list[object]) -> object:
    if ref.class_name != "Ljava/net/URL;":
        return NotImplemented
    recv = args[0] if args else UNKNOWN
    name = ref.name
    if name == "<init>":
        types = ref.param_types
        if types == ("Ljava/lang/String;",):
            return mutate(recv, "url", url=text_of(args[1]))
        if types[:2] == ("Ljava/lang/String;", "Ljava/lang/String;") and len(args) >= 4:
            if len(types) >= 3 and types[2] == "I":  # protocol, host, port, file
                return mutate(
                    recv,
                    "url",
                    url=concat(
                        args[1], "://", args[2], ":", args[3], args[4] if len(args) > 4 else ""
                    ),
                )
            return mutate(recv, "url", url=concat(args[1], "://", args[2], args[3]))
        if types and types[0] == "Ljava/net/URL;" and len(args) > 2:
            return mutate(recv, "url", url=concat(url_of(args[1]), args[2]))
        return mutate(recv, "url", url=Text((None,)))
    if name == "openConnection":
        return obj("conn", ("conn", recv), url=url_of(recv))
    if name in ("openStream",):
        return obj("stream", ("stream", recv), url=url_of(recv))
    if name in ("toString", "toExternalForm"):
        return url_of(recv)
    if name == "toURI":
        return obj("uri", recv, url=url_of(recv))
    return NotImplemented


def _connection(ref: MethodRef, args: list[object]) -> object:
    cls, name = ref.class_name, ref.name
    recv = args[0] if args else UNKNOWN
    if cls in _CONNECTIONS or cls == "Ljava/net/Socket;":
        if name == "getOutputStream":
            return obj("stream", ("stream", recv), url=url_of(recv))
        if name == "getURL":
            return obj("url", ("url", recv), url=url_of(recv))
    if cls in _STREAM_WRAPPERS and name == "<init>" and len(args) > 1:
        return mutate(recv, "stream", url=url_of(args[1]))
    return NotImplemented


def _num(ref: MethodRef, args: list[object]) -> object:
    if ref.class_name in ("Ljava/lang/Integer;", "Ljava/lang/Long;") and args:
        if ref.name in ("toString", "valueOf") and isinstance(args[0], Num):
            return args[0] if ref.name == "valueOf" else Text((str(args[0].value),))
        if ref.name in ("parseInt", "intValue") and isinstance(args[0], Text) and args[0].literal:
            lit = args[0].literal
            return Num(int(lit)) if lit.isdigit() else UNKNOWN
    return NotImplemented


def is_resource_read(ref: MethodRef) -> bool:
    return (
        ref.name in ("getString", "getText")
        and ref.proto.startswith("(I)")
        and ref.class_name.startswith(_RESOURCE_OWNERS)
    )


MODELS: dict[str, Model] = {}
for _names, _fn in (
    (("<init>", "append", "toString"), _string_builder),
    (("valueOf", "copyValueOf", "concat", "format", "trim", "intern", "toLowerCase",
      "toUpperCase"), _string),
    (("getText",), _text_field),
    (("stringPlus",), _kotlin),
    (("encode",), _encode),
    (("parse", "create", "get", "withAppendedPath", "buildUpon", "newBuilder", "toURL", "toURI",
      "url", "uri"), _uri),
    (("build", *_BUILDER_PARTS), _uri_builder),
    (("openConnection", "openStream", "toExternalForm"), _url),
    (("getOutputStream", "getURL"), _connection),
    (("newCall", "newWebSocket", "request", "post", "put", "patch", "delete", "method", "header",
      "addHeader", "tag", "removeHeader", "cacheControl"), okhttp_call),
    (("socket", "connect", "getByName", "createSocket"), socket_call),
    (("setURI",), http_request_call),
    (("baseUrl", "addConverterFactory", "addCallAdapterFactory", "client"), retrofit_call),
    (("loadUrl", "postUrl"), webview_call),
    (("parseInt", "intValue"), _num),
):  # fmt: skip
    for _n in _names:
        MODELS.setdefault(_n, _fn)

# Constructors, toString, build and create are shared by several families: try each in turn.
_CHAINS: dict[str, tuple[Model, ...]] = {
    "<init>": (
        _string_builder,
        _uri,
        _uri_builder,
        _url,
        _connection,
        okhttp_call,
        socket_call,
        http_request_call,
        retrofit_call,
    ),
    "toString": (_string_builder, _string, _uri, _url, _num),
    "build": (_uri_builder, okhttp_call, retrofit_call),
    "create": (_uri, retrofit_call),
    "valueOf": (_string, _num),
    "url": (okhttp_call, _uri),
    "connect": (socket_call,),
    "getOutputStream": (_connection,),
}


def model_call(ref: MethodRef, args: list[object]) -> object:
    """The modelled result of a framework/library call, or NotImplemented."""
    if ref.name == "toString" and args and isinstance(args[0], Text):
        return args[0]  # Editable, CharSequence, String: the same text
    if ref.class_name in _SB and ref.name not in ("<init>", "append", "toString"):
        return args[0] if ref.name in ("insert", "reverse") and args else NotImplemented
    fns = _CHAINS.get(ref.name)
    if fns is None:
        fn = MODELS.get(ref.name)
        fns = (fn,) if fn else ()
    for fn in fns:
        out = fn(ref, args)
        if out is not NotImplemented:
            return out
    return NotImplemented
