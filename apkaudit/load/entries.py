"""Which entries are looked at and how: dex file names and order, the entries whose first bytes
are inspected (where hidden code and payloads live), and the density test that tells encrypted
or compressed data from plain data without inflating more than a sample."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from typing import NamedTuple

from apkaudit.load.zipscan import STORED, Archive, Entry

DEX_NAME = re.compile(r"^classes(\d*)\.dex$")
HEAD = 16  # magic bytes kept per inspected entry
MAX_INSPECTED = 20_000  # entries whose first bytes we look at, per app
_SAMPLE = 64 << 10  # bytes sampled to tell encrypted/compressed data from plain data
_DENSE_MIN = 32 << 10  # smaller entries are not worth calling an encrypted payload
_DENSE_RATIO = 0.97  # zlib level 1 saves less than 3%: encrypted or already compressed
_CODE_SUFFIXES = (".dex", ".jar", ".apk", ".odex", ".zip")


class Item(NamedTuple):
    entry: Entry
    logical: str  # path inside the installed APK (``classes.dex``, ``assets/x``)
    shown: str  # the name reported for this entry (with any split/archive prefix)
    dex_shown: str  # the name reported for it as a dex file


def worth_inspecting(logical: str) -> bool:
    """Entries whose first bytes are worth a look: where hidden code and payloads live."""
    if logical.startswith(("assets/", "res/raw/")):
        return True
    if "/" not in logical:
        return logical not in ("AndroidManifest.xml", "resources.arsc")
    code_like = logical.lower().endswith(_CODE_SUFFIXES)
    return code_like and not logical.startswith(("lib/", "META-INF/"))


def sample_entry(arch: Archive, e: Entry) -> tuple[bytes, bool]:
    """The first bytes of an inspected entry, and whether it is dense (incompressible)."""
    if e.size < _DENSE_MIN:
        return arch.head(e, HEAD), False
    if e.method != STORED:
        # Already deflated by the zip: the zip's own ratio says whether it is dense.
        return arch.head(e, HEAD), e.compressed_size >= _DENSE_RATIO * e.size
    sample = arch.head(e, _SAMPLE)
    dense = len(sample) >= HEAD and len(zlib.compress(sample, 1)) >= _DENSE_RATIO * len(sample)
    return sample[:HEAD], dense


def art_dex_names(names: Iterable[str]) -> tuple[str, ...]:
    """The dex entries ART loads from an APK or jar, in its order: ``classes.dex``, then
    ``classes2.dex``, ``classes3.dex`` ... up to the first number missing.

    ART's multidex loader (DexFileLoader::GetMultiDexClassesDexName and OpenAll) asks for
    exactly these names and stops at the first gap, so ``classes0.dex``, ``classes1.dex``,
    ``classes01.dex`` or a ``classes5.dex`` after a missing ``classes4.dex`` are never loaded by
    the platform: they are embedded code (the app can still load them itself).
    """
    present = set(names)
    if "classes.dex" not in present:
        return ()
    order = ["classes.dex"]
    while f"classes{len(order) + 1}.dex" in present:
        order.append(f"classes{len(order) + 1}.dex")
    return tuple(order)
