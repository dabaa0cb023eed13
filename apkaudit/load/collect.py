"""Collect one app's parts while its archives are open: for each APK (base, split, or code
archive embedded in assets) its manifest and every other copy of it, its dex files under the
count and size limits, its other entries (first bytes of the inspected ones), the code embedded
in them, and the archive's anomalies (damage, duplicates, prepended data, bombs) as blind spots.

Hostile inputs are the norm. Nested archives are read from memory (or through a window on the
outer file when stored), never extracted to disk, and nesting depth is bounded. Every read goes
through :class:`~apkaudit.load.zipscan.Archive`, which checks declared sizes and ratios before
inflating and never inflates past its bound. A limit that only cuts analysis short (one more dex
file, one embedded jar) becomes a ``limit`` blind spot; only an unreadable container or base
manifest is an :class:`InputError`.
"""

from __future__ import annotations

import hashlib
import io
import os

from apkaudit.errors import InputError, LimitExceeded
from apkaudit.limits import Limits
from apkaudit.load.app import LoadedApp, ZipEntry
from apkaudit.load.encoded import decode, encoding_of
from apkaudit.load.entries import (
    DEX_NAME,
    HEAD,
    MAX_INSPECTED,
    Item,
    art_dex_names,
    sample_entry,
    worth_inspecting,
)
from apkaudit.load.files import DEX_MAGIC, ZIP_MAGIC, entry_reason, missing_manifest_reason
from apkaudit.load.zipscan import (
    Archive,
    ArchiveError,
    Entry,
    EntryError,
    EntryLimit,
    clip,
    mib,
    unsafe_name,
)
from apkaudit.model import BlindSpot, BlindSpotKind, Certificate, InputInfo


