"""Binary XML (AXML) read the way Android reads it: the rules of AOSP's ``ResXMLTree`` /
``ResXMLParser`` / ``ResStringPool`` (libs/androidfw/ResourceTypes.cpp), written from their
documented behaviour, so that what this module reads is what the device installs.

The rules that matter against hostile manifests:

- the document header's type is not checked, only ``headerSize <= size <= file length``; the
  chunks after it are scanned up to the first XML node: every string pool and resource map met
  replaces the previous one (the last wins), unknown chunks are skipped;
- every chunk must pass ``validate_chunk`` (header at least its minimum, header <= size, both
  multiples of 4, inside the document); a node's header is at least 16 bytes and its extension
  starts at ``headerSize`` (not at a fixed offset); a start element's attributes start at
  ``attributeStart`` from the extension and are ``attributeSize`` apart;
- a string pool's header is at least 28 bytes (a bigger one is fine: the entries start at its
  ``headerSize``); the pool must be 0-terminated and every string must fit in it;
- unknown node types between elements are skipped; a node that fails validation ends the
  document as ``BAD_DOCUMENT`` (the platform then refuses the package).

Pure and bounded: work is linear in the input size (an ``attributeSize`` of 0 repeats one
attribute, read once), strings are decoded on demand, and ``expired`` is polled.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

STRING_POOL = 0x0001
START_NAMESPACE = 0x0100
END_NAMESPACE = 0x0101
START_ELEMENT = 0x0102
END_ELEMENT = 0x0103
CDATA = 0x0104
FIRST_NODE, LAST_NODE = 0x0100, 0x017F
RESOURCE_MAP = 0x0180

NO_INDEX = 0xFFFFFFFF
_UTF8_FLAG = 0x100
_CHUNK_HEADER = 8
_NODE_HEADER = 16  # sizeof(ResXMLTree_node)
_POOL_HEADER = 28  # sizeof(ResStringPool_header)
_ATTR_EXT = 20  # sizeof(ResXMLTree_attrExt)
_ATTRIBUTE = 20  # sizeof(ResXMLTree_attribute)
# Minimum extension after a node's header, by node type (namespace, element, end, cdata).
_MIN_EXT = {START_NAMESPACE: 8, END_NAMESPACE: 8, START_ELEMENT: 20, END_ELEMENT: 8, CDATA: 12}
_POLL_EVERY = 4096  # nodes between two deadline polls (a power of 2)

_HDR = struct.Struct("<HHI")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_POOL = struct.Struct("<5I")
_EXT = struct.Struct("<IIHHH")
_ATTR = struct.Struct("<IIIHBBI")
_PAIR = struct.Struct("<II")


class AxmlRefused(ValueError):
    """Android would not read this document at all (the reason is one line)."""


def _header(buf: bytes, pos: int) -> tuple[int, int, int] | None:
    if pos < 0 or pos + _CHUNK_HEADER > len(buf):
        return None
    return _HDR.unpack_from(buf, pos)


def _valid_chunk(buf: bytes, pos: int, min_header: int, end: int) -> bool:
    """AOSP's validate_chunk: header >= minimum, header <= size, 4-aligned, inside ``end``."""
    head = _header(buf, pos)
    if head is None:
        return False
    _type, header_size, size = head
    return (
        header_size >= min_header
        and header_size <= size
        and (header_size | size) & 3 == 0
        and size <= end - pos
    )


