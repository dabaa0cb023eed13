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
NETWORK_SOURCES = {
    ("Ljava/net/HttpURLConnection;", "getInputStream"),
    ("Ljava/net/URLConnection;", "getInputStream"),
    ("Ljavax/net/ssl/HttpsURLConnection;", "getInputStream"),
    ("Ljava/net/Socket;", "getInputStream"),
    ("Lokhttp3/Call;", "execute"),
    ("Lcom/squareup/okhttp/Call;", "execute"),
}
URL_SENDS = {"connect", "getInputStream", "getResponseCode", "getOutputStream", "getContent"}
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
