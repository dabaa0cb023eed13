"""Split bundles and app bundles: what kind of container an input is, and which APK is the base.

Lending apps reach users from mirror sites as ``.xapk`` (APKPure: ``manifest.json`` + base and
split APKs, sometimes OBB files), ``.apks`` (bundletool: ``toc.pb`` + ``splits/*.apk``; SAI:
plain ``*.apk``), ``.apkm`` (APKMirror: ``info.json`` + ``base.apk`` + ``split_*.apk``) or a
folder of split APKs pulled from a phone. Installed, the splits form one app: the base APK's
manifest plus the components of feature splits, and the dex files of every split.

These helpers are pure (names and bytes in, decisions out); ``splits.py`` and ``aab.py`` do
the reading.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

BUNDLE_KINDS = ("xapk", "apks", "apkm")
_BASE_NAMES = ("base.apk", "base-master.apk", "universal.apk")
_MAX_JSON = 1 << 20


@dataclass(frozen=True)
class SplitInfo:
    """What the manifest of one APK of a bundle says about it."""

    name: str  # entry name in the bundle, or file name in a folder
    package: str
    split: str | None  # the <manifest split="..."> name; None for a base APK
    feature: bool = False  # android:isFeatureSplit="true" (components to merge)


def classify(names: list[str] | tuple[str, ...], path: str) -> str:
    """``apk``, ``aab``, ``xapk``, ``apks``, ``apkm`` or ``unknown`` from the entry names."""
    nameset = set(names)
    if "AndroidManifest.xml" in nameset:
        return "apk"
    if "base/manifest/AndroidManifest.xml" in nameset or "BundleConfig.pb" in nameset:
        return "aab"
    if not nested_apks(names):
        return "unknown"
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext in BUNDLE_KINDS:
        return ext
    if "manifest.json" in nameset:
        return "xapk"
    if "info.json" in nameset:
        return "apkm"
    return "apks"


def nested_apks(names: list[str] | tuple[str, ...]) -> list[str]:
    """The APK entries of a bundle that belong to the app, in a stable order.

    bundletool's ``standalones/`` (pre-Lollipop full APKs) and ``universal.apk`` repeat what
    the splits hold, so they are used only when there are no splits.
    """
    apks = sorted(
        {n for n in names if n.lower().endswith(".apk") and not n.startswith(("assets/", "res/"))}
    )
    splits = [n for n in apks if not n.startswith("standalones/") and n != "universal.apk"]
    return splits or apks


def xapk_base_hint(manifest_json: bytes) -> str | None:
    """The base APK's file name from an .xapk ``manifest.json`` (``split_apks[id=base]``)."""
    if len(manifest_json) > _MAX_JSON:
        return None
    try:
        doc = json.loads(manifest_json.decode("utf-8", "replace"))
    except (ValueError, RecursionError):  # nested past the decoder's depth: no hint
        return None
    splits = doc.get("split_apks") if isinstance(doc, dict) else None
    if not isinstance(splits, list):
        return None
    for item in splits:
        if not isinstance(item, dict) or item.get("id") != "base":
            continue
        if isinstance(item.get("file"), str):
            return item["file"]
    return None


def choose_base(infos: list[SplitInfo], hint: str | None = None) -> SplitInfo | None:
    """The base APK: no ``split`` attribute; the bundle's own hint, then a conventional name."""
    bases = [i for i in infos if i.split is None]
    if not bases:
        return None
    for info in bases:
        if hint and info.name == hint:
            return info
    for wanted in _BASE_NAMES:
        for info in bases:
            if os.path.basename(info.name) == wanted:
                return info
    return bases[0]


def aab_modules(names: list[str] | tuple[str, ...]) -> list[str]:
    """Module folders of an .aab (base first): those holding ``manifest/AndroidManifest.xml``."""
    tail = "/manifest/AndroidManifest.xml"
    mods = {n.split("/", 1)[0] for n in names if n.count("/") == 2 and n.endswith(tail)}
    return sorted(mods, key=lambda m: (m != "base", m))


def aab_logical_name(module_path: str) -> str | None:
    """Where a module file lands in the installed APK: ``dex/classes.dex`` -> ``classes.dex``,
    ``root/x`` -> ``x``, ``assets/``, ``lib/``, ``res/`` unchanged; None for bundle metadata."""
    top, _, rest = module_path.partition("/")
    if not rest:
        return None
    if top == "dex":
        return rest
    if top == "root":
        return rest
    if top in ("assets", "lib", "res"):
        return module_path
    if top == "manifest" and rest == "AndroidManifest.xml":
        return "AndroidManifest.xml"
    return None
