"""Zip edge cases handled on purpose (issue 4, part 3), on the committed fixtures/edge/ files.

Each hostile file (built by fixtures/make_edge.py from clean.apk and loan-bulk-sms.apk) must be
audited with the blind spot that names what is odd, or refused with a one-line reason; never a
traceback, and nothing is ever written to disk.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from conftest import REPO

from apkaudit.audit import audit_app
from apkaudit.coverage.hidden import NOTICE_KINDS
from apkaudit.limits import Limits
from apkaudit.load.zipscan import Archive, ArchiveError, EntryError, EntryLimit, unsafe_name
from apkaudit.model import AppResult

EDGE = REPO / "fixtures" / "edge"


def spots(result: AppResult, kind: str) -> list[str]:
    return [b.detail for b in result.coverage.blind_spots if b.kind == kind]


def sms_dexes(result: AppResult) -> set[str]:
    return {r.location.dex for r in result.code.refs if r.api_id.startswith("sms.send.")}


def test_duplicate_classes_dex_every_copy_is_analysed(audit) -> None:
    result = audit(EDGE / "duplicate-dex.apk")
    assert result.status == "ok"
    assert result.code.dex_files == ("classes.dex", "classes.dex#2")
    assert sms_dexes(result) == {"classes.dex#2"}  # the SMS code is only in the second copy
    assert result.verdicts.sms_send.value in ("likely", "confirmed")
    (detail,) = spots(result, "zip_duplicate_entry")
    assert "(classes.dex); every copy was analysed" in detail
    # Nothing hidden by the duplicate: both copies were read. The one gap: clean.apk's
    # manifest declares no permission for the SMS code of the second copy (manifest_unreadable).
    hiding = {b.kind for b in result.coverage.blind_spots if b.kind not in NOTICE_KINDS}
    assert hiding == {"manifest_unreadable"}


def test_encryption_flag_on_clear_data_is_read_and_flagged(audit) -> None:
    result = audit(EDGE / "encryption-flag.apk")
    assert result.status == "ok"
    assert result.verdicts.bulk_sms_to_contacts.value == "confirmed"
    (detail,) = spots(result, "zip_encryption_flag")
    assert detail.startswith("encryption-flag.apk: 5 entries have the encryption flag set")
    assert "Android ignores the flag" in detail
    assert result.coverage.complete


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("truncated.apk", "no end-of-central-directory record (the file is truncated?)"),
        ("cd-damaged.apk", "the central directory is damaged after 1 entries"),
    ],
)
def test_damaged_zip_is_recovered_from_local_headers(name: str, words: str, audit) -> None:
    result = audit(EDGE / name)
    assert result.status == "ok", result.error
    (detail,) = spots(result, "zip_damaged")
    assert words in detail and "recovered from their local headers" in detail
    assert result.verdicts.bulk_sms_to_contacts.value == "confirmed"  # manifest + dex survived
    assert result.coverage.complete is False  # entries after the damage may be lost


def test_prepended_dex_janus_is_analysed_and_flagged(audit) -> None:
    result = audit(EDGE / "prepended-dex.apk")
    assert result.status == "ok"
    assert sms_dexes(result) == {"(prepended dex)"}
    (detail,) = spots(result, "zip_prepended_data")
    assert "a DEX file (1816 bytes) sits before the zip data (Janus, CVE-2017-13156" in detail
    assert detail.endswith("analysed as (prepended dex)")


def test_prepended_junk_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "junk.apk"
    path.write_bytes(b"#!/bin/sh\necho hi\n" + (EDGE / "path-traversal.apk").read_bytes())
    result = audit_app(path)
    assert result.status == "ok"
    assert spots(result, "zip_prepended_data") == ["junk.apk: 18 bytes of data before the zip data"]


def test_zip_bomb_asset_is_never_inflated(audit) -> None:
    result = audit(EDGE / "zip-bomb.apk")
    assert result.status == "ok"
    (detail,) = spots(result, "zip_bomb")
    assert detail == "assets/bomb.bin inflates 509.6 KiB to 512.0 MiB (ratio 1029): not inflated"
    assert result.coverage.complete  # data, not code


def test_overlapping_zip_bomb_is_refused(audit) -> None:
    result = audit(EDGE / "zip-bomb-overlap.apk")
    assert result.status == "error"
    assert result.error == (
        f"{EDGE / 'zip-bomb-overlap.apk'}: entries declare 8.0 GiB uncompressed in total, "
        "over the 4.0 GiB limit"
    )


def test_dex_bomb_next_to_a_good_dex(audit) -> None:
    result = audit(EDGE / "dex-bomb.apk")
    assert result.status == "ok"
    assert result.code.dex_files == ("classes.dex",)  # the good one is analysed
    assert spots(result, "limit") == [
        "classes2.dex not analysed: is 512.0 MiB, over the 256.0 MiB limit"
    ]
    assert result.coverage.complete is False


def test_dex_bomb_within_the_size_limit_is_stopped_by_the_ratio() -> None:
    result = audit_app(EDGE / "dex-bomb.apk", _opts(max_dex_size=1 << 30))
    (detail,) = spots(result, "limit")
    assert detail.startswith("classes2.dex not analysed: inflates 509.7 KiB to 512.0 MiB")
    assert detail.endswith("limit 200): zip bomb")


def test_corrupt_dex_next_to_a_good_one(audit) -> None:
    result = audit(EDGE / "corrupt-dex.apk")
    assert result.status == "ok"
    assert result.code.dex_files == ("classes.dex",)
    (detail,) = spots(result, "unreadable_dex")
    assert detail.startswith("classes2.dex: ")
    assert result.verdicts.bulk_sms_to_contacts.value == "confirmed"
    assert result.coverage.complete is False


def test_path_traversal_names_are_flagged_never_written(audit) -> None:
    result = audit(EDGE / "path-traversal.apk")
    assert result.status == "ok"
    (detail,) = spots(result, "zip_path_traversal")
    assert "'../../../../tmp/apkaudit-zipslip.txt', '/tmp/apkaudit-zipslip-abs.txt'" in detail
    assert not Path("/tmp/apkaudit-zipslip.txt").exists()
    assert not Path("/tmp/apkaudit-zipslip-abs.txt").exists()
    assert result.coverage.complete


def test_broken_manifest_chunk_reports_what_is_readable(audit) -> None:
    result = audit(EDGE / "broken-manifest.apk")
    assert result.status == "ok", result.error
    assert result.identity.package == "com.apkaudit.fixture.loanbulksms"
    assert result.manifest.has_permission("android.permission.SEND_SMS")
    assert result.manifest.components == ()  # <application> was after the damage
    (detail,) = spots(result, "manifest_damaged")
    assert detail.startswith("AndroidManifest.xml breaks off part-way")
    assert result.verdicts.sms_send.value != "none"  # the code is still analysed
    assert result.coverage.complete is False


def test_every_notice_kind_leaves_coverage_complete() -> None:
    from apkaudit.coverage.hidden import coverage_of
    from apkaudit.model import BlindSpot

    assert coverage_of(BlindSpot(k, "x") for k in NOTICE_KINDS).complete
    assert not coverage_of([BlindSpot("zip_damaged", "x")]).complete


# --------------------------------------------------------------------------- zipscan units


def _opts(**limits: int):
    from apkaudit.audit import AuditOptions

    return AuditOptions(limits=Limits().override(**limits))


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _archive(data: bytes, **limits: int) -> Archive:
    return Archive(io.BytesIO(data), len(data), Limits().override(**limits))


def test_data_descriptor_entries_are_recovered() -> None:
    # Streamed zips (bit 3) carry sizes after the data; without a directory the next header
    # marks the end of each entry.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in {"a.txt": b"alpha" * 100, "b.txt": b"beta" * 100}.items():
            with zf.open(name, "w", force_zip64=False) as fh:
                fh.write(data)
    raw = buf.getvalue()
    cut = raw[: raw.find(b"PK\x01\x02")]  # drop the central directory
    arch = _archive(cut)
    assert arch.recovered.startswith("no end-of-central-directory record")
    assert [e.name for e in arch.entries] == ["a.txt", "b.txt"]
    assert arch.read(arch.entries[1], 1 << 20) == b"beta" * 100


def test_lying_declared_size_is_never_exceeded() -> None:
    raw = bytearray(_zip({"x.bin": bytes(100_000)}))
    pos = raw.find(b"PK\x01\x02")
    struct.pack_into("<I", raw, pos + 24, 1000)  # the directory claims 1000 bytes
    arch = _archive(bytes(raw))
    with pytest.raises(EntryError, match="inflates past its declared size"):
        arch.read(arch.entries[0], 1 << 20)


def test_bomb_entries_are_refused_before_inflating() -> None:
    arch = _archive(_zip({"z.bin": bytes(8 << 20)}))
    with pytest.raises(EntryLimit, match="zip bomb"):
        arch.read(arch.entries[0], 1 << 30)
    assert arch.head(arch.entries[0], 16) == bytes(16)  # a bounded peek is still fine


def test_unknown_method_on_stored_data_is_read_as_android_does() -> None:
    raw = bytearray(_zip({"a.txt": b"hello"}))
    # Rewrite as stored data claiming method 99 (Android inflates or copies, never refuses).
    info = zipfile.ZipFile(io.BytesIO(bytes(raw))).infolist()[0]
    data = b"hello"
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 99, 0, 0, zlib.crc32(data),
                        5, 5, 5, 0) + b"a.txt" + data  # fmt: skip
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 99, 0, 0,
                          zlib.crc32(data), 5, 5, 5, 0, 0, 0, 0, 0, 0) + b"a.txt"  # fmt: skip
    eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local), 0)
    arch = _archive(local + central + eocd)
    assert info.filename == "a.txt"
    assert arch.read(arch.entries[0], 100) == b"hello"


def test_entry_count_is_checked_before_the_directory_is_parsed() -> None:
    with pytest.raises(ArchiveError, match="3 zip entries, over the 2 limit"):
        _archive(_zip({"a": b"1", "b": b"2", "c": b"3"}), max_entries=2)


def test_not_a_zip() -> None:
    with pytest.raises(ArchiveError, match="no zip archive structure"):
        _archive(b"hello world" * 100)


@pytest.mark.parametrize(
    ("name", "unsafe"),
    [("../x", True), ("a/../../x", True), ("/etc/x", True), ("C:\\x", True), ("a\\..\\x", True),
     ("a\x00b", True), ("assets/x..y", False), ("res/raw/a.bin", False)],
)  # fmt: skip
def test_unsafe_names(name: str, unsafe: bool) -> None:
    assert unsafe_name(name) is unsafe


def test_streamed_last_entry_without_a_directory_ends_the_walk() -> None:
    # Found by the fuzzer (a hang): a streamed entry (sizes in a data descriptor) with nothing
    # after it sent the local-header walk back to the first header, forever.
    body = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = body.compress(b"payload" * 50) + body.flush()
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0x8, 8, 0, 0, 0, 0, 0, 5, 0)
    arch = _archive(local + b"a.txt" + data)
    assert [e.name for e in arch.entries] == ["a.txt"]
    assert arch.read(arch.entries[0], 1 << 20) == b"payload" * 50
