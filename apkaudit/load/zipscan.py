"""A bounded zip reader for hostile archives: our own central-directory parser, with recovery.

Why not ``zipfile``: an APK that was built to break analysers is still installed by Android,
and Android's zip code (libziparchive) is more forgiving in some places and stricter in others
than Python's. We need every oddity *reported*, not raised: duplicate names (each copy is kept),
the encryption flag on data stored in clear (Android ignores the flag), data before the first
entry (Janus, CVE-2017-13156), a damaged or missing central directory (entries are recovered
from their local headers), names that escape the archive (kept as strings; nothing is ever
written to disk). Every read is bounded: by the declared size, by a caller's limit, and by the
compression ratio, and a deflate stream is never inflated past ``limit + 1`` bytes.

Works on any seekable binary stream: a file on disk, or an APK nested in a bundle (BytesIO).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, replace
from typing import Protocol

from apkaudit.limits import Limits

_LOCAL_SIG, _CENTRAL_SIG, _EOCD_SIG = b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06"
_ZIP64_LOCATOR_SIG, _ZIP64_EOCD_SIG, _DESCRIPTOR_SIG = b"PK\x06\x07", b"PK\x06\x06", b"PK\x07\x08"
_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # 30 bytes
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")  # 46 bytes
_EOCD = struct.Struct("<4sHHHHIIH")  # 22 bytes
_MAX_COMMENT = 0xFFFF
_MAX_CENTRAL_DIRECTORY = 64 << 20  # 50,000 entries need ~7 MiB; more is not a real APK
_SCAN_CHUNK = 1 << 20
_BOMB_MIN_SIZE = 1 << 20  # the ratio limit applies to entries larger than this

STORED, DEFLATED = 0, 8


class Stream(Protocol):
    """What an :class:`Archive` reads: a file, a BytesIO, or a window on an outer file."""

    def seek(self, offset: int, whence: int = 0, /) -> int: ...
    def read(self, n: int = -1, /) -> bytes: ...


class ArchiveError(Exception):
    """The stream is not a readable zip archive (one-line reason)."""


class ArchiveLimit(ArchiveError):
    """The archive is over a container limit (entry count, directory size)."""


class EntryError(Exception):
    """One entry cannot be read (one-line reason); the rest of the archive is fine."""


class EntryLimit(EntryError):
    """One entry is over a size or ratio limit and was not inflated."""


@dataclass(frozen=True)
class Entry:
    name: str
    method: int
    flags: int
    crc: int
    compressed_size: int
    size: int  # declared uncompressed size (0 when unknown: recovered with a data descriptor)
    offset: int  # absolute offset of the local header in the stream
    copy: int = 1  # 1 for the first entry of this name, 2, 3, ... for duplicates

    @property
    def encrypted_flag(self) -> bool:
        return bool(self.flags & 0x1)

    @property
    def ratio(self) -> float:
        return self.size / max(self.compressed_size, 1)

    @property
    def looks_like_bomb(self) -> bool:
        return self.size > _BOMB_MIN_SIZE and self.method != STORED and self.ratio > 200


class Archive:
    """The entries of one zip archive, and bounded reads of their data."""

    def __init__(self, fh: Stream, size: int, limits: Limits) -> None:
        self.fh = fh
        self.size = size
        self.limits = limits
        self.recovered = ""  # why the central directory was not used ("" when it was)
        self.truncated = False  # recovery ran into the end of the stream mid-entry
        self.count_mismatch: tuple[int, int] | None = None  # (declared, found)
        self.crc_mismatch: list[str] = []
        entries = self._from_central_directory()
        if entries is None:
            entries = self._from_local_headers()
        self.entries: tuple[Entry, ...] = _number_copies(entries)
        self.prefix = min((e.offset for e in self.entries), default=0)

    # ------------------------------------------------------------------ reading the index

    def read_at(self, offset: int, n: int) -> bytes:
        """Up to ``n`` raw bytes at ``offset`` (fewer at the end of the stream)."""
        if offset < 0 or n <= 0 or offset >= self.size:
            return b""
        self.fh.seek(offset)
        return self.fh.read(min(n, self.size - offset))

    def _find_eocd(self) -> int:
        tail_len = min(self.size, _EOCD.size + _MAX_COMMENT)
        base = self.size - tail_len
        tail = self.read_at(base, tail_len)
        pos = tail.rfind(_EOCD_SIG)
        while pos >= 0:
            if pos + _EOCD.size <= len(tail):
                (comment_len,) = struct.unpack_from("<H", tail, pos + 20)
                if pos + _EOCD.size + comment_len <= len(tail):
                    return base + pos
            pos = tail.rfind(_EOCD_SIG, 0, pos)
        return -1

    def _zip64(self, eocd_pos: int) -> tuple[int, int, int, int] | None:
        """(record position, entries, directory size, directory offset) of a zip64 EOCD."""
        loc = self.read_at(eocd_pos - 20, 20)
        if len(loc) < 20 or not loc.startswith(_ZIP64_LOCATOR_SIG):
            return None
        (rec_off,) = struct.unpack_from("<Q", loc, 8)
        rec = self.read_at(rec_off, 56)
        if len(rec) < 56 or not rec.startswith(_ZIP64_EOCD_SIG):
            return None
        entries, cd_size, cd_off = struct.unpack_from("<QQQ", rec, 32)
        return rec_off, entries, cd_size, cd_off

    def _from_central_directory(self) -> list[Entry] | None:
        eocd_pos = self._find_eocd()
        if eocd_pos < 0:
            head = self.read_at(0, 4)
            if self._find(_LOCAL_SIG) < 0:
                raise ArchiveError(_not_zip_reason(head))
            self.recovered = "no end-of-central-directory record (the file is truncated?)"
            return None
        _, _, _, _, total, cd_size, cd_off, _ = _EOCD.unpack(self.read_at(eocd_pos, _EOCD.size))
        end = eocd_pos
        if total == 0xFFFF or cd_size == 0xFFFFFFFF or cd_off == 0xFFFFFFFF:
            z64 = self._zip64(eocd_pos)
            if z64 is not None:
                end, total, cd_size, cd_off = z64
        if total > self.limits.max_entries:
            raise ArchiveLimit(f"{total} zip entries, over the {self.limits.max_entries} limit")
        if cd_size > _MAX_CENTRAL_DIRECTORY:
            raise ArchiveLimit(f"central directory of {_mib(cd_size)} is not a real APK's")
        # Where the directory really is: at its declared offset, or (when the archive was
        # shifted by data prepended without fixing offsets) right before the EOCD record.
        shift = 0
        if self.read_at(cd_off, 4) != _CENTRAL_SIG or cd_off + cd_size > end:
            start = end - cd_size
            if start < 0 or (total and self.read_at(start, 4) != _CENTRAL_SIG):
                self.recovered = "the central directory is not where the EOCD record says"
                return None
            shift = start - cd_off
        raw = self.read_at(cd_off + shift, cd_size)
        entries = self._parse_central(raw, shift)
        if entries is None:
            return None
        if total != len(entries) and total != 0xFFFF:
            self.count_mismatch = (total, len(entries))
        return entries

    def _parse_central(self, raw: bytes, shift: int) -> list[Entry] | None:
        entries: list[Entry] = []
        pos = 0
        while pos + _CENTRAL.size <= len(raw):
            fields = _CENTRAL.unpack_from(raw, pos)
            if fields[0] != _CENTRAL_SIG:
                break
            (_, _, _, flags, method, _, _, crc, csize, usize, nlen, elen, clen, _, _, _, lho) = (
                fields
            )
            name_raw = raw[pos + 46 : pos + 46 + nlen]
            extra = raw[pos + 46 + nlen : pos + 46 + nlen + elen]
            if len(name_raw) < nlen:
                break
            usize, csize, lho = _zip64_extra(extra, usize, csize, lho)
            offset = lho + shift
            if offset >= self.size:
                self.recovered = f"entry {len(entries) + 1} points past the end of the file"
                return None
            entries.append(
                Entry(_decode_name(name_raw, flags), method, flags, crc, csize, usize, offset)
            )
            if len(entries) > self.limits.max_entries:
                raise ArchiveLimit(f"over {self.limits.max_entries} zip entries (the limit)")
            pos += 46 + nlen + elen + clen
        rest = raw[pos : pos + 4]
        if len(rest) == 4 and rest not in (_EOCD_SIG, _ZIP64_EOCD_SIG):
            # Damaged part-way: the local headers still hold every entry.
            self.recovered = "the central directory is damaged" + (
                f" after {len(entries)} entries" if entries else ""
            )
            return None
        return entries

    def _find(self, *sigs: bytes, start: int = 0) -> int:
        """Offset of the first of ``sigs`` at or after ``start`` (chunked: never the whole
        file in memory, and one pass for several signatures)."""
        pos = max(start, 0)
        while pos < self.size:
            chunk = self.read_at(pos, _SCAN_CHUNK + 3)
            hits = [h for h in (chunk.find(sig) for sig in sigs) if h >= 0]
            if hits:
                return pos + min(hits)
            pos += _SCAN_CHUNK
        return -1

    def _from_local_headers(self) -> list[Entry]:
        """Walk the local file headers from the first one: what Android cannot do, but an
        analyst can, when the central directory is missing (truncated download) or damaged."""
        entries: list[Entry] = []
        pos = self._find(_LOCAL_SIG)
        while pos >= 0 and pos + _LOCAL.size <= self.size:
            hdr = self.read_at(pos, _LOCAL.size)
            if len(hdr) < _LOCAL.size or not hdr.startswith(_LOCAL_SIG):
                break
            _, _, flags, method, _, _, crc, csize, usize, nlen, elen = _LOCAL.unpack(hdr)
            name_raw = self.read_at(pos + 30, nlen)
            extra = self.read_at(pos + 30 + nlen, elen)
            usize, csize, _ = _zip64_extra(extra, usize, csize, 0)
            data = pos + 30 + nlen + elen
            if len(name_raw) < nlen or data > self.size:
                self.truncated = True
                break
            nxt = data + csize
            if flags & 0x8 and csize == 0:
                # Sizes follow the data in a descriptor: the next header marks the end.
                nxt = self._next_header(data)
                end = nxt if nxt >= 0 else self.size
                desc = self.read_at(end - 16, 16)
                if desc.startswith(_DESCRIPTOR_SIG):
                    crc, csize, usize = struct.unpack_from("<III", desc, 4)
                else:
                    csize = end - data
            if data + csize > self.size:
                self.truncated = True
            name = _decode_name(name_raw, flags)
            entries.append(Entry(name, method, flags, crc, csize, usize, pos))
            if len(entries) > self.limits.max_entries:
                raise ArchiveLimit(f"over {self.limits.max_entries} zip entries (the limit)")
            if self.truncated or nxt < 0:
                break  # cut off, or a streamed last entry with nothing after it
            # Always move forward: a header "found" at or before this one would loop forever.
            nxt_pos = nxt if self.read_at(nxt, 4) == _LOCAL_SIG else self._next_header(nxt)
            if nxt_pos <= pos or self.read_at(nxt_pos, 4) != _LOCAL_SIG:
                break  # the central directory (or garbage) follows: no more entries
            pos = nxt_pos
        if not entries:
            raise ArchiveError("zip archive is truncated or damaged: no readable entry")
        if not self.recovered:
            self.recovered = "the central directory is damaged"
        if self.truncated:
            self.recovered += "; the last entry is cut off, so later entries are lost"
        return entries

    def _next_header(self, start: int) -> int:
        """The next local header or central directory record after ``start`` (-1: none)."""
        return self._find(_LOCAL_SIG, _CENTRAL_SIG, start=start)

    # ------------------------------------------------------------------ reading entries

    def data_offset(self, entry: Entry) -> int:
        hdr = self.read_at(entry.offset, _LOCAL.size)
        if len(hdr) < _LOCAL.size or not hdr.startswith(_LOCAL_SIG):
            raise EntryError(f"entry {clip(entry.name)}: no local header at its offset")
        nlen, elen = struct.unpack_from("<HH", hdr, 26)
        return entry.offset + 30 + nlen + elen

    def check(self, entry: Entry, limit: int) -> None:
        """Raise :class:`EntryLimit` if reading ``entry`` in full would break a limit."""
        if entry.size > limit:
            raise EntryLimit(
                f"entry {clip(entry.name)} is {_mib(entry.size)}, over the {_mib(limit)} limit"
            )
        big = entry.size > _BOMB_MIN_SIZE and entry.method != STORED
        if big and entry.ratio > self.limits.max_ratio:
            raise EntryLimit(
                f"entry {clip(entry.name)} inflates {_mib(entry.compressed_size)} to "
                f"{_mib(entry.size)} (ratio {entry.ratio:.0f}, limit "
                f"{self.limits.max_ratio}): zip bomb"
            )

    def read(self, entry: Entry, limit: int) -> bytes:
        """The whole uncompressed entry, at most ``limit`` bytes, or :class:`EntryError`."""
        self.check(entry, limit)
        start = self.data_offset(entry)
        # A deflate stream of n bytes is never much longer than n (stored blocks: +5 per 64K).
        max_compressed = limit + limit // 64 + 1024
        if entry.compressed_size > max_compressed:
            raise EntryLimit(
                f"entry {clip(entry.name)} has {_mib(entry.compressed_size)} of data, "
                f"over the {_mib(limit)} limit"
            )
        raw = self.read_at(start, entry.compressed_size)
        if len(raw) < entry.compressed_size:
            raise EntryError(f"entry {clip(entry.name)} is cut off (the file is truncated)")
        bound = min(limit, entry.size) if entry.size else limit
        data = self._decode(entry, raw, bound)
        if entry.crc and zlib.crc32(data) != entry.crc:
            self.crc_mismatch.append(entry.name)
        return data

    def _decode(self, entry: Entry, raw: bytes, bound: int) -> bytes:
        if entry.method == STORED:
            return raw[:bound]
        inflater = zlib.decompressobj(-15)
        try:
            out = inflater.decompress(raw, bound + 1)
        except zlib.error as exc:
            # Android inflates every non-stored method; a tampered header that claims
            # compression for stored bytes (sizes equal) is read as stored.
            if entry.compressed_size == entry.size:
                return raw[:bound]
            raise EntryError(f"entry {clip(entry.name)} is corrupt ({exc})") from None
        if len(out) > bound:
            if entry.size and bound == entry.size:
                raise EntryError(f"entry {clip(entry.name)} inflates past its declared size")
            raise EntryLimit(f"entry {clip(entry.name)} inflates past the {_mib(bound)} limit")
        if not inflater.eof:
            raise EntryError(f"entry {clip(entry.name)} is cut off (incomplete deflate stream)")
        return out

    def head(self, entry: Entry, n: int) -> bytes:
        """Up to the first ``n`` uncompressed bytes; b"" when they cannot be read. Bounded:
        never reads more than ``n`` + 64 KiB of compressed data, whatever the entry declares."""
        try:
            start = self.data_offset(entry)
        except EntryError:
            return b""
        cap = min(entry.compressed_size, n + (64 << 10)) if entry.compressed_size else n
        if entry.method == STORED:
            return self.read_at(start, min(cap, n))
        # A few hundred compressed bytes give the first bytes of almost any stream; read more
        # only when they do not (a head peek runs for every asset: keep it cheap).
        want = min(cap, n + 1024)
        while True:
            raw = self.read_at(start, want)
            try:
                out = zlib.decompressobj(-15).decompress(raw, n)
            except zlib.error:
                return raw[:n] if entry.compressed_size == entry.size else b""
            if len(out) >= n or want >= cap or len(raw) < want:
                return out
            want = cap


# --------------------------------------------------------------------------- helpers


def _zip64_extra(extra: bytes, usize: int, csize: int, lho: int) -> tuple[int, int, int]:
    """Apply a zip64 extended-information extra field (id 1) to the 0xFFFFFFFF fields."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + size]
        if tag == 1:
            vals = [struct.unpack_from("<Q", body, i)[0] for i in range(0, len(body) - 7, 8)]
            if usize == 0xFFFFFFFF and vals:
                usize = vals.pop(0)
            if csize == 0xFFFFFFFF and vals:
                csize = vals.pop(0)
            if lho == 0xFFFFFFFF and vals:
                lho = vals.pop(0)
            break
        pos += 4 + size
    return usize, csize, lho


