"""Android App Bundles (``.aab``): each module's protobuf manifest and dex files, collected as
one app with the module paths as names (``base/dex/classes.dex`` is ``classes.dex``)."""

from __future__ import annotations

import os

from apkaudit.errors import InputError
from apkaudit.load import bundle
from apkaudit.load.collect import Collector
from apkaudit.load.entries import Item
from apkaudit.load.zipscan import Archive


def add_aab(col: Collector, arch: Archive) -> bytes:
    """An .aab: each module's protobuf manifest and dex, with module paths as names."""
    col.anomalies(arch, os.path.basename(col.path), "")
    modules = bundle.aab_modules([e.name for e in arch.entries])
    if "base" not in modules:
        raise InputError(col.path, "Android App Bundle has no base module")
    manifest = b""
    for module in modules:
        prefix = "" if module == "base" else f"{module}!"
        items = []
        for e in arch.entries:
            if not e.name.startswith(module + "/"):
                continue
            logical = bundle.aab_logical_name(e.name[len(module) + 1 :])
            if logical is not None:
                items.append(Item(e, logical, prefix + logical, e.name))
        role = "base" if module == "base" else "split"
        raw, _ = col.collect(arch, items, module, prefix, depth=0, role=role)
        if role == "base":
            manifest = raw
        col.parts.append(module)
    return manifest
