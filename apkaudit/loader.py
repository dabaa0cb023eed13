"""Open an APK safely: sniff, check every limit before inflating anything, hash, read entries.

Hostile inputs are the norm. Everything here is bounded: the central directory is sized from
the end-of-central-directory record before ``zipfile`` parses it, every entry we inflate is
checked against its declared size and compression ratio first, and ``zipfile`` never returns
more bytes than the declared size.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import zipfile
from dataclasses import dataclass

from apkaudit.errors import InputError, LimitExceeded
from apkaudit.limits import DEFAULT_LIMITS, Limits
from apkaudit.model import InputInfo

_EOCD_SIG = b"PK\x05\x06"
_ZIP64_LOCATOR_SIG = b"PK\x06\x07"
_DEX_NAME = re.compile(r"^classes(\d*)\.dex$")
_MAX_COMMENT = 0xFFFF


@dataclass(frozen=True)
class ZipEntry:
    name: str
    compressed_size: int
    size: int
    flag_bits: int = 0


@dataclass(frozen=True)
class LoadedApp:
    """The raw material of one app: hashes, entry list, manifest and dex bytes."""

    input: InputInfo
    entries: tuple[ZipEntry, ...]
    manifest: bytes
    dex: tuple[tuple[str, bytes], ...]  # (entry name, bytes), in class-loading order
    arsc: bytes | None = None
    notes: tuple[str, ...] = ()  # oddities seen while loading (encryption flag, duplicates)

    @property
    def entry_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.entries)


def load_apk(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> LoadedApp:
    """Load one APK file. Raises :class:`InputError` with a one-line reason on bad input."""
    spath = os.fspath(path)
    try:
        size = os.path.getsize(spath)
        if not os.path.isfile(spath):
            raise InputError(spath, "not a regular file")
    except OSError as exc:
        raise InputError(spath, f"cannot read file ({exc.strerror or exc})") from None
    if size > limits.max_file_size:
        raise LimitExceeded(
            spath, f"file is {_mib(size)}, over the {_mib(limits.max_file_size)} limit"
        )

    with open(spath, "rb") as fh:
        head = fh.read(8)
        _sniff(spath, head, size)
        _check_directory_size(spath, fh, size, limits)
        sha256, sha1, md5 = _hashes(fh)
        fh.seek(0)
        try:
            zf = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, struct.error) as exc:
            raise InputError(spath, f"not a readable zip archive ({exc})") from None
        except (EOFError, OSError) as exc:
            raise InputError(spath, f"zip archive is truncated ({exc})") from None
        with zf:
            infos = zf.infolist()
            entries = tuple(
                ZipEntry(i.filename, i.compress_size, i.file_size, i.flag_bits) for i in infos
            )
            _check_entries(spath, infos, limits)
            notes = _entry_notes(infos)
            by_name = {i.filename: i for i in infos}  # last copy wins, as in zipfile
            if "AndroidManifest.xml" not in by_name:
                raise InputError(spath, _no_manifest_reason(by_name))
            manifest = _read(spath, zf, by_name["AndroidManifest.xml"], limits.max_manifest_size)
            dex_infos = sorted(
                (i for i in infos if _DEX_NAME.match(i.filename)),
                key=lambda i: _dex_order(i.filename),
            )
            if len(dex_infos) > limits.max_dex_files:
                raise LimitExceeded(
                    spath, f"{len(dex_infos)} dex files, over the {limits.max_dex_files} limit"
                )
            dex = tuple((i.filename, _read(spath, zf, i, limits.max_dex_size)) for i in dex_infos)
            arsc_info = by_name.get("resources.arsc")
            arsc = None
            if arsc_info is not None and arsc_info.file_size <= limits.max_manifest_size * 4:
                arsc = _read(spath, zf, arsc_info, limits.max_manifest_size * 4)

    info = InputInfo(path=spath, sha256=sha256, size=size, container="apk", sha1=sha1, md5=md5)
    return LoadedApp(info, entries, manifest, dex, arsc, notes)


# --------------------------------------------------------------------------- checks


def _sniff(path: str, head: bytes, size: int) -> None:
    if size == 0:
        raise InputError(path, "file is empty")
    if head.startswith(b"dex\n"):
        raise InputError(path, "is a bare DEX file, not an APK (zip archive)")
    if head.startswith(b"\x7fELF"):
        raise InputError(path, "is an ELF binary, not an APK (zip archive)")
    if not head.startswith(b"PK"):
        # A zip may legally carry a prefix (self-extracting archives, Janus-style dex);
        # the end-of-central-directory check below decides.
        pass


def _find_eocd(fh, size: int) -> tuple[int, bytes]:
    tail_len = min(size, 22 + _MAX_COMMENT)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    pos = tail.rfind(_EOCD_SIG)
    while pos >= 0:
        record = tail[pos : pos + 22]
        if len(record) == 22:
            (comment_len,) = struct.unpack("<H", record[20:22])
            if pos + 22 + comment_len <= len(tail):
                return size - tail_len + pos, tail
        pos = tail.rfind(_EOCD_SIG, 0, pos)
    return -1, tail


def _check_directory_size(path: str, fh, size: int, limits: Limits) -> None:
    """Read the entry count from the EOCD record before zipfile builds its entry list."""
    eocd_pos, _ = _find_eocd(fh, size)
    if eocd_pos < 0:
        fh.seek(0)
        if fh.read(4) == b"PK\x03\x04":
            raise InputError(path, "zip archive is truncated or damaged: no central directory")
        raise InputError(path, "not an APK: no zip archive structure found")
    fh.seek(eocd_pos)
    record = fh.read(22)
    (_, _, _, _, total_entries, cd_size, _, _) = struct.unpack("<4sHHHHIIH", record)
    if total_entries == 0xFFFF or cd_size == 0xFFFFFFFF:
        total_entries = _zip64_entries(fh, eocd_pos) or total_entries
    if total_entries > limits.max_entries:
        raise LimitExceeded(
            path, f"{total_entries} zip entries, over the {limits.max_entries} limit"
        )


def _zip64_entries(fh, eocd_pos: int) -> int | None:
    if eocd_pos < 20:
        return None
    fh.seek(eocd_pos - 20)
    loc = fh.read(20)
    if not loc.startswith(_ZIP64_LOCATOR_SIG):
        return None
    (rec_off,) = struct.unpack("<Q", loc[8:16])
    fh.seek(rec_off)
    rec = fh.read(56)
    if len(rec) < 56 or not rec.startswith(b"PK\x06\x06"):
        return None
    (entries,) = struct.unpack("<Q", rec[32:40])
    return entries


def _check_entries(path: str, infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1024 * 1024 and ratio > limits.max_ratio:
            raise LimitExceeded(
                path,
                f"entry {_clip(info.filename)} inflates {_mib(info.compress_size)} to "
                f"{_mib(info.file_size)} (ratio {ratio:.0f}, limit {limits.max_ratio}): zip bomb",
            )
        if info.file_size > limits.max_entry_uncompressed:
            raise LimitExceeded(
                path,
                f"entry {_clip(info.filename)} declares {_mib(info.file_size)} uncompressed, "
                f"over the {_mib(limits.max_entry_uncompressed)} per-entry limit",
            )
        if _unsafe_name(info.filename):
            raise InputError(
                path,
                f"entry name {_clip(info.filename)!r} points outside the archive (path traversal)",
            )
    if total > limits.max_total_uncompressed:
        raise LimitExceeded(
            path,
            f"entries declare {_mib(total)} uncompressed in total, "
            f"over the {_mib(limits.max_total_uncompressed)} limit",
        )


def _entry_notes(infos: list[zipfile.ZipInfo]) -> tuple[str, ...]:
    notes: list[str] = []
    seen: set[str] = set()
    for info in infos:
        if info.filename in seen:
            notes.append(f"duplicate entry {_clip(info.filename)}")
        seen.add(info.filename)
        if info.flag_bits & 0x1:
            notes.append(f"entry {_clip(info.filename)} has the encryption flag set")
    return tuple(dict.fromkeys(notes))


def _unsafe_name(name: str) -> bool:
    norm = name.replace("\\", "/")
    return norm.startswith("/") or ".." in norm.split("/") or bool(re.match(r"^[A-Za-z]:", norm))


def _no_manifest_reason(by_name: dict[str, zipfile.ZipInfo]) -> str:
    names = list(by_name)
    if "manifest.json" in by_name or any(n.endswith(".apk") for n in names):
        return (
            "is a split bundle (xapk/apks); not supported by this version (no AndroidManifest.xml)"
        )
    if "base/manifest/AndroidManifest.xml" in by_name:
        return "is an Android App Bundle (.aab); not supported by this version"
    return "zip archive has no AndroidManifest.xml: not an APK"


def _read(path: str, zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    if info.file_size > limit:
        raise LimitExceeded(
            path,
            f"entry {_clip(info.filename)} is {_mib(info.file_size)}, over the {_mib(limit)} limit",
        )
    if info.flag_bits & 0x1:
        # Android ignores the encryption bit; so do we (the data is stored in clear).
        info = _copy_info(info)
        info.flag_bits &= ~0x1
    try:
        with zf.open(info) as stream:
            return stream.read(limit + 1)[:limit]
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise InputError(path, f"entry {_clip(info.filename)} cannot be read ({exc})") from None
    except Exception as exc:  # zlib.error and friends from damaged streams
        raise InputError(path, f"entry {_clip(info.filename)} is corrupt ({exc})") from None


def _copy_info(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    clone = zipfile.ZipInfo(info.filename, info.date_time)
    for slot in zipfile.ZipInfo.__slots__:
        if hasattr(info, slot):
            setattr(clone, slot, getattr(info, slot))
    return clone


def _dex_order(name: str) -> int:
    m = _DEX_NAME.match(name)
    return int(m.group(1) or 1) if m else 10**9


def _hashes(fh) -> tuple[str, str, str]:
    fh.seek(0)
    h256, h1, h5 = hashlib.sha256(), hashlib.sha1(), hashlib.md5()
    while chunk := fh.read(1 << 20):
        h256.update(chunk)
        h1.update(chunk)
        h5.update(chunk)
    return h256.hexdigest(), h1.hexdigest(), h5.hexdigest()


def _mib(n: int) -> str:
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GiB"
    return f"{n / (1 << 20):.1f} MiB"


def _clip(name: str, width: int = 80) -> str:
    name = name.encode("ascii", "backslashreplace").decode()
    return name if len(name) <= width else name[: width - 3] + "..."
