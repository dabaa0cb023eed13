"""Classes named in layout XML are entry points: LayoutInflater creates them by reflection, so
the framework runs their View callbacks (DroidBench AndroidSpecific/View1; fixtures
entry-layout-view and its twin entry-layout-view-neg)."""

from __future__ import annotations

import random
import zipfile

from conftest import fixture_apk, hop_names

from apkaudit.load.app import ZipEntry
from apkaudit.load.layouts import (
    INFLATED_ROOTS,
    inflatable,
    inflated_classes,
    pool_class_names,
    resource_xml,
)
from apkaudit.model import Stage

PKG = "com/apkaudit/fixture/entrylayoutview"
VIEW = f"L{PKG}/LeakView;"
HOPS = ["MainActivity.onCreate@0x16", "LeakView.onDraw@0x14", "LeakView.onDraw@0x1c"]


def _chains(result, source: str, sink: str):
    assert result.status == "ok", result.error
    assert result.behaviours is not None
    return [c for c in result.behaviours.chains if (c.source, c.sink) == (source, sink)]


def _layout() -> bytes:
    with zipfile.ZipFile(fixture_apk("entry-layout-view")) as z:
        return z.read("res/layout/main.xml")


def test_view_named_in_a_layout_is_an_entry(audit) -> None:
    found = _chains(audit(fixture_apk("entry-layout-view")), "device_id", "sms_body")
    assert [hop_names(c) for c in found] == [HOPS]
    (chain,) = found
    assert chain.reachable is True
    assert chain.stage is Stage.DATAFLOW
    assert chain.hops[0].location.class_name == f"L{PKG}/MainActivity;"


def test_view_named_in_no_layout_stays_unreachable(audit) -> None:
    """The twin: the same LeakView.onDraw, but its layout holds only a TextView (whose text is
    a decoy class name) and no code creates the view: the chain is not proven reachable."""
    found = _chains(audit(fixture_apk("entry-layout-view-neg")), "device_id", "sms_body")
    assert [hop_names(c) for c in found] == [HOPS]
    assert all(c.reachable is not True for c in found)


def test_layout_pool_names_the_view() -> None:
    assert pool_class_names(_layout(), {VIEW, f"L{PKG}/MainActivity;"}) == {VIEW}
    assert pool_class_names(_layout(), {VIEW}, budget=0) == set()


def test_hostile_documents_give_nothing_and_never_raise() -> None:
    data = _layout()
    for cut in range(len(data)):
        assert pool_class_names(data[:cut], {VIEW}) <= {VIEW}
    rng = random.Random(7)
    for _ in range(300):
        bad = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            bad[rng.randrange(len(bad))] = rng.randrange(256)
        assert pool_class_names(bytes(bad), {VIEW}) <= {VIEW}
    for junk in (b"", b"\x03\x00\x08\x00", b"<LinearLayout/>", bytes(range(256)) * 4):
        assert pool_class_names(junk, {VIEW}) == set()


def test_only_view_and_fragment_descendants_count() -> None:
    supers = {
        "La/MyView;": "Landroid/view/View;",
        "La/Deep;": "La/MyView;",
        "La/Frag;": "Landroidx/fragment/app/Fragment;",
        "La/Act;": "Landroid/app/Activity;",
        "La/Loop1;": "La/Loop2;",
        "La/Loop2;": "La/Loop1;",
        "La/Row;": "Landroid/widget/LinearLayout;",  # leaves the app at a framework view group
        "La/Prefs;": "Landroid/preference/PreferenceFragment;",
        "La/Worker;": "Ljava/lang/Thread;",
    }
    got = inflatable(supers.get, [*supers, *INFLATED_ROOTS])
    assert got == {"La/MyView;", "La/Deep;", "La/Frag;", "La/Row;", "La/Prefs;"}


def test_resource_files_are_any_xml_under_res_layouts_first() -> None:
    entries = [
        ZipEntry("res/a1.xml", 10, 100),
        ZipEntry("res/layout/main.xml", 10, 100),
        ZipEntry("res/raw/x.bin", 10, 100),
        ZipEntry("assets/a.xml", 10, 100),
        ZipEntry("res/huge.xml", 10, 1 << 30),
    ]
    assert resource_xml(entries) == ["res/layout/main.xml", "res/a1.xml"]


def test_no_resource_xml_reads_nothing() -> None:
    def never(_name: str) -> str | None:
        raise AssertionError("the hierarchy is not walked without resource XML")

    assert inflated_classes("/nonexistent.apk", [ZipEntry("classes.dex", 1, 1)], never, []) == (
        frozenset()
    )
