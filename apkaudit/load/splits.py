"""Split bundles (``.xapk``, ``.apks``, ``.apkm``) and folders of split APKs: open each nested
APK (in place through a window when stored), read each one's manifest to tell the base from the
splits, then collect the base and every split as one app. The container decisions themselves
(which names are APKs, which is the base) are pure and live in :mod:`apkaudit.load.bundle`."""

from __future__ import annotations

import hashlib
import io
import os
from typing import BinaryIO

from apkaudit.errors import InputError, LimitExceeded
from apkaudit.limits import Limits
from apkaudit.load import bundle, signing
from apkaudit.load.app import LoadedApp
from apkaudit.load.collect import Collector
from apkaudit.load.files import (
    Window,
    entry_reason,
    hashes,
    not_regular_entry,
    open_regular,
    regular_size,
)
from apkaudit.load.zipscan import (
    NOT_A_ZIP,
    STORED,
    Archive,
    ArchiveError,
    ArchiveLimit,
    Entry,
    EntryError,
    clip,
    mib,
)
from apkaudit.manifest.decode import manifest_xml
from apkaudit.manifest.parse import ANDROID_NS
from apkaudit.model import BlindSpotKind, Certificate, InputInfo


def add_bundle(
    col: Collector, arch: Archive, kind: str
) -> tuple[bytes, bytes | None, tuple[Certificate, ...]]:
    """A split bundle: the base APK, then every split, each read from the outer file."""
    col.anomalies(arch, os.path.basename(col.path), "")
    by_name = {e.name: e for e in arch.entries if e.copy == 1}
    hint = None
    if "manifest.json" in by_name:
        try:
            hint = bundle.xapk_base_hint(arch.read(by_name["manifest.json"], 1 << 20))
        except EntryError:
            hint = None
    for e in arch.entries:
        if e.name.lower().endswith(".obb"):
            col.spot(
                BlindSpotKind.OBB, f"{clip(e.name)}: expansion file ({mib(e.size)}), not analysed"
            )
    opened = []
    names = bundle.nested_apks(list(by_name))
    for name in names:
        nested = open_nested(col, arch, by_name[name], name)
        if nested is not None:
            opened.append((name, nested))
    return assemble(col, opened, hint, kind, total=len(names))


def open_nested(col: Collector, outer: Archive, entry: Entry, name: str) -> Archive | None:
    lim = col.limits
    try:
        if entry.method == STORED and not entry.encrypted_flag:
            start = outer.data_offset(entry)
            size = min(entry.compressed_size, outer.size - start)
            return Archive(Window(outer.fh, start, size), size, lim)
        data = outer.read(entry, lim.max_entry_uncompressed)
        return Archive(io.BytesIO(data), len(data), lim)
    except (EntryError, ArchiveError) as exc:
        col.spot(BlindSpotKind.UNREADABLE_SPLIT, f"{clip(name)}: {exc}")
        return None


def assemble(
    col: Collector, opened: list[tuple[str, Archive]], hint: str | None, kind: str, *, total: int
) -> tuple[bytes, bytes | None, tuple[Certificate, ...]]:
    infos: list[bundle.SplitInfo] = []
    archives: dict[str, Archive] = {}
    for name, arch in opened:
        info = split_info(col, name, arch)
        if info is not None:
            infos.append(info)
            archives[name] = arch
    base = bundle.choose_base(infos, hint)
    if base is None:
        unreadable = [b.detail for b in col.spots if b.kind == BlindSpotKind.UNREADABLE_SPLIT]
        why = "; ".join(unreadable)
        # Older APKMirror files encrypt every APK inside: they read as non-zip data.
        encrypted = (kind == "apkm" and not infos and bool(unreadable)
                     and all(NOT_A_ZIP in d for d in unreadable))  # fmt: skip
        raise InputError(
            col.path,
            f"{kind} bundle has no readable base APK ({total} APK(s), all splits "
            f"or unreadable{': ' + clip(why, 200) if why else ''})"
            + ("; encrypted .apkm files are not supported" if encrypted else ""),
        )
    manifest, arsc = col.add_apk(archives[base.name], "", depth=1, role="base")
    col.parts.append(base.name)
    certs = signing.certificates(archives[base.name])  # read in place, or from memory
    for info in infos:
        if info is base:
            continue
        if info.split is None:
            col.spot(
                BlindSpotKind.BUNDLE_EXTRA_APK,
                f"{clip(info.name)}: a second full APK ({info.package}), not a split of "
                f"{base.package}; its dex analysed with the app",
            )
        col.add_apk(archives[info.name], f"{info.name}!", depth=1, role="split")
        col.parts.append(info.name)
    return manifest, arsc, certs


def split_info(col: Collector, name: str, arch: Archive) -> bundle.SplitInfo | None:
    entry = next((e for e in arch.entries if e.name == "AndroidManifest.xml"), None)
    if entry is None:
        col.spot(
            BlindSpotKind.UNREADABLE_SPLIT, f"{clip(name)}: no AndroidManifest.xml; not analysed"
        )
        return None
    try:
        root = manifest_xml(arch.read(entry, col.limits.max_manifest_size), name)
    except (EntryError, InputError) as exc:
        col.spot(
            BlindSpotKind.UNREADABLE_SPLIT,
            f"{clip(name)}: {entry_reason(exc, entry)}; not analysed",
        )
        return None
    feature = (root.get(f"{{{ANDROID_NS}}}isFeatureSplit") or "").lower() == "true"
    return bundle.SplitInfo(name, root.get("package") or "", root.get("split"), feature)


def load_dir(path: str, limits: Limits) -> LoadedApp:
    """A folder of split APKs (as pulled from a phone): every ``*.apk`` directly inside it."""
    try:
        names = sorted(n for n in os.listdir(path) if n.lower().endswith(".apk"))
    except OSError as exc:
        raise InputError(path, f"cannot read folder ({exc.strerror or exc})") from None
    # Only regular files (or links to them): a FIFO or a device named *.apk is never opened.
    files = [n for n in names if not_regular_entry(os.path.join(path, n)) is None]
    if not files:
        raise InputError(path, "folder holds no .apk files")
    total = 0
    digest = hashlib.sha256()
    for name in files:
        fpath = os.path.join(path, name)
        total += regular_size(fpath)
        if total > limits.max_file_size:
            raise LimitExceeded(
                path, f"the APKs are {mib(total)}, over the {mib(limits.max_file_size)} limit"
            )
        with open_regular(fpath) as fh:
            digest.update(f"{name}\0{hashes(fh, legacy=False)[0]}\n".encode())
    col = Collector(path, limits)
    handles: list[BinaryIO] = []
    try:
        handles.extend(open_regular(os.path.join(path, n)) for n in files)
        opened = []
        for name, fh in zip(files, handles, strict=True):
            size = os.fstat(fh.fileno()).st_size
            try:
                opened.append((name, Archive(fh, size, limits)))
            except ArchiveLimit as exc:
                raise LimitExceeded(path, f"{name}: {exc}") from None
            except ArchiveError as exc:
                col.spot(BlindSpotKind.UNREADABLE_SPLIT, f"{name}: {exc}")
        manifest, arsc, certs = assemble(col, opened, None, "dir", total=len(files))
    finally:
        for fh in handles:
            fh.close()
    # The folder's identity: sha256 over "name NUL sha256-of-file" lines, one per APK.
    info = InputInfo(path=path, sha256=digest.hexdigest(), size=total, container="dir")
    return col.finish(info, manifest, arsc, certs, "axml")
