"""Generated binary manifests for the differential test and the ``axml`` fuzz target: a small
manifest written by ``axmlgen`` in a random layout, then 1-3 structural mutations (a chunk or
node header's type, header size or size; attributeStart/Size/Count; an attribute's namespace,
name, raw value, type or data; string-pool header fields; resource-map ids; a pool or map
repeated; an unknown chunk inserted; duplicated attributes; a cut), with the document size
fixed up half of the time so the mutation is not refused at the first check.

``disagreement(raw)`` compares apkaudit's reader with the platform model (``aosp_model``).
"""

from __future__ import annotations

import random
import struct

from lxml import etree

try:  # imported as tests.manifest.* by the fuzz harness, as top-level modules by pytest
    from tests.manifest import aosp_model, axmlgen
except ImportError:  # pragma: no cover
    import aosp_model  # type: ignore[no-redef]
    import axmlgen  # type: ignore[no-redef]

from apkaudit.manifest import platform as ag
from apkaudit.manifest.axml import AxmlRefused, Document
from apkaudit.manifest.axml_tree import ANDROID_NS, build

INTERESTING = (0, 1, 2, 3, 4, 8, 12, 16, 20, 24, 28, 32, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF,
               0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF)  # fmt: skip
TYPES = (0x0000, 0x0001, 0x0003, 0x003C, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104, 0x0105,
         0x017F, 0x0180, 0x0200, 0x0202)  # fmt: skip
FRAMEWORK = tuple(axmlgen.FRAMEWORK_IDS.values())


def _layout(rng: random.Random) -> axmlgen.Layout:
    pick = rng.random
    return axmlgen.Layout(
        root_type=rng.choice((0x0003, 0x0003, 0x003C, 0x000A, 0x1234)),
        utf8=pick() < 0.4,
        pool_header=rng.choice((28, 28, 32, 36)),
        node_header=rng.choice((16, 16, 20, 24)),
        attribute_start=rng.choice((20, 20, 24, 32)),
        attribute_size=rng.choice((20, 20, 24)),
        android_uri=rng.choice((ANDROID_NS, ANDROID_NS, "http://x.example/a", "")),
        strip_names=pick() < 0.2,
        no_namespace=pick() < 0.2,
        decoy_pool=pick() < 0.2,
        decoy_map=pick() < 0.2,
        unknown_chunk=pick() < 0.2,
        pad_nodes=pick() < 0.2,
    )


def _manifest(rng: random.Random) -> axmlgen.El:
    perms = ("android.permission.READ_CONTACTS", "android.permission.SEND_SMS",
             "android.permission.READ_SMS", "android.permission.INTERNET")  # fmt: skip
    root = axmlgen.app(permissions=tuple(rng.sample(perms, rng.randint(0, 3))))
    for el in axmlgen._walk(root):
        if el.attrs and rng.random() < 0.15:  # a duplicate, possibly with another value
            a = rng.choice(el.attrs)
            el.attrs.insert(rng.randint(0, len(el.attrs)), axmlgen.Attr(a.name, "decoy", a.ns))
    return root


def _chunks(b: bytes) -> list[tuple[int, int, int, int]]:
    """(offset, type, header size, size) of the top-level chunks of a well-formed document."""
    out: list[tuple[int, int, int, int]] = []
    if len(b) < 8:
        return out
    at = struct.unpack_from("<H", b, 2)[0]
    while at + 8 <= len(b):
        kind, header, size = struct.unpack_from("<HHI", b, at)
        out.append((at, kind, header, size))
        if size < 8:
            break
        at += size
    return out


