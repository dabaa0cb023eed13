"""Hidden code as coverage: the parts of an app that analysing its dex files cannot see.

Every case becomes a ``coverage.blind_spots`` entry (kind + one-line detail). Most kinds mean
code was hidden from the audit and make ``coverage.complete`` false, so the report says
"inconclusive" instead of "none". A few kinds are *notices*: something odd or worth a
reviewer's look that hid nothing, because the audit read it anyway (every copy of a duplicate
entry, a dex embedded in assets, data stored under a fake encryption flag) or because it is
known third-party code (an SDK's own class loader, a well-known native library). The table is
:data:`NOTICE_KINDS`; the choice per kind is explained in README "Inputs and limits".
"""

from __future__ import annotations

import bisect
import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from importlib.resources import files

from apkaudit.cache import cached_toml
from apkaudit.code.catalogue import Catalogue
from apkaudit.code.dex.reader import DexFile
from apkaudit.code.index import DexSet
from apkaudit.coverage import obfuscation
from apkaudit.errors import DexFormatError, RuleError
from apkaudit.load.app import LoadedApp, ZipEntry
from apkaudit.model import (
    BlindSpot,
    BlindSpotKind,
    CodeIndex,
    CodeRef,
    Coverage,
    ManifestFacts,
    RefKind,
    java_to_descriptor,
)

# Listed in blind_spots, but coverage stays complete: nothing was hidden from the audit.
NOTICE_KINDS = frozenset(
    {
        BlindSpotKind.ZIP_DUPLICATE_ENTRY,  # every copy was analysed
        BlindSpotKind.ZIP_ENCRYPTION_FLAG,  # read in clear, as Android does
        BlindSpotKind.ZIP_PREPENDED_DATA,  # a prepended dex is analysed too
        BlindSpotKind.ZIP_PATH_TRAVERSAL,  # names only; such entries are not app files
        BlindSpotKind.ZIP_BOMB,  # a data entry (not code) that was not inflated
        BlindSpotKind.ZIP_ANOMALY,  # CRC or entry-count mismatch
        BlindSpotKind.EMBEDDED_CODE,  # a dex/jar/apk in assets, analysed with the app
        BlindSpotKind.DYNAMIC_CODE_SDK,  # an SDK loading its own code (MultiDex, Play services)
        BlindSpotKind.NATIVE_CODE_KNOWN,  # a well-known public native library
        BlindSpotKind.ENCRYPTED_DATA,  # high-entropy data; nothing in the app can run it as code
        BlindSpotKind.OBB,  # an .xapk expansion file (data)
        BlindSpotKind.MANIFEST_TRICK,  # a manifest layout read as Android reads it
        BlindSpotKind.SHADOWED_CLASSES,  # dead copies of classes an earlier dex defines
        BlindSpotKind.BUNDLE_EXTRA_APK,  # a second full APK in a bundle (its dex is analysed)
        BlindSpotKind.REFLECTION_UNRESOLVED_OTHER,  # unresolved reflection away from the data
    }
)

# The blind-spot kinds a framework marker of packers.toml may name.
_FRAMEWORK_KINDS = frozenset(
    {BlindSpotKind.FLUTTER, BlindSpotKind.JS_BUNDLE, BlindSpotKind.WEB_ASSETS, BlindSpotKind.DOTNET}
)

_LOADER_STRINGS = (
    "dalvik.system.DexClassLoader",
    "dalvik.system.InMemoryDexClassLoader",
    "dalvik.system.PathClassLoader",
    "dalvik.system.DexFile",
    "dalvik.system.BaseDexClassLoader",
)
# Magic numbers of formats that are compressed by design (high entropy, but not a payload).
_DATA_MAGIC = (
    b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"RIFF", b"OggS", b"ID3", b"\xff\xfb", b"\xff\xf3",
    b"\xff\xf2", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"7z\xbc\xaf", b"%PDF", b"wOFF", b"wOF2",
    b"fLaC", b"PK\x03\x04", b"\x28\xb5\x2f\xfd", b"OTTO", b"\x00\x01\x00\x00", b"true",
    b"PKM ", b"\xabKTX", b"SQLite format 3", b"\x1aE\xdf\xa3", b"caff", b"#!AMR",
    b"\x04\x22\x4d\x18", b"\x89HDF", b"ktx2", b"\x00\x00\x01\x00",
)  # fmt: skip
_DATA_MAGIC_AT4 = (b"ftyp", b"TFL3", b"moov", b"mdat")
_ENCRYPTED_MIN = 32 << 10
_SHOWN = 4


