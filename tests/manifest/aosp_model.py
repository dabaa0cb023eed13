"""A small model of how Android reads a binary manifest, the oracle of the differential test
and of the ``axml`` fuzz target.

Written separately from ``apkaudit.manifest.axml`` and as directly as the platform's rules read
(AOSP libs/androidfw/ResourceTypes.cpp: ``ResXMLTree::setTo``, ``validate_chunk``,
``validateNode``, ``ResXMLParser::nextNode``, ``ResStringPool::setTo``/``stringAt``; frameworks
AssetManager ``RetrieveAttributes`` matching attributes by resource id; XmlBlock's
``getAttributeValue`` for ``package``), so a slip in one shows up as a disagreement. What it
computes is the package manager's view of each element: its depth, name, the framework
attributes by id (first duplicate wins), and ``package``. It also applies the two policies
apkaudit adds on top of the platform (an ``android:`` attribute without a resource id read by
name when no id matched, if its name is an XML name; elements deeper than 64 not built), and
reuses apkaudit's value printing and XML character cleaning, which are presentation rather
than parsing rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apkaudit.manifest.axml_tree import _NAME, MAX_DEPTH, _clean, typed_value

ANDROID_NS = "http://schemas.android.com/apk/res/android"
NONE = 0xFFFFFFFF


def u16(b: bytes, at: int) -> int | None:
    return int.from_bytes(b[at : at + 2], "little") if at >= 0 and at + 2 <= len(b) else None


def u32(b: bytes, at: int) -> int | None:
    return int.from_bytes(b[at : at + 4], "little") if at >= 0 and at + 4 <= len(b) else None


class Refused(Exception):
    pass


@dataclass
class View:
    """What the package manager sees: ``refused`` (setTo failed), else the elements as
    (depth, name, android attributes, package) and how the walk ended (end | bad)."""

    refused: bool = False
    outcome: str = "end"
    elements: list[tuple[int, str, dict[str, str], str | None]] = field(default_factory=list)


def chunk_ok(b: bytes, at: int, min_header: int, end: int) -> bool:
    header, size = u16(b, at + 2), u32(b, at + 4)
    if header is None or size is None:
        return False
    return min_header <= header <= size and (header | size) % 4 == 0 and size <= end - at


class Pool:
    def __init__(self, b: bytes, at: int, size: int) -> None:
        self.ok = False
        self.b = b
        if size < 28 or not chunk_ok(b, at, 28, at + size):
            return
        header, total = u16(b, at + 2) or 0, u32(b, at + 4) or 0
        count, styles, flags, s_start, st_start = (u32(b, at + 8 + 4 * i) or 0 for i in range(5))
        self.utf8 = bool(flags & 0x100)
        self.count = count
        self.entries = at + header
        unit = 1 if self.utf8 else 2
        self.chars = 0
        if count > 0:
            if header + 4 * count > size or s_start >= total - 2:
                return
            if styles == 0:
                self.chars = (total - s_start) // unit
            else:
                if st_start >= total - 2 or st_start <= s_start:
                    return
                self.chars = (st_start - s_start) // unit
            if self.chars == 0:
                return
            self.data = at + s_start
            last = self.data + (self.chars - 1) * unit
            if any(b[last : last + unit]) or len(b[last : last + unit]) != unit:
                return
        if styles > 0:
            if header + 4 * (count + styles) > size or st_start >= total:
                return
            words = (total - st_start) // 4
            if words < 3 or b[at + st_start + (words - 3) * 4 :][:12] != b"\xff" * 12:
                return
        self.ok = True

    def get(self, i: int) -> str | None:
        if not self.ok or not 0 <= i < self.count:
            return None
        b = self.b
        entry = u32(b, self.entries + 4 * i) or 0
        if self.utf8:
            off = entry
            if off >= self.chars - 1:
                return None
            n16, off = self._len8(off)
            n8, off = self._len8(off)
            if off + n8 >= self.chars:
                return None
            raw = b[self.data + off : self.data + off + n8]
            try:
                text = raw.decode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                text = raw.decode("utf-8", "replace")
            return text if len(text.encode("utf-16-le", "surrogatepass")) // 2 == n16 else None
        off = entry // 2
        if off >= self.chars - 1:
            return None
        n = u16(b, self.data + 2 * off) or 0
        off += 1
        if n & 0x8000:
            n = ((n & 0x7FFF) << 16) | (u16(b, self.data + 2 * off) or 0)
            off += 1
        if off + n >= self.chars:
            return None
        return b[self.data + 2 * off : self.data + 2 * (off + n)].decode(
            "utf-16-le", "surrogatepass"
        )

    def _len8(self, off: int) -> tuple[int, int]:
        first = self.b[self.data + off] if self.data + off < len(self.b) else 0
        if first & 0x80 and self.data + off + 1 < len(self.b):
            return ((first & 0x7F) << 8) | self.b[self.data + off + 1], off + 2
        return first, off + 1


MIN_EXT = {0x100: 8, 0x101: 8, 0x102: 20, 0x103: 8, 0x104: 12}  # node type -> extension


class Tree:
    def __init__(self, b: bytes) -> None:
        self.b = b
        header, total = u16(b, 2), u32(b, 4)
        if header is None or total is None or header > total or total > len(b):
            raise Refused("header")
        self.end = total
        self.pool: Pool | None = None
        self.ids: list[int] = []
        at, last = header, header
        self.root: tuple[int, int] | None = None
        while at < self.end - 8 and at < self.end - (u32(b, at + 4) or 0):
            if not chunk_ok(b, at, 8, self.end):
                raise Refused("chunk")
            kind, header, size = u16(b, at) or 0, u16(b, at + 2) or 0, u32(b, at + 4) or 0
            if kind == 0x0001:
                self.pool = Pool(b, at, size)
            elif kind == 0x0180:
                self.ids = [u32(b, at + header + 4 * i) or 0 for i in range((size - header) // 4)]
            elif 0x100 <= kind <= 0x17F:
                if not self.node_ok(at):
                    raise Refused("first node")
                found = self.next_node(last)
                if found is None or found[0] == "bad":
                    raise Refused("root")
                self.root = found[1], found[2]
                break
            last = at
            at += size
        if self.root is None or self.pool is None or not self.pool.ok:
            raise Refused("no root or pool")

    def node_ok(self, at: int) -> bool:
        b = self.b
        if not chunk_ok(b, at, 16, self.end):
            return False
        if u16(b, at) != 0x102:
            return True
        header, size = u16(b, at + 2) or 0, u32(b, at + 4) or 0
        if size < header + 20:
            return False
        start, width, count = (u16(b, at + header + 8 + 2 * i) or 0 for i in range(3))
        return start + width * count <= size - header

    def next_node(self, at: int) -> tuple[str, int, int] | None:
        """('ok', offset, type), ('bad', offset, 0) or None at the end of the document."""
        b = self.b
        while True:
            at += u32(b, at + 4) or 0
            if at >= self.end:
                return None
            if not self.node_ok(at):
                return ("bad", at, 0)
            kind, header, size = u16(b, at) or 0, u16(b, at + 2) or 0, u32(b, at + 4) or 0
            if kind not in MIN_EXT:
                continue
            if size - header < MIN_EXT[kind]:
                return ("bad", at, 0)
            return ("ok", at, kind)


def view(b: bytes, names: dict[int, str]) -> View:
    try:
        tree = Tree(b)
    except Refused:
        return View(refused=True)
    assert tree.root is not None and tree.pool is not None
    pool = tree.pool
    out = View()
    at, kind = tree.root
    depth = hidden = 0
    while True:
        if kind == 0x102:
            if depth == 0 and out.elements:
                break  # the package parser reads one root element
            if depth >= MAX_DEPTH:
                hidden += 1
            else:
                element = _element(b, at, tree, pool, names, depth)
                if element is None:
                    out.outcome = "bad"
                    break
                out.elements.append(element)
                depth += 1
        elif kind == 0x103:
            if hidden:
                hidden -= 1
            elif depth:
                depth -= 1
                if depth == 0:
                    break
        found = tree.next_node(at)
        if found is None:
            break
        if found[0] == "bad":
            out.outcome = "bad"
            break
        _, at, kind = found
    return out


def _element(
    b: bytes, at: int, tree: Tree, pool: Pool, names: dict[int, str], depth: int
) -> tuple[int, str, dict[str, str], str | None] | None:
    ext = at + (u16(b, at + 2) or 0)
    name = pool.get(u32(b, ext + 4) or 0)
    tag = _clean(name) if name is not None else ""
    tag = tag if _NAME.match(tag) else "_"
    start, width, count = (u16(b, ext + 8 + 2 * i) or 0 for i in range(3))
    by_id: dict[str, str | None] = {}
    by_name: dict[str, str | None] = {}
    package: str | None = None
    package_seen = False
    for i in range(count if width else min(count, 1)):
        a = ext + start + width * i
        if a + 20 > len(b):
            return None
        ns, nm, raw = u32(b, a), u32(b, a + 4), u32(b, a + 8)
        kind, data = b[a + 15], u32(b, a + 16)
        assert ns is not None and nm is not None and raw is not None and data is not None
        rid = tree.ids[nm] if nm < len(tree.ids) else 0
        if rid >> 24 == 1 and rid in names:
            by_id.setdefault(names[rid], typed_value(kind, data, pool.get))
            continue
        text = pool.get(nm)
        if not text:
            continue
        uri = pool.get(ns) if ns != NONE else None
        if uri == ANDROID_NS:
            if (not rid or rid >> 24 == 1) and _NAME.match(text):
                by_name.setdefault(text, typed_value(kind, data, pool.get))
        elif uri is None and text == "package" and not package_seen:
            package_seen = True
            package = pool.get(raw) if raw != NONE else typed_value(kind, data, pool.get)
    for k, v in by_name.items():
        by_id.setdefault(k, v)
    attrs = {k: _clean(v) for k, v in by_id.items() if v is not None}
    return depth, tag, attrs, None if package is None else _clean(package)
