"""Models of the HTTP and socket libraries for the symbolic evaluator, and the helpers every
model uses to make and change address-carrying objects.

OkHttp (Request.Builder, OkHttpClient.newCall), socket.io (IO.socket), java.net sockets,
Volley and Apache HttpClient requests, Retrofit (Builder.baseUrl, create), WebView page loads
(loadUrl, postUrl). Descriptors from the libraries' references (square.github.io/okhttp,
square.github.io/retrofit, google.github.io/volley, socketio.github.io/socket.io-client-java,
hc.apache.org, developer.android.com/reference/android/webkit/WebView).
"""

from __future__ import annotations

from apkaudit.behaviour.symbolic import (
    UNKNOWN,
    Cls,
    Mutation,
    Obj,
    Sym,
    Text,
    alt,
    concat,
    options,
    text_of,
)
from apkaudit.code.dex.reader import MethodRef

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


def obj(kind: str, recv: object, **attrs: object) -> object:
    site = recv.site if isinstance(recv, Obj) else ("anon", kind)
    return Obj(kind, site).with_attrs(**attrs)


def mutate(recv: object, kind: str, **attrs: object) -> object:
    if isinstance(recv, Obj):
        new = Obj(kind, recv.site, recv.attrs).with_attrs(**attrs)
        return Mutation(recv, new)
    return obj(kind, recv, **attrs)


def okhttp_call(ref: MethodRef, args: list[object]) -> object:
    cls, name = ref.class_name, ref.name
    recv = args[0] if args else UNKNOWN
    if cls in ("Lokhttp3/Request$Builder;", "Lcom/squareup/okhttp/Request$Builder;"):
        if name == "<init>":
            return mutate(recv, "okreq_builder")
        if name == "url" and len(args) > 1:
            return mutate(recv, "okreq_builder", url=url_of(args[1]))
        if name == "build":
            return obj("okreq", ("okreq", recv), url=attr(recv, "url"))
        return recv if isinstance(recv, Obj) else NotImplemented
    clients = ("Lokhttp3/OkHttpClient;", "Lcom/squareup/okhttp/OkHttpClient;")
    if cls in clients and name in ("newCall", "newWebSocket") and len(args) > 1:
        return obj("okcall", ("okcall", args[1]), url=url_of(args[1]))
    if cls == "Lokhttp3/Call;" and name == "request" and args:
        return obj("okreq", ("okreq", recv), url=url_of(recv))
    return NotImplemented


def attr(v: object, name: str) -> object:
    return alt(
        (o.get(name) or Text((None,))) if isinstance(o, Obj) else Text((None,)) for o in options(v)
    )


def socket_call(ref: MethodRef, args: list[object]) -> object:
    cls, name = ref.class_name, ref.name
    recv = args[0] if args else UNKNOWN
    if cls == "Lio/socket/client/IO;" and name == "socket" and args:
        return obj("socketio", ("socketio", args[0]), url=url_of(args[0]))
    if cls in ("Ljava/net/Socket;", "Ljava/net/InetSocketAddress;", "Ljavax/net/ssl/SSLSocket;"):
        if name == "<init>" and len(args) > 2 and ref.param_types[1:2] == ("I",):
            return mutate(recv, "socket", url=concat("tcp://", host(args[1]), ":", args[2]))
        if name == "connect" and len(args) > 1:
            return mutate(recv, "socket", url=url_of(args[1]))
    if cls == "Ljava/net/InetAddress;" and name == "getByName" and args:
        return obj("inet", ("inet", args[0]), host=text_of(args[0]))
    if cls == "Ljavax/net/SocketFactory;" and name == "createSocket" and len(args) > 2:
        return obj("socket", ("socket", args[1]), url=concat("tcp://", host(args[1]), ":", args[2]))
    return NotImplemented


def host(v: object) -> object:
    return alt(
        o.get("host") or Text((None,)) if isinstance(o, Obj) else text_of(o) for o in options(v)
    )


def http_request_call(ref: MethodRef, args: list[object]) -> object:
    cls, name = ref.class_name, ref.name
    recv = args[0] if args else UNKNOWN
    if name == "<init>" and cls in _VOLLEY_REQUESTS | _APACHE_REQUESTS:
        for t, v in zip(ref.param_types, args[1:], strict=False):
            if t in ("Ljava/lang/String;", "Ljava/net/URI;"):
                return mutate(recv, "httpreq", url=url_of(v))
        return mutate(recv, "httpreq", url=Text((None,)))
    if name == "setURI" and len(args) > 1:
        return mutate(recv, "httpreq", url=url_of(args[1]))
    return NotImplemented


def retrofit_call(ref: MethodRef, args: list[object]) -> object:
    cls, name = ref.class_name, ref.name
    recv = args[0] if args else UNKNOWN
    if cls == "Lretrofit2/Retrofit$Builder;":
        if name == "<init>":
            return mutate(recv, "retrofit_builder")
        if name == "baseUrl" and len(args) > 1:
            return mutate(recv, "retrofit_builder", url=url_of(args[1]))
        if name == "build":
            return obj("retrofit", ("retrofit", recv), url=attr(recv, "url"))
        return recv if isinstance(recv, Obj) else NotImplemented
    if cls == "Lretrofit2/Retrofit;" and name == "create" and len(args) > 1:
        iface = args[1].name if isinstance(args[1], Cls) else ""
        return obj("retrofit_service", ("svc", recv, iface), url=url_of(recv), iface=iface)
    return NotImplemented


_WEBVIEWS = ("Landroid/webkit/WebView;", "Lcom/tencent/smtt/sdk/WebView;")  # Tencent X5 too


def webview_call(ref: MethodRef, args: list[object]) -> object:
    """``loadUrl(url[, headers])`` and ``postUrl(url, body)``: a request to ``url``."""
    if ref.class_name in _WEBVIEWS and ref.name in ("loadUrl", "postUrl") and len(args) > 1:
        return obj("webview", ("webview", args[1]), url=url_of(args[1]))
    return NotImplemented
