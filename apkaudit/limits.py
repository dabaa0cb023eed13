"""Resource limits applied to every input before anything is inflated or decoded.

Defaults are sized for real lending apps (the largest seen is ~150 MB with 16 dex files) with a
wide margin, while keeping a hostile input from allocating unbounded memory or time.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Limits:
    max_file_size: int = 1024 * 1024 * 1024  # bytes on disk
    max_entries: int = 50_000  # zip entries
    max_total_uncompressed: int = 4 * 1024 * 1024 * 1024  # declared, all entries
    max_entry_uncompressed: int = 512 * 1024 * 1024  # declared, one entry we read
    max_ratio: int = 200  # declared uncompressed / compressed, for entries we read
    max_dex_files: int = 64
    max_dex_size: int = 256 * 1024 * 1024  # one dex, uncompressed
    max_manifest_size: int = 8 * 1024 * 1024
    max_methods_decoded: int = 200_000
    max_nesting: int = 2  # apk inside a bundle inside ...

    def override(self, **values: int) -> Limits:
        known = {f.name for f in fields(self)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown limit(s): {', '.join(sorted(unknown))}")
        return replace(self, **values)


DEFAULT_LIMITS = Limits()