def _put(b: bytearray, at: int, width: int, value: int) -> None:
    if at >= 0 and at + width <= len(b):
        b[at : at + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")


def _mutate(rng: random.Random, b: bytearray) -> bytearray:
    chunks = _chunks(bytes(b))
    if not chunks:
        return b
    at, kind, header, size = rng.choice(chunks)
    value = rng.choice((*INTERESTING, rng.randrange(1 << 32)))
    op = rng.randrange(10)
    if op == 0:
        _put(b, at, 2, rng.choice(TYPES))
    elif op == 1:
        _put(b, at + 2, 2, rng.choice((header - 4, header + 4, *INTERESTING[:12])))
    elif op == 2:
        _put(b, at + 4, 4, rng.choice((size - 4, size + 4, size + 8, value)))
    elif op == 3 and kind == 0x0102:  # attributeStart, attributeSize, attributeCount
        _put(b, at + header + 8 + 2 * rng.randrange(3), 2, rng.choice(INTERESTING[:16]))
    elif op == 4 and kind == 0x0102 and at + header + 14 <= len(b):  # one attribute field
        start, width, count = struct.unpack_from("<HHH", b, at + header + 8)
        if count:
            a = at + header + start + width * rng.randrange(count)
            field = rng.choice((0, 4, 8, 15, 16))
            if field == 15:
                _put(b, a + 15, 1, rng.choice((0, 1, 2, 3, 4, 5, 7, 0x10, 0x11, 0x12, 0x1C, 0x20)))
            else:
                _put(b, a + field, 4, rng.choice((*INTERESTING, rng.randrange(64))))
    elif op == 5 and kind == 0x0001:  # string pool header fields
        _put(b, at + 8 + 4 * rng.randrange(5), 4, rng.choice((*INTERESTING, value ^ 0x100)))
    elif op == 6 and kind == 0x0180 and size > header:
        n = (size - header) // 4
        _put(b, at + header + 4 * rng.randrange(n), 4, rng.choice((*FRAMEWORK, 0, value)))
    elif op == 7 and kind in (0x0001, 0x0180):  # the chunk repeated
        b[at:at] = b[at : at + size]
    elif op == 8:  # an unknown or node-typed chunk inserted
        blob = struct.pack("<HHI", rng.choice(TYPES), 16, 24) + bytes(16)
        b[at:at] = blob
    else:  # a cut
        del b[rng.randrange(len(b) + 1) :]
    return b


def mutant(rng: random.Random) -> bytes:
    b = bytearray(axmlgen.encode(_manifest(rng), _layout(rng)))
    for _ in range(rng.randint(1, 3)):
        b = _mutate(rng, b)
    if rng.random() < 0.5 and len(b) >= 8:
        _put(b, 4, 4, len(b))
    return bytes(b)


def ours(raw: bytes) -> aosp_model.View:
    """apkaudit's reading of ``raw`` in the model's terms."""
    try:
        doc = Document(raw)
    except AxmlRefused:
        return aosp_model.View(refused=True)
    tree = build(doc, ag.framework_attribute_names())
    out = aosp_model.View(outcome=doc.outcome)
    if tree is None:
        return out
    prefix = f"{{{ANDROID_NS}}}"
    stack = [(tree.root, 0)]
    while stack:
        el, depth = stack.pop()
        attrs = {k[len(prefix) :]: v for k, v in el.attrib.items() if k.startswith(prefix)}
        out.elements.append((depth, str(el.tag), attrs, el.get("package")))
        stack.extend((c, depth + 1) for c in reversed(el) if isinstance(c.tag, str))
    return out


def disagreement(raw: bytes) -> str | None:
    """None when apkaudit reads ``raw`` as the platform model does, else the difference."""
    want = aosp_model.view(raw, ag.framework_attribute_names())
    got = ours(raw)
    if got.refused != want.refused:
        return f"refused: apkaudit {got.refused}, platform {want.refused}"
    if got.refused:
        return None
    if not want.elements:  # no element at all: apkaudit refuses such a file too
        return None if not got.elements else "apkaudit read elements the platform has not"
    if got.outcome != want.outcome:
        return f"outcome: apkaudit {got.outcome}, platform {want.outcome}"
    for mine, theirs in zip(got.elements, want.elements, strict=False):
        if mine != theirs:
            return f"element: apkaudit {mine!r}, platform {theirs!r}"
    if len(got.elements) != len(want.elements):
        return f"elements: apkaudit {len(got.elements)}, platform {len(want.elements)}"
    return None


def parse_all(raw: bytes) -> etree._Element | None:
    """The whole decode path (never raises beyond InputError), for the fuzz target."""
    from apkaudit.errors import InputError
    from apkaudit.manifest.decode import decode
    from apkaudit.manifest.parse import parse_manifest

    try:
        got = decode(raw, "fuzz.apk")
    except InputError:
        return None
    parse_manifest(got.xml)
    return got.xml
