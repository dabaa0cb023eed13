"""Dex files as ART loads them, and names no encoder chokes on (fixtures/make_hostile.py).

``hostile-decoy-dex``: loan-bulk-sms plus decoy ``classes0.dex``, ``classes1.dex``,
``classes01.dex`` and ``classes4.dex`` (after a missing ``classes3.dex``), each defining a
harmless ``Blaster``. ART loads classes.dex, classes2.dex ... up to the first number missing, so
the real Blaster wins and the decoys are embedded code. ``hostile-emoji-names``: loan-bulk-sms
whose Blaster class, its method and a content URI hold U+1F600 (a surrogate pair in MUTF-8).
``hostile-nested-manifest.xapk``: an .xapk whose manifest.json nests 200,000 arrays.
"""

from __future__ import annotations

import json

import pytest
from conftest import REPO, report_of

from apkaudit.code.dex.primitives import mutf8
from apkaudit.load.entries import art_dex_names
from apkaudit.model import AppResult, BlindSpotKind
from apkaudit.report.formats import FORMATS, render

EDGE = REPO / "fixtures" / "edge"
EMOJI = "\U0001f600"
BLASTER = "Lcom/apkaudit/fixture/loanbulksms/Blaster;"


@pytest.mark.parametrize(
    ("names", "loaded"),
    [
        (
            {"classes.dex", "classes2.dex", "classes3.dex"},
            ("classes.dex", "classes2.dex", "classes3.dex"),
        ),
        ({"classes.dex", "classes2.dex", "classes4.dex"}, ("classes.dex", "classes2.dex")),
        ({"classes0.dex", "classes1.dex", "classes01.dex", "classes.dex"}, ("classes.dex",)),
        ({"classes2.dex", "classes3.dex"}, ()),  # no classes.dex: ART loads nothing
        ({"classes.dex", "classes02.dex", "Classes2.dex"}, ("classes.dex",)),
    ],
)
def test_art_multidex_order(names: set[str], loaded: tuple[str, ...]) -> None:
    assert art_dex_names(names) == loaded


def test_decoy_dex_files_never_shadow_classes_dex(audit) -> None:
    result: AppResult = audit(EDGE / "hostile-decoy-dex.apk")
    assert result.status == "ok", result.error
    assert result.code.dex_files == (
        "classes.dex",
        "classes0.dex",
        "classes1.dex",
        "classes01.dex",
        "classes4.dex",
    )
    v = result.verdicts
    assert (v.contacts_read.value, v.sms_send.value, v.bulk_sms_to_contacts.value) == (
        "confirmed",
        "confirmed",
        "confirmed",
    )
    assert {f.rule_id for f in result.findings} >= {"SMS010"}
    (chain,) = [c for c in result.behaviours.chains if c.kind == "contacts_to_sms_destination"]
    assert {h.location.class_name for h in chain.hops} == {BLASTER}
    assert {h.location.dex for h in chain.hops} == {"classes.dex"}
    embedded = [
        b.detail for b in result.coverage.blind_spots if b.kind is BlindSpotKind.EMBEDDED_CODE
    ]
    for name in ("classes0.dex", "classes1.dex", "classes01.dex", "classes4.dex"):
        assert (
            f"{name}: a dex file named like multidex that ART never loads (it loads classes.dex, "
            "classes2.dex ... up to the first number missing); analysed as embedded code"
        ) in embedded


def test_supplementary_characters_in_names_and_strings(audit) -> None:
    result: AppResult = audit(EDGE / "hostile-emoji-names.apk")
    assert result.status == "ok", result.error
    cls = f"Lcom/apkaudit/fixture/loanbulksms/Bl{EMOJI}ster;"
    (chain,) = [c for c in result.behaviours.chains if c.kind == "contacts_to_sms_destination"]
    assert {(h.location.class_name, h.location.method.split("(")[0]) for h in chain.hops} == {
        (cls, f"blast{EMOJI}Contacts")
    }
    assert result.verdicts.bulk_sms_to_contacts.value == "confirmed"
    assert all(len(f.fingerprint) == 16 for f in result.findings)
    report = report_of(result)
    for fmt in FORMATS:
        text = render(report, fmt)
        text.encode("utf-8")  # no lone surrogate anywhere
        assert EMOJI in text or (fmt == "json" and "\\ud83d\\ude00" in text.lower()), fmt
    doc = json.loads(render(report, "json"))
    assert f"Bl{EMOJI}ster" in json.dumps(doc, ensure_ascii=False)


def test_mutf8_joins_surrogate_pairs_and_spells_lone_ones() -> None:
    pair = "\ud83d\ude00".encode("utf-8", "surrogatepass")
    assert mutf8(b"a" + pair + b"b") == f"a{EMOJI}b"
    assert mutf8(b"x" + "\ud83d".encode("utf-8", "surrogatepass") + b"y") == "x\\ud83dy"
    assert mutf8(b"\xc0\x80" + pair) == f"\0{EMOJI}"
    assert mutf8(b"plain") == "plain"


def test_xapk_manifest_json_nested_past_the_decoder_depth(audit) -> None:
    result: AppResult = audit(EDGE / "hostile-nested-manifest.xapk")
    assert result.status == "ok", result.error
    assert result.manifest.identity.package == "com.apkaudit.fixture.clean"
    assert result.coverage.complete is True
