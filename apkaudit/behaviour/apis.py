"""What the Android/Java APIs mean to the data-flow analysis: sources, sinks, transforms.

Plain tables, used by the models in models.py and by the interpreter in flow.py. Descriptors
come from the Android SDK reference (developer.android.com/reference) and
../shared/reference/domain-lending.md section 3.
"""

from __future__ import annotations

SMS_SEND_DEST = {  # method name -> (destination arg, text arg) as logical argument positions
    "sendTextMessage": (1, 3),
    "sendTextMessageWithoutPersisting": (1, 3),
    "sendMultipartTextMessage": (1, 3),
    "sendDataMessage": (1, 4),
}
SMS_MANAGERS = {"Landroid/telephony/SmsManager;", "Landroid/telephony/gsm/SmsManager;"}
QUERY_CLASSES = {
    "Landroid/content/ContentResolver;",
    "Landroid/content/ContentProviderClient;",
}
CURSOR_GETTERS = {"getString", "getInt", "getLong", "getShort", "getFloat", "getDouble", "getBlob"}
CURSOR_MOVES = {
    "moveToNext",
    "moveToFirst",
    "moveToLast",
    "moveToPosition",
    "isAfterLast",
    "moveToPrevious",
    "isLast",
}
NET_STREAM_SOURCES = {
    "Ljava/net/HttpURLConnection;",
    "Ljava/net/URLConnection;",
    "Ljavax/net/ssl/HttpsURLConnection;",
    "Ljava/net/Socket;",
}
STREAM_WRAPPERS = {
    "Ljava/io/OutputStreamWriter;",
    "Ljava/io/BufferedWriter;",
    "Ljava/io/DataOutputStream;",
    "Ljava/io/PrintWriter;",
    "Ljava/io/BufferedOutputStream;",
    "Ljava/util/zip/GZIPOutputStream;",
    "Ljava/io/PrintStream;",
}
NETWORK_SINKS = {  # (class, method) -> argument positions whose taint is sent
    ("Lokhttp3/OkHttpClient;", "newCall"): (1,),
    ("Lcom/squareup/okhttp/OkHttpClient;", "newCall"): (1,),
    ("Lokhttp3/WebSocket;", "send"): (1,),
    ("Lio/socket/client/Socket;", "emit"): (1, 2, 3),
    ("Lio/socket/emitter/Emitter;", "emit"): (1, 2, 3),
    ("Lcom/android/volley/RequestQueue;", "add"): (1,),
    ("Lorg/apache/http/client/HttpClient;", "execute"): (1,),
    ("Lorg/apache/http/impl/client/DefaultHttpClient;", "execute"): (1,),
    ("Lorg/java_websocket/client/WebSocketClient;", "send"): (1,),
    # a page load carries what is in its URL (a query built from the data) or its POST body
    ("Landroid/webkit/WebView;", "loadUrl"): (1, 2),
    ("Landroid/webkit/WebView;", "postUrl"): (1, 2),
}
# Calls that READ what a server sent back (a response, its body, status or headers). Their
# result is a fresh network_response value: never the data of the request (its URL, its body),
# which reached the network sink at the send (NETWORK_SINKS, URL_SENDS) and stops there. The
# default for a library call (callsite.default: the result carries its arguments' data) would
# make a response "carry" the request. (class, method), from the Java SE, Android, Apache
# HttpClient 4, OkHttp 2/3, Retrofit 2 and Volley references.
_URL_CONNECTIONS = (
    "Ljava/net/URLConnection;",
    "Ljava/net/HttpURLConnection;",
    "Ljavax/net/ssl/HttpsURLConnection;",
)
_CONNECTION_READS = (
    "getInputStream", "getErrorStream", "getContent", "getResponseCode", "getResponseMessage",
    "getHeaderField", "getHeaderFields", "getHeaderFieldInt", "getHeaderFieldLong",
    "getHeaderFieldDate", "getHeaderFieldKey", "getContentType", "getContentEncoding",
    "getContentLength", "getContentLengthLong", "getDate", "getExpiration", "getLastModified",
)  # fmt: skip
_APACHE_CLIENTS = (
    "Lorg/apache/http/client/HttpClient;",
    "Lorg/apache/http/impl/client/DefaultHttpClient;",
    "Lorg/apache/http/impl/client/AbstractHttpClient;",
    "Lorg/apache/http/impl/client/CloseableHttpClient;",
    "Landroid/net/http/AndroidHttpClient;",
)
_APACHE_RESPONSES = (
    "Lorg/apache/http/HttpResponse;",
    "Lorg/apache/http/message/BasicHttpResponse;",
)
_RESPONSE_PARTS = ("getEntity", "getStatusLine", "getAllHeaders", "getFirstHeader",
                   "getLastHeader", "getHeaders")  # fmt: skip
