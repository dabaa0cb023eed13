"""Resource limits applied to every input, and the per-app deadline.

Defaults are sized for real lending apps (the largest seen is ~150 MB with 16 dex files) with a
wide margin, while keeping a hostile input from allocating unbounded memory or time. Every
limit can be overridden (``Limits().override(max_dex_files=8)``, or on the command line
``apkaudit scan --limit max_dex_files=8``). What happens when one is exceeded is documented
beside each field: an input error (the app is not audited) or a partial result with a
``limit`` / ``time_limit`` blind spot.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, fields, replace

_KIB, _MIB, _GIB = 1 << 10, 1 << 20, 1 << 30


@dataclass(frozen=True)
class Limits:
    # -- the container (exceeding one: input error, nothing is analysed)
    max_file_size: int = 1 * _GIB  # bytes on disk (for a directory: all its APKs together)
    max_entries: int = 50_000  # zip entries of one archive (read from the EOCD record first)
    max_total_uncompressed: int = 4 * _GIB  # declared uncompressed size, all entries of one zip
    # -- one entry we read (exceeding one: that entry is skipped and becomes a blind spot;
    #    for AndroidManifest.xml of the base APK: input error)
    max_entry_uncompressed: int = 512 * _MIB  # declared size of a nested APK or other entry
    max_ratio: int = 200  # uncompressed / compressed, for entries over 1 MiB we read
    max_manifest_size: int = 8 * _MIB
    # -- code (exceeding one: the extra dex files are skipped, partial result + blind spot)
    max_dex_files: int = 64  # dex files in the whole app, splits and embedded code included
    max_dex_size: int = 256 * _MIB  # one dex, uncompressed
    max_total_dex_size: int = 512 * _MIB  # all dex bytes held in memory at once
    max_nesting: int = 2  # archive inside archive: bundle -> split APK -> jar in its assets
    max_embedded_size: int = 64 * _MIB  # one dex/jar/apk found in assets or res/raw
    # -- analysis (exceeding one: partial result + blind spot)
    max_methods_decoded: int = 200_000
    # Wall time of one app (0: none). audit_app: a deadline the long loops poll (partial result
    # + time_limit blind spot). bounded.audit_bounded (scan): the whole audit, in a child
    # process killed at this limit, the stages' deadline set at 80% of it.
    max_seconds: int = 60
    # -- process (bounded.audit_bounded, i.e. scan; batch workers have their own cap):
    #    the analysis's address-space cap in MiB (0: none); over it: "ran out of memory"
    max_memory_mb: int = 3072

    def override(self, **values: int) -> Limits:
        known = {f.name for f in fields(self)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown limit(s): {', '.join(sorted(unknown))}")
        bad = [k for k, v in values.items() if not isinstance(v, int) or v < 0]
        if bad:
            raise ValueError(f"limit(s) must be non-negative integers: {', '.join(sorted(bad))}")
        return replace(self, **values)

    def with_overrides(self, specs: list[str] | tuple[str, ...]) -> Limits:
        """Apply ``NAME=VALUE`` strings (the CLI's ``--limit``); VALUE may end in K, M or G."""
        return self.override(**parse_overrides(specs))

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def parse_overrides(specs: list[str] | tuple[str, ...]) -> dict[str, int]:
    """``NAME=VALUE`` strings -> {name: value}, each a known limit; ValueError otherwise."""
    values: dict[str, int] = {}
    for spec in specs:
        name, sep, raw = spec.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--limit expects NAME=VALUE, got {spec!r}")
        values[name.strip()] = parse_size(raw)
    DEFAULT_LIMITS.override(**values)  # checks the names and values
    return values


def parse_size(raw: str) -> int:
    """``300``, ``64K``, ``512M``, ``1G`` (binary units), ``1_000`` -> int."""
    m = re.fullmatch(r"\s*(\d[\d_]*)\s*([kKmMgG]?)i?[bB]?\s*", raw)
    if not m:
        raise ValueError(f"not a number: {raw!r}")
    unit = {"": 1, "k": _KIB, "m": _MIB, "g": _GIB}[m.group(2).lower()]
    return int(m.group(1).replace("_", "")) * unit


DEFAULT_LIMITS = Limits()


class Deadline:
    """A wall-clock deadline the long loops poll; cheap enough to call per method.

    Polling is cooperative on purpose: the library never installs signal handlers or threads,
    so a deadline that passes mid-analysis stops the current stage at its next check and the
    result says which stage was cut (a ``time_limit`` blind spot).
    """

    __slots__ = ("_end", "hit", "seconds")

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds or 0
        self._end = time.monotonic() + seconds if seconds else None
        self.hit: list[str] = []  # stages that stopped early, in order

    def expired(self) -> bool:
        return self._end is not None and time.monotonic() >= self._end

    def check(self, stage: str) -> bool:
        """True (and remember ``stage``) when the deadline has passed."""
        if self._end is None or time.monotonic() < self._end:
            return False
        if stage not in self.hit:
            self.hit.append(stage)
        return True


NO_DEADLINE = Deadline(None)


def cap_address_space(megabytes: int) -> None:
    """Cap this process's address space (RLIMIT_AS) at ``megabytes`` MiB (0: no cap), within
    any hard limit already set: an input that needs more ends as an input error ("ran out of
    memory") instead of exhausting the machine. POSIX only."""
    if megabytes <= 0:
        return
    import resource

    limit = megabytes * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
