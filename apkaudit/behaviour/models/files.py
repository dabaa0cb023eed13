"""Files in the data flow: paths, file streams, stream parameters and out-parameters.

A file written is the ``file`` sink and a store (``store:file:<path>`` keys, see stores.py); a
stream's kind travels as a tag (``file_stream`` + its store key; the network's ``net_stream``
is sinks.py's); ``read(byte[])`` and friends fill their argument; a write to a stream passed as
a parameter is a summary effect decided at the caller; a wrapper stream writes into the stream
it wraps.
"""

from __future__ import annotations

import re

from apkaudit.behaviour.call import Call
from apkaudit.behaviour.context import SinkEvent, SinkHost
from apkaudit.behaviour.kinds import HopRole, Sink
from apkaudit.behaviour.values import BLANK, EMPTY, Label, Step, Value, extend_all

FILE = "Ljava/io/File;"
FILE_STREAM = "file_stream"
WRITE_STREAMS = frozenset({"Ljava/io/FileOutputStream;", "Ljava/io/FileWriter;",
                           "Ljava/io/RandomAccessFile;", "Ljava/io/PrintWriter;",
                           "Ljava/io/PrintStream;"})  # fmt: skip
READ_STREAMS = frozenset({"Ljava/io/FileInputStream;", "Ljava/io/FileReader;",
                          "Ljava/io/RandomAccessFile;"})  # fmt: skip
# Context directories -> the root a path starts with.
DIRS = {
    "getFilesDir": "{files}",
    "getCacheDir": "{cache}",
    "getCodeCacheDir": "{cache}",
    "getNoBackupFilesDir": "{files}",
    "getDataDir": "{data}",
    "getExternalFilesDir": "{external-files}",
    "getExternalCacheDir": "{external-cache}",
    "getExternalStorageDirectory": "{sdcard}",
    "getExternalStoragePublicDirectory": "{sdcard}",
    "getDatabasePath": "{databases}",
}
_ABSOLUTE = (
    (re.compile(r"^/data/(?:data|user/\d+)/[^/]+/files"), "{files}"),
    (re.compile(r"^/data/(?:data|user/\d+)/[^/]+/cache"), "{cache}"),
    (re.compile(r"^/data/(?:data|user/\d+)/[^/]+"), "{data}"),
    (re.compile(r"^/(?:sdcard|storage/emulated/\d+|storage/self/primary|mnt/sdcard)"), "{sdcard}"),
)
# Streams and writers that pass what is written to them on to the one they wrap.
WRAPPERS = frozenset({
    "Ljava/io/BufferedOutputStream;", "Ljava/io/DataOutputStream;", "Ljava/io/ObjectOutputStream;",
    "Ljava/io/OutputStreamWriter;", "Ljava/io/BufferedWriter;", "Ljava/io/PrintWriter;",
    "Ljava/io/PrintStream;", "Ljava/util/zip/GZIPOutputStream;", "Ljava/util/zip/ZipOutputStream;",
    "Ljava/util/zip/DeflaterOutputStream;", "Ljava/util/Formatter;",
    "Ljavax/crypto/CipherOutputStream;", "Landroid/util/Base64OutputStream;",
})  # fmt: skip
UNKNOWN = "{*}"
MAX_KEY = 160


def clip(s: str) -> str:
    return s[:MAX_KEY].replace(":", "_")


# ---------------------------------------------------------------------------- paths


def normalise(path: str) -> str:
    for rx, root in _ABSOLUTE:
        path = rx.sub(root, path, count=1)
    path = re.sub(r"/+", "/", path).rstrip("/")
    return clip(path) or "/"


def path_of(v: Value) -> str | None:
    return normalise(v.const) if isinstance(v.const, str) and v.const else None


def _path_value(c: Call, path: str | None, labels=EMPTY) -> Value:
    return Value(labels, c.result_objs, frozenset({"path"}), path)


def directory(c: Call) -> Value | None:
    """Context.getFilesDir() and friends (any receiver: an Activity inherits them)."""
    root = DIRS.get(c.ref.name)
    if root is None or c.ref.return_type != FILE:
        return None
    sub = c.args[-1].const if len(c.args) > (0 if c.static else 1) else None
    if c.ref.name in (
        "getExternalFilesDir",
        "getExternalStoragePublicDirectory",
        "getDatabasePath",
    ):
        root = f"{root}/{sub}" if isinstance(sub, str) and sub else root
    return _path_value(c, normalise(root))


