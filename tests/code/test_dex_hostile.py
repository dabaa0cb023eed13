"""Crafted dex files that make a naive reader quadratic or make it allocate without bound.

Each case points many ids at one item, or at overlapping items, of a real app's dex: a sound dex
never shares or overlaps these items (d8 writes each once; ART rejects overlaps), so the reader
decodes every item once per offset and charges what the items declare against the file's size.
Before these guards, the shared interface list took over a minute and the shared string 1.4 GiB
of memory for a 2.7 MB file (measured on this dex, with the same construction).
"""

from __future__ import annotations

import struct
import time
import zipfile

import pytest
from conftest import require_real

from apkaudit.code.dex.reader import DexFile, DexFormatError


@pytest.fixture(scope="module")
def sound() -> bytes:
    return zipfile.ZipFile(require_real() / "legit-a2dp-volume.apk").read("classes.dex")


def _uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def _append(dex: bytearray, item: bytes) -> int:
    while len(dex) % 4:
        dex.append(0)
    off = len(dex)
    dex += item
    struct.pack_into("<I", dex, 0x20, len(dex))  # header file_size
    return off


@pytest.mark.real
def test_one_interface_list_shared_by_every_class_is_decoded_once(sound: bytes) -> None:
    dex = bytearray(sound)
    ref = DexFile("classes.dex", sound)
    off = _append(dex, struct.pack("<I", 400_000) + bytes(800_000))
    for i in range(ref.class_defs_size):
        struct.pack_into("<I", dex, ref.class_defs_off + 32 * i + 12, off)
    t0 = time.process_time()  # CPU, not wall: a loaded machine must not fail the bound
    crafted = DexFile("classes.dex", bytes(dex))
    lists = {id(c.interfaces) for c in crafted.classes.values()}
    assert time.process_time() - t0 < 10
    assert len(crafted.classes) == 1353 and len(lists) == 1  # one tuple, shared


@pytest.mark.real
def test_overlapping_interface_lists_are_stopped_by_the_budget(sound: bytes) -> None:
    dex = bytearray(sound)
    ref = DexFile("classes.dex", sound)
    size = 0x0001_0001  # read as two type ids (1, 1) by the lists that start before it
    off = _append(dex, bytes(4 + 2 * size + 4 * ref.class_defs_size))
    for i in range(ref.class_defs_size):  # list i starts 4*i bytes in: each 128 KiB long
        struct.pack_into("<I", dex, off + 4 * i, size)
        struct.pack_into("<I", dex, ref.class_defs_off + 32 * i + 12, off + 4 * i)
    with pytest.raises(DexFormatError, match="type lists claim more bytes than the file holds"):
        _ = DexFile("classes.dex", bytes(dex)).classes


@pytest.mark.real
def test_one_string_shared_by_every_string_id_is_decoded_once(sound: bytes) -> None:
    dex = bytearray(sound)
    ref = DexFile("classes.dex", sound)
    n = 1_000_000
    off = _append(dex, _uleb(n) + b"L" + b"a" * (n - 2) + b";\0")
    for i in range(ref.string_ids_size):
        struct.pack_into("<I", dex, ref.string_ids_off + 4 * i, off)
    crafted = DexFile("classes.dex", bytes(dex))
    assert crafted.string(0) is crafted.string(ref.string_ids_size - 1)
    assert len(crafted.string(0)) == n


@pytest.mark.real
def test_a_string_must_end_where_its_length_says(sound: bytes) -> None:
    dex = bytearray(sound)
    ref = DexFile("classes.dex", sound)
    off = _append(dex, _uleb(3) + b"abc" + b"d" * 100 + b"\0")  # 3 units, NUL 103 bytes on
    struct.pack_into("<I", dex, ref.string_ids_off, off)
    with pytest.raises(DexFormatError, match="unterminated string 0"):
        DexFile("classes.dex", bytes(dex)).string(0)


def _method_with_code(ref: DexFile, *, tries: bool) -> tuple[int, int]:
    for midx, m in ref.defined_methods.items():
        code = ref.code(midx)
        if code is not None and bool(code.tries) == tries and len(code.insns) > 20:
            return midx, m.code_off
    raise AssertionError("no such method")


@pytest.mark.real
def test_methods_sharing_one_code_item_decode_it_once(sound: bytes) -> None:
    ref = DexFile("classes.dex", sound)
    big, _ = _method_with_code(ref, tries=False)
    others = [m for m in ref.defined_methods if m != big][:50]
    crafted = DexFile("classes.dex", sound)
    # Re-encoding class_data by hand would shift every later item: point the decoded
    # encoded_methods at big's code item instead, as a crafted class_data would.
    for midx in others:
        crafted.defined_methods[midx] = crafted.defined_methods[big]
    codes = {id(crafted.code(m)) for m in [big, *others]}
    assert len(codes) == 1


@pytest.mark.real
def test_a_code_item_running_into_the_next_is_refused(sound: bytes) -> None:
    ref = DexFile("classes.dex", sound)
    midx, code_off = _method_with_code(ref, tries=False)
    dex = bytearray(sound)
    struct.pack_into("<I", dex, code_off + 12, 0x00100000)  # insns_size: 2 MiB of "code"
    with pytest.raises(DexFormatError, match="overlaps the next one"):
        DexFile("classes.dex", bytes(dex)).code(midx)


@pytest.mark.real
def test_a_catch_handler_larger_than_its_code_item_is_refused(sound: bytes) -> None:
    ref = DexFile("classes.dex", sound)
    midx, code_off = _method_with_code(ref, tries=True)
    (tries_size,) = struct.unpack_from("<H", sound, code_off + 6)
    (insns_size,) = struct.unpack_from("<I", sound, code_off + 12)
    end = code_off + 16 + 2 * insns_size
    base = end + (end % 4) + 8 * tries_size
    pos = base + 1  # handler list: a one-byte uleb count, then the first handler's sleb size
    assert 0 < sound[base] < 0x80
    dex = bytearray(sound)
    dex[pos : pos + 4] = bytes([0xFF, 0xFF, 0xFF, 0x3F])  # size 2^27 - 1 (type, addr) pairs
    t0 = time.process_time()
    with pytest.raises(DexFormatError, match="catch handler"):
        DexFile("classes.dex", bytes(dex)).code(midx)
    assert time.process_time() - t0 < 2
