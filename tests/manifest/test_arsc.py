"""Our resources.arsc reader (manifest/arsc.py) against androguard's ARSCParser, as the adapter
used it before: for every resource id and every ``type/name`` key of the resource table of every
fixture and real APK, the resolved default value and the files of each configuration are the
same (dimensions and fractions aside: androguard reads their mantissa unsigned; ours follows
AOSP's complexToFloat, and no label is a dimension). Hostile tables (cut, flipped, cyclic) give
None or (), never an exception."""

from __future__ import annotations

import glob
import random
import re
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import REAL, REPO

from apkaudit.manifest import arsc

FIXTURE_APKS = sorted(glob.glob(str(REPO / "fixtures" / "apks" / "*.apk"))) + sorted(
    glob.glob(str(REPO / "fixtures" / "edge" / "*.apk"))
)


_MEASURE = re.compile(r"-?[0-9]+\.[0-9]{6}(px|dip|sp|pt|in|mm|%|%p)")


def _table_bytes(path: str) -> bytes | None:
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.read("resources.arsc") if "resources.arsc" in zf.namelist() else None
    except Exception:
        return None


# --------------------------------------------------------------------------- the androguard path


def _ag_parser(raw: bytes) -> Any | None:
    from androguard.core import axml
    from loguru import logger

    logger.disable("androguard")
    try:
        return axml.ARSCParser(raw)
    except Exception:
        return None


def _ag_id(parser: Any, value: str) -> int | None:
    ref = value[1:]
    if ref.startswith("android:"):
        return None
    if "/" in ref:
        rtype, _, key = ref.rpartition("/")
        rtype = rtype.rpartition(":")[2]
        for package in parser.get_packages_names():
            rid = parser.get_res_id_by_key(package, rtype, key)
            if rid:
                return int(rid)
        return None
    rid, package = parser.parse_id(value)
    return None if package else rid


def ag_resolve(parser: Any, value: str) -> str | None:
    from androguard.core import axml

    try:
        rid = _ag_id(parser, value)
        if not rid:
            return None
        for config in (axml.ARSCResTableConfig.default_config(), None):
            for _config, resolved in parser.get_resolved_res_configs(rid, config):
                if isinstance(resolved, str):
                    return resolved
    except Exception:
        return None
    return None


def ag_files(parser: Any, value: str) -> tuple[tuple[str, int], ...]:
    out: list[tuple[str, int]] = []
    try:
        rid = _ag_id(parser, value)
        if not rid:
            return ()
        for config, resolved in parser.get_resolved_res_configs(rid):
            if isinstance(resolved, str) and resolved.startswith("res/"):
                out.append((resolved, int(config.get_density())))
    except Exception:
        return tuple(out)
    return tuple(dict.fromkeys(out))


# --------------------------------------------------------------------------- comparison


def _references(parser: Any) -> list[str]:
    parser._analyse()
    refs = [f"@{rid:08X}" for rid in parser.resource_values]
    for types in parser.resource_keys.values():
        for rtype, keys in types.items():
            refs += [f"@{rtype}/{key}" for key in list(keys)[:200]]
    return [*refs, "@android:0104000A", "@7F000000", "@:7F010000", "@xyz", "@"]


def disagreements(raw: bytes) -> list[str]:
    parser = _ag_parser(raw)
    table = arsc.read_table(raw)
    if parser is None:
        return [] if table is None else ["androguard refuses the table, ours reads it"]
    if table is None:
        return ["ours refuses a table androguard reads"]
    out = []
    for ref in _references(parser):
        theirs, mine = ag_resolve(parser, ref), table.resolve(ref)
        if theirs and mine and _MEASURE.match(theirs) and _MEASURE.match(mine):
            continue  # androguard misreads negative dimensions and rounds its radix constants
        if theirs != mine:
            out.append(f"{ref}: {theirs!r} != {mine!r}")
        theirs_f, mine_f = ag_files(parser, ref), table.files(ref)
        if theirs_f != mine_f:
            out.append(f"{ref} files: {theirs_f!r} != {mine_f!r}")
    return out[:10]


def test_fixture_tables_resolve_as_androguard() -> None:
    tables = [raw for raw in map(_table_bytes, FIXTURE_APKS) if raw is not None]
    assert tables
    assert [d for raw in tables for d in disagreements(raw)] == []


@pytest.mark.real
@pytest.mark.slow
@pytest.mark.parametrize("name", [Path(p).name for p in sorted(glob.glob(str(REAL / "*.apk")))])
def test_real_tables_resolve_as_androguard(name: str) -> None:
    raw = _table_bytes(str(REAL / name))
    if raw is None:
        pytest.skip("no readable resources.arsc")
    assert disagreements(raw) == []


# --------------------------------------------------------------------------- hostile tables


def _some_table() -> bytes:
    for path in FIXTURE_APKS:
        raw = _table_bytes(path)
        if raw and arsc.read_table(raw) is not None:
            return raw
    pytest.skip("no fixture with a resource table")


def test_cut_and_flipped_tables_never_raise() -> None:
    raw = _some_table()
    rng = random.Random("arsc")
    for cut in range(0, len(raw), max(1, len(raw) // 200)):
        table = arsc.read_table(raw[:cut])
        assert table is None or isinstance(table.resolve("@7F010000"), str | None)
    for _ in range(300):
        mutated = bytearray(raw)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        table = arsc.read_table(bytes(mutated))
        if table is not None:
            for rid in list(table.values)[:20]:
                table.resolve(f"@{rid:08X}")
                table.files(f"@{rid:08X}")


def test_a_reference_cycle_resolves_to_nothing() -> None:
    table = arsc.ResourceTable(arsc.StringPool(b"", 0, 0))
    a, b = 0x7F010000, 0x7F010001
    table.values[a] = {arsc._DEFAULT_CONFIG: arsc._Entry(a, 0, False, arsc._REFERENCE, b)}
    table.values[b] = {arsc._DEFAULT_CONFIG: arsc._Entry(b, 0, False, arsc._REFERENCE, a)}
    assert table.resolve("@7F010000") is None
    assert table.files("@7F010000") == ()


def test_simple_values_are_spelled_as_android_does() -> None:
    table = arsc.ResourceTable(arsc.StringPool(b"", 0, 0))
    spell = table._format
    assert spell(0x12, 0) == "false" and spell(0x12, 0xFFFFFFFF) == "true"
    assert spell(0x10, 0xFFFFFFFF) == "-1" and spell(0x11, 255) == "0x000000FF"
    assert spell(0x1C, 0xFF00FF00) == "#FF00FF00"
    assert spell(0x05, (16 << 8) | 1) == "16.000000dip"
    assert spell(0x04, struct.unpack("<I", struct.pack("<f", 1.5))[0]) == "1.500000"
