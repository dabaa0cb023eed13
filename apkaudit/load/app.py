"""What the load stage hands on: one :class:`LoadedApp` made of :class:`ZipEntry` records,
manifest bytes, dex bytes and the blind spots found while reading the container."""

from __future__ import annotations

from dataclasses import dataclass

from apkaudit.model import BlindSpot, Certificate, InputInfo


@dataclass(frozen=True)
class ZipEntry:
    """One entry of the app. Entries of a split or nested archive carry its path as prefix:
    ``split_config.arm64_v8a.apk!lib/arm64-v8a/libfoo.so``."""

    name: str
    compressed_size: int
    size: int
    flag_bits: int = 0
    method: int = 8
    head: bytes = b""  # first bytes, for the entries we inspect (assets, res/raw, root files)
    dense: bool = False  # incompressible: encrypted or compressed data (inspected, >= 32 KiB)

    @property
    def path(self) -> str:
        """The name inside its own APK (without the split/archive prefix)."""
        return self.name.rpartition("!")[2]


@dataclass(frozen=True)
class LoadedApp:
    """The raw material of one app: identity, entries, manifests and dex bytes."""

    input: InputInfo
    entries: tuple[ZipEntry, ...]
    manifest: bytes
    dex: tuple[tuple[str, bytes], ...]  # (name, bytes): base first, then splits, then embedded
    arsc: bytes | None = None
    spots: tuple[BlindSpot, ...] = ()  # oddities and omissions found while loading
    split_manifests: tuple[tuple[str, bytes], ...] = ()  # other splits, duplicate manifests
    manifest_format: str = "axml"  # axml (binary or text XML) | proto (.aab)
    certificates: tuple[Certificate, ...] = ()
    parts: tuple[str, ...] = ()  # the APKs (or .aab modules) analysed as this app, base first

    @property
    def entry_names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.entries)
