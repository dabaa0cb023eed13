"""Differential test: our lean DEX reader against androguard's cross-references.

For every readable real APK, the call sites we index for the watched methods of SmsManager
(modern and legacy) and ContentResolver must be exactly the call sites androguard's
``AnalyzeAPK`` reports for the same methods: same target, caller class, caller method and
byte offset. This is the oracle that keeps the lean reader honest (docs: design, "Speed").

The only test module that imports androguard directly. Slow (~30 s for the 18 MB APK).
"""

from __future__ import annotations

import re

import pytest
from conftest import is_malformed, real_params, real_path

from apkaudit.code.catalogue import WatchedItem, load_catalogue
from apkaudit.model import AppResult, RefKind

CLASSES = frozenset(
    {
        "Landroid/telephony/SmsManager;",
        "Landroid/telephony/gsm/SmsManager;",
        "Landroid/content/ContentResolver;",
    }
)

Site = tuple[str, str, str, int]  # target descriptor, caller class, caller name+proto, offset


def watched_items() -> list[WatchedItem]:
    return [i for i in load_catalogue().items if i.kind == "invoke" and i.class_name in CLASSES]


def ours(result: AppResult) -> set[Site]:
    assert result.code is not None
    return {
        (r.target, r.location.class_name, r.location.method, r.location.offset)
        for r in result.code.refs
        if r.kind is RefKind.INVOKE and r.target.split("->", 1)[0] in CLASSES
    }


def _nospace(s: str) -> str:
    return s.replace(" ", "")  # androguard writes "(I I)V" style descriptors


def theirs(path: str) -> set[Site]:
    from androguard.misc import AnalyzeAPK
    from loguru import logger

    logger.disable("androguard")
    _, _, dx = AnalyzeAPK(path)
    sites: set[Site] = set()
    for item in watched_items():
        for ma in dx.find_methods(
            classname=f"^{re.escape(item.class_name)}$", methodname=f"^{re.escape(item.name)}$"
        ):
            m = ma.get_method()
            proto = _nospace(m.get_descriptor())
            if item.proto is not None and proto != item.proto:
                continue
            target = f"{m.get_class_name()}->{m.get_name()}{proto}"
            for _cls, caller, offset in ma.get_xref_from():
                cm = caller.get_method() if hasattr(caller, "get_method") else caller
                caller_sig = cm.get_name() + _nospace(cm.get_descriptor())
                sites.add((target, cm.get_class_name(), caller_sig, offset))
    return sites


def test_watched_classes_are_in_the_catalogue() -> None:
    assert {i.class_name for i in watched_items()} == CLASSES


@pytest.mark.real
@pytest.mark.parametrize("row", real_params(lambda row: not is_malformed(row)))
def test_call_sites_equal_androguard_xrefs(row: dict[str, str], audit) -> None:
    path = real_path(row)
    result = audit(path)
    assert result.status == "ok", result.error
    mine, reference = ours(result), theirs(str(path))
    assert sorted(mine - reference) == [], "call sites only we report"
    assert sorted(reference - mine) == [], "call sites only androguard reports"
