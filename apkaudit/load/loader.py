"""Open an app safely: sniff the container, check limits before inflating anything, collect.

Inputs: an APK; a split bundle (``.xapk``, ``.apks``, ``.apkm``, or a folder of split APKs);
an Android App Bundle (``.aab``). The result is one :class:`LoadedApp`: the base manifest, the
manifests of the other splits, the dex files of every split and of code hidden in assets, every
entry's name (for hidden-code detection), and blind spots for whatever was odd or left out.

Hostile inputs are the norm. Nested archives are read from memory (or through a window on the
outer file when stored), never extracted to disk, and nesting depth is bounded. Every read goes
through :class:`~apkaudit.zipscan.Archive`, which checks declared sizes and ratios before
inflating and never inflates past its bound. A limit that only cuts analysis short (one more dex
file, one embedded jar) becomes a ``limit`` blind spot; only an unreadable container or base
manifest is an :class:`InputError`.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple

from apkaudit.errors import InputError, LimitExceeded
from apkaudit.limits import DEFAULT_LIMITS, Limits
from apkaudit.load import bundle
from apkaudit.load.zipscan import (
    NOT_A_ZIP,
    STORED,
    Archive,
    ArchiveError,
    ArchiveLimit,
    Entry,
    EntryError,
    EntryLimit,
    clip,
    mib,
    unsafe_name,
)
from apkaudit.manifest import androguard_adapter as ag
from apkaudit.model import BlindSpot, Certificate, InputInfo

_DEX_NAME = re.compile(r"^classes(\d*)\.dex$")
_HEAD = 16  # magic bytes kept per inspected entry
_SAMPLE = 64 << 10  # bytes sampled to tell encrypted/compressed data from plain data
_DENSE_MIN = 32 << 10  # smaller entries are not worth calling an encrypted payload
_DENSE_RATIO = 0.97  # zlib level 1 saves less than 3%: encrypted or already compressed
_MAX_INSPECTED = 20_000  # entries whose first bytes we look at, per app
_CODE_SUFFIXES = (".dex", ".jar", ".apk", ".odex", ".zip")
_DEX_MAGIC, _ZIP_MAGIC = b"dex\n", b"PK\x03\x04"


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


def load_app(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> LoadedApp:
    """Load one app. Raises :class:`InputError` with a one-line reason on bad input."""
    spath = os.fspath(path)
    if os.path.isdir(spath):
        return _load_dir(spath, limits)
    size = _file_size(spath, limits)
    with open(spath, "rb") as fh:
        sha256, sha1, md5 = _hashes(fh)
        arch = _open_archive(spath, fh, size, limits)
        kind = bundle.classify([e.name for e in arch.entries], spath)
        col = _Collector(spath, limits)
        if kind == "apk":
            manifest, arsc = col.add_apk(arch, "", depth=0, role="base")
            col.parts.append(os.path.basename(spath))
            certs = ag.certificates(spath)
        elif kind == "aab":
            manifest, arsc, certs = col.add_aab(arch), None, ag.certificates(spath)
        elif kind in bundle.BUNDLE_KINDS:
            manifest, arsc, certs = col.add_bundle(arch, kind)
        else:
            raise InputError(spath, _no_manifest_reason(arch))
    info = InputInfo(path=spath, sha256=sha256, size=size, container=kind, sha1=sha1, md5=md5)
    return col.finish(info, manifest, arsc, certs, "proto" if kind == "aab" else "axml")


load_apk = load_app  # the name from before bundles were supported


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
                with open(os.path.join(spath, fname), "rb") as fh:
                    yield Archive(fh, _file_size(fh.name, limits), limits)
        return
    with open(spath, "rb") as fh:
        arch = Archive(fh, _file_size(spath, limits), limits)
        yield arch
        if "AndroidManifest.xml" in {e.name for e in arch.entries}:
            return  # an APK: nothing nested to search
        firsts = {e.name: e for e in arch.entries if e.copy == 1}
        for apk in sorted(bundle.nested_apks(list(firsts)), key=_base_first):
            e = firsts[apk]
            if e.method == STORED:
                window = _Window(fh, arch.data_offset(e), e.compressed_size)
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


# --------------------------------------------------------------------------- containers


class _Item(NamedTuple):
    entry: Entry
    logical: str  # path inside the installed APK (``classes.dex``, ``assets/x``)
    shown: str  # the name reported for this entry (with any split/archive prefix)
    dex_shown: str  # the name reported for it as a dex file


class _Window:
    """A read-only view of ``length`` bytes of ``fh`` from ``start``: a stored nested APK is
    read in place, without copying it into memory."""

    def __init__(self, fh: BinaryIO, start: int, length: int) -> None:
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


class _Collector:
    """Accumulates the parts of one app while its archives are open."""

    def __init__(self, path: str, limits: Limits) -> None:
        self.path = path
        self.limits = limits
        self.entries: list[ZipEntry] = []
        self.dex: list[tuple[str, bytes]] = []
        self.dex_digests: set[bytes] = set()
        self.dex_bytes = 0
        self.spots: list[BlindSpot] = []
        self.manifests: list[tuple[str, bytes]] = []
        self.parts: list[str] = []
        self.inspected = 0

    def spot(self, kind: str, detail: str) -> None:
        self.spots.append(BlindSpot(kind, detail))

    def finish(
        self,
        info: InputInfo,
        manifest: bytes,
        arsc: bytes | None,
        certs: tuple[Certificate, ...],
        fmt: str,
    ) -> LoadedApp:
        return LoadedApp(
            input=info,
            entries=tuple(self.entries),
            manifest=manifest,
            dex=tuple(self.dex),
            arsc=arsc,
            spots=tuple(dict.fromkeys(self.spots)),
            split_manifests=tuple(self.manifests),
            manifest_format=fmt,
            certificates=certs,
            parts=tuple(self.parts),
        )

    # ------------------------------------------------------------------ one APK

    def add_apk(
        self, arch: Archive, prefix: str, *, depth: int, role: str
    ) -> tuple[bytes, bytes | None]:
        """Collect one APK (``role``: base | split | embedded); its manifest and arsc bytes."""
        label = prefix.rstrip("!") or os.path.basename(self.path)
        self._anomalies(arch, label, prefix)
        items = [_Item(e, e.name, prefix + e.name, prefix + e.name) for e in arch.entries]
        return self._collect(arch, items, label, prefix, depth=depth, role=role)

    def _collect(
        self,
        arch: Archive,
        items: list[_Item],
        label: str,
        prefix: str,
        *,
        depth: int,
        role: str,
    ) -> tuple[bytes, bytes | None]:
        firsts = {it.logical: it.entry for it in items if it.entry.copy == 1}
        manifest = b""
        if role != "embedded":
            manifest = self._manifest(arch, items, firsts, label, prefix, role)
        dex_items = sorted(
            (it for it in items if _DEX_NAME.match(it.logical)),
            key=lambda it: (_dex_order(it.logical), it.entry.copy),
        )
        for it in dex_items:
            shown = it.dex_shown if it.entry.copy == 1 else f"{it.dex_shown}#{it.entry.copy}"
            self._read_dex(arch, it.entry, shown, label)
        for it in items:
            if _DEX_NAME.match(it.logical):
                continue
            self._record(arch, it, prefix, depth)
        arsc = None
        arsc_entry = firsts.get("resources.arsc")
        if role == "base" and arsc_entry is not None:
            try:
                arsc = arch.read(arsc_entry, self.limits.max_manifest_size * 4)
            except EntryError:
                arsc = None  # labels stay unresolved; nothing else depends on it
        if arch.crc_mismatch:
            shown = ", ".join(clip(n) for n in dict.fromkeys(arch.crc_mismatch))
            self.spot("zip_anomaly", f"{label}: CRC mismatch (Android would not load it): {shown}")
        return manifest, arsc

    def _manifest(
        self,
        arch: Archive,
        items: list[_Item],
        firsts: dict[str, Entry],
        label: str,
        prefix: str,
        role: str,
    ) -> bytes:
        entry = firsts.get("AndroidManifest.xml")
        if entry is None:
            if role == "base":
                raise InputError(self.path, _missing_manifest_reason(arch, label))
            self.spot("unreadable_split", f"{label}: no AndroidManifest.xml")
            return b""
        try:
            raw = arch.read(entry, self.limits.max_manifest_size)
        except EntryLimit as exc:
            if role == "base":
                raise LimitExceeded(self.path, str(exc)) from None
            self.spot("unreadable_split", f"{label}: {exc}")
            return b""
        except EntryError as exc:
            if role == "base":
                raise InputError(self.path, str(exc)) from None
            self.spot("unreadable_split", f"{label}: {exc}")
            return b""
        # Every other copy of the manifest is read too; a different one is merged like a
        # feature split, since installers and analysers disagree on which copy counts.
        for it in items:
            if it.logical == "AndroidManifest.xml" and it.entry.copy > 1:
                try:
                    other = arch.read(it.entry, self.limits.max_manifest_size)
                except EntryError as exc:
                    self.spot("zip_duplicate_entry", f"{label}: {exc}")
                    continue
                if other != raw:
                    self.manifests.append((f"{it.shown}#{it.entry.copy}", other))
        if role == "split":
            self.manifests.append((prefix.rstrip("!"), raw))
        return raw

    def _read_dex(self, arch: Archive, entry: Entry, shown: str, label: str) -> None:
        lim = self.limits
        if len(self.dex) >= lim.max_dex_files:
            self.spot(
                "limit", f"{shown} not analysed: over the {lim.max_dex_files} dex files limit"
            )
            return
        try:
            arch.check(entry, lim.max_dex_size)
        except EntryLimit as exc:
            self.spot("limit", f"{shown} not analysed: {_reason(exc, entry)}")
            return
        if entry.size and self.dex_bytes + entry.size > lim.max_total_dex_size:
            self.spot(
                "limit",
                f"{shown} not analysed: the dex files would exceed "
                f"{mib(lim.max_total_dex_size)} in total (limit)",
            )
            return
        try:
            data = arch.read(entry, lim.max_dex_size)
        except EntryLimit as exc:
            self.spot("limit", f"{shown} not analysed: {_reason(exc, entry)}")
            return
        except EntryError as exc:
            self.spot("unreadable_dex", f"{shown}: {_reason(exc, entry)}")
            return
        self._add_dex(shown, data)

    def _add_dex(self, shown: str, data: bytes) -> None:
        digest = hashlib.sha256(data).digest()
        if digest in self.dex_digests:
            return  # an identical copy (duplicate entry, or the same jar twice): once is enough
        if self.dex_bytes + len(data) > self.limits.max_total_dex_size:
            self.spot("limit", f"{shown} not analysed: over the total dex size limit")
            return
        self.dex_digests.add(digest)
        self.dex_bytes += len(data)
        self.dex.append((shown, data))

    # ------------------------------------------------------------------ other entries

    def _record(self, arch: Archive, it: _Item, prefix: str, depth: int) -> None:
        e = it.entry
        head, dense = b"", False
        if _inspect(it.logical) and e.size >= 4 and not unsafe_name(e.name):
            if self.inspected < _MAX_INSPECTED:
                self.inspected += 1
                head, dense = self._sample(arch, e)
            elif self.inspected == _MAX_INSPECTED:
                self.inspected += 1
                self.spot("limit", f"only the first {_MAX_INSPECTED} asset files were inspected")
        self.entries.append(
            ZipEntry(it.shown, e.compressed_size, e.size, e.flags, e.method, head[:_HEAD], dense)
        )
        if head.startswith((_DEX_MAGIC, _ZIP_MAGIC)):
            self._embedded(arch, it, head, depth)

    def _sample(self, arch: Archive, e: Entry) -> tuple[bytes, bool]:
        if e.size < _DENSE_MIN:
            return arch.head(e, _HEAD), False
        if e.method != STORED:
            # Already deflated by the zip: the zip's own ratio says whether it is dense.
            return arch.head(e, _HEAD), e.compressed_size >= _DENSE_RATIO * e.size
        sample = arch.head(e, _SAMPLE)
        dense = len(sample) >= _HEAD and len(zlib.compress(sample, 1)) >= _DENSE_RATIO * len(sample)
        return sample[:_HEAD], dense

    def _embedded(self, arch: Archive, it: _Item, head: bytes, depth: int) -> None:
        """A dex, jar or APK inside assets/res-raw: analysed like the app's own code."""
        lim, e = self.limits, it.entry
        if e.looks_like_bomb:
            return  # reported with the archive's anomalies; never inflated
        is_zip = head.startswith(_ZIP_MAGIC)
        if is_zip and depth + 1 > lim.max_nesting:
            self.spot(
                "limit", f"{it.shown}: code archive nested too deep (limit {lim.max_nesting})"
            )
            return
        if e.size > lim.max_embedded_size:
            self.spot(
                "limit",
                f"{it.shown}: embedded code not analysed ({mib(e.size)}, over the "
                f"{mib(lim.max_embedded_size)} limit)",
            )
            return
        try:
            data = arch.read(e, lim.max_embedded_size)
        except EntryError as exc:
            self.spot("unreadable_dex", f"{it.shown}: {_reason(exc, e)}")
            return
        before = len(self.dex)
        if not is_zip:
            self._add_dex(it.shown, data)
            if len(self.dex) > before:
                self.spot("embedded_code", f"{it.shown}: a dex file in the APK, analysed")
            return
        try:
            inner = Archive(io.BytesIO(data), len(data), lim)
        except ArchiveError:
            return  # a zip we cannot read is data, not code; encrypted payloads are caught apart
        names = [x.name for x in inner.entries]
        if not any(n.lower().endswith((".dex", ".jar", ".apk", ".zip")) for n in names):
            return  # a plain resource archive
        pfx = it.shown + "!"
        self._anomalies(inner, it.shown, pfx)
        # In a jar any *.dex is code (jars need not follow the classesN.dex naming); those are
        # picked up by _record's magic check, so only classesN.dex goes through _collect's path.
        items = [_Item(x, x.name, pfx + x.name, pfx + x.name) for x in inner.entries]
        self._collect(inner, items, it.shown, pfx, depth=depth + 1, role="embedded")
        if len(self.dex) > before:
            what = "an APK" if "AndroidManifest.xml" in names else "a code archive"
            self.spot("embedded_code", f"{it.shown}: {what} in the APK; its dex analysed")

    # ------------------------------------------------------------------ anomalies

    def _anomalies(self, arch: Archive, label: str, prefix: str) -> None:
        if arch.recovered:
            self.spot(
                "zip_damaged",
                f"{label}: {arch.recovered}; {len(arch.entries)} entries recovered "
                "from their local headers",
            )
        if arch.count_mismatch:
            declared, found = arch.count_mismatch
            self.spot(
                "zip_anomaly",
                f"{label}: the end record declares {declared} entries, the directory holds {found}",
            )
        # Bytes before the first entry the directory knows of. Local headers there are not
        # prepended data: Android's build tools (zipflinger) write "virtual entries" as padding.
        if arch.prefix > 0 and arch.read_at(0, 4) != b"PK\x03\x04":
            self._prepended(arch, label, prefix)
        dups = [e.name for e in arch.entries if e.copy == 2]
        if dups:
            shown = ", ".join(clip(n) for n in dups[:5]) + (
                f" and {len(dups) - 5} more" if len(dups) > 5 else ""
            )
            self.spot(
                "zip_duplicate_entry",
                f"{label}: duplicate entry names ({shown}); every copy was analysed, as "
                "Android versions and analysers disagree on which one counts",
            )
        flagged = [e.name for e in arch.entries if e.encrypted_flag]
        if flagged:
            shown = ", ".join(clip(n) for n in flagged[:5]) + (
                f" and {len(flagged) - 5} more" if len(flagged) > 5 else ""
            )
            self.spot(
                "zip_encryption_flag",
                f"{label}: {len(flagged)} entries have the encryption flag set ({shown}); "
                "Android ignores the flag and reads them in clear, and so did this audit",
            )
        unsafe = [e.name for e in arch.entries if unsafe_name(e.name)]
        if unsafe:
            shown = ", ".join(repr(clip(n, 60)) for n in unsafe[:3]) + (
                f" and {len(unsafe) - 3} more" if len(unsafe) > 3 else ""
            )
            self.spot(
                "zip_path_traversal",
                f"{label}: entry names that point outside the archive ({shown}); "
                "an attack on tools that extract files; nothing was written to disk",
            )
        for e in arch.entries:
            if e.looks_like_bomb and not _DEX_NAME.match(e.name):
                head = arch.head(e, _HEAD)
                code = head.startswith((_DEX_MAGIC, _ZIP_MAGIC))
                self.spot(
                    "limit" if code else "zip_bomb",
                    f"{prefix}{clip(e.name)} inflates {mib(e.compressed_size)} to "
                    f"{mib(e.size)} (ratio {e.ratio:.0f}): not inflated"
                    + ("; it starts like code, which stays unread" if code else ""),
                )

    def _prepended(self, arch: Archive, label: str, prefix: str) -> None:
        head = arch.read_at(0, min(arch.prefix, 112))
        if head.startswith(_DEX_MAGIC) and len(head) >= 0x24:
            declared = int.from_bytes(head[0x20:0x24], "little")
            n = min(arch.prefix, declared or arch.prefix, self.limits.max_dex_size)
            before = len(self.dex)
            self._add_dex(f"{prefix}(prepended dex)", arch.read_at(0, n))
            analysed = "analysed as (prepended dex)" if len(self.dex) > before else "not analysed"
            self.spot(
                "zip_prepended_data",
                f"{label}: a DEX file ({arch.prefix} bytes) sits before the zip data (Janus, "
                f"CVE-2017-13156: Android 5.0-8.0 ran it for v1-only signed APKs); {analysed}",
            )
            return
        self.spot("zip_prepended_data", f"{label}: {arch.prefix} bytes of data before the zip data")

    # ------------------------------------------------------------------ bundles

    def add_bundle(
        self, arch: Archive, kind: str
    ) -> tuple[bytes, bytes | None, tuple[Certificate, ...]]:
        """A split bundle: the base APK, then every split, each read from the outer file."""
        self._anomalies(arch, os.path.basename(self.path), "")
        by_name = {e.name: e for e in arch.entries if e.copy == 1}
        hint = None
        if "manifest.json" in by_name:
            try:
                hint = bundle.xapk_base_hint(arch.read(by_name["manifest.json"], 1 << 20))
            except EntryError:
                hint = None
        for e in arch.entries:
            if e.name.lower().endswith(".obb"):
                self.spot("obb", f"{clip(e.name)}: expansion file ({mib(e.size)}), not analysed")
        opened = []
        names = bundle.nested_apks(list(by_name))
        for name in names:
            nested = self._open_nested(arch, by_name[name], name)
            if nested is not None:
                opened.append((name, nested))
        return self._assemble(opened, hint, kind, total=len(names))

    def _open_nested(self, outer: Archive, entry: Entry, name: str) -> Archive | None:
        lim = self.limits
        try:
            if entry.method == STORED and not entry.encrypted_flag:
                start = outer.data_offset(entry)
                size = min(entry.compressed_size, outer.size - start)
                return Archive(_Window(outer.fh, start, size), size, lim)
            data = outer.read(entry, lim.max_entry_uncompressed)
            return Archive(io.BytesIO(data), len(data), lim)
        except (EntryError, ArchiveError) as exc:
            self.spot("unreadable_split", f"{clip(name)}: {exc}")
            return None

    def _assemble(
        self, opened: list[tuple[str, Archive]], hint: str | None, kind: str, *, total: int
    ) -> tuple[bytes, bytes | None, tuple[Certificate, ...]]:
        infos: list[bundle.SplitInfo] = []
        archives: dict[str, Archive] = {}
        for name, arch in opened:
            info = self._split_info(name, arch)
            if info is not None:
                infos.append(info)
                archives[name] = arch
        base = bundle.choose_base(infos, hint)
        if base is None:
            unreadable = [b.detail for b in self.spots if b.kind == "unreadable_split"]
            why = "; ".join(unreadable)
            # Older APKMirror files encrypt every APK inside: they read as non-zip data.
            encrypted = (kind == "apkm" and not infos and bool(unreadable)
                         and all(NOT_A_ZIP in d for d in unreadable))  # fmt: skip
            raise InputError(
                self.path,
                f"{kind} bundle has no readable base APK ({total} APK(s), all splits "
                f"or unreadable{': ' + clip(why, 200) if why else ''})"
                + ("; encrypted .apkm files are not supported" if encrypted else ""),
            )
        manifest, arsc = self.add_apk(archives[base.name], "", depth=1, role="base")
        self.parts.append(base.name)
        certs = self._certificates(archives[base.name])
        for info in infos:
            if info is base:
                continue
            if info.split is None:
                self.spot(
                    "bundle_extra_apk",
                    f"{clip(info.name)}: a second full APK ({info.package}), not a split of "
                    f"{base.package}; its dex analysed with the app",
                )
            self.add_apk(archives[info.name], f"{info.name}!", depth=1, role="split")
            self.parts.append(info.name)
        return manifest, arsc, certs

    def _split_info(self, name: str, arch: Archive) -> bundle.SplitInfo | None:
        entry = next((e for e in arch.entries if e.name == "AndroidManifest.xml"), None)
        if entry is None:
            self.spot("unreadable_split", f"{clip(name)}: no AndroidManifest.xml; not analysed")
            return None
        try:
            root = ag.manifest_xml(arch.read(entry, self.limits.max_manifest_size), name)
        except (EntryError, InputError) as exc:
            self.spot("unreadable_split", f"{clip(name)}: {_reason(exc, entry)}; not analysed")
            return None
        feature = (root.get(f"{{{ag.ANDROID_NS}}}isFeatureSplit") or "").lower() == "true"
        return bundle.SplitInfo(name, root.get("package") or "", root.get("split"), feature)

    def _certificates(self, arch: Archive) -> tuple[Certificate, ...]:
        """Signers of a nested base APK (androguard needs its bytes; bounded by the limits)."""
        if arch.size > self.limits.max_entry_uncompressed:
            return ()
        name = getattr(arch.fh, "name", None)
        if isinstance(name, str) and os.path.isfile(name):
            return ag.certificates(name)  # a file of a folder: read in place
        arch.fh.seek(0)
        return ag.certificates(arch.fh.read(arch.size))

    def add_aab(self, arch: Archive) -> bytes:
        """An .aab: each module's protobuf manifest and dex, with module paths as names."""
        self._anomalies(arch, os.path.basename(self.path), "")
        modules = bundle.aab_modules([e.name for e in arch.entries])
        if "base" not in modules:
            raise InputError(self.path, "Android App Bundle has no base module")
        manifest = b""
        for module in modules:
            prefix = "" if module == "base" else f"{module}!"
            items = []
            for e in arch.entries:
                if not e.name.startswith(module + "/"):
                    continue
                logical = bundle.aab_logical_name(e.name[len(module) + 1 :])
                if logical is not None:
                    items.append(_Item(e, logical, prefix + logical, e.name))
            role = "base" if module == "base" else "split"
            raw, _ = self._collect(arch, items, module, prefix, depth=0, role=role)
            if role == "base":
                manifest = raw
            self.parts.append(module)
        return manifest


