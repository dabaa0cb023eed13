"""A class loader referenced by type (issue 12.2): ``hostile-loader-by-type`` is loan-bulk-sms
plus ``Loader.load``, which builds a DexClassLoader with ``const-class`` +
``getConstructor(...).newInstance(...)`` and never calls its constructor directly."""

from __future__ import annotations

from conftest import REPO

from apkaudit.model import AppResult, BlindSpotKind

EDGE = REPO / "fixtures" / "edge"


def test_loader_by_type_makes_coverage_incomplete(audit) -> None:
    result: AppResult = audit(EDGE / "hostile-loader-by-type.apk")
    assert result.status == "ok", result.error
    (ref,) = [r for r in result.code.refs if r.api_id == "loader.DexClassLoader.type"]
    assert ref.location.class_name == "Lcom/apkaudit/fixture/loanbulksms/Loader;"
    assert ref.location.offset == 0
    assert result.coverage.complete is False
    (spot,) = [b for b in result.coverage.blind_spots if b.kind is BlindSpotKind.DYNAMIC_CODE]
    assert spot.detail.startswith(
        "code loaded at run time (DexClassLoader at "
        "com.apkaudit.fixture.loanbulksms.Loader.load@0x0 in classes.dex)"
    )
    assert result.verdicts.bulk_sms_to_contacts.value == "confirmed"  # the real code still read


def test_a_constructed_loader_is_one_site_not_two(audit) -> None:
    # asset-dex does new-instance DexClassLoader + <init>: one site, as before the type items.
    result: AppResult = audit(EDGE / "asset-dex.apk")
    (spot,) = [b for b in result.coverage.blind_spots if b.kind is BlindSpotKind.DYNAMIC_CODE]
    assert spot.detail.count("DexClassLoader at ") == 1
