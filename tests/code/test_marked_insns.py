"""The reference search decodes only the instructions that can be references and steps over
the rest (decode.decode_marked): what it gets must be exactly what a full decode gives."""

from __future__ import annotations

import zipfile

import pytest
from conftest import FIXTURES

from apkaudit.code.dex.decode import decode, decode_marked
from apkaudit.code.dex.reader import DexFile
from apkaudit.code.index import _REFERRING

# Switch and array payloads, wide constants, ranges, method handles, strings and fields.
APKS = ["divide-message-loop", "flow-table-lookup", "contacts-aes-okhttp", "dest-libs"]


def _dexes(name: str) -> list[DexFile]:
    with zipfile.ZipFile(FIXTURES / f"{name}.apk") as z:
        return [DexFile(n, z.read(n)) for n in z.namelist() if n.endswith(".dex")]


@pytest.mark.parametrize("name", APKS)
def test_marked_instructions_are_the_full_decode_filtered(name: str) -> None:
    seen = 0
    for dex in _dexes(name):
        for midx in dex.defined_methods:
            code = dex.code(midx)
            marked = dex.marked_insns(midx, _REFERRING)
            if code is None:
                assert marked is None
                continue
            assert marked == tuple(i for i in code.insns if _REFERRING[i.op])
            seen += bool(marked)
    assert seen  # the fixture has references at all


def test_a_truncated_method_stops_at_the_same_instruction() -> None:
    (dex,) = _dexes("divide-message-loop")[:1]
    starts, ends, _methods = dex._code_spans
    for start, end in zip(starts, ends, strict=True):
        for cut in (end - 1, end - 3, (start + end) // 2):
            full = tuple(i for i in decode(dex.data, start, cut) if _REFERRING[i.op])
            assert tuple(decode_marked(dex.data, start, cut, _REFERRING)) == full