# --------------------------------------------------------------------------- a folder


def _load_dir(path: str, limits: Limits) -> LoadedApp:
    """A folder of split APKs (as pulled from a phone): every ``*.apk`` directly inside it."""
    try:
        names = sorted(n for n in os.listdir(path) if n.lower().endswith(".apk"))
    except OSError as exc:
        raise InputError(path, f"cannot read folder ({exc.strerror or exc})") from None
    files = [n for n in names if os.path.isfile(os.path.join(path, n))]
    if not files:
        raise InputError(path, "folder holds no .apk files")
    total = 0
    digest = hashlib.sha256()
    for name in files:
        fpath = os.path.join(path, name)
        total += os.path.getsize(fpath)
        if total > limits.max_file_size:
            raise LimitExceeded(
                path, f"the APKs are {mib(total)}, over the {mib(limits.max_file_size)} limit"
            )
        with open(fpath, "rb") as fh:
            digest.update(f"{name}\0{_hashes(fh)[0]}\n".encode())
    col = _Collector(path, limits)
    handles = [open(os.path.join(path, n), "rb") for n in files]  # noqa: SIM115
    try:
        opened = []
        for name, fh in zip(files, handles, strict=True):
            size = os.fstat(fh.fileno()).st_size
            try:
                opened.append((name, Archive(fh, size, limits)))
            except ArchiveLimit as exc:
                raise LimitExceeded(path, f"{name}: {exc}") from None
            except ArchiveError as exc:
                col.spot("unreadable_split", f"{name}: {exc}")
        manifest, arsc, certs = col._assemble(opened, None, "dir", total=len(files))
    finally:
        for fh in handles:
            fh.close()
    # The folder's identity: sha256 over "name NUL sha256-of-file" lines, one per APK.
    info = InputInfo(path=path, sha256=digest.hexdigest(), size=total, container="dir")
    return col.finish(info, manifest, arsc, certs, "axml")


