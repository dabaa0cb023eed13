"""Hostile containers: every limit and refusal of the loader, through ``audit_app``.

Each input is built in tmp_path from the entries of ``fixtures/apks/clean.apk``. Bad input must
come back as an AppResult with status "error" and a one-line reason that names the file, or (when
a limit only cuts analysis short) as a result with a blind spot; never as an exception. More edge
cases, on committed fixtures, are in test_inputs_zip.py.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest
from conftest import fixture_apk

from apkaudit.audit import AuditOptions, audit_app
from apkaudit.limits import DEFAULT_LIMITS, Limits
from apkaudit.model import AppResult

CLEAN = fixture_apk("clean")


def clean_entries() -> dict[str, bytes]:
    with zipfile.ZipFile(CLEAN) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def build(path: Path, entries: dict[str, bytes] | list[tuple[str, bytes]]) -> Path:
    items = entries.items() if isinstance(entries, dict) else entries
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in items:
            zf.writestr(name, data)
    return path


def refused(path: Path, limits: Limits = DEFAULT_LIMITS) -> str:
    """Audit ``path``; assert it is refused with one line naming it; return the reason."""
    result: AppResult = audit_app(path, AuditOptions(limits=limits))
    assert result.status == "error", "expected the input to be refused"
    assert result.findings == ()
    error = result.error or ""
    assert "\n" not in error
    prefix = f"{path}: "
    assert error.startswith(prefix), error
    return error.removeprefix(prefix)


def spotted(path: Path, kind: str, limits: Limits = DEFAULT_LIMITS) -> tuple[AppResult, str]:
    """Audit ``path``; assert it is audited with exactly one ``kind`` blind spot; its detail."""
    result: AppResult = audit_app(path, AuditOptions(limits=limits))
    assert result.status == "ok", result.error
    details = [b.detail for b in result.coverage.blind_spots if b.kind == kind]
    assert len(details) == 1, result.coverage.blind_spots
    return result, details[0]


def declare_size(path: Path, name: str, size: int) -> None:
    """Make the central directory claim ``size`` uncompressed bytes for entry ``name``."""
    raw = bytearray(path.read_bytes())
    needle = name.encode()
    pos = raw.find(b"PK\x01\x02")
    while pos >= 0:
        (name_len,) = struct.unpack_from("<H", raw, pos + 28)
        if raw[pos + 46 : pos + 46 + name_len] == needle:
            struct.pack_into("<I", raw, pos + 24, size)
            path.write_bytes(bytes(raw))
            return
        pos = raw.find(b"PK\x01\x02", pos + 4)
    raise AssertionError(f"{name} not in central directory")


def test_the_unchanged_base_is_accepted(tmp_path: Path) -> None:
    path = build(tmp_path / "copy.apk", clean_entries())
    assert audit_app(path).status == "ok"


def test_too_many_entries(tmp_path: Path) -> None:
    entries = clean_entries() | {f"assets/f{i}.txt": b"x" for i in range(20)}
    path = build(tmp_path / "many.apk", entries)
    reason = refused(path, Limits().override(max_entries=10))
    assert reason == f"{len(entries)} zip entries, over the 10 limit"


def test_real_compression_ratio_is_a_zip_bomb(tmp_path: Path) -> None:
    entries = clean_entries() | {"assets/zeros.bin": bytes(4 * 1024 * 1024)}
    path = build(tmp_path / "bomb.apk", entries)
    result, detail = spotted(path, "zip_bomb")
    assert detail.startswith("assets/zeros.bin inflates ")
    assert detail.endswith("): not inflated")
    assert result.coverage.complete  # a data entry: nothing hidden, just never inflated


def test_declared_huge_size_with_tiny_data_is_a_zip_bomb(tmp_path: Path) -> None:
    path = build(tmp_path / "liar.apk", clean_entries() | {"assets/tiny.bin": b"tiny"})
    declare_size(path, "assets/tiny.bin", 300 * 1024 * 1024)
    _, detail = spotted(path, "zip_bomb")
    assert detail.startswith("assets/tiny.bin inflates ")
    assert "to 300.0 MiB" in detail


def test_dex_declared_over_the_dex_size_limit(tmp_path: Path) -> None:
    entries = clean_entries()
    path = build(tmp_path / "huge.apk", entries | {"classes2.dex": entries["classes.dex"]})
    declare_size(path, "classes2.dex", 3 * 1024 * 1024 * 1024)
    result, detail = spotted(path, "limit", Limits().override(max_ratio=10**12))
    assert detail == "classes2.dex not analysed: is 3.0 GiB, over the 256.0 MiB limit"
    assert result.code is not None and result.code.dex_files == ("classes.dex",)
    assert not result.coverage.complete


def test_total_declared_size_limit(tmp_path: Path) -> None:
    entries = clean_entries() | {f"assets/{i}.txt": bytes(1000) for i in range(10)}
    path = build(tmp_path / "total.apk", entries)
    total = sum(len(v) for v in entries.values())
    limits = Limits().override(max_total_uncompressed=total - 1)
    assert refused(path, limits).startswith("entries declare ")


def test_more_dex_files_than_allowed(tmp_path: Path) -> None:
    entries = clean_entries()
    extra = {f"classes{n}.dex": entries["classes.dex"] + bytes(n) for n in (2, 3, 4)}
    path = build(tmp_path / "dexes.apk", entries | extra)
    result, detail = spotted(path, "limit", Limits().override(max_dex_files=3))
    assert detail == "classes4.dex not analysed: over the 3 dex files limit"
    assert result.code is not None and len(result.code.dex_files) == 3
    full = audit_app(path, AuditOptions(limits=Limits().override(max_dex_files=4)))
    assert full.status == "ok" and full.coverage.complete


def test_dex_over_the_size_limit(tmp_path: Path) -> None:
    path = build(tmp_path / "bigdex.apk", clean_entries())
    result, detail = spotted(path, "limit", Limits().override(max_dex_size=100))
    assert detail.startswith("classes.dex not analysed: is ")
    assert detail.endswith("over the 0.1 KiB limit")
    assert "no_dex" in [b.kind for b in result.coverage.blind_spots]


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    path = build(tmp_path / "big.apk", clean_entries())
    assert refused(path, Limits().override(max_file_size=1024)).startswith("file is ")


def test_no_manifest(tmp_path: Path) -> None:
    entries = clean_entries()
    del entries["AndroidManifest.xml"]
    path = build(tmp_path / "nomanifest.apk", entries)
    assert refused(path) == "zip archive has no AndroidManifest.xml: not an APK"


def test_bare_dex(tmp_path: Path) -> None:
    path = tmp_path / "bare.apk"
    path.write_bytes(clean_entries()["classes.dex"])
    assert refused(path) == "is a bare DEX file, not an APK (zip archive)"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.apk"
    path.write_bytes(b"")
    assert refused(path) == "file is empty"


@pytest.mark.parametrize("name", ["../evil", "assets/../../evil", "/tmp/evil"])
def test_entry_outside_the_archive(tmp_path: Path, name: str) -> None:
    path = build(tmp_path / "slip.apk", [*clean_entries().items(), (name, b"evil")])
    result, detail = spotted(path, "zip_path_traversal")
    assert f"({name!r})" in detail and "nothing was written to disk" in detail
    assert result.coverage.complete
    assert not (tmp_path / "evil").exists() and not Path("/tmp/evil").exists()


def test_truncated_archive(tmp_path: Path) -> None:
    whole = build(tmp_path / "whole.apk", clean_entries()).read_bytes()
    path = tmp_path / "cut.apk"
    path.write_bytes(whole[: len(whole) // 2])
    result, detail = spotted(path, "zip_damaged")
    assert detail.startswith("cut.apk: no end-of-central-directory record (the file is truncated?)")
    assert "entries recovered from their local headers" in detail
    assert result.coverage.complete is False


def test_truncated_before_the_manifest_is_refused(tmp_path: Path) -> None:
    whole = build(tmp_path / "whole.apk", clean_entries()).read_bytes()
    path = tmp_path / "cut.apk"
    path.write_bytes(whole[:40])
    assert refused(path).startswith("zip archive is truncated or damaged")


def test_missing_file(tmp_path: Path) -> None:
    reason = refused(tmp_path / "nothing.apk")
    assert reason.startswith("cannot read file")


def test_unknown_limit_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown limit"):
        Limits().override(max_bananas=1)