def file_init(c: Call) -> Value | None:
    """new File(parent, child) / new File(path): the path when both parts are known."""
    args = c.args
    parts = [a for a in args[1:]]
    path: str | None = None
    if len(parts) == 1 and isinstance(parts[0].const, str):
        path = normalise(parts[0].const)
    elif len(parts) == 2 and all(isinstance(p.const, str) for p in parts):
        path = normalise(f"{parts[0].const}/{parts[1].const}")
    labels = frozenset().union(*(p.labels for p in parts)) if parts else EMPTY
    recv = c.receiver()
    c.set_receiver(Value(recv.labels | labels, recv.objs, recv.tags | {"path"}, path))
    return BLANK


def file_path(c: Call) -> Value | None:
    """File.getAbsolutePath/getPath/toString/getCanonicalPath keep the path as a string."""
    if c.ref.class_name != FILE or c.static or not c.args:
        return None
    v = c.args[0]
    return Value(v.labels, c.result_objs, frozenset({"str"}), v.const if "path" in v.tags else None)


def _file_keys_write(path: str | None) -> list[str]:
    if path is None:
        return [f"store:file:{UNKNOWN}", "store:file:**"]
    parent = path.rsplit("/", 1)[0] if "/" in path else path
    return [f"store:file:{path}", f"store:file:{parent}/**", "store:file:**"]


def _file_keys_read(path: str | None) -> list[str]:
    if path is None:
        return ["store:file:**"]
    return [f"store:file:{path}", f"store:file:{UNKNOWN}"]


def _where(path: str | None) -> str:
    return f"file {path}" if path else "a file (path not resolved)"


def open_write(c: Call) -> Value | None:
    """openFileOutput(name): a stream to {files}/name."""
    if len(c.args) < 2:
        return None
    name = c.args[1].const
    path = normalise(f"{{files}}/{name}") if isinstance(name, str) else None
    return _stream(c.result_objs, path)


def _stream(objs, path: str | None) -> Value:
    return Value(EMPTY, objs, frozenset({FILE_STREAM, "store:file:" + (path or UNKNOWN)}))


def stream_init(c: Call) -> Value | None:
    """new FileOutputStream(file) / new FileInputStream(file) / wrappers of a file stream."""
    cls, args = c.ref.class_name, c.args
    if len(args) < 2:
        return None
    target = args[1]
    if cls in WRITE_STREAMS and ("path" in target.tags or isinstance(target.const, str)):
        s = _stream(args[0].objs, path_of(target))
        c.flow.taint_obj(args[0].objs, EMPTY, s.tags)
        c.set_receiver(Value(args[0].labels, args[0].objs, args[0].tags | s.tags))
        return BLANK
    if cls in READ_STREAMS and ("path" in target.tags or isinstance(target.const, str)):
        path = path_of(target)
        data = c.flow.read_store(_file_keys_read(path), c.step(HopRole.TRANSFORM,
                                 f"reads it back from {_where(path)}"))  # fmt: skip
        labels = data.labels | target.labels
        c.flow.taint_obj(args[0].objs, labels)
        c.set_receiver(Value(args[0].labels | labels, args[0].objs, args[0].tags))
        return BLANK
    if cls in WRAPPERS and target.objs:
        c.flow.link_stream(args[0].objs, target.objs)  # and fall through: tags below
    if cls.startswith(("Ljava/io/", "Ljava/util/zip/")) and _param_streams(target):
        tags = frozenset(f"param_stream:{i}" for i in _param_streams(target))
        c.set_receiver(args[0].with_tags(*tags))
        return None  # and the default handling
    if FILE_STREAM in target.tags and cls.startswith(("Ljava/io/", "Ljava/util/zip/")):
        tags = frozenset(t for t in target.tags if t == FILE_STREAM or t.startswith("store:file:"))
        c.flow.taint_obj(args[0].objs, EMPTY, tags)
        c.set_receiver(args[0].with_tags(*tags))
        return BLANK
    return None


def open_read(c: Call) -> Value | None:
    """openFileInput(name): the data staged in {files}/name."""
    if len(c.args) < 2:
        return None
    name = c.args[1].const
    path = normalise(f"{{files}}/{name}") if isinstance(name, str) else None
    step = c.step(HopRole.TRANSFORM, f"reads it back from {_where(path)}")
    data = c.flow.read_store(_file_keys_read(path), step)
    return Value(data.labels, c.result_objs)


def stream_write(c: Call) -> bool:
    """A write to a file stream: the file sink, and the data is staged under its path."""
    recv = c.args[0]
    if FILE_STREAM not in recv.tags:
        return False
    labels = frozenset().union(*(a.labels for a in c.args[1:])) if len(c.args) > 1 else EMPTY
    if not labels:
        return True
    keys = [t for t in recv.tags if t.startswith("store:file:")]
    paths = sorted({k[len("store:file:") :] for k in keys})
    path = paths[0] if len(paths) == 1 and paths[0] != UNKNOWN else None
    step = c.step(HopRole.SINK, f"writes it to {_where(path)}")
    c.sink(Sink.FILE, labels, step)
    c.flow.write_store(_file_keys_write(path), Value(labels), step)
    return True


