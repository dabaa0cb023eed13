"""resources.arsc, read for what the report needs: a manifest value that is a resource reference
(``@7F0A0001``, ``@string/app_name``) resolved to its default-configuration value, and a file
resource (the launcher icon) resolved to its file in every configuration.

The layout follows AOSP's ``ResourceTypes.h`` and the loading rules of ``LoadedArsc.cpp``
(libs/androidfw): a ``RES_TABLE_TYPE`` chunk holding the global string pool and ``package``
chunks; each package holds its type-name and key-name pools, ``typeSpec`` chunks and ``type``
chunks (one per type and configuration: a ``ResTable_config``, then 32-bit, 16-bit (``offset16``)
or sparse entry offsets, then ``ResTable_entry`` records: a ``Res_value``, a compact value, or a
complex map). A table that breaks the structure (chunk sizes, pools, offsets out of their chunk)
is refused as a whole, as the platform refuses it; hostile input gives None, never an exception.

Which value is "the" value, as the androguard path this module replaced chose it (so reports
stay the same): the entry of the default configuration when a resource has several, else the
first configuration met; a resource with one configuration gives that one; references are
followed (at most 20 deep, as ``AssetManager2::ResolveReference``); a reference cycle gives
None; complex values (arrays, styles) are never a label. The differential test against
androguard's ``ARSCParser`` is tests/manifest/test_arsc.py.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass

from apkaudit.manifest.axml import StringPool
from apkaudit.manifest.axml_tree import typed_value

_TABLE, _POOL, _PACKAGE, _TYPE = 0x0002, 0x0001, 0x0200, 0x0201
_FLAG_COMPLEX, _FLAG_COMPACT = 0x0001, 0x0008
_SPARSE, _OFFSET16 = 0x01, 0x02
_NO_ENTRY32, _NO_ENTRY16 = 0xFFFFFFFF, 0xFFFF
_MAX_REFERENCES = 20
_HDR = struct.Struct("<HHI")
_U16, _U32 = struct.Struct("<H"), struct.Struct("<I")
_PACKAGE_HEADER = 8 + 4 + 256 + 16  # chunk header, id, name[128] UTF-16, four offsets

_REFERENCE = 0x01  # Res_value.dataType of a reference

# The ResTable_config fields that tell configurations apart: imsi, locale, screenType, input,
# screenSize, version, screenConfig, screenSizeDp (offsets 4..36), screenConfig2 (offset 48).
_CONFIG_WORDS = (4, 8, 12, 16, 20, 24, 28, 32, 48)
_DEFAULT_CONFIG = (0,) * len(_CONFIG_WORDS)


class _Refused(Exception):
    """The table breaks the structure the platform checks: no resource is read from it."""


@dataclass(frozen=True, slots=True)
class _Entry:
    rid: int
    density: int  # of its configuration: 0 default, 0xFFFE any, 0xFFFF none
    complex: bool
    type: int
    data: int


class ResourceTable:
    """The entries of one resource table by id and configuration, and the names of its keys."""

    def __init__(self, strings: StringPool) -> None:
        self.strings = strings
        # rid -> configuration -> entry; the first configuration met first, the last entry of
        # a configuration wins (dicts keep insertion order)
        self.values: dict[int, dict[tuple[int, ...], _Entry]] = {}
        self.keys: dict[str, dict[str, dict[str, int]]] = {}  # package -> type -> key -> rid

    # ------------------------------------------------------------------ lookups

    def resource_id(self, value: str) -> int | None:
        """``@7F0A0001`` or ``@[package:]type/name`` -> id; framework references -> None."""
        ref = value[1:]
        if ref.startswith("android:"):
            return None  # lives in framework-res.apk, which we do not have
        if "/" in ref:  # textual reference from a hand-made manifest
            rtype, _, key = ref.rpartition("/")
            rtype = rtype.rpartition(":")[2]
            for types in self.keys.values():
                rid = types.get(rtype, {}).get(key)
                if rid:
                    return rid
            return None
        package, _, hexid = ref.partition(":") if ":" in ref else ("", "", ref)
        if len(hexid) != 8 or package:
            return None
        try:
            return int(hexid, 16) or None
        except ValueError:
            return None

    def resolve(self, value: str) -> str | None:
        """The value of a reference in the default configuration (else the first one met),
        then in any configuration; None when no configuration gives a simple value."""
        rid = self.resource_id(value)
        if rid is None:
            return None
        for default in (True, False):
            found: list[tuple[int, str]] = []
            if not self._collect(rid, default, found, ()):
                return None  # a reference cycle
            if found:
                return found[0][1]
        return None

    def files(self, value: str) -> tuple[tuple[str, int], ...]:
        """``(entry name, density)`` of every configuration of a file resource."""
        rid = self.resource_id(value)
        if rid is None:
            return ()
        found: list[tuple[int, str]] = []
        if not self._collect(rid, False, found, ()):
            return ()
        out = ((text, density) for density, text in found if text.startswith("res/"))
        return tuple(dict.fromkeys(out))

    def _collect(
        self, rid: int, default: bool, out: list[tuple[int, str]], path: tuple[int, ...]
    ) -> bool:
        """Append ``(density, text)`` of the simple values ``rid`` resolves to; False on a
        reference cycle or a chain longer than the platform follows."""
        if rid in path or len(path) > _MAX_REFERENCES:
            return False
        options = self.values.get(rid)
        if not options:
            return True
        if default and len(options) > 1:
            chosen = [options.get(_DEFAULT_CONFIG) or next(iter(options.values()))]
        else:
            chosen = list(options.values())
        for entry in chosen:
            if entry.complex:
                continue
            if entry.type == _REFERENCE:
                follow = entry.data and entry.data != rid  # a self-reference is skipped
                if follow and not self._collect(entry.data, default, out, (*path, rid)):
                    return False
                continue
            text = self._format(entry.type, entry.data)
            if text is not None:
                out.append((entry.density, text))
        return True

    def _format(self, kind: int, data: int) -> str | None:
        """A simple Res_value as text, spelled as the manifest's own values are."""
        return typed_value(kind, data, self.strings.get)


