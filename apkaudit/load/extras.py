"""Small extra entries read after the analysis (the launcher icon's candidate files), with the
same bounds as the rest: from an APK, or from the first APK of a bundle or folder holding each
name. This is for extras, so it never raises."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence

from apkaudit.errors import InputError
from apkaudit.limits import DEFAULT_LIMITS, Limits
from apkaudit.load import bundle
from apkaudit.load.files import Window, file_size, open_regular
from apkaudit.load.zipscan import STORED, Archive, ArchiveError, EntryError


def read_entry(
    path: str | os.PathLike[str], name: str, limit: int, limits: Limits = DEFAULT_LIMITS
) -> bytes | None:
    """One small entry (e.g. the launcher icon), at most ``limit`` bytes: see read_entries."""
    return read_entries(path, (name,), limit, limits).get(name)


def read_entries(
    path: str | os.PathLike[str], names: Sequence[str], limit: int, limits: Limits = DEFAULT_LIMITS
) -> dict[str, bytes]:
    """Small entries (e.g. the candidate files of the launcher icon), each at most ``limit``
    bytes, read with the same bounds as the rest and the archive parsed once for all of them:
    from the APK at ``path``; for a bundle or a folder, from the first of its APKs that holds
    each name (density resources live in config splits). A name that is missing, over
    ``limit`` or unreadable is absent from the answer; this is for extras, so it never raises."""
    found: dict[str, bytes] = {}
    try:
        for arch in _archives_for_extras(os.fspath(path), limits):
            for name in names:
                if name not in found:
                    data = _read_named(arch, name, limit)
                    if data is not None:
                        found[name] = data
            if len(found) == len(names):
                break
    except (OSError, InputError, ArchiveError, EntryError):
        pass
    return found


def _archives_for_extras(spath: str, limits: Limits) -> Iterator[Archive]:
    """The archives ``read_entries`` searches, in order: a folder's APKs (base first); an APK;
    a bundle's outer zip, then its nested APKs (base first)."""
    if os.path.isdir(spath):
        for fname in sorted(os.listdir(spath), key=lambda n: (n != "base.apk", n)):
            if fname.lower().endswith(".apk"):
                fpath = os.path.join(spath, fname)
                size = file_size(fpath, limits)
                with open_regular(fpath) as fh:
                    yield Archive(fh, size, limits)
        return
    size = file_size(spath, limits)
    with open_regular(spath) as fh:
        arch = Archive(fh, size, limits)
        yield arch
        if "AndroidManifest.xml" in {e.name for e in arch.entries}:
            return  # an APK: nothing nested to search
        firsts = {e.name: e for e in arch.entries if e.copy == 1}
        for apk in sorted(bundle.nested_apks(list(firsts)), key=_base_first):
            e = firsts[apk]
            if e.method == STORED:
                window = Window(fh, arch.data_offset(e), e.compressed_size)
                yield Archive(window, e.compressed_size, limits)
            else:
                raw = arch.read(e, limits.max_entry_uncompressed)
                yield Archive(io.BytesIO(raw), len(raw), limits)


def _base_first(name: str) -> tuple[bool, str]:
    return (os.path.basename(name) not in ("base.apk", "base-master.apk"), name)


def _read_named(arch: Archive, name: str, limit: int) -> bytes | None:
    # The last copy of a duplicated name, as Android's resource loader finds it.
    entry = next((e for e in reversed(arch.entries) if e.name == name), None)
    if entry is None or entry.size > limit:
        return None
    try:
        return arch.read(entry, limit)
    except EntryError:
        return None