def write_through(c: Call) -> None:
    """A write to a wrapper stream reaches the stream it wraps (a ByteArrayOutputStream under a
    GZIPOutputStream or ObjectOutputStream holds the data afterwards)."""
    inner = c.flow.linked(c.args[0].objs)
    labels = frozenset().union(*(a.labels for a in c.args[1:])) if len(c.args) > 1 else EMPTY
    if inner and labels:
        c.flow.taint_obj(inner, labels)


def copy_into(c: Call) -> Value | None:
    """System.arraycopy(src, i, dst, j, n) / String.getChars(i, j, dst, k): ``dst`` receives
    the data (an out-parameter)."""
    ref, args = c.ref, c.args
    if ref.class_name == "Ljava/lang/System;" and ref.name == "arraycopy" and len(args) > 2:
        src, dst = args[0], args[2]
    elif ref.class_name == "Ljava/lang/String;" and ref.name == "getChars" and len(args) > 3:
        src, dst = args[0], args[3]
    else:
        return None
    if src.labels:
        c.flow.taint_obj(dst.objs, src.labels)
    return BLANK


def _param_streams(v: Value) -> set[int]:
    out = {o[1] for o in v.objs if o[0] == "param" and isinstance(o[1], int)}
    out |= {int(t[13:]) for t in v.tags if t.startswith("param_stream:")}
    return out


def param_stream_write(c: Call) -> None:
    """A write to a stream the method was given: a summary effect, decided at the caller."""
    params = _param_streams(c.args[0])
    labels = frozenset().union(*(a.labels for a in c.args[1:])) if len(c.args) > 1 else EMPTY
    if params and labels:
        step = c.step(HopRole.SINK, f"writes it to the stream it was given ({c.ref.name})")
        c.flow.stream_param_write(params, labels, step)


def deliver_write(
    flow: SinkHost,
    pos: int,
    call: Step,
    stream: Value,
    labels: frozenset[Label],
    path: tuple[Step, ...],
) -> None:
    """Data written into the stream ``stream`` (by a callee, through ``path``; ``call``: the
    step that wrote it or called the writer): where that stream goes. A callee's writes into
    its parameter's stream are applied here by callsite.apply."""
    inner = path[-1]
    if "net_stream" in stream.tags:
        ev = SinkEvent(sink=Sink.NETWORK, path=path, in_loop=False, loop="")
        flow.sink(Sink.NETWORK, labels, call, pos, inner=ev)
    elif FILE_STREAM in stream.tags:
        keys = sorted(t[len("store:file:") :] for t in stream.tags if t.startswith("store:file:"))
        p = keys[0] if len(keys) == 1 and keys[0] != UNKNOWN else None
        ev = SinkEvent(sink=Sink.FILE, path=path, in_loop=False, loop="")
        flow.sink(Sink.FILE, labels, call, pos, inner=ev)
        flow.write_store(_file_keys_write(p), Value(extend_all(labels, call)), inner)
    elif _param_streams(stream):
        flow.stream_param_write(_param_streams(stream), extend_all(labels, call), inner)
    else:  # a buffer (ByteArrayOutputStream...): it now holds the data
        flow.taint_obj(stream.objs, extend_all(extend_all(labels, call), inner))


def listing(c: Call) -> Value | None:
    """File.listFiles()/list(): whatever was staged in that directory."""
    if c.ref.class_name != FILE or c.static or not c.args:
        return None
    d = path_of(c.args[0]) if "path" in c.args[0].tags else None
    keys = [f"store:file:{d}/**", f"store:file:{UNKNOWN}"] if d else ["store:file:**"]
    step = c.step(HopRole.TRANSFORM, f"lists the files in {d or 'a directory'}")
    data = c.flow.read_store(keys, step)
    return Value(data.labels | c.args[0].labels, c.result_objs)


def read_into(c: Call) -> Value | None:
    """InputStream.read(byte[]) / DataInputStream.readFully / Reader.read(char[]): the buffer
    argument receives the stream's data (an out-parameter)."""
    if c.static or len(c.args) < 2 or not c.args[0].labels:
        return None
    if not c.ref.param_types or not c.ref.param_types[0].startswith("["):
        return None
    step = c.step(HopRole.TRANSFORM, f"reads the stream into a buffer ({c.ref.name})")
    c.flow.taint_obj(c.args[1].objs, extend_all(c.args[0].labels, step))
    return Value(EMPTY, c.result_objs)  # the count read, not the data
