"""Where the data goes: the address of every network sink, and the numbers and texts of SMS.

For each network sink of a data-flow chain (and each network send in the code), the symbolic
evaluator (symbolic.py, resolver.py) works out the object the data is written to — a stream
opened on a URL connection, an OkHttp call, a socket.io socket, a Volley or Apache request, a
Retrofit service, a WebView page load — and the address that object was made with: constants,
string building, Uri.Builder, String.format, fields set elsewhere, string resources, Retrofit's
baseUrl plus the method's ``@POST("path")`` or the URL passed for its ``@Url`` parameter. The
result says how it was resolved (constant, built, resource, unresolved) and under which keys
the data was put (JSON keys, form names, the names of Retrofit's @Query/@Field/@Path
parameters, the query parameters of a URL a WebView loads).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from apkaudit.behaviour.apis import SMS_SEND_DEST
from apkaudit.behaviour.resolver import Resolver
from apkaudit.behaviour.symbolic import UNKNOWN, Obj, Text, options
from apkaudit.behaviour.symbolic_models import model_call, url_of
from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.values import method_annotation_values, parameter_annotation_values
from apkaudit.errors import DexFormatError
from apkaudit.model import Chain, CodeLocation, Destination, Resolution

MAX_SINK_SITES = 16  # network sends in app code outside chains whose address is looked up
MAX_SINK_EVALS = 48  # method evaluations spent on them
MAX_KEYS = 16
MAX_TEXTS = 4

_HOLE = "\x00"
_LOCAL_SCHEMES = {"file", "content", "android.resource", "data", "about", "javascript", "asset"}
_URL = re.compile(r"^(?:([A-Za-z][A-Za-z0-9+.-]*):)?//([^/?#]*)([^?#]*)(.*)$", re.S)
_HOSTNAME = re.compile(r"^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:.]+\]$")

# Calls that put a value under a key in a request body, form or query: (class, method) ->
# (key argument, value argument) as logical positions (receiver = 0).
PUT_KEYS = {
    ("Lorg/json/JSONObject;", "put"): (1, 2),
    ("Lorg/json/JSONObject;", "accumulate"): (1, 2),
    ("Lcom/google/gson/JsonObject;", "addProperty"): (1, 2),
    ("Lcom/google/gson/JsonObject;", "add"): (1, 2),
    ("Ljava/util/Map;", "put"): (1, 2),
    ("Ljava/util/HashMap;", "put"): (1, 2),
    ("Ljava/util/LinkedHashMap;", "put"): (1, 2),
    ("Ljava/util/TreeMap;", "put"): (1, 2),
    ("Landroid/util/ArrayMap;", "put"): (1, 2),
    ("Lorg/apache/http/message/BasicNameValuePair;", "<init>"): (1, 2),
    ("Lokhttp3/FormBody$Builder;", "add"): (1, 2),
    ("Lokhttp3/FormBody$Builder;", "addEncoded"): (1, 2),
    ("Lokhttp3/MultipartBody$Builder;", "addFormDataPart"): (1, 2),
    ("Lokhttp3/HttpUrl$Builder;", "addQueryParameter"): (1, 2),
    ("Landroid/net/Uri$Builder;", "appendQueryParameter"): (1, 2),
}

_API = {
    "socketio": "socket.io",
    "socket": "tcp",
    "retrofit_service": "retrofit",
    "okcall": "okhttp",
    "okreq": "okhttp",
    "webview": "webview",
}


@dataclass(frozen=True, slots=True)
class Address:
    """One candidate address of a sink."""

    text: Text
    api: str


def chain_calls(resolver: Resolver, chain: Chain) -> dict[tuple[str, str], CodeLocation]:
    """callee -> the call site the chain's data went through (pins parameters to it)."""
    out: dict[tuple[str, str], CodeLocation] = {}
    for hop in chain.hops:
        if hop.role != "call":
            continue
        loc = hop.location
        ev = resolver.evaluate((loc.class_name, loc.method))
        if ev is None:
            continue
        insn = ev.code.at(loc.offset)
        if insn is None or insn.op not in O.INVOKE_OPS or insn.idx is None:
            continue
        ref = ev.dex.method_ref(insn.idx)
        target = resolver.defined(ref.class_name, ref.signature) or (ref.class_name, ref.signature)
        out.setdefault(target, loc)
    return out


