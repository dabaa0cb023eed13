"""A binary XML document (``axml.Document``) as an lxml tree, with attributes named the way the
package manager finds them.

Android's package parser reads framework attributes through ``obtainAttributes``, which matches
them by **resource id** (``getAttributeNameResID``): the namespace URI and the name string are
not consulted. So an attribute whose id is a framework attribute id is put here under the
``android:`` namespace with the framework's name for that id, whatever namespace or (stripped)
name the file gives it; the first of duplicated ids wins, as in ``RetrieveAttributes``. An
``android:``-namespaced attribute without a resource id is kept by its name only when no
attribute with that id exists (a fallback the platform does not have: it would ignore it).
One known difference: ``RetrieveAttributes`` walks the element's attributes and the
requested ids in step, assuming the attributes sorted by id (aapt sorts them); out of order,
the device can miss some. Here every attribute is read, so an app can at most be credited with
an attribute the device ignores, and "attributes out of resource-id order" is named as a trick.
Other attributes (``package``, ``split``) are read by namespace and name, as
``getAttributeValue(null, "package")`` does: the first match, its raw string value.

Framework values use the typed value (for a string, ``typedValue.data``, as TypedArray does),
printed as aapt dumps print them (``@7F0A0001``, ``0x00000010``, ``true``...).

Elements deeper than ``MAX_DEPTH`` are not built (no manifest element the platform reads is
that deep); the package parser stops at the end of the root element, and so does this.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lxml import etree

from apkaudit.manifest.axml import END_ELEMENT, NO_INDEX, Attribute, Document, Start

ANDROID_NS = "http://schemas.android.com/apk/res/android"
MAX_DEPTH = 64
_FRAMEWORK_PACKAGE = 0x01

_TYPE_NULL, _TYPE_REFERENCE, _TYPE_ATTRIBUTE, _TYPE_STRING = 0x00, 0x01, 0x02, 0x03
_TYPE_FLOAT, _TYPE_DIMENSION, _TYPE_FRACTION = 0x04, 0x05, 0x06
_TYPE_DYNAMIC_REFERENCE, _TYPE_DYNAMIC_ATTRIBUTE = 0x07, 0x08
_TYPE_INT_DEC, _TYPE_INT_HEX, _TYPE_INT_BOOLEAN = 0x10, 0x11, 0x12
_TYPE_FIRST_COLOR, _TYPE_LAST_COLOR, _TYPE_LAST_INT = 0x1C, 0x1F, 0x1F
_RADIX = (1 / (1 << 8), 1 / (1 << 15), 1 / (1 << 23), 1 / (1 << 31))
_DIMENSION_UNITS = ("px", "dip", "sp", "pt", "in", "mm")
_FRACTION_UNITS = ("%", "%p")

# Characters XML 1.0 cannot hold (lxml refuses them): dropped from names and values. Spelled
# as the complement of XML's Char production (control characters, surrogates, U+FFFE/FFFF):
# the same set, but compiling the negated class of XML's ranges took ~14 ms at every start.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NAME = re.compile(r"[A-Za-z_][\w.\-]*\Z", re.ASCII)  # manifest tags are ASCII


@dataclass(frozen=True, slots=True, kw_only=True)
class Tree:
    """The root element, how the walk ended, and the tricks seen on the way (one line each)."""

    root: etree._Element
    outcome: str  # end | bad | expired
    tricks: tuple[str, ...] = ()


def _complex(data: int) -> float:
    mantissa = (data & 0xFFFFFF00) - (1 << 32) if data & 0x80000000 else data & 0xFFFFFF00
    return mantissa * _RADIX[(data >> 4) & 3]


def _unit(units: tuple[str, ...], data: int) -> str:
    return units[data & 15] if data & 15 < len(units) else ""


def _signed(data: int) -> int:
    return data - (1 << 32) if data & 0x80000000 else data


def typed_value(kind: int, data: int, strings: Callable[[int], str | None]) -> str | None:
    """A Res_value as text; None where the platform has no value (TYPE_NULL, bad string)."""
    if kind == _TYPE_STRING:
        return strings(data)
    prefix = "android:" if data >> 24 == _FRAMEWORK_PACKAGE else ""
    if kind in (_TYPE_REFERENCE, _TYPE_DYNAMIC_REFERENCE):
        return f"@{prefix}{data:08X}"
    if kind in (_TYPE_ATTRIBUTE, _TYPE_DYNAMIC_ATTRIBUTE):
        return f"?{prefix}{data:08X}"
    if kind == _TYPE_INT_BOOLEAN:
        return "true" if data else "false"
    if kind == _TYPE_INT_HEX:
        return f"0x{data:08X}"
    if _TYPE_FIRST_COLOR <= kind <= _TYPE_LAST_COLOR:
        return f"#{data:08X}"
    if _TYPE_INT_DEC <= kind <= _TYPE_LAST_INT:
        return str(_signed(data))
    if kind == _TYPE_FLOAT:
        return f"{struct.unpack('<f', struct.pack('<I', data))[0]:f}"
    if kind == _TYPE_DIMENSION:
        return f"{_complex(data):f}{_unit(_DIMENSION_UNITS, data)}"
    if kind == _TYPE_FRACTION:
        return f"{_complex(data) * 100:f}{_unit(_FRACTION_UNITS, data)}"
    return None


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


class _Builder:
    def __init__(self, doc: Document, names: Mapping[int, str]) -> None:
        self.doc = doc
        self.names = names
        self.get = doc.strings.get
        self.tricks: dict[str, None] = {}

    def trick(self, text: str) -> None:
        self.tricks.setdefault(text, None)

    def tag(self, start: Start) -> str:
        name = self.get(start.name)
        name = _clean(name) if name is not None else ""
        return name if _NAME.match(name) else "_"

    def attributes(self, start: Start) -> dict[str, str]:
        framework: dict[str, str | None] = {}
        by_name: dict[str, str | None] = {}
        other: dict[str, str | None] = {}
        unnamed: set[str] = set()
        last_id = 0
        for attr in start.attributes:
            rid = self.doc.resource_id(attr.name)
            local = self.names.get(rid) if rid >> 24 == _FRAMEWORK_PACKAGE else None
            if local is not None:
                if rid < last_id:
                    self.trick("attributes out of resource-id order")
                last_id = max(last_id, rid)
                if local in framework:
                    self.trick(f"a duplicated android:{local} attribute (the first is used)")
                    continue
                framework[local] = typed_value(attr.type, attr.data, self.get)
                self._note_spelling(attr, local)
                continue
            name = self.get(attr.name)
            if not name:
                continue
            ns = self.get(attr.ns) if attr.ns != NO_INDEX else None
            if ns == ANDROID_NS:
                if (rid and rid >> 24 != _FRAMEWORK_PACKAGE) or not _NAME.match(name):
                    continue  # an app attribute spelled like a framework one, or no XML name
                if not rid:  # (a newer framework id than our table is read by its name)
                    unnamed.add(name)
                by_name.setdefault(name, typed_value(attr.type, attr.data, self.get))
                continue
            if ns == "":
                continue  # a namespace that is the empty string: not "no namespace", unnamed
            key = name if ns is None else f"{{{ns}}}{name}"
            other.setdefault(key, self._raw_value(attr))
        for name, value in by_name.items():
            if name not in framework:
                if name in unnamed:
                    self.trick(f"android:{name} without a resource id (the platform ignores it)")
                framework[name] = value
        out = {f"{{{ANDROID_NS}}}{k}": v for k, v in framework.items() if v is not None}
        out.update((k, v) for k, v in other.items() if v is not None)
        return out

    def _note_spelling(self, attr: Attribute, local: str) -> None:
        ns = self.get(attr.ns) if attr.ns != NO_INDEX else None
        if ns is None:
            self.trick("android attributes with no namespace (read by resource id)")
        elif ns != ANDROID_NS:
            self.trick("android attributes under another namespace URI (read by resource id)")
        if self.get(attr.name) != local:
            self.trick("android attribute names stripped or renamed (read by resource id)")

    def _raw_value(self, attr: Attribute) -> str | None:
        """XmlBlock.Parser.getAttributeValue: the raw string, else the typed value as text."""
        if attr.raw != NO_INDEX:
            return self.get(attr.raw)
        return typed_value(attr.type, attr.data, self.get)

    def element(self, parent: etree._Element | None, start: Start) -> etree._Element:
        tag = self.tag(start)
        el = (
            etree.Element(tag, nsmap={"android": ANDROID_NS})
            if parent is None
            else etree.SubElement(parent, tag)
        )
        for key, value in self.attributes(start).items():
            try:
                el.set(key, _clean(value))
            except ValueError:  # a namespace URI or name lxml cannot hold
                self.trick("an attribute name or namespace that XML cannot hold (skipped)")
        return el


def build(
    doc: Document, names: Mapping[int, str], expired: Callable[[], bool] | None = None
) -> Tree | None:
    """The tree of ``doc`` (``names``: framework attribute id -> name); None if it has no
    element."""
    builder = _Builder(doc, names)
    root: etree._Element | None = None
    stack: list[etree._Element] = []
    hidden = 0  # open elements below MAX_DEPTH, not built
    for kind, pos in doc.events(expired):
        if kind == END_ELEMENT:
            if hidden:
                hidden -= 1
            elif stack:
                stack.pop()
                if not stack:
                    break  # the package parser stops at the root's end tag
            continue
        if root is not None and not stack:
            break
        if len(stack) >= MAX_DEPTH:
            hidden += 1
            continue
        start = doc.start(pos)
        if start is None:
            doc.outcome, doc.bad_at = "bad", pos
            break
        el = builder.element(stack[-1] if stack else None, start)
        if root is None:
            root = el
        stack.append(el)
    if root is None:
        return None
    for quirk in doc.quirks:
        builder.trick(quirk)
    if doc.skipped:
        builder.trick(f"{doc.skipped} nodes of unknown type (skipped)")
    if doc.pools > 1:
        builder.trick(f"{doc.pools} string pools (the last is used)")
    if doc.maps > 1:
        builder.trick(f"{doc.maps} resource maps (the last is used)")
    return Tree(root=root, outcome=doc.outcome, tricks=tuple(builder.tricks))