class StringPool:
    """A ResStringPool: ``get(i)`` is the string Android reads, or None where it reads null."""

    __slots__ = ("_buf", "_cache", "_count", "_entries", "_size", "_strings", "_utf8", "error")

    def __init__(self, buf: bytes, pos: int, size: int) -> None:
        self._buf = buf
        self._cache: dict[int, str | None] = {}
        self._count = self._entries = self._strings = self._size = 0
        self._utf8 = False
        self.error = self._read(pos, size)

    @classmethod
    def empty(cls) -> StringPool:
        pool = cls(b"", 0, 0)
        pool.error = "no string pool"
        return pool

    def _read(self, pos: int, size: int) -> str | None:
        buf = self._buf
        if size < _POOL_HEADER or not _valid_chunk(buf, pos, _POOL_HEADER, pos + size):
            return "malformed string pool header"
        _t, header_size, total = _HDR.unpack_from(buf, pos)
        count, style_count, flags, strings_start, styles_start = _POOL.unpack_from(buf, pos + 8)
        self._utf8 = bool(flags & _UTF8_FLAG)
        self._entries = pos + header_size
        char = 1 if self._utf8 else 2
        if count:
            if header_size + count * 4 > size:
                return "string pool entries run past the pool"
            if strings_start >= total - 2:
                return "string pool data starts past its end"
            if style_count == 0:
                pool_size = (total - strings_start) // char
            elif styles_start >= total - 2 or styles_start <= strings_start:
                return "style data misplaced"
            else:
                pool_size = (styles_start - strings_start) // char
            if pool_size == 0:
                return "string pool is empty"
            self._strings = pos + strings_start
            last = self._strings + (pool_size - 1) * char
            if buf[last : last + char] != b"\0" * char:
                return "string pool is not 0-terminated"
            self._size = pool_size
            self._count = count
        if style_count:
            if header_size + (count + style_count) * 4 > size or styles_start >= total:
                return "style entries run past the pool"
            style_words = (total - styles_start) // 4
            tail = pos + styles_start + (style_words - 3) * 4
            if style_words < 3 or buf[tail : tail + 12] != b"\xff" * 12:
                return "styles are not terminated"
        return None

    def __len__(self) -> int:
        """The number of strings (0 for a pool Android refuses)."""
        return 0 if self.error is not None else self._count

    def get(self, index: int) -> str | None:
        if self.error is not None or not 0 <= index < self._count:
            return None
        try:
            return self._cache[index]
        except KeyError:
            value = self._cache[index] = self._decode(index)
            return value

    def _decode(self, index: int) -> str | None:
        buf, size, strings = self._buf, self._size, self._strings
        (entry,) = _U32.unpack_from(buf, self._entries + index * 4)
        if self._utf8:
            off = entry
            if off >= size - 1:
                return None
            u16_len, off = self._length8(off)
            u8_len, off = self._length8(off)
            if off + u8_len >= size:
                return None
            raw = bytes(buf[strings + off : strings + off + u8_len])
            try:
                text = raw.decode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                text = raw.decode("utf-8", "replace")
            units = len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)
            return text if units == u16_len else None
        off = entry // 2
        if off >= size - 1:
            return None
        length, off = self._length16(off)
        if off + length >= size:
            return None
        start = strings + off * 2
        return bytes(buf[start : start + length * 2]).decode("utf-16-le", "surrogatepass")

    def _length8(self, off: int) -> tuple[int, int]:
        at = self._strings + off
        first = self._buf[at] if at < len(self._buf) else 0
        if first & 0x80 and at + 1 < len(self._buf):
            return ((first & 0x7F) << 8) | self._buf[at + 1], off + 2
        return first, off + 1

    def _length16(self, off: int) -> tuple[int, int]:
        at = self._strings + off * 2
        if at + 2 > len(self._buf):
            return 0, off + 1
        (first,) = _U16.unpack_from(self._buf, at)
        if first & 0x8000 and at + 4 <= len(self._buf):
            (second,) = _U16.unpack_from(self._buf, at + 2)
            return ((first & 0x7FFF) << 16) | second, off + 2
        return first, off + 1


@dataclass(frozen=True, slots=True)
class Attribute:
    ns: int  # string index of the namespace URI, NO_INDEX for none
    name: int  # string index of the name (also the index into the resource map)
    raw: int  # string index of the raw value, NO_INDEX for none
    type: int  # Res_value dataType
    data: int  # Res_value data


@dataclass(frozen=True, slots=True)
class Start:
    ns: int
    name: int
    attributes: tuple[Attribute, ...]