class Collector:
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

    def spot(self, kind: BlindSpotKind, detail: str) -> None:
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
        self.anomalies(arch, label, prefix)
        items = [Item(e, e.name, prefix + e.name, prefix + e.name) for e in arch.entries]
        return self.collect(arch, items, label, prefix, depth=depth, role=role)

    def collect(
        self,
        arch: Archive,
        items: list[Item],
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
        rank = {name: i for i, name in enumerate(art_dex_names(firsts))}
        dex_items = sorted(
            (it for it in items if it.logical in rank),
            key=lambda it: (rank[it.logical], it.entry.copy),
        )
        for it in dex_items:
            shown = it.dex_shown if it.entry.copy == 1 else f"{it.dex_shown}#{it.entry.copy}"
            self._read_dex(arch, it.entry, shown, label)
        for it in items:
            if it.logical in rank:
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
            self.spot(
                BlindSpotKind.ZIP_ANOMALY,
                f"{label}: CRC mismatch (Android would not load it): {shown}",
            )
        return manifest, arsc

    def _manifest(
        self,
        arch: Archive,
        items: list[Item],
        firsts: dict[str, Entry],
        label: str,
        prefix: str,
        role: str,
    ) -> bytes:
        entry = firsts.get("AndroidManifest.xml")
        if entry is None:
            if role == "base":
                raise InputError(self.path, missing_manifest_reason(arch, label))
            self.spot(BlindSpotKind.UNREADABLE_SPLIT, f"{label}: no AndroidManifest.xml")
            return b""
        try:
            raw = arch.read(entry, self.limits.max_manifest_size)
        except EntryLimit as exc:
            if role == "base":
                raise LimitExceeded(self.path, str(exc)) from None
            self.spot(BlindSpotKind.UNREADABLE_SPLIT, f"{label}: {exc}")
            return b""
        except EntryError as exc:
            if role == "base":
                raise InputError(self.path, str(exc)) from None
            self.spot(BlindSpotKind.UNREADABLE_SPLIT, f"{label}: {exc}")
            return b""
        # Every other copy of the manifest is read too; a different one is merged like a
        # feature split, since installers and analysers disagree on which copy counts.
        for it in items:
            if it.logical == "AndroidManifest.xml" and it.entry.copy > 1:
                try:
                    other = arch.read(it.entry, self.limits.max_manifest_size)
                except EntryError as exc:
                    self.spot(BlindSpotKind.ZIP_DUPLICATE_ENTRY, f"{label}: {exc}")
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
                BlindSpotKind.LIMIT,
                f"{shown} not analysed: over the {lim.max_dex_files} dex files limit",
            )
            return
        try:
            arch.check(entry, lim.max_dex_size)
        except EntryLimit as exc:
            self.spot(BlindSpotKind.LIMIT, f"{shown} not analysed: {entry_reason(exc, entry)}")
            return
        if entry.size and self.dex_bytes + entry.size > lim.max_total_dex_size:
            self.spot(
                BlindSpotKind.LIMIT,
                f"{shown} not analysed: the dex files would exceed "
                f"{mib(lim.max_total_dex_size)} in total (limit)",
            )
            return
        try:
            data = arch.read(entry, lim.max_dex_size)
        except EntryLimit as exc:
            self.spot(BlindSpotKind.LIMIT, f"{shown} not analysed: {entry_reason(exc, entry)}")
            return
        except EntryError as exc:
            self.spot(BlindSpotKind.UNREADABLE_DEX, f"{shown}: {entry_reason(exc, entry)}")
            return
        self._add_dex(shown, data)

    def _add_dex(self, shown: str, data: bytes) -> None:
        digest = hashlib.sha256(data).digest()
        if digest in self.dex_digests:
            return  # an identical copy (duplicate entry, or the same jar twice): once is enough
        if self.dex_bytes + len(data) > self.limits.max_total_dex_size:
            self.spot(BlindSpotKind.LIMIT, f"{shown} not analysed: over the total dex size limit")
            return
        self.dex_digests.add(digest)
        self.dex_bytes += len(data)
        self.dex.append((shown, data))

    # ------------------------------------------------------------------ other entries

    def _record(self, arch: Archive, it: Item, prefix: str, depth: int) -> None:
        e = it.entry
        head, dense = b"", False
        if worth_inspecting(it.logical) and e.size >= 4 and not unsafe_name(e.name):
            if self.inspected < MAX_INSPECTED:
                self.inspected += 1
                head, dense = sample_entry(arch, e)
            elif self.inspected == MAX_INSPECTED:
                self.inspected += 1
                self.spot(
                    BlindSpotKind.LIMIT,
                    f"only the first {MAX_INSPECTED} asset files were inspected",
                )
        self.entries.append(
            ZipEntry(it.shown, e.compressed_size, e.size, e.flags, e.method, head[:HEAD], dense)
        )
        if head.startswith((DEX_MAGIC, ZIP_MAGIC)):
            self._embedded(arch, it, head, depth)
        elif head and (encoding := encoding_of(head)) is not None:
            self._encoded(arch, it, encoding, depth)

    def _encoded(self, arch: Archive, it: Item, encoding: str, depth: int) -> None:
        """A dex or zip stored Base64/hex-encoded or XORed (load/encoded.py): decoded, bounded
        by max_embedded_size, and analysed like embedded code; the encoding is a blind spot."""
        lim, e = self.limits, it.entry
        if e.looks_like_bomb:
            return
        raw_limit = 2 * lim.max_embedded_size + 8192  # hex doubles the size, base64 4/3
        if e.size > raw_limit:
            self.spot(
                BlindSpotKind.ENCODED_PAYLOAD,
                f"{it.shown}: a payload encoded as {encoding} ({mib(e.size)}, over the "
                f"{mib(lim.max_embedded_size)} embedded-code limit); not decoded",
            )
            return
        try:
            raw = arch.read(e, raw_limit)
        except EntryError as exc:
            self.spot(BlindSpotKind.ENCODED_PAYLOAD, f"{it.shown}: {entry_reason(exc, e)}")
            return
        data = decode(raw, encoding, lim.max_embedded_size)
        if data is None:
            self.spot(
                BlindSpotKind.ENCODED_PAYLOAD,
                f"{it.shown}: starts like a dex or zip encoded as {encoding}, but does not "
                "decode to one; what the app makes of it is not analysed",
            )
            return
        before = len(self.dex)
        self._embedded_data(it, f"{it.shown} ({encoding})", data, depth)
        if len(self.dex) == before and data.startswith(ZIP_MAGIC):
            return  # an encoded archive of resources, no code in it: data
        what = "a dex file" if data.startswith(DEX_MAGIC) else "a code archive"
        self.spot(
            BlindSpotKind.ENCODED_PAYLOAD,
            f"{it.shown}: {what} encoded as {encoding}, decoded and its dex analysed; code "
            "hidden from analysers on purpose, decoded at run time",
        )

    def _embedded(self, arch: Archive, it: Item, head: bytes, depth: int) -> None:
        """A dex, jar or APK inside assets/res-raw: analysed like the app's own code."""
        lim, e = self.limits, it.entry
        if e.looks_like_bomb:
            return  # reported with the archive's anomalies; never inflated
        is_zip = head.startswith(ZIP_MAGIC)
        if is_zip and depth + 1 > lim.max_nesting:
            self.spot(
                BlindSpotKind.LIMIT,
                f"{it.shown}: code archive nested too deep (limit {lim.max_nesting})",
            )
            return
        if e.size > lim.max_embedded_size:
            self.spot(
                BlindSpotKind.LIMIT,
                f"{it.shown}: embedded code not analysed ({mib(e.size)}, over the "
                f"{mib(lim.max_embedded_size)} limit)",
            )
            return
        try:
            data = arch.read(e, lim.max_embedded_size)
        except EntryError as exc:
            self.spot(BlindSpotKind.UNREADABLE_DEX, f"{it.shown}: {entry_reason(exc, e)}")
            return
        self._embedded_data(it, it.shown, data, depth)

    def _embedded_data(self, it: Item, shown: str, data: bytes, depth: int) -> None:
        before = len(self.dex)
        if not data.startswith(ZIP_MAGIC):
            self._add_dex(shown, data)
            if len(self.dex) > before:
                self.spot(BlindSpotKind.EMBEDDED_CODE, f"{shown}: {_dex_outside_art(it)}")
            return
        if depth + 1 > self.limits.max_nesting:
            self.spot(
                BlindSpotKind.LIMIT,
                f"{shown}: code archive nested too deep (limit {self.limits.max_nesting})",
            )
            return
        try:
            inner = Archive(io.BytesIO(data), len(data), self.limits)
        except ArchiveError:
            return  # a zip we cannot read is data, not code; encrypted payloads are caught apart
        names = [x.name for x in inner.entries]
        if not any(n.lower().endswith((".dex", ".jar", ".apk", ".zip")) for n in names):
            return  # a plain resource archive
        pfx = shown + "!"
        self.anomalies(inner, shown, pfx)
        # In a jar any *.dex is code (jars need not follow the classesN.dex naming); those are
        # picked up by _record's magic check, so only classesN.dex goes through _collect's path.
        items = [Item(x, x.name, pfx + x.name, pfx + x.name) for x in inner.entries]
        self.collect(inner, items, shown, pfx, depth=depth + 1, role="embedded")
        if len(self.dex) > before:
            what = "an APK" if "AndroidManifest.xml" in names else "a code archive"
            self.spot(BlindSpotKind.EMBEDDED_CODE, f"{shown}: {what} in the APK; its dex analysed")

    # ------------------------------------------------------------------ anomalies

    def anomalies(self, arch: Archive, label: str, prefix: str) -> None:
        if arch.recovered:
            self.spot(
                BlindSpotKind.ZIP_DAMAGED,
                f"{label}: {arch.recovered}; {len(arch.entries)} entries recovered "
                "from their local headers",
            )
        if arch.count_mismatch:
            declared, found = arch.count_mismatch
            self.spot(
                BlindSpotKind.ZIP_ANOMALY,
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
                BlindSpotKind.ZIP_DUPLICATE_ENTRY,
                f"{label}: duplicate entry names ({shown}); every copy was analysed, as "
                "Android versions and analysers disagree on which one counts",
            )
        flagged = [e.name for e in arch.entries if e.encrypted_flag]
        if flagged:
            shown = ", ".join(clip(n) for n in flagged[:5]) + (
                f" and {len(flagged) - 5} more" if len(flagged) > 5 else ""
            )
            self.spot(
                BlindSpotKind.ZIP_ENCRYPTION_FLAG,
                f"{label}: {len(flagged)} entries have the encryption flag set ({shown}); "
                "Android ignores the flag and reads them in clear, and so did this audit",
            )
        unsafe = [e.name for e in arch.entries if unsafe_name(e.name)]
        if unsafe:
            shown = ", ".join(repr(clip(n, 60)) for n in unsafe[:3]) + (
                f" and {len(unsafe) - 3} more" if len(unsafe) > 3 else ""
            )
            self.spot(
                BlindSpotKind.ZIP_PATH_TRAVERSAL,
                f"{label}: entry names that point outside the archive ({shown}); "
                "an attack on tools that extract files; nothing was written to disk",
            )
        for e in arch.entries:
            if e.looks_like_bomb and not DEX_NAME.match(e.name):
                head = arch.head(e, HEAD)
                code = head.startswith((DEX_MAGIC, ZIP_MAGIC))
                self.spot(
                    BlindSpotKind.LIMIT if code else BlindSpotKind.ZIP_BOMB,
                    f"{prefix}{clip(e.name)} inflates {mib(e.compressed_size)} to "
                    f"{mib(e.size)} (ratio {e.ratio:.0f}): not inflated"
                    + ("; it starts like code, which stays unread" if code else ""),
                )

    def _prepended(self, arch: Archive, label: str, prefix: str) -> None:
        head = arch.read_at(0, min(arch.prefix, 112))
        if head.startswith(DEX_MAGIC) and len(head) >= 0x24:
            declared = int.from_bytes(head[0x20:0x24], "little")
            n = min(arch.prefix, declared or arch.prefix, self.limits.max_dex_size)
            before = len(self.dex)
            self._add_dex(f"{prefix}(prepended dex)", arch.read_at(0, n))
            analysed = "analysed as (prepended dex)" if len(self.dex) > before else "not analysed"
            self.spot(
                BlindSpotKind.ZIP_PREPENDED_DATA,
                f"{label}: a DEX file ({arch.prefix} bytes) sits before the zip data (Janus, "
                f"CVE-2017-13156: Android 5.0-8.0 ran it for v1-only signed APKs); {analysed}",
            )
            return
        self.spot(
            BlindSpotKind.ZIP_PREPENDED_DATA,
            f"{label}: {arch.prefix} bytes of data before the zip data",
        )


def _dex_outside_art(it: Item) -> str:
    """How a dex file that ART does not load by itself is named in the blind spot."""
    if "/" in it.logical:
        return "a dex file in the APK, analysed"
    if DEX_NAME.match(it.logical):
        return (
            "a dex file named like multidex that ART never loads (it loads classes.dex, "
            "classes2.dex ... up to the first number missing); analysed as embedded code"
        )
    return "a dex file ART does not load by itself; analysed as embedded code"