@dataclass(frozen=True)
class Marker:
    name: str
    kind: str  # packer | flutter | js_bundle | web_assets | dotnet | library
    files: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    what: str = ""
    sources: tuple[str, ...] = ()

    def hits(self, entries: Iterable[Lowered]) -> list[str]:
        """The names of ``entries`` (see :func:`_lowered`) that this marker's globs match."""
        return [e[0] for e in entries if _matches(self._patterns, e)]

    @cached_property
    def _patterns(self) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
        """The glob lists compiled to one regex each (APKs can have tens of thousands of
        entries; one match per entry instead of one fnmatch per entry and pattern)."""
        return _compile_globs(self.files), _compile_globs(self.paths)


Lowered = tuple[str, str, str]  # entry name, its path lower-cased, the path's last part


def _lowered(entries: Iterable[ZipEntry]) -> list[Lowered]:
    out = []
    for e in entries:
        path = e.path.lower()
        out.append((e.name, path, path.rpartition("/")[2]))
    return out


def _compile_globs(globs: Iterable[str]) -> re.Pattern[str] | None:
    translated = [fnmatch.translate(g.lower()) for g in globs]
    return re.compile("|".join(translated)) if translated else None


def _matches(patterns: tuple[re.Pattern[str] | None, re.Pattern[str] | None], e: Lowered) -> bool:
    files_re, paths_re = patterns
    return bool((files_re and files_re.match(e[2])) or (paths_re and paths_re.match(e[1])))


@dataclass(frozen=True)
class Markers:
    packers: tuple[Marker, ...]
    frameworks: tuple[Marker, ...]
    libraries: tuple[Marker, ...]
    sources: dict[str, str]

    def candidates(self, entries: Iterable[ZipEntry]) -> list[Lowered]:
        """The entries that some packer or framework marker matches, in entry order."""
        return [e for e in _lowered(entries) if _matches(self._union, e)]

    @cached_property
    def _union(self) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
        marks = (*self.packers, *self.frameworks)
        return (
            _compile_globs(g for m in marks for g in m.files),
            _compile_globs(g for m in marks for g in m.paths),
        )


@cache
def load_markers() -> Markers:
    doc = cached_toml(files("apkaudit.code.catalogue").joinpath("packers.toml").read_text("utf-8"))
    sources = dict(doc.get("sources", {}))

    def read(section: str, kind: str | None) -> tuple[Marker, ...]:
        out = []
        for raw in doc.get(section, []):
            m = Marker(
                name=raw["name"],
                kind=kind or raw["kind"],
                files=tuple(raw.get("files", ())),
                paths=tuple(raw.get("paths", ())),
                classes=tuple(raw.get("classes", ())),
                what=raw.get("what", ""),
                sources=tuple(raw.get("sources", ())),
            )
            if not (m.files or m.paths or m.classes) or not m.sources:
                raise RuleError(f"packers.toml: {m.name} needs markers and sources")
            missing = [s for s in m.sources if s not in sources]
            if missing:
                raise RuleError(f"packers.toml: {m.name} cites unknown source(s) {missing}")
            if kind is None and m.kind not in _FRAMEWORK_KINDS:
                raise RuleError(
                    f"packers.toml: {m.name} has kind {m.kind!r}, not a blind-spot kind"
                )
            out.append(m)
        return tuple(out)

    return Markers(
        read("packer", "packer"), read("framework", None), read("library", "library"), sources
    )


# --------------------------------------------------------------------------- detection