def addresses_at(resolver: Resolver, loc: CodeLocation, calls: dict | None = None) -> list[Address]:
    """The addresses the invoke at ``loc`` sends to (best first; [] when it is no sink)."""
    ev = resolver.evaluate((loc.class_name, loc.method))
    got = ev.arg_values(loc.offset) if ev else None
    if got is None:
        return []
    ref, args = got
    found: list[Address] = []
    retro = _retrofit_method(resolver, ref)
    ends = _retrofit_ends(resolver, retro, args, calls)
    values = list(args)
    result = model_call(ref, [resolver.expand(a, calls=calls) for a in args])
    if result is not NotImplemented and result is not UNKNOWN:
        values.append(result)
    for v in values:
        for o in options(resolver.expand(v, calls=calls)):
            if not isinstance(o, Obj) or o.get("url") is None:
                continue
            api = _API.get(o.kind, "")
            if not api:
                api = _api_of_class(ref.class_name)
            for u in options(url_of(o)):
                if not isinstance(u, Text):
                    u = Text((None,))
                if ends and o.kind == "retrofit_service":
                    found += [Address(_join_base(u, end), api) for end in ends]
                    continue
                found.append(Address(u, api))
        if found:
            break
    if not found and ends:  # a Retrofit call whose service we could not trace
        found += [Address(_join_base(Text((None,)), end), "retrofit") for end in ends]
    found.sort(key=lambda a: (_host_of(a.text) == "", -len(a.text.origins), a.text.render()))
    return found


def _retrofit_ends(
    resolver: Resolver, retro: RetrofitMethod | None, args: list, calls: dict | None
) -> list[Text]:
    """What a Retrofit call adds to its base URL: the @Url argument's values (an unknown one
    stays unknown), else the annotation's path."""
    if retro is None:
        return []
    if retro.url_arg is not None and retro.url_arg < len(args):
        value = resolver.expand(args[retro.url_arg], calls=calls)
        return [o if isinstance(o, Text) else Text((None,)) for o in options(url_of(value))]
    return [retro.path] if retro.path is not None else []


def _api_of_class(cls: str) -> str:
    if cls.startswith("Lcom/android/volley/"):
        return "volley"
    if cls.startswith("Lorg/apache/http/"):
        return "apache-http"
    if cls.startswith(("Lokhttp3/", "Lcom/squareup/okhttp/")):
        return "okhttp"
    if cls.startswith("Lio/socket/"):
        return "socket.io"
    if "WebSocket" in cls:
        return "websocket"
    return "urlconnection"


@dataclass(frozen=True, slots=True)
class RetrofitMethod:
    """What a Retrofit interface method's annotations say about its request."""

    path: Text | None  # @GET/@POST/... value (None: none, or the URL is the @Url argument)
    url_arg: int | None  # logical argument position (receiver = 0) of the @Url parameter
    keys: tuple[tuple[str, int], ...]  # (@Query/@Field/@Path/@Part/@Header name, argument)


_RETROFIT = ("Lretrofit2/http/", "Lretrofit/http/")
_NAMED_PARAMS = {"Query", "QueryName", "Field", "Path", "Part", "Header"}


def _retrofit_method(resolver: Resolver, ref) -> RetrofitMethod | None:
    """The annotations of a Retrofit interface method (None: not one)."""
    hit = resolver.dex.classes.get(ref.class_name)
    if hit is None:
        return None
    dex, cdef = hit
    try:
        annotations = method_annotation_values(dex, cdef)
        midx = dex.find_method(ref.class_name, ref.name, ref.proto)
        params = parameter_annotation_values(dex, cdef).get(midx, ()) if midx is not None else ()
    except DexFormatError:
        return None
    path: Text | None = None
    http = False
    for atype, elements in annotations.get(midx, ()) if midx is not None else ():
        if atype.startswith(_RETROFIT):
            http = True
            value = elements.get("value") or elements.get("path")
            if isinstance(value, str) and value and path is None:
                loc = CodeLocation(dex.name, ref.class_name, ref.signature, 0)
                path = Text((value,), frozenset({loc}))
    url_arg: int | None = None
    keys: list[tuple[str, int]] = []
    for i, anns in enumerate(params, 1):  # argument 0 is the service object
        for atype, elements in anns:
            if not atype.startswith(_RETROFIT):
                continue
            http = True
            kind = atype.rsplit("/", 1)[-1].rstrip(";")
            name = elements.get("value")
            if kind == "Url":
                url_arg = i
            elif kind in _NAMED_PARAMS and isinstance(name, str) and name:
                keys.append((name[:64], i))
    return RetrofitMethod(path, url_arg, tuple(keys)) if http else None