# --------------------------------------------------------------------------- checks


def _file_size(path: str, limits: Limits) -> int:
    try:
        size = os.path.getsize(path)
        if not os.path.isfile(path):
            raise InputError(path, "not a regular file")
    except OSError as exc:
        raise InputError(path, f"cannot read file ({exc.strerror or exc})") from None
    if size == 0:
        raise InputError(path, "file is empty")
    if size > limits.max_file_size:
        raise LimitExceeded(
            path, f"file is {mib(size)}, over the {mib(limits.max_file_size)} limit"
        )
    return size


def _open_archive(path: str, fh: BinaryIO, size: int, limits: Limits) -> Archive:
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
    if head.startswith(_DEX_MAGIC) and (arch.prefix == 0 or arch.recovered):
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


def _inspect(logical: str) -> bool:
    """Entries whose first bytes are worth a look: where hidden code and payloads live."""
    if logical.startswith(("assets/", "res/raw/")):
        return True
    if "/" not in logical:
        return logical not in ("AndroidManifest.xml", "resources.arsc")
    code_like = logical.lower().endswith(_CODE_SUFFIXES)
    return code_like and not logical.startswith(("lib/", "META-INF/"))


def _missing_manifest_reason(arch: Archive, label: str) -> str:
    if arch.recovered:
        return (
            f"zip archive is truncated or damaged ({arch.recovered}): "
            "AndroidManifest.xml was not recovered"
        )
    return f"{label} has no AndroidManifest.xml"


def _no_manifest_reason(arch: Archive) -> str:
    if arch.recovered and not arch.entries:
        return "zip archive is truncated or damaged: no central directory"
    if arch.recovered:
        return (
            f"zip archive is truncated or damaged ({arch.recovered}): "
            "AndroidManifest.xml was not recovered"
        )
    return "zip archive has no AndroidManifest.xml: not an APK"


def _reason(exc: Exception, entry: Entry) -> str:
    """An entry error's text without a repeated ``entry NAME`` prefix."""
    text = str(exc)
    return text.removeprefix(f"entry {clip(entry.name)} ") if text.startswith("entry ") else text


def _dex_order(name: str) -> int:
    m = _DEX_NAME.match(name)
    return int(m.group(1) or 1) if m else 10**9


def _hashes(fh: BinaryIO) -> tuple[str, str, str]:
    fh.seek(0)
    h256, h1, h5 = hashlib.sha256(), hashlib.sha1(), hashlib.md5()
    while chunk := fh.read(1 << 20):
        h256.update(chunk)
        h1.update(chunk)
        h5.update(chunk)
    return h256.hexdigest(), h1.hexdigest(), h5.hexdigest()
