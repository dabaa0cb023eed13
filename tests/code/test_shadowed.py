"""Shadowed duplicate classes (issue 15, item 2): ART loads ``classes.dex``, ``classes2.dex`` ...
in order and the first definition of a class wins, so a later copy never runs.

``multidex-shadowed``: classes.dex's ``Blaster`` texts every contact; classes2.dex holds only a
copy of ``Blaster`` that logs (every class of that dex shadowed). ``multidex-shadowed-neg``:
classes.dex's ``Blaster`` logs; classes2.dex's copy reads the contacts and texts each one (never
loads), beside a live ``Greeter`` that ``MainActivity`` calls.
"""

from __future__ import annotations

from conftest import REPO, fixture_apk

from apkaudit.code.index import _class_path, open_dex_set
from apkaudit.load.loader import load_app
from apkaudit.model import AppResult, BlindSpotKind

POS = "Lcom/apkaudit/fixture/multidexshadowed/"
NEG = "Lcom/apkaudit/fixture/multidexshadowedneg/"
BLAST = "blastContacts(Landroid/content/Context;)V"


def _notices(result: AppResult) -> list[str]:
    return [
        b.detail for b in result.coverage.blind_spots if b.kind == BlindSpotKind.SHADOWED_CLASSES
    ]


def test_the_winning_copy_is_reported_in_classes_dex(audit) -> None:
    result: AppResult = audit(fixture_apk("multidex-shadowed"))
    assert result.status == "ok", result.error
    rules = {f.rule_id: f for f in result.findings}
    assert {"CON001", "SMS001", "SMS010"} <= set(rules)
    for rule in ("CON001", "SMS001", "SMS010"):
        locs = [e.location for e in rules[rule].evidence if e.location is not None]
        assert locs, rule
        assert {(loc.dex, loc.class_name, loc.method) for loc in locs} == {
            ("classes.dex", POS + "Blaster;", BLAST)
        }
    (send,) = result.behaviours.sms_sends
    assert (send.location.dex, send.location.class_name, send.location.offset) == (
        "classes.dex",
        POS + "Blaster;",
        0x4E,
    )
    assert all(h.location.dex == "classes.dex" for c in result.behaviours.chains for h in c.hops)
    assert result.verdicts.bulk_sms_to_contacts.value == "confirmed"
    # the benign copy in classes2.dex contributes nothing, not even its Log.i
    assert not [r for r in result.code.refs if r.location.dex == "classes2.dex"]
    assert _notices(result) == [
        "1 class(es) in classes2.dex (every class of the file) are shadowed by earlier "
        "definitions (classes.dex) and never load: com.apkaudit.fixture.multidexshadowed."
        "Blaster; this dead code is not analysed"
    ]
    assert result.coverage.complete is True
    assert result.code.dex_files == ("classes.dex", "classes2.dex")


def test_the_shadowed_copy_that_texts_contacts_is_not_reported(audit) -> None:
    result: AppResult = audit(fixture_apk("multidex-shadowed-neg"))
    assert result.status == "ok", result.error
    rules = {f.rule_id for f in result.findings}
    assert not rules & {"CON001", "SMS001", "SMS010"}
    for f in result.findings:  # at most the permissions, with no code location
        assert all(e.location is None for e in f.evidence), f.rule_id
    assert not [r for r in result.code.refs if r.location.class_name == NEG + "Blaster;"
                and r.location.dex == "classes2.dex"]  # fmt: skip
    assert not result.behaviours.chains
    assert not result.behaviours.sms_sends
    assert result.verdicts.sms_send.value != "confirmed"
    assert result.verdicts.bulk_sms_to_contacts.value == "none"
    # the live class of the same dex is still indexed
    assert [(r.api_id, r.location.dex, r.location.class_name) for r in result.code.refs] == [
        ("kinds.sink.Log.i", "classes.dex", NEG + "Blaster;"),
        ("kinds.sink.Log.i", "classes2.dex", NEG + "Greeter;"),
    ]
    (note,) = _notices(result)
    assert note.startswith("1 class(es) in classes2.dex are shadowed by earlier definitions")
    assert "com.apkaudit.fixture.multidexshadowedneg.Blaster" in note
    assert result.coverage.complete is True


def test_a_dex_of_shadowed_classes_only_is_never_decoded() -> None:
    dexset, spots = open_dex_set(load_app(fixture_apk("multidex-shadowed")).dex)
    first, second = dexset.opened
    assert dexset.files == (first,)  # the dead dex is left out of every analysis
    assert second.shadowed == frozenset({POS + "Blaster;"})
    assert second.defined_methods == {} and second.method_count == 0
    assert dexset.classes[POS + "Blaster;"][0] is first
    assert [s.kind for s in spots] == [BlindSpotKind.SHADOWED_CLASSES]


def test_a_partly_shadowed_dex_keeps_its_live_methods() -> None:
    dexset, _ = open_dex_set(load_app(fixture_apk("multidex-shadowed-neg")).dex)
    first, second = dexset.files
    assert second.shadowed == frozenset({NEG + "Blaster;"})
    owners = {second.method_ref(i).class_name for i in second.defined_methods}
    assert owners == {NEG + "Greeter;"}
    assert second.find_method(NEG + "Blaster;", "blastContacts", "(Landroid/content/Context;)V")
    # the shadowed copy's calls are no call sites, so no caller edge and no reference
    sends = {
        i for i, _ in second.methods_named("Landroid/telephony/SmsManager;", ["sendTextMessage"])
    }
    assert sends and second.callers(sends) == {} and second.invokers(sends) == set()
    positions, _ids = second._invoke_sites
    sites = {second.method_at(p) for p in positions}
    assert {second.method_ref(m.method_idx).class_name for m in sites if m} == {NEG + "Greeter;"}
    assert dexset.defined_method(NEG + "Blaster;", BLAST) == (
        first,
        first.find_method(NEG + "Blaster;", "blastContacts", "(Landroid/content/Context;)V"),
    )


def test_only_the_class_path_shadows() -> None:
    """Embedded, decoded, duplicate or prepended dex files may be loaded by a class loader of
    their own: a class they redefine is not dead, so it is analysed (and not noted)."""
    assert _class_path(("classes.dex", "classes2.dex", "classes3.dex")) == 3
    assert _class_path(("classes.dex", "classes3.dex")) == 1  # classes2.dex unreadable
    assert _class_path(("classes.dex", "classes.dex#2", "classes2.dex")) == 1
    assert _class_path(("(prepended dex)", "classes.dex")) == 0
    assert _class_path(("classes.dex", "assets/dynamic.jar!classes.dex")) == 1
    decoys = load_app(REPO / "fixtures" / "edge" / "hostile-decoy-dex.apk").dex
    dexset, spots = open_dex_set(decoys)
    assert len(dexset.files) == len(decoys)
    assert not any(d.shadowed for d in dexset.files)
    assert BlindSpotKind.SHADOWED_CLASSES not in {s.kind for s in spots}