def _join_base(base: Text, path: Text) -> Text:
    """Retrofit's rule, simplified: an absolute URL replaces the base URL, a relative path is
    resolved against it; a URL that starts with a value known only at run time may be either,
    so nothing of the base is kept."""
    p = path.render(_HOLE)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", p) or p.startswith("//"):
        return path
    if p.startswith(_HOLE):
        return Text((None,), path.origins, path.resource, built=True)
    b = base.render(_HOLE)
    joined = (b.rstrip("/") + "/" + p.lstrip("/")) if b else p
    parts: list[str | None] = []
    for i, piece in enumerate(joined.split(_HOLE)):
        if i:
            parts.append(None)
        if piece:
            parts.append(piece)
    resource = base.resource or path.resource
    return Text(tuple(parts) or ("",), base.origins | path.origins, resource, built=True)


def _host_of(t: Text) -> str:
    m = _URL.match(t.render(_HOLE))
    if not m:
        return ""
    host = m.group(2).rsplit("@", 1)[-1]
    host = re.sub(r":\d*$", "", host) if not host.startswith("[") else host
    return host if host and _HOLE not in host and _HOSTNAME.match(host) else ""


def destination_of(addr: Address, loc: CodeLocation | None, origin: str) -> Destination:
    text = addr.text
    rendered = text.render(_HOLE)
    scheme = host = path = ""
    port: int | None = None
    m = _URL.match(rendered)
    if m:
        scheme = (m.group(1) or "").lower()
        if _HOLE in scheme:
            scheme = ""
        authority = m.group(2).rsplit("@", 1)[-1]
        hp = re.match(r"^(\[[^\]]*\]|[^:]*)(?::(\d+))?$", authority)
        if hp:
            host = hp.group(1)
            digits = hp.group(2) or ""
            port = int(digits) if digits and len(digits) <= 5 and int(digits) <= 65535 else None
        if _HOLE in host or not _HOSTNAME.match(host or "-"):
            host = ""
        path = m.group(3).replace(_HOLE, "…")
    if not host:
        resolution = Resolution.UNRESOLVED
    elif text.resource:
        resolution = Resolution.RESOURCE
    elif len(text.origins) > 1:
        resolution = Resolution.BUILT
    else:
        resolution = Resolution.CONSTANT
    url = rendered.replace(_HOLE, "…") if rendered.strip(_HOLE) else ""
    if url.startswith("/") and not url.startswith("//"):
        url = "…" + url  # a path with no server: the server part is only known at run time
    api = addr.api
    if scheme in ("tcp", "udp") or (scheme in ("ws", "wss") and api == "okhttp"):
        api = "tcp" if scheme in ("tcp", "udp") else "websocket"
    return Destination(
        url=url[:512],
        scheme=scheme,
        host=host.lower()[:255],
        port=port,
        path=path[:256],
        resolution=resolution,
        api=api,
        evidence=tuple(sorted(text.origins))[:8],
        location=loc,
        origin=origin,
    )


def payload_keys(resolver: Resolver, chain: Chain) -> tuple[str, ...]:
    """Keys of non-constant values put into JSON objects, maps, forms or queries in the methods
    the chain's data passes through."""
    keys: list[str] = []
    for key in dict.fromkeys((h.location.class_name, h.location.method) for h in chain.hops):
        ev = resolver.evaluate(key)
        if ev is None:
            continue
        for insn in ev.code.insns:
            if insn.op not in O.INVOKE_OPS or insn.idx is None:
                continue
            ref = ev.dex.method_ref(insn.idx)
            pos = PUT_KEYS.get((ref.class_name, ref.name))
            if pos is None:
                continue
            got = ev.arg_values(insn.offset)
            if got is None or len(got[1]) <= pos[1]:
                continue
            k, v = got[1][pos[0]], got[1][pos[1]]
            if isinstance(k, Text) and k.literal and not _is_constant(v):
                keys.append(k.literal[:64])
    return tuple(dict.fromkeys(keys))[:MAX_KEYS]


def retrofit_keys(resolver: Resolver, loc: CodeLocation) -> tuple[str, ...]:
    """The @Query/@Field/@Path/@Part/@Header names of a Retrofit call's non-constant arguments."""
    ev = resolver.evaluate((loc.class_name, loc.method))
    got = ev.arg_values(loc.offset) if ev else None
    if got is None:
        return ()
    ref, args = got
    retro = _retrofit_method(resolver, ref)
    if retro is None:
        return ()
    return tuple(
        name
        for name, i in retro.keys
        if i < len(args) and not _is_constant(resolver.expand(args[i]))
    )


def query_keys(text: Text) -> tuple[str, ...]:
    """Names of the query parameters whose value is only known at run time (``?c=`` + data)."""
    query = text.render(_HOLE).partition("?")[2].partition("#")[0]
    out = []
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        if eq and _HOLE in value and name and _HOLE not in name:
            out.append(name[:64])
    return tuple(dict.fromkeys(out))