_OKHTTP = ("Lokhttp3/", "Lcom/squareup/okhttp/")
NETWORK_READS: frozenset[tuple[str, str]] = frozenset(
    [(c, n) for c in _URL_CONNECTIONS for n in _CONNECTION_READS]
    + [("Ljava/net/URL;", "openStream"), ("Ljava/net/URL;", "getContent")]
    + [("Ljava/net/Socket;", "getInputStream"), ("Ljavax/net/ssl/SSLSocket;", "getInputStream")]
    + [(c, "execute") for c in _APACHE_CLIENTS]
    + [(c, n) for c in _APACHE_RESPONSES for n in _RESPONSE_PARTS]
    + [("Lorg/apache/http/HttpEntity;", "getContent"),
       ("Lorg/apache/http/util/EntityUtils;", "toString"),
       ("Lorg/apache/http/util/EntityUtils;", "toByteArray"),
       ("Lorg/apache/http/impl/client/BasicResponseHandler;", "handleResponse")]
    + [(p + "Call;", "execute") for p in _OKHTTP]
    + [(p + "Response;", n) for p in _OKHTTP
       for n in ("body", "peekBody", "header", "headers", "code", "message")]
    + [(p + "ResponseBody;", n) for p in _OKHTTP
       for n in ("string", "bytes", "byteStream", "charStream", "source")]
    + [("Lretrofit2/Call;", "execute")]
    + [("Lretrofit2/Response;", n) for n in ("body", "errorBody", "code", "message", "headers")]
    + [("Lcom/android/volley/toolbox/RequestFuture;", "get")]
)  # fmt: skip
NETWORK_READ_NAMES = frozenset(n for _, n in NETWORK_READS)
URL_SENDS = {
    "connect",
    "getInputStream",
    "getResponseCode",
    "getOutputStream",
    "getContent",
    "openStream",
}
INCOMING_SMS = {
    "getOriginatingAddress",
    "getDisplayOriginatingAddress",
    "getMessageBody",
    "getDisplayMessageBody",
}
TRANSFORMS = {
    ("Lorg/json/JSONObject;", "toString"): "serialised as JSON",
    ("Lorg/json/JSONArray;", "toString"): "serialised as JSON",
    ("Lcom/google/gson/Gson;", "toJson"): "serialised as JSON (Gson)",
    ("Ljavax/crypto/Cipher;", "doFinal"): "encrypted (Cipher.doFinal)",
    ("Landroid/util/Base64;", "encodeToString"): "Base64-encoded",
    ("Landroid/util/Base64;", "encode"): "Base64-encoded",
    ("Ljava/util/Base64$Encoder;", "encodeToString"): "Base64-encoded",
    ("Ljava/util/Base64$Encoder;", "encode"): "Base64-encoded",
}
COLLECTION_PUTS = {
    ("Lorg/json/JSONObject;", "put"): "put into a JSON object",
    ("Lorg/json/JSONArray;", "put"): "added to a JSON array",
    ("Landroid/content/Intent;", "putExtra"): "put into an Intent extra",
    ("Landroid/content/Intent;", "putExtras"): "put into an Intent's extras",
    ("Landroid/os/Bundle;", "putString"): "put into a Bundle",
}
MUTATOR_PREFIXES = (
    "add",
    "put",
    "append",
    "set",
    "write",
    "insert",
    "offer",
    "push",
    "accumulate",
    "update",
    "<init>",
)


def cls_short(desc: str) -> str:
    """``Lcom/foo/Bar;`` -> ``Bar``."""
    return desc[1:-1].rsplit("/", 1)[-1] if desc.startswith("L") else desc


# Code-index tags of the data kinds beyond the providers (code/catalogue/apis.toml, "data kinds"):
# methods holding one are where a flow of those kinds can start, end, or be staged.
KIND_SOURCE_TAGS = (
    "device_id",
    "device_id_more",
    "phone_number",
    "settings_read",
    "location",
    "accounts",
    "installed_apps",
    "clipboard",
    "user_input",
    "media_uri",
    "media_exif",
    "calendar_uri",
)
KIND_SINK_TAGS = ("log_sink", "file_sink", "ipc_sink")
STORE_TAGS = ("store",)