class Document:
    """A binary XML document as Android opens it (``ResXMLTree::setTo``).

    Raises :class:`AxmlRefused` where Android's setTo fails. ``events()`` then walks the nodes
    as ``ResXMLParser::next`` does; afterwards ``outcome`` says how the walk ended: ``end``
    (END_DOCUMENT), ``bad`` (BAD_DOCUMENT: the platform refuses the package) or ``expired``.
    """

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pools = 0  # string pools and resource maps met before the first node
        self.maps = 0
        self.outcome = "end"
        self.bad_at = -1
        self.quirks: dict[str, None] = {}  # layouts Android accepts that aapt never writes
        self.skipped = 0  # nodes of unknown type between elements
        head = _header(buf, 0)
        if head is None:
            raise AxmlRefused("shorter than a chunk header")
        kind, header_size, size = head
        if kind != 0x0003:
            self.quirk(f"a document chunk type of 0x{kind:04x} (not 0x0003)")
        if header_size > size or size > len(buf):
            raise AxmlRefused("its header claims more bytes than the file holds")
        self.end = size
        self.strings = StringPool.empty()
        self.resource_ids: tuple[int, ...] = ()
        self.root = self._scan(header_size)
        if self.strings.error is not None:
            raise AxmlRefused(self.strings.error)

    def _scan(self, pos: int) -> int:
        buf, end = self.buf, self.end
        last = pos
        while pos < end - _CHUNK_HEADER:
            _t, _h, size = _HDR.unpack_from(buf, pos)
            if not pos < end - size:
                break
            if not _valid_chunk(buf, pos, _CHUNK_HEADER, end):
                raise AxmlRefused(f"malformed chunk at offset {pos}")
            kind, header_size, size = _HDR.unpack_from(buf, pos)
            if kind == STRING_POOL:
                self.strings = StringPool(buf, pos, size)
                self.pools += 1
                if header_size != _POOL_HEADER:
                    self.quirk(f"a string-pool header of {header_size} bytes (not 28)")
            elif kind == RESOURCE_MAP:
                n = (size - header_size) // 4
                self.resource_ids = struct.unpack_from(f"<{n}I", buf, pos + header_size)
                self.maps += 1
            elif FIRST_NODE <= kind <= LAST_NODE:
                if self.pools == 0 or self.maps == 0:
                    self.quirk("no string pool or resource map before the first node")
                if not self._valid_node(pos):
                    raise AxmlRefused(f"malformed first node at offset {pos}")
                # The platform steps from the previous chunk to find the root node.
                root, _code = next(self._nodes(last), (-1, 0))
                if root < 0:
                    raise AxmlRefused("no root element node")
                return root
            else:
                self.quirk(f"an unknown chunk (type 0x{kind:04x}) before the first node")
            last = pos
            pos += size
        raise AxmlRefused("no root element node")

    def quirk(self, text: str) -> None:
        self.quirks.setdefault(text, None)

    def _valid_node(self, pos: int) -> bool:
        """ResXMLTree::validateNode: a chunk with a header of at least 16 bytes; a start
        element's attributes inside it."""
        buf = self.buf
        if pos + _CHUNK_HEADER > len(buf):
            return False
        kind, header_size, size = _HDR.unpack_from(buf, pos)
        if header_size < _NODE_HEADER or header_size > size or (header_size | size) & 3:
            return False
        if size > self.end - pos:
            return False
        if kind != START_ELEMENT:
            return True
        if size < header_size + _ATTR_EXT:
            return False
        _ns, _name, start, width, count = _EXT.unpack_from(buf, pos + header_size)
        return start + width * count <= size - header_size

    def _nodes(self, pos: int) -> Iterator[tuple[int, int]]:
        """ResXMLParser::nextNode, repeated from the node at ``pos``: (offset, type) of every
        following START/END element, namespace and CDATA node (unknown types are skipped); a
        last offset of -2 is BAD_DOCUMENT (``bad_at`` set); the end of the document ends it.
        One node per step, so kept flat: it runs once per node of a 7 MB manifest."""
        buf, end, unpack, ext = self.buf, self.end, _HDR.unpack_from, _EXT.unpack_from
        size = unpack(buf, pos)[2]
        while True:
            pos += size
            if pos >= end:
                return
            if pos + _CHUNK_HEADER > len(buf):  # validateNode, from here to the ext check
                break
            kind, header_size, size = unpack(buf, pos)
            if header_size < _NODE_HEADER or header_size > size or (header_size | size) & 3:
                break
            if size > end - pos:
                break
            if kind == START_ELEMENT:
                if size < header_size + _ATTR_EXT:
                    break
                _ns, _name, start, width, count = ext(buf, pos + header_size)
                if start + width * count > size - header_size:
                    break
            need = _MIN_EXT.get(kind)
            if need is None:
                self.skipped += 1
                continue  # unknown node type: skipped
            if size - header_size < need:
                break
            yield pos, kind
        self.bad_at = pos
        yield -2, 0

    def events(self, expired: Callable[[], bool] | None = None) -> Iterator[tuple[int, int]]:
        """(type, offset) of every START_ELEMENT and END_ELEMENT node from the root, in
        document order (read a start with :meth:`start`); sets ``outcome`` when it stops."""
        root = (self.root, _HDR.unpack_from(self.buf, self.root)[0])
        nodes = itertools.chain((root,), self._nodes(self.root))
        for polls, (pos, kind) in enumerate(nodes, 1):
            if kind in (START_ELEMENT, END_ELEMENT):
                yield kind, pos
            elif pos < 0:
                self.outcome = "bad"
                return
            if polls & (_POLL_EVERY - 1) == 0 and expired is not None and expired():
                self.outcome = "expired"
                return

    def start(self, pos: int) -> Start | None:
        """The start element at ``pos``; None if its attributes run past the file."""
        buf = self.buf
        header_size = _HDR.unpack_from(buf, pos)[1]
        ext = pos + header_size
        ns, name, start, width, count = _EXT.unpack_from(buf, ext)
        if header_size != _NODE_HEADER:
            self.quirk(f"element headers of {header_size} bytes (not 16)")
        if count and (start, width) != (_ATTR_EXT, _ATTRIBUTE):
            self.quirk(f"attributes at offset {start}, {width} bytes apart (not 20, 20)")
        if width == 0:
            count = min(count, 1)  # every index reads the same attribute
        attributes = []
        at = ext + start
        for _ in range(count):
            if at + _ATTRIBUTE > len(buf):
                return None  # the platform would read past the file
            a_ns, a_name, raw, _size, _res0, kind, data = _ATTR.unpack_from(buf, at)
            attributes.append(Attribute(a_ns, a_name, raw, kind, data))
            at += width
        return Start(ns, name, tuple(attributes))

    def resource_id(self, name: int) -> int:
        """``getAttributeNameResID``: the resource id mapped to a name index, 0 for none."""
        ids = self.resource_ids
        return ids[name] if 0 <= name < len(ids) else 0