def _decode_name(raw: bytes, flags: int) -> str:
    # Android compares raw bytes; UTF-8 is what every real APK uses, flag or not.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8" if flags & 0x800 else "cp437", "replace")


def _number_copies(entries: list[Entry]) -> tuple[Entry, ...]:
    seen: dict[str, int] = {}
    out = []
    for e in entries:
        n = seen[e.name] = seen.get(e.name, 0) + 1
        out.append(e if n == 1 else replace(e, copy=n))
    return tuple(out)


NOT_A_ZIP = "not an APK: no zip archive structure found"


def _not_zip_reason(head: bytes) -> str:
    if head.startswith(b"dex\n"):
        return "is a bare DEX file, not an APK (zip archive)"
    if head.startswith(b"\x7fELF"):
        return "is an ELF binary, not an APK (zip archive)"
    return NOT_A_ZIP


def unsafe_name(name: str) -> bool:
    """A name that would escape the folder it is extracted to (we never extract anything)."""
    norm = name.replace("\\", "/")
    return (
        norm.startswith("/")
        or ".." in norm.split("/")
        or (len(norm) > 1 and norm[1] == ":" and norm[0].isalpha())
        or "\x00" in norm
    )


def _mib(n: int) -> str:
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GiB"
    if n < 1 << 20:
        return f"{n / (1 << 10):.1f} KiB"
    return f"{n / (1 << 20):.1f} MiB"


mib = _mib


def clip(name: str, width: int = 80) -> str:
    """A name safe for a one-line message: escaped, and shortened."""
    name = name.encode("ascii", "backslashreplace").decode()
    name = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in name)
    return name if len(name) <= width else name[: width - 3] + "..."
