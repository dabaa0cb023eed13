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
    Cls,
    Mutation,
    Num,
    Obj,
    Sym,
    Text,
    alt,
    concat,
    options,
    text_of,
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
_VOLLEY_REQUESTS = {
    "Lcom/android/volley/toolbox/StringRequest;",
    "Lcom/android/volley/toolbox/JsonObjectRequest;",
    "Lcom/android/volley/toolbox/JsonArrayRequest;",
    "Lcom/android/volley/toolbox/JsonRequest;",
    "Lcom/android/volley/Request;",
}
_APACHE_REQUESTS = {
    "Lorg/apache/http/client/methods/HttpPost;",
    "Lorg/apache/http/client/methods/HttpGet;",
    "Lorg/apache/http/client/methods/HttpPut;",
    "Lorg/apache/http/client/methods/HttpDelete;",
    "Lorg/apache/http/client/methods/HttpPatch;",
}
_TEXT_FIELDS = {
    "Landroid/widget/EditText;",
    "Landroid/widget/TextView;",
    "Landroid/widget/AutoCompleteTextView;",
    "Lcom/google/android/material/textfield/TextInputEditText;",
    "Landroidx/appcompat/widget/AppCompatEditText;",
}
_RESOURCE_OWNERS = ("Landroid/content/", "Landroid/app/", "Landroid/content/res/Resources;")


def url_of(v: object) -> object:
    """The address a value carries: a string, or the ``url`` attribute of an object."""
    out = []
    for o in options(v):
        if isinstance(o, Obj):
            u = o.get("url")
            out.append(u if u is not None else UNKNOWN)
        elif isinstance(o, Text):
            out.append(o)
        elif isinstance(o, Sym):
            out.append(Text((o,)))
        else:
            out.append(UNKNOWN)
    return alt(out)


def _obj(kind: str, recv: object, **attrs: object) -> object:
    site = recv.site if isinstance(recv, Obj) else ("anon", kind)
    return Obj(kind, site).with_attrs(**attrs)


def _mutate(recv: object, kind: str, **attrs: object) -> object:
    if isinstance(recv, Obj):
        new = Obj(kind, recv.site, recv.attrs).with_attrs(**attrs)
        return Mutation(recv, new)
    return _obj(kind, recv, **attrs)


# --------------------------------------------------------------------------- strings


def _string_builder(ref: MethodRef, args: list[object]) -> object:
    if ref.class_name not in _SB:
        return NotImplemented
    recv = args[0] if args else UNKNOWN
    if ref.name == "<init>":
        start = text_of(args[1]) if len(args) > 1 and ref.param_types[0] != "I" else EMPTY_TEXT
        return _mutate(recv, "sb", text=start)
    if ref.name == "append" and len(args) > 1:
        base = recv.get("text") if isinstance(recv, Obj) else None
        return _mutate(
            recv, "sb", text=concat(base if base is not None else Text((None,)), args[1])
        )
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
    if cls in ("Landroid/net/Uri;", "Ljava/net/URI;", "Lokhttp3/HttpUrl;"):
        if name in ("parse", "create", "get") and args:
            return _obj("uri", args[0], url=text_of(args[0]))
        if name == "<init>" and len(args) > 1:
            return _mutate(args[0], "uri", url=text_of(args[1]))
        if name in ("toString", "toURL", "toURI", "url", "uri") and args:
            return (
                _obj("uri", args[0], url=url_of(args[0])) if name != "toString" else url_of(args[0])
            )
        if name == "withAppendedPath" and len(args) > 1:
            return _obj("uri", args[0], url=concat(url_of(args[0]), "/", args[1]))
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
        return _mutate(recv, "uri_builder")
    if ref.name == "build":
        return _obj("uri", recv, url=_assemble(recv))
    part = _BUILDER_PARTS.get(ref.name)
    if part is None or not isinstance(recv, Obj):
        return recv if isinstance(recv, Obj) else NotImplemented
    value = args[1] if len(args) > 1 else Text((None,))
    if part == "append":
        return _mutate(recv, "uri_builder", path=concat(recv.get("path") or EMPTY_TEXT, "/", value))
    if part == "query":
        old = recv.get("query")
        sep = "&" if old is not None else "?"
        v2 = args[2] if len(args) > 2 else Text((None,))
        q = concat(old or EMPTY_TEXT, sep, value, "=", v2)
        return _mutate(recv, "uri_builder", query=q)
    return _mutate(recv, "uri_builder", **{part: value})


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
            return _mutate(recv, "url", url=text_of(args[1]))
        if types[:2] == ("Ljava/lang/String;", "Ljava/lang/String;") and len(args) >= 4:
            if len(types) >= 3 and types[2] == "I":  # protocol, host, port, file
                return _mutate(
                    recv,
                    "url",
                    url=concat(
                        args[1], "://", args[2], ":", args[3], args[4] if len(args) > 4 else ""
                    ),
                )
            return _mutate(recv, "url", url=concat(args[1], "://", args[2], args[3]))
        if types and types[0] == "Ljava/net/URL;" and len(args) > 2:
            return _mutate(recv, "url", url=concat(url_of(args[1]), args[2]))
        return _mutate(recv, "url", url=Text((None,)))
    if name == "openConnection":
        return _obj("conn", ("conn", recv), url=url_of(recv))
    if name in ("openStream",):
        return _obj("stream", ("stream", recv), url=url_of(recv))
    if name in ("toString", "toExternalForm"):
        return url_of(recv)
    if name == "toURI":
        return _obj("uri", recv, url=url_of(recv))
    return NotImplemented


