"""App classes the framework instantiates from resource XML: custom views and fragments.

``LayoutInflater`` creates ``<com.example.MyView/>``, ``<view class="com.example.MyView"/>`` and
``<fragment android:name="com.example.MyFragment"/>`` by reflection, so no code names them, yet
the framework calls their callbacks (``onDraw``, ``onCreateView``…). Every such name is a string
of the layout's binary-XML string pool; the names that are classes of the app's own dex files
and descend from a framework View or Fragment class are what ``inflated_classes`` returns.

R8 renames resource files (``res/a1.xml``), so every binary XML file under ``res/`` is read, not
only ``res/layout/``: at most ``MAX_FILES`` files, ``MAX_FILE_BYTES`` each, ``MAX_TOTAL_BYTES``
and ``MAX_STRINGS`` pool strings in all. Unreadable or damaged files are skipped; nothing here
raises. When the app defines no View or Fragment subclass, nothing is read at all.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Collection, Iterable

from apkaudit.limits import DEFAULT_LIMITS, Limits
from apkaudit.load.app import ZipEntry
from apkaudit.load.extras import read_entries
from apkaudit.manifest.axml import Document

MAX_FILES = 4000
MAX_FILE_BYTES = 512 * 1024
MAX_TOTAL_BYTES = 8 * 1024 * 1024
MAX_STRINGS = 200_000  # pool strings looked at, all files together
MAX_NAME = 512  # longer strings are not class names worth a look
MAX_DEPTH = 32  # superclass steps followed from one class

# What LayoutInflater and the fragment managers instantiate from a resource file by name.
INFLATED_ROOTS = frozenset(
    {
        "Landroid/view/View;",
        "Landroid/app/Fragment;",
        "Landroidx/fragment/app/Fragment;",
        "Landroid/support/v4/app/Fragment;",
    }
)


# Packages of framework and support-library classes that resource XML instantiates by name:
# views and view groups (layouts), fragments, preferences (preference XML), action providers
# (menu XML) and layout behaviours. An app class whose first framework ancestor is in one of
# them and that resource XML names is created by the framework.
INFLATED_PACKAGES = (
    "Landroid/view/",
    "Landroid/widget/",
    "Landroid/webkit/",
    "Landroid/preference/",
    "Landroid/app/Fragment;",
    "Landroid/app/DialogFragment;",
    "Landroid/app/ListFragment;",
    "Landroidx/",
    "Landroid/support/",
    "Lcom/google/android/material/",
)


def inflatable(superclass: Callable[[str], str | None], names: Iterable[str]) -> frozenset[str]:
    """The class descriptors among ``names`` whose superclass chain (``superclass`` answers None
    for a class the app does not define) reaches one of ``INFLATED_ROOTS`` or leaves the app at
    a class of ``INFLATED_PACKAGES``."""
    known: dict[str, bool] = {}
    for name in names:
        path: list[str] = []
        cls: str | None = name
        verdict = False
        while cls is not None and len(path) < MAX_DEPTH:
            if cls in known:
                verdict = known[cls]
                break
            if cls in INFLATED_ROOTS:
                verdict = True
                break
            path.append(cls)
            parent = superclass(cls)
            if parent is None and len(path) > 1 and cls.startswith(INFLATED_PACKAGES):
                path.pop()  # the chain leaves the app at a framework view or fragment
                verdict = True
                break
            cls = parent
        for c in path:
            known[c] = verdict
    return frozenset(n for n, yes in known.items() if yes and n not in INFLATED_ROOTS)


def resource_xml(entries: Iterable[ZipEntry]) -> list[str]:
    """The ``res/**.xml`` entries to read (paths inside their APK), layouts first, within the
    file and byte bounds."""
    found = {
        e.path: e.size
        for e in entries
        if e.path.startswith("res/") and e.path.endswith(".xml") and 0 < e.size <= MAX_FILE_BYTES
    }
    chosen: list[str] = []
    total = 0
    for name in sorted(found, key=lambda n: ("/layout" not in n, n)):
        if len(chosen) >= MAX_FILES or total + found[name] > MAX_TOTAL_BYTES:
            break
        chosen.append(name)
        total += found[name]
    return chosen


def pool_class_names(data: bytes, wanted: Collection[str], budget: int = MAX_STRINGS) -> set[str]:
    """The descriptors in ``wanted`` named (as Java class names) by a string of the binary XML
    document ``data``'s string pool; at most ``budget`` strings are looked at. Garbage gives an
    empty set."""
    return _pool_names(data, wanted, budget)[0]


def _pool_names(data: bytes, wanted: Collection[str], budget: int) -> tuple[set[str], int]:
    """``pool_class_names`` and the number of strings looked at."""
    found: set[str] = set()
    try:
        pool = Document(data).strings
        count = min(len(pool), budget)
        for i in range(count):
            text = pool.get(i)
            if text and "." in text and len(text) <= MAX_NAME:
                desc = "L" + text.strip().replace(".", "/") + ";"
                if desc in wanted:
                    found.add(desc)
    except (ValueError, struct.error, IndexError):
        return set(), 0
    return found, count


def inflated_classes(
    path: str | os.PathLike[str],
    entries: Iterable[ZipEntry],
    superclass: Callable[[str], str | None],
    app_classes: Iterable[str],
    limits: Limits = DEFAULT_LIMITS,
) -> frozenset[str]:
    """The app's View and Fragment subclasses that a resource XML file of the app at ``path``
    names (descriptors); ``superclass`` and ``app_classes`` describe the app's dex files."""
    names = resource_xml(entries)
    if not names:
        return frozenset()
    wanted = inflatable(superclass, app_classes)
    if not wanted:
        return frozenset()
    found: set[str] = set()
    budget = MAX_STRINGS
    for data in read_entries(path, names, MAX_FILE_BYTES, limits).values():
        names_in, used = _pool_names(data, wanted, budget)
        found |= names_in
        budget -= used
        if budget <= 0 or found == wanted:
            break
    return frozenset(found)