def detect(
    loaded: LoadedApp,
    manifest: ManifestFacts,
    index: CodeIndex,
    dexset: DexSet,
    catalogue: Catalogue,
    origin_of: Callable[[str], str],
) -> tuple[BlindSpot, ...]:
    """Blind spots for hidden code: packers, frameworks, native code, run-time loading,
    encrypted payloads and manifest classes that no dex defines."""
    markers = load_markers()
    spots: list[BlindSpot] = []
    claimed: set[str] = set()  # entries explained by a packer or framework
    classes = _ClassIndex(dexset, manifest.application_class)
    # The entries any packer or framework marker matches, found in one pass; each marker's
    # own hits are then looked up among those few.
    candidates = markers.candidates(loaded.entries)
    for m in markers.packers:
        hits = m.hits(candidates)
        class_hits = [c for c in m.classes if classes.has(c)]
        if hits or class_hits:
            claimed.update(hits)
            spots.append(
                BlindSpot(
                    BlindSpotKind.PACKER,
                    f"{m.name} protector ({_list(hits + class_hits)}): the app's real code is "
                    "encrypted in the APK and unpacked at run time",
                )
            )
    for m in markers.frameworks:
        hits = m.hits(candidates)
        if hits:
            claimed.update(hits)
            spots.append(
                BlindSpot(
                    BlindSpotKind(m.kind),
                    f"{m.name}: {m.what} ({_list(hits)}) is not analysed; "
                    "only the app's Java/Kotlin side and its plugins are",
                )
            )
    spots += _native(loaded, markers, claimed)
    spots += _dynamic(index, catalogue, origin_of, loaded)
    spots += missing_components(manifest, dexset)
    spots += _encrypted(loaded, dexset, spots)
    spots += obfuscation.detect(dexset, origin_of)
    return tuple(spots)


class _ClassIndex:
    """Class names defined in dex (sorted, for package-prefix lookups) plus the manifest's
    application class, which a packer names even though the class is encrypted."""

    def __init__(self, dexset: DexSet, application: str | None) -> None:
        self.sorted = sorted(dexset.classes)
        self.app = application or ""

    def has(self, java: str) -> bool:
        if java.endswith("."):
            if self.app.startswith(java):
                return True
            prefix = "L" + java.replace(".", "/")
            i = bisect.bisect_left(self.sorted, prefix)
            return i < len(self.sorted) and self.sorted[i].startswith(prefix)
        if self.app == java:
            return True
        desc = java_to_descriptor(java)
        i = bisect.bisect_left(self.sorted, desc)
        return i < len(self.sorted) and self.sorted[i] == desc


def _native(loaded: LoadedApp, markers: Markers, claimed: set[str]) -> list[BlindSpot]:
    libs: dict[str, list[str]] = {}
    for e in loaded.entries:
        if e.path.lower().endswith(".so") and e.name not in claimed:
            libs.setdefault(e.path.rpartition("/")[2], []).append(e.name)
    if not libs:
        return []
    known: dict[str, str] = {}
    for m in markers.libraries:
        for lib in libs:
            if any(fnmatch.fnmatchcase(lib.lower(), f.lower()) for f in m.files):
                known.setdefault(lib, m.name)
    spots = []
    if known:
        names = sorted({v for v in known.values()})
        spots.append(
            BlindSpot(
                BlindSpotKind.NATIVE_CODE_KNOWN,
                f"native libraries of well-known public projects ({_list(sorted(known))}: "
                f"{', '.join(names)}); matched by file name",
            )
        )
    unknown = sorted(lib for lib in libs if lib not in known)
    if unknown:
        spots.append(
            BlindSpot(
                BlindSpotKind.NATIVE_CODE,
                f"{len(unknown)} native librar{'y' if len(unknown) == 1 else 'ies'} "
                f"({_list(unknown)}): compiled code is not analysed; it can call any Java API "
                "through JNI",
            )
        )
    return spots