def _connection(ref: MethodRef, args: list[object]) -> object:
    cls, name = ref.class_name, ref.name
    recv = args[0] if args else UNKNOWN
    if cls in _CONNECTIONS or cls == "Ljava/net/Socket;":
        if name == "getOutputStream":
            return _obj("stream", ("stream", recv), url=url_of(recv))
        if name == "getURL":
            return _obj("url", ("url", recv), url=url_of(recv))
    if cls in _STREAM_WRAPPERS and name == "<init>" and len(args) > 1:
        return _mutate(recv, "stream", url=url_of(args[1]))
    return NotImplemented


# --------------------------------------------------------------------------- libraries


def _okhttp(ref: MethodRef, args: list[object]) -> object:
    cls, name = ref.class_name, ref.name
    recv = args[0] if args else UNKNOWN
    if cls in ("Lokhttp3/Request$Builder;", "Lcom/squareup/okhttp/Request$Builder;"):
        if name == "<init>":
            return _mutate(recv, "okreq_builder")
        if name == "url" and len(args) > 1:
            return _mutate(recv, "okreq_builder", url=url_of(args[1]))
        if name == "build":
            return _obj("okreq", ("okreq", recv), url=_attr(recv, "url"))
        return recv if isinstance(recv, Obj) else NotImplemented
    clients = ("Lokhttp3/OkHttpClient;", "Lcom/squareup/okhttp/OkHttpClient;")
    if cls in clients and name in ("newCall", "newWebSocket") and len(args) > 1:
        return _obj("okcall", ("okcall", args[1]), url=url_of(args[1]))
    if cls == "Lokhttp3/Call;" and name == "request" and args:
        return _obj("okreq", ("okreq", recv), url=url_of(recv))
    return NotImplemented


def _attr(v: object, name: str) -> object:
    return alt(
        (o.get(name) or Text((None,))) if isinstance(o, Obj) else Text((None,)) for o in options(v)
    )


def _socket(ref: MethodRef, args: list[object]) -> object:
    cls, name = ref.class_name, ref.name
    recv = args[0] if args else UNKNOWN
    if cls == "Lio/socket/client/IO;" and name == "socket" and args:
        return _obj("socketio", ("socketio", args[0]), url=url_of(args[0]))
    if cls in ("Ljava/net/Socket;", "Ljava/net/InetSocketAddress;", "Ljavax/net/ssl/SSLSocket;"):
        if name == "<init>" and len(args) > 2 and ref.param_types[1:2] == ("I",):
            return _mutate(recv, "socket", url=concat("tcp://", _host(args[1]), ":", args[2]))
        if name == "connect" and len(args) > 1:
            return _mutate(recv, "socket", url=url_of(args[1]))
    if cls == "Ljava/net/InetAddress;" and name == "getByName" and args:
        return _obj("inet", ("inet", args[0]), host=text_of(args[0]))
    if cls == "Ljavax/net/SocketFactory;" and name == "createSocket" and len(args) > 2:
        return _obj(
            "socket", ("socket", args[1]), url=concat("tcp://", _host(args[1]), ":", args[2])
        )
    return NotImplemented


def _host(v: object) -> object:
    return alt(
        o.get("host") or Text((None,)) if isinstance(o, Obj) else text_of(o) for o in options(v)
    )


def _http_request(ref: MethodRef, args: list[object]) -> object:
    cls, name = ref.class_name, ref.name
    recv = args[0] if args else UNKNOWN
    if name == "<init>" and cls in _VOLLEY_REQUESTS | _APACHE_REQUESTS:
        for t, v in zip(ref.param_types, args[1:], strict=False):
            if t in ("Ljava/lang/String;", "Ljava/net/URI;"):
                return _mutate(recv, "httpreq", url=url_of(v))
        return _mutate(recv, "httpreq", url=Text((None,)))
    if name == "setURI" and len(args) > 1:
        return _mutate(recv, "httpreq", url=url_of(args[1]))
    return NotImplemented


def _retrofit(ref: MethodRef, args: list[object]) -> object:
    cls, name = ref.class_name, ref.name
    recv = args[0] if args else UNKNOWN
    if cls == "Lretrofit2/Retrofit$Builder;":
        if name == "<init>":
            return _mutate(recv, "retrofit_builder")
        if name == "baseUrl" and len(args) > 1:
            return _mutate(recv, "retrofit_builder", url=url_of(args[1]))
        if name == "build":
            return _obj("retrofit", ("retrofit", recv), url=_attr(recv, "url"))
        return recv if isinstance(recv, Obj) else NotImplemented
    if cls == "Lretrofit2/Retrofit;" and name == "create" and len(args) > 1:
        iface = args[1].name if isinstance(args[1], Cls) else ""
        return _obj("retrofit_service", ("svc", recv, iface), url=url_of(recv), iface=iface)
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
    (("encode",), _encode),
    (("parse", "create", "get", "withAppendedPath", "buildUpon", "newBuilder", "toURL", "toURI",
      "url", "uri"), _uri),
    (("build", *_BUILDER_PARTS), _uri_builder),
    (("openConnection", "openStream", "toExternalForm"), _url),
    (("getOutputStream", "getURL"), _connection),
    (("newCall", "newWebSocket", "request", "post", "put", "patch", "delete", "method", "header",
      "addHeader", "tag", "removeHeader", "cacheControl"), _okhttp),
    (("socket", "connect", "getByName", "createSocket"), _socket),
    (("setURI",), _http_request),
    (("baseUrl", "addConverterFactory", "addCallAdapterFactory", "client"), _retrofit),
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
        _okhttp,
        _socket,
        _http_request,
        _retrofit,
    ),
    "toString": (_string_builder, _string, _uri, _url, _num),
    "build": (_uri_builder, _okhttp, _retrofit),
    "create": (_uri, _retrofit),
    "valueOf": (_string, _num),
    "url": (_okhttp, _uri),
    "connect": (_socket,),
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