# --------------------------------------------------------------------------- parsing


@functools.lru_cache(maxsize=1)
def read_table(raw: bytes) -> ResourceTable | None:
    """The table in ``raw``, or None when the platform would refuse it. Cached: a manifest and
    the code resolve several values against the same table, one app at a time."""
    try:
        return _parse(raw)
    except (_Refused, struct.error, IndexError):
        return None


def _chunk(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(type, header size, size) of a valid chunk at ``pos`` inside ``[pos, end)``."""
    if pos + 8 > end:
        raise _Refused("chunk header cut off")
    kind, header_size, size = _HDR.unpack_from(buf, pos)
    if header_size < 8 or size < header_size or pos + size > end:
        raise _Refused(f"malformed chunk at {pos}")
    return kind, header_size, size


def _parse(buf: bytes) -> ResourceTable:
    kind, header_size, size = _chunk(buf, 0, len(buf))
    if kind != _TABLE or header_size < 12:
        raise _Refused("not a resource table")
    (package_count,) = _U32.unpack_from(buf, 8)
    table: ResourceTable | None = None
    packages = 0
    pos = header_size
    while pos + 8 <= size:
        kind, _h, chunk_size = _chunk(buf, pos, size)
        if kind == _POOL and table is None:
            table = ResourceTable(_pool(buf, pos, chunk_size))
        elif kind == _PACKAGE:
            packages += 1
            if packages > package_count:
                raise _Refused("more packages than the table declares")
            if table is None:
                raise _Refused("a package before the global string pool")
            _package(buf, pos, chunk_size, table)
        pos += chunk_size
    if table is None:
        raise _Refused("no global string pool")
    return table


def _pool(buf: bytes, pos: int, size: int) -> StringPool:
    pool = StringPool(buf, pos, size)
    if pool.error is not None:
        raise _Refused(pool.error)
    return pool


def _package(buf: bytes, start: int, size: int, table: ResourceTable) -> None:
    header_size = _HDR.unpack_from(buf, start)[1]
    end = start + size
    if header_size < _PACKAGE_HEADER - 4 or start + _PACKAGE_HEADER > end:
        raise _Refused("package header cut off")
    (package_id,) = _U32.unpack_from(buf, start + 8)
    raw_name = buf[start + 12 : start + 268].decode("utf-16-le", "replace")
    name = raw_name.split("\0", 1)[0]
    type_strings, _last_type, key_strings = struct.unpack_from("<III", buf, start + 268)
    type_names = _child_pool(buf, start, type_strings, end)
    key_names = _child_pool(buf, start, key_strings, end)
    keys = table.keys.setdefault(name, {})
    pos = start + header_size
    while pos + 8 <= end:
        kind, _h, chunk_size = _chunk(buf, pos, end)
        if kind == _TYPE:
            _type_chunk(buf, pos, chunk_size, (package_id & 0xFF) << 24, table, type_names,
                        key_names, keys)  # fmt: skip
        pos += chunk_size


def _child_pool(buf: bytes, start: int, offset: int, end: int) -> StringPool:
    pos = start + offset
    kind, _h, size = _chunk(buf, pos, end)
    if kind != _POOL:
        raise _Refused("a package's name pool is not a string pool")
    return _pool(buf, pos, size)


def _type_chunk(
    buf: bytes,
    start: int,
    size: int,
    package: int,
    table: ResourceTable,
    type_names: StringPool,
    key_names: StringPool,
    keys: dict[str, dict[str, int]],
) -> None:
    header_size = _HDR.unpack_from(buf, start)[1]
    end = start + size
    if header_size < 20 + 28 or start + header_size > end:
        raise _Refused("type header cut off")
    type_id, flags, _reserved, count, entries_start = struct.unpack_from("<BBHII", buf, start + 8)
    if type_id == 0:
        raise _Refused("type id 0")
    config_at = start + 20
    (config_size,) = _U32.unpack_from(buf, config_at)
    if config_size < 28 or config_at + config_size > start + header_size:
        raise _Refused("configuration cut off")
    config = tuple(
        _U32.unpack_from(buf, config_at + off)[0] if off + 4 <= config_size else 0
        for off in _CONFIG_WORDS
    )
    density = config[2] >> 16  # screenType: orientation, touchscreen, density
    width = 2 if flags & _OFFSET16 and not flags & _SPARSE else 4
    offsets_at = start + header_size
    if offsets_at + count * width > end or start + entries_start > end:
        raise _Refused("entry offsets run past the type chunk")
    base = start + entries_start
    rid_type = package | type_id << 16
    type_name = type_names.get(type_id - 1) or ""
    names = keys.setdefault(type_name, {})
    for i in range(count):
        at = offsets_at + i * width
        if flags & _SPARSE:
            index, off16 = struct.unpack_from("<HH", buf, at)
            offset = off16 * 4
        elif flags & _OFFSET16:
            (off16,) = _U16.unpack_from(buf, at)
            if off16 == _NO_ENTRY16:
                continue
            index, offset = i, off16 * 4
        else:
            (offset,) = _U32.unpack_from(buf, at)
            if offset == _NO_ENTRY32:
                continue
            index = i
        entry, key = _entry(buf, base + offset, end, rid_type | index, density)
        table.values.setdefault(entry.rid, {})[config] = entry
        names[key_names.get(key) or ""] = entry.rid


def _entry(buf: bytes, at: int, end: int, rid: int, density: int) -> tuple[_Entry, int]:
    """A ResTable_entry and its key-name index: compact (type and data in the entry), complex
    (a map: never a simple value), or a Res_value after the entry's header."""
    if at + 8 > end:
        raise _Refused("entry past its type chunk")
    size, flags, word = struct.unpack_from("<HHI", buf, at)
    if flags & _FLAG_COMPACT:
        return _Entry(rid, density, False, flags >> 8, word), size  # key, flags, data
    if flags & _FLAG_COMPLEX:
        return _Entry(rid, density, True, 0, 0), word
    if size < 8 or at + size + 8 > end:
        raise _Refused("entry value past its type chunk")
    _vsize, _res0, kind, data = struct.unpack_from("<HBBI", buf, at + size)
    return _Entry(rid, density, False, kind, data), word


# --------------------------------------------------------------------------- the stage's calls


def resolve_resource(value: str, raw: bytes | None) -> str | None:
    """Resolve a resource reference to its default-configuration value; None when it cannot
    be (not a reference, no table, a framework resource, a complex value, a cycle)."""
    if not value.startswith("@") or not raw:
        return None
    table = read_table(raw)
    return None if table is None else table.resolve(value)


def resolve_label(value: str, raw: bytes | None) -> str:
    """The manifest label, resolved if it is a resource reference; else the raw value."""
    resolved = resolve_resource(value, raw)
    return value if resolved is None else resolved


def resource_files(value: str, raw: bytes | None) -> tuple[tuple[str, int], ...]:
    """The files a file resource (``@mipmap/ic_launcher``) resolves to, one per configuration:
    ``(zip entry name, screen density)``; density 0 is the default, 0xFFFE any-dpi, 0xFFFF
    no-dpi. () when it cannot be resolved."""
    if not value.startswith("@") or not raw:
        return ()
    table = read_table(raw)
    return () if table is None else table.files(value)