def _is_constant(v: object) -> bool:
    return isinstance(v, Text) and v.literal is not None and not v.user_input


def chain_destination(resolver: Resolver, chain: Chain, origin_of) -> Destination | None:
    if chain.sink != "network":
        return None
    sink = chain.hops[-1].location
    calls = chain_calls(resolver, chain)
    found = addresses_at(resolver, sink, calls)
    keys = tuple(dict.fromkeys((*payload_keys(resolver, chain), *retrofit_keys(resolver, sink))))
    if found and found[0].api == "webview":
        keys = tuple(dict.fromkeys((*keys, *query_keys(found[0].text))))
    keys = keys[:MAX_KEYS]
    if not found:
        return Destination(location=sink, payload_keys=keys, origin=chain.origin)
    best = destination_of(found[0], sink, chain.origin)
    alts = tuple(dict.fromkeys(destination_of(a, None, "").url for a in found[1:]))
    return replace(best, payload_keys=keys, alternatives=tuple(a for a in alts if a)[:4])


def with_destinations(
    resolver: Resolver, chains: tuple[Chain, ...], origin_of
) -> tuple[Chain, ...]:
    return tuple(
        replace(c, destination=chain_destination(resolver, c, origin_of))
        if c.sink == "network"
        else c
        for c in chains
    )


def app_destinations(
    resolver: Resolver,
    chains: tuple[Chain, ...],
    send_sites: tuple[tuple[CodeLocation, str], ...],
) -> tuple[Destination, ...]:
    """One entry per address: the chains' destinations with the data kinds that reach them, then
    the other network sends of the code (``send_sites``: location, origin) with no data."""
    by_url: dict[tuple, Destination] = {}
    seen_sites: set[CodeLocation] = set()
    for i, c in enumerate(chains):
        d = c.destination
        if d is None:
            continue
        seen_sites.add(c.hops[-1].location)
        key = (d.url or f"?{d.location}", d.api)
        old = by_url.get(key)
        if old is None:
            by_url[key] = replace(d, data=(c.source,), chains=(i,))
        else:
            by_url[key] = replace(
                old,
                data=tuple(dict.fromkeys((*old.data, c.source))),
                chains=(*old.chains, i),
                payload_keys=tuple(dict.fromkeys((*old.payload_keys, *d.payload_keys)))[:MAX_KEYS],
            )
    resolver.limit = min(resolver.limit, resolver.evals + MAX_SINK_EVALS)
    resolver.global_fields = False
    own = [(loc, o) for loc, o in send_sites if not o.startswith("sdk:") and loc not in seen_sites]
    for loc, origin in own[:MAX_SINK_SITES]:
        for addr in addresses_at(resolver, loc)[:4]:
            d = destination_of(addr, loc, origin)
            key = (d.url, d.api)
            if (
                d.host and d.scheme not in _LOCAL_SCHEMES and key not in by_url
            ):  # an unknown address with no data says nothing
                by_url[key] = d
    return tuple(by_url.values())


# --------------------------------------------------------------------------- SMS


@dataclass(frozen=True, slots=True)
class SmsArgs:
    numbers: tuple[str, ...]
    texts: tuple[str, ...]
    user_input: bool  # the number was typed by the user
    constant: bool  # the number is a constant
    in_app: bool  # SmsManager (or reflection) in the app, not the user's SMS app


def sms_args(resolver: Resolver, loc: CodeLocation) -> SmsArgs | None:
    ev = resolver.evaluate((loc.class_name, loc.method))
    got = ev.arg_values(loc.offset) if ev else None
    if got is None:
        return None
    ref, args = got
    positions = SMS_SEND_DEST.get(ref.name)
    if positions is None or len(args) <= max(positions):
        return None
    dest = resolver.expand(args[positions[0]])
    text = resolver.expand(args[positions[1]])
    numbers = [o.literal for o in options(dest) if isinstance(o, Text) and o.literal]
    user = any(isinstance(o, Text) and o.user_input for o in options(dest))
    texts = [
        o.render()
        for o in options(text)
        if isinstance(o, Text) and any(isinstance(p, str) and p.strip() for p in o.parts)
    ]
    return SmsArgs(
        tuple(dict.fromkeys(n[:32] for n in numbers))[:MAX_TEXTS],
        tuple(dict.fromkeys(t[:300] for t in texts))[:MAX_TEXTS],
        user,
        bool(numbers) and len(numbers) == len(options(dest)),
        True,
    )
