"""Read the protobuf AndroidManifest.xml of an Android App Bundle (.aab) into an lxml tree.

An .aab stores ``<module>/manifest/AndroidManifest.xml`` as an ``aapt.pb.XmlNode`` (aapt2's
``Resources.proto``) rather than binary AXML. Only a handful of fields are needed, so this is a
minimal protobuf wire-format reader instead of a dependency on ``protobuf`` and generated code.
Field numbers (AOSP ``frameworks/base/tools/aapt2/Resources.proto``):

    XmlNode      { XmlElement element = 1; string text = 2; }
    XmlElement   { XmlNamespace namespace_declaration = 1; string namespace_uri = 2;
                   string name = 3; XmlAttribute attribute = 4; XmlNode child = 5; }
    XmlAttribute { string namespace_uri = 1; string name = 2; string value = 3;
                   uint32 resource_id = 5; Item compiled_item = 6; }
    Item         { Reference ref = 1; String str = 2; RawString raw_str = 3; Primitive prim = 7; }
    Reference    { uint32 id = 2; string name = 3; }
    Primitive    { float float_value = 3; int32 int_decimal_value = 6;
                   uint32 int_hexadecimal_value = 7; bool boolean_value = 8; ... }

Attribute values are rendered the way androguard's AXML printer renders them (``true``,
decimal ints, ``@7F0A0001`` references), so ``manifest.py`` reads both formats alike. Every
length and depth is bounded; malformed input raises :class:`ProtoError`.
"""

from __future__ import annotations

import struct

from lxml import etree

_MAX_DEPTH = 64
_MAX_NODES = 200_000


class ProtoError(ValueError):
    """The bytes are not a well-formed aapt2 XmlNode message."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtoError("varint runs past the end")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtoError("varint too long")


def fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of one message; LEN values as bytes."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if num == 0:
            raise ProtoError("field number 0")
        if wire == 0:
            val, pos = _varint(buf, pos)
            out.append((num, wire, val))
        elif wire == 1:
            if pos + 8 > len(buf):
                raise ProtoError("fixed64 runs past the end")
            out.append((num, wire, struct.unpack_from("<Q", buf, pos)[0]))
            pos += 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            if pos + n > len(buf):
                raise ProtoError("length-delimited field runs past the end")
            out.append((num, wire, buf[pos : pos + n]))
            pos += n
        elif wire == 5:
            if pos + 4 > len(buf):
                raise ProtoError("fixed32 runs past the end")
            out.append((num, wire, struct.unpack_from("<I", buf, pos)[0]))
            pos += 4
        else:
            raise ProtoError(f"unsupported wire type {wire}")
    return out


def _text(v: int | bytes) -> str:
    if not isinstance(v, bytes):
        raise ProtoError("expected a string")
    return v.decode("utf-8", "replace")


def _compiled(item: bytes) -> str | None:
    """The printable value of a compiled ``Item`` (only the kinds a manifest uses)."""
    for num, _wire, val in fields(item):
        if not isinstance(val, bytes):
            continue
        if num == 1:  # Reference
            ref = dict((n, v) for n, _, v in fields(val))
            rid = ref.get(2)
            if isinstance(rid, int) and rid:
                return f"@{rid:08X}"
            name = ref.get(3)
            return "@" + _text(name) if isinstance(name, bytes) else None
        if num in (2, 3):  # String / RawString { string value = 1; }
            for n, _, v in fields(val):
                if n == 1:
                    return _text(v)
        if num == 7:  # Primitive
            for n, wire, v in fields(val):
                if not isinstance(v, int):
                    continue
                if n == 8:
                    return "true" if v else "false"
                if n == 6:
                    return str(v - (1 << 32) if v >= 1 << 31 else v)
                if n == 7:
                    return f"0x{v:08x}"
                if n == 3 and wire == 5:
                    return repr(struct.unpack("<f", struct.pack("<I", v))[0])
                if n in (9, 10, 11, 12, 13, 14):
                    return f"0x{v:08x}"
    return None


class _Builder:
    def __init__(self) -> None:
        self.nodes = 0

    def element(self, buf: bytes, parent: etree._Element | None, depth: int) -> etree._Element:
        if depth > _MAX_DEPTH:
            raise ProtoError("elements nested too deep")
        self.nodes += 1
        if self.nodes > _MAX_NODES:
            raise ProtoError("too many elements")
        ns, name = "", ""
        attrs: list[bytes] = []
        children: list[bytes] = []
        nsmap: dict[str, str] = {}
        for num, _wire, val in fields(buf):
            if not isinstance(val, bytes):
                continue
            if num == 1:
                decl = {n: _text(v) for n, _, v in fields(val) if isinstance(v, bytes)}
                if decl.get(1) and decl.get(2):
                    nsmap[decl[1]] = decl[2]
            elif num == 2:
                ns = _text(val)
            elif num == 3:
                name = _text(val)
            elif num == 4:
                attrs.append(val)
            elif num == 5:
                children.append(val)
        tag = _qname(ns, name or "unknown")
        el = (
            etree.Element(tag, nsmap=_safe_nsmap(nsmap))
            if parent is None
            else etree.SubElement(parent, tag)
        )
        for raw in attrs:
            self._attribute(el, raw)
        for raw in children:
            node = fields(raw)
            for num, _wire, val in node:
                if num == 1 and isinstance(val, bytes):
                    self.element(val, el, depth + 1)
        return el

    def _attribute(self, el: etree._Element, buf: bytes) -> None:
        ns = name = ""
        value: str | None = None
        compiled: str | None = None
        for num, _wire, val in fields(buf):
            if num == 1 and isinstance(val, bytes):
                ns = _text(val)
            elif num == 2 and isinstance(val, bytes):
                name = _text(val)
            elif num == 3 and isinstance(val, bytes):
                value = _text(val)
            elif num == 6 and isinstance(val, bytes):
                compiled = _compiled(val)
        shown = compiled if compiled is not None else value
        if name and shown is not None:
            try:
                el.set(_qname(ns, name), shown)
            except ValueError:  # a name lxml refuses (hostile input): skip the attribute
                return


def _qname(ns: str, name: str) -> str:
    name = "".join(ch for ch in name if ch.isalnum() or ch in "_-.") or "unknown"
    if not (name[0].isalpha() or name[0] == "_"):
        name = "_" + name
    return f"{{{ns}}}{name}" if ns else name


def _safe_nsmap(nsmap: dict[str, str]) -> dict[str, str]:
    return {p: u for p, u in nsmap.items() if p.isidentifier() and u}


def proto_manifest(raw: bytes) -> etree._Element:
    """The root ``<manifest>`` element of a protobuf manifest, or :class:`ProtoError`."""
    try:
        for num, _wire, val in fields(raw):
            if num == 1 and isinstance(val, bytes):
                return _Builder().element(val, None, 0)
    except (ValueError, TypeError) as exc:  # ProtoError is a ValueError; lxml raises both
        raise ProtoError(str(exc) or "malformed protobuf") from None
    raise ProtoError("no root element")


def looks_like_proto_manifest(raw: bytes) -> bool:
    """Binary AXML starts with 03 00 08 00; a protobuf XmlNode with field 1 (0x0a)."""
    return raw[:1] == b"\x0a"
