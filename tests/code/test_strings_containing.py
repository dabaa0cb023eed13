"""``DexTables.strings_containing`` searches only the string data span: it must find exactly
what a scan of every decoded string finds, including in the first and last strings."""

from __future__ import annotations

import zipfile

import pytest
from conftest import FIXTURES

from apkaudit.code.dex.tables import DexTables

_APKS = sorted(FIXTURES.glob("*.apk"))[::15]


def _tables(apk: str) -> list[DexTables]:
    with zipfile.ZipFile(apk) as z:
        names = [n for n in z.namelist() if n.startswith("classes") and n.endswith(".dex")]
        return [DexTables(n, z.read(n)) for n in names]


@pytest.mark.parametrize("apk", _APKS, ids=lambda p: p.stem)
def test_matches_brute_force(apk: str) -> None:
    for dex in _tables(apk):
        texts = [dex.string(i) for i in range(dex.string_ids_size)]
        by_offset = sorted(range(len(texts)), key=lambda i: dex._string_offs[i])
        needles = {"Landroid/", "content://", "sms", "\x00", "zz-absent-zz"}
        if by_offset:
            needles |= {texts[by_offset[0]][-3:], texts[by_offset[-1]][-3:]}
        for needle in needles - {""}:
            want = sorted(i for i, t in enumerate(texts) if needle in t)
            assert sorted(dex.strings_containing(needle)) == want, needle
