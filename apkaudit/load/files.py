"""The outer file: size checks, hashing, opening it as an archive (refusing bare dex and ELF
files), a window on a stored nested APK, and the one-line reasons a container is refused."""

from __future__ import annotations

import hashlib
import os
import stat
from typing import BinaryIO

from apkaudit.errors import InputError, LimitExceeded
from apkaudit.limits import Limits
from apkaudit.load.zipscan import Archive, ArchiveError, ArchiveLimit, Entry, Stream, clip, mib

DEX_MAGIC, ZIP_MAGIC = b"dex\n", b"PK\x03\x04"


class Window:
    """A read-only view of ``length`` bytes of ``fh`` from ``start``: a stored nested APK is
    read in place, without copying it into memory."""

    def __init__(self, fh: Stream, start: int, length: int) -> None:
        self.fh, self.start, self.length, self.pos = fh, start, length, 0

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.length}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, n: int = -1) -> bytes:
        left = self.length - self.pos
        n = left if n is None or n < 0 else min(n, left)
        if n <= 0:
            return b""
        self.fh.seek(self.start + self.pos)
        data = self.fh.read(n)
        self.pos += len(data)
        return data


_NOT_REGULAR = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def not_regular(mode: int) -> str | None:
    """What a file of this ``st_mode`` is when it is not a regular file (None if it is)."""
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _NOT_REGULAR if test(mode)), "not a regular file")


def not_regular_entry(path: str) -> str | None:
    """Why ``path`` is not (a link to) a regular file, or None if it is one (from ``stat``)."""
    try:
        return not_regular(os.stat(path).st_mode)
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"


def regular_size(path: str) -> int:
    """The size of ``path`` if it is (a link to) a regular file; InputError otherwise.

    Decided from ``stat`` alone, before the file is opened: opening a FIFO blocks until a
    writer comes, reading /dev/zero never ends, and opening some devices has side effects.
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        raise InputError(path, f"cannot read file ({exc.strerror or exc})") from None
    what = not_regular(st.st_mode)
    if what is not None:
        raise InputError(path, f"not a regular file: it is {what}")
    return st.st_size


def open_regular(path: str) -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file, without ever blocking: checked
    by ``stat`` first, then opened non-blocking and checked again on the open descriptor (the
    file may have been swapped for a FIFO in between)."""
    regular_size(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputError(path, f"cannot read file ({exc.strerror or exc})") from None
    what = not_regular(os.fstat(fd).st_mode)
    if what is not None:
        os.close(fd)
        raise InputError(path, f"not a regular file: it is {what}")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def file_size(path: str, limits: Limits) -> int:
    size = regular_size(path)
    if size == 0:
        raise InputError(path, "file is empty")
    if size > limits.max_file_size:
        raise LimitExceeded(
            path, f"file is {mib(size)}, over the {mib(limits.max_file_size)} limit"
        )
    return size


def open_archive(path: str, fh: BinaryIO, size: int, limits: Limits) -> Archive:
    fh.seek(0)
    head = fh.read(4)
    try:
        arch = Archive(fh, size, limits)
    except ArchiveLimit as exc:
        raise LimitExceeded(path, str(exc)) from None
    except ArchiveError as exc:
        raise InputError(path, str(exc)) from None
    # A zip after a dex is Janus (analysed and flagged); local headers found by chance inside
    # a bare dex or ELF file are not an archive.
    if head.startswith(DEX_MAGIC) and (arch.prefix == 0 or arch.recovered):
        raise InputError(path, "is a bare DEX file, not an APK (zip archive)")
    if head.startswith(b"\x7fELF") and (arch.prefix == 0 or arch.recovered):
        raise InputError(path, "is an ELF binary, not an APK (zip archive)")
    total = sum(e.size for e in arch.entries)
    if total > limits.max_total_uncompressed:
        raise LimitExceeded(
            path,
            f"entries declare {mib(total)} uncompressed in total, "
            f"over the {mib(limits.max_total_uncompressed)} limit",
        )
    return arch


def missing_manifest_reason(arch: Archive, label: str) -> str:
    if arch.recovered:
        return (
            f"zip archive is truncated or damaged ({arch.recovered}): "
            "AndroidManifest.xml was not recovered"
        )
    return f"{label} has no AndroidManifest.xml"


def no_manifest_reason(arch: Archive) -> str:
    if arch.recovered and not arch.entries:
        return "zip archive is truncated or damaged: no central directory"
    if arch.recovered:
        return (
            f"zip archive is truncated or damaged ({arch.recovered}): "
            "AndroidManifest.xml was not recovered"
        )
    return "zip archive has no AndroidManifest.xml: not an APK"


def entry_reason(exc: Exception, entry: Entry) -> str:
    """An entry error's text without a repeated ``entry NAME`` prefix."""
    text = str(exc)
    return text.removeprefix(f"entry {clip(entry.name)} ") if text.startswith("entry ") else text


def hashes(fh: BinaryIO, *, legacy: bool = True) -> tuple[str, str, str]:
    """(sha256, sha1, md5) of the whole file; sha1 and md5 are "" unless ``legacy`` (only
    some report formats show them, and on a large app they cost as much as the sha256)."""
    fh.seek(0)
    digests = [hashlib.sha256(), *((hashlib.sha1(), hashlib.md5()) if legacy else ())]
    while chunk := fh.read(1 << 20):
        for h in digests:
            h.update(chunk)
    sha256, sha1, md5 = (*(h.hexdigest() for h in digests), "", "")[:3]
    return sha256, sha1, md5