def _dynamic(
    index: CodeIndex,
    catalogue: Catalogue,
    origin_of: Callable[[str], str],
    loaded: LoadedApp,
) -> list[BlindSpot]:
    ids = catalogue.tagged("dynamic_code")
    native_ids = catalogue.tagged("native_code")
    app_refs: list[CodeRef] = []
    sdk_refs: list[CodeRef] = []
    # A loader's type next to a call of its constructor in the same method is one load
    # (new-instance + <init>): only a type with no constructor call there stands alone.
    constructed = {
        (r.location.dex, r.location.class_name, r.location.method, r.target.split("->")[0])
        for r in index.refs
        if r.api_id in ids and r.kind is RefKind.INVOKE
    }
    for r in index.refs:
        if r.api_id not in ids:
            continue
        site = (r.location.dex, r.location.class_name, r.location.method, r.target)
        if r.kind is RefKind.CLASS and site in constructed:
            continue
        (sdk_refs if r.origin.startswith("sdk:") else app_refs).append(r)
    spots = []
    if app_refs:
        where = sorted({f"{r.target.split('->')[0].rsplit('/', 1)[-1].rstrip(';')} at "
                        f"{r.location.short} in {r.location.dex}" for r in app_refs})  # fmt: skip
        spots.append(
            BlindSpot(
                BlindSpotKind.DYNAMIC_CODE,
                f"code loaded at run time ({_list(where)}): what it loads is not in the "
                "analysed dex unless it is one of the embedded files listed here",
            )
        )
    if sdk_refs:
        sdks = sorted({r.origin[4:] for r in sdk_refs})
        spots.append(
            BlindSpot(
                BlindSpotKind.DYNAMIC_CODE_SDK,
                f"class loaders in SDK code only ({', '.join(sdks)}): the SDK loads its own "
                "modules, not the app's code",
            )
        )
    has_libs = any(e.path.lower().endswith(".so") for e in loaded.entries)
    by_path = [
        r
        for r in index.refs
        if r.api_id in native_ids and r.api_id.endswith(".load") and not r.origin.startswith("sdk:")
    ]
    if by_path and not has_libs:
        sites = _list(sorted({r.location.short for r in by_path}))
        spots.append(
            BlindSpot(
                BlindSpotKind.NATIVE_CODE,
                f"System.load(path) in app code ({sites}) "
                "loads a native library from a file outside the APK",
            )
        )
    return spots


def missing_components(manifest: ManifestFacts, dexset: DexSet) -> tuple[BlindSpot, ...]:
    """Components the manifest declares but no dex defines: their code is hidden (packed,
    encrypted or loaded at run time), so what we see is not the whole app."""
    names = [c.name for c in manifest.components if c.kind != "activity-alias"]
    if manifest.application_class:
        names.append(manifest.application_class)
    missing = [n for n in dict.fromkeys(names) if java_to_descriptor(n) not in dexset.classes]
    if not missing:
        return ()
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    return (
        BlindSpot(
            BlindSpotKind.MISSING_CLASS,
            f"{len(missing)} manifest component class(es) are in no dex file: {shown}",
        ),
    )


def _encrypted(loaded: LoadedApp, dexset: DexSet, spots: list[BlindSpot]) -> list[BlindSpot]:
    blobs = [e for e in loaded.entries if _looks_encrypted(e)]
    if not blobs:
        return []
    loaders = {
        BlindSpotKind.PACKER,
        BlindSpotKind.DYNAMIC_CODE,
        BlindSpotKind.NATIVE_CODE,
        BlindSpotKind.MISSING_CLASS,
    }
    mechanism = [s.kind for s in spots if s.kind in loaders]
    reflective = [s for s in _LOADER_STRINGS if any(_has_string(d, s) for d in dexset.files)]
    shown = _list([f"{e.name} ({e.size // 1024} KiB)" for e in blobs])
    if mechanism or reflective:
        how = ", ".join(dict.fromkeys(mechanism)) or "a class loader named in a string"
        return [
            BlindSpot(
                BlindSpotKind.ENCRYPTED_ASSET,
                f"encrypted or obfuscated payload(s) {shown}: high-entropy data in no known "
                f"file format, in an app that can load code at run time ({how})",
            )
        ]
    return [
        BlindSpot(
            BlindSpotKind.ENCRYPTED_DATA,
            f"high-entropy data in no known file format ({shown}); nothing in the app can run "
            "it as code, so it is treated as data",
        )
    ]


def _has_string(dex: DexFile, value: str) -> bool:
    try:
        return dex.find_string(value) is not None
    except DexFormatError:
        return False


def _looks_encrypted(e: ZipEntry) -> bool:
    if not e.dense or e.size < _ENCRYPTED_MIN:
        return False
    if e.head.startswith(_DATA_MAGIC) or e.head[4:8] in _DATA_MAGIC_AT4:
        return False
    path = e.path
    return path.startswith(("assets/", "res/raw/")) or "/" not in path


def coverage_of(spots: Iterable[BlindSpot]) -> Coverage:
    """Coverage from blind spots: complete unless one of them hid code (see NOTICE_KINDS)."""
    unique = tuple(dict.fromkeys(spots))
    return Coverage(
        complete=not any(s.kind not in NOTICE_KINDS for s in unique), blind_spots=unique
    )


def _list(items: list[str], n: int = _SHOWN) -> str:
    shown = ", ".join(items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")
