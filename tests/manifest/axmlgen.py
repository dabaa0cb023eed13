"""A small binary-XML writer for tests, fixtures and fuzzing, with knobs for the layouts that
Android accepts and other readers do not (see ``Layout``).

Written from the format's documentation (ResourceTypes.h: chunk headers, string pool, resource
map, namespace/element nodes, attributes as ns/name/rawValue/typedValue), not from any reader.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

ANDROID_NS = "http://schemas.android.com/apk/res/android"
NONE = 0xFFFFFFFF

# Framework attribute ids (the SDK's public.xml) of the attributes the tests use.
FRAMEWORK_IDS = {
    "label": 0x01010001,
    "icon": 0x01010002,
    "name": 0x01010003,
    "permission": 0x01010006,
    "enabled": 0x0101000E,
    "debuggable": 0x0101000F,
    "exported": 0x01010010,
    "priority": 0x0101001C,
    "mimeType": 0x01010026,
    "scheme": 0x01010027,
    "minSdkVersion": 0x0101020C,
    "versionCode": 0x0101021B,
    "versionName": 0x0101021C,
    "targetSdkVersion": 0x01010270,
    "maxSdkVersion": 0x01010271,
    "allowBackup": 0x01010280,
}

TYPE_REFERENCE, TYPE_STRING, TYPE_INT_DEC, TYPE_INT_HEX, TYPE_BOOLEAN = 0x01, 0x03, 0x10, 0x11, 0x12


@dataclass
class Attr:
    name: str
    value: str | int | bool
    ns: str | None = ANDROID_NS
    rid: int | None = None  # None: the framework id of ``name`` when ns is android, else none
    type: int | None = None  # None: from the Python type of ``value``
    raw: bool = True  # write the raw string of a string value (aapt does)


@dataclass
class El:
    tag: str
    attrs: list[Attr] = field(default_factory=list)
    children: list[El] = field(default_factory=list)


@dataclass
class Layout:
    """How to lay the document out; the defaults are what aapt2 writes."""

    root_type: int = 0x0003
    utf8: bool = False
    pool_header: int = 28
    node_header: int = 16
    attribute_start: int = 20
    attribute_size: int = 20
    android_uri: str = ANDROID_NS  # the URI written for android attributes' namespace
    strip_names: bool = False  # android attribute names written as "" (read by id)
    no_namespace: bool = False  # android attributes written with no namespace
    decoy_pool: bool = False  # a first string pool that the real (last) one replaces
    decoy_map: bool = False  # a first resource map that the real (last) one replaces
    unknown_chunk: bool = False  # an unknown chunk before the string pool
    pad_nodes: bool = False  # an unknown node type between elements (skipped by Android)


def _u16(n: int) -> bytes:
    return struct.pack("<H", n)


def _u32(n: int) -> bytes:
    return struct.pack("<I", n & 0xFFFFFFFF)


def _chunk(kind: int, header: bytes, body: bytes, header_size: int | None = None) -> bytes:
    header_size = 8 + len(header) if header_size is None else header_size
    header = header.ljust(header_size - 8, b"\0")
    return _u16(kind) + _u16(header_size) + _u32(header_size + len(body)) + header + body


def _pool(strings: list[str], layout: Layout) -> bytes:
    data = b""
    offsets = []
    for s in strings:
        offsets.append(len(data))
        if layout.utf8:
            enc = s.encode("utf-8")
            n16 = len(s.encode("utf-16-le")) // 2
            data += _len8(n16) + _len8(len(enc)) + enc + b"\0"
        else:
            enc = s.encode("utf-16-le")
            n = len(enc) // 2
            head = _u16(n) if n < 0x8000 else _u16(0x8000 | n >> 16) + _u16(n & 0xFFFF)
            data += head + enc + b"\0\0"
    data = data.ljust((len(data) + 3) // 4 * 4, b"\0")
    if not strings:
        data = b""
    entries = b"".join(_u32(o) for o in offsets)
    start = layout.pool_header + len(entries)
    flags = 0x100 if layout.utf8 else 0
    header = _u32(len(strings)) + _u32(0) + _u32(flags) + _u32(start if strings else 0) + _u32(0)
    return _chunk(0x0001, header, entries + data, layout.pool_header)


def _len8(n: int) -> bytes:
    return bytes([n]) if n < 0x80 else bytes([0x80 | n >> 8, n & 0xFF])


class _Writer:
    def __init__(self, root: El, layout: Layout) -> None:
        self.layout = layout
        self.strings: list[str] = []
        self.index: dict[str, int] = {}
        self.rids: list[int] = []
        # Attribute names with resource ids first, one pool entry per id, in map order.
        self.rid_slot: dict[int, int] = {}
        for el in _walk(root):
            for a in el.attrs:
                rid = self.rid_of(a)
                if rid and rid not in self.rid_slot:
                    self.rid_slot[rid] = len(self.strings)
                    self.strings.append("" if layout.strip_names else a.name)
                    self.rids.append(rid)

    def rid_of(self, a: Attr) -> int:
        if a.rid is not None:
            return a.rid
        return FRAMEWORK_IDS.get(a.name, 0) if a.ns == ANDROID_NS else 0

    def s(self, text: str) -> int:
        if text not in self.index:
            self.index[text] = len(self.strings)
            self.strings.append(text)
        return self.index[text]

    def attr(self, a: Attr) -> bytes:
        lay = self.layout
        rid = self.rid_of(a)
        name = self.rid_slot[rid] if rid else self.s(a.name)
        if a.ns == ANDROID_NS:
            ns = NONE if lay.no_namespace else self.s(lay.android_uri)
        else:
            ns = NONE if a.ns is None else self.s(a.ns)
        kind = a.type
        value = a.value
        if kind is None:
            kind = (
                TYPE_BOOLEAN
                if isinstance(value, bool)
                else TYPE_INT_DEC
                if isinstance(value, int)
                else TYPE_STRING
            )
        if kind == TYPE_STRING:
            data = self.s(str(value))
            raw = data if a.raw else NONE
        else:
            data = (0xFFFFFFFF if value else 0) if isinstance(value, bool) else int(str(value), 0)
            raw = NONE
        body = _u32(ns) + _u32(name) + _u32(raw) + _u16(8) + b"\0" + bytes([kind]) + _u32(data)
        return body.ljust(lay.attribute_size, b"\0")

    def node(self, kind: int, ext: bytes) -> bytes:
        header = _u32(1) + _u32(NONE)  # line number, no comment
        return _chunk(kind, header, ext, self.layout.node_header)

    def element(self, el: El) -> bytes:
        lay = self.layout
        attrs = [self.attr(a) for a in el.attrs]
        pad = b"\0" * (lay.attribute_start - 20)
        stride = b"".join(attrs)  # attribute_size >= 20: each padded to the stride
        ext = (
            _u32(NONE)
            + _u32(self.s(el.tag))
            + _u16(lay.attribute_start)
            + _u16(lay.attribute_size)
            + _u16(len(attrs))
            + _u16(0) * 3
            + pad
            + stride
        )
        out = self.node(0x0102, ext)
        for child in el.children:
            out += self.element(child)
        out += self.node(0x0103, _u32(NONE) + _u32(self.s(el.tag)))
        if lay.pad_nodes:
            out += self.node(0x0170, b"\0" * 8)
        return out


def _walk(el: El) -> list[El]:
    out = [el]
    for c in el.children:
        out += _walk(c)
    return out


def encode(root: El, layout: Layout | None = None) -> bytes:
    """The binary XML of ``root`` laid out as ``layout`` says."""
    layout = layout or Layout()
    w = _Writer(root, layout)
    prefix = w.s("android")
    uri = w.s(layout.android_uri)
    body = w.node(0x0100, _u32(prefix) + _u32(uri))
    body += w.element(root)
    body += w.node(0x0101, _u32(prefix) + _u32(uri))
    chunks = b""
    if layout.unknown_chunk:
        chunks += _chunk(0x0205, b"", b"\0" * 8)
    if layout.decoy_pool:
        chunks += _pool(["decoy"] * len(w.strings), Layout(utf8=layout.utf8))
    if layout.decoy_map:
        chunks += _chunk(0x0180, b"", b"".join(_u32(0x7F010000 + i) for i in range(len(w.rids))))
    chunks += _pool(w.strings, layout)
    chunks += _chunk(0x0180, b"", b"".join(_u32(r) for r in w.rids))
    return _chunk(layout.root_type, b"", chunks + body)


def app(
    package: str = "com.example.trick",
    permissions: tuple[str, ...] = ("android.permission.READ_CONTACTS",),
    receiver: str = ".SmsReceiver",
) -> El:
    """A small manifest: permissions, an application with an exported activity and a receiver."""
    return El(
        "manifest",
        [Attr("versionCode", 7), Attr("versionName", "1.0"), Attr("package", package, ns=None)],
        [
            El("uses-sdk", [Attr("minSdkVersion", 21), Attr("targetSdkVersion", 30)]),
            *(El("uses-permission", [Attr("name", p)]) for p in permissions),
            El(
                "application",
                [Attr("label", "Trick"), Attr("allowBackup", False)],
                [
                    El(
                        "activity",
                        [Attr("name", ".Main"), Attr("exported", True)],
                        [
                            El(
                                "intent-filter",
                                [],
                                [
                                    El("action", [Attr("name", "android.intent.action.MAIN")]),
                                    El(
                                        "category",
                                        [Attr("name", "android.intent.category.LAUNCHER")],
                                    ),
                                ],
                            )
                        ],
                    ),
                    El(
                        "receiver",
                        [Attr("name", receiver), Attr("permission", "android.permission.X")],
                    ),
                ],
            ),
        ],
    )


def nest(root: El, depth: int, layout: Layout | None = None) -> bytes:
    """``root`` with a chain of ``depth`` nested ``<x>`` as its last child (60 bytes each).
    Built by repeating one element's nodes (``encode`` recurses, a chain this deep cannot)."""
    root.children.append(El("x"))
    raw = encode(root, layout)
    at, nodes = struct.unpack_from("<H", raw, 2)[0], []
    while at + 8 <= len(raw):
        kind, _header, size = struct.unpack_from("<HHI", raw, at)
        nodes.append((at, kind, size))
        at += size
    last = max(i for i, (_, kind, _) in enumerate(nodes) if kind == 0x0102)
    (s_at, _, s_size), (e_at, _, e_size) = nodes[last], nodes[last + 1]
    body = (
        raw[:s_at]
        + raw[s_at : s_at + s_size] * depth
        + raw[e_at : e_at + e_size] * depth
        + raw[e_at + e_size :]
    )
    return body[:4] + struct.pack("<I", len(body)) + body[8:]
