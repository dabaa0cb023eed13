"""The manifest-trick fixtures (fixtures/make_manifest_tricks.py): loan-bulk-sms with its
manifest laid out in ways Android installs. Each must give the real permissions, components
and verdicts, and name the trick; the manifest that declares nothing for code that needs
permissions must make coverage incomplete."""

from __future__ import annotations

import pytest
from conftest import REPO

from apkaudit.model import AppResult, BlindSpotKind, Level

EDGE = REPO / "fixtures" / "edge"
PKG = "com.apkaudit.fixture.loanbulksms"
PERMISSIONS = {
    "android.permission.READ_CONTACTS",
    "android.permission.SEND_SMS",
    "android.permission.INTERNET",
}
TRICKS = {
    "other-namespace": "under another namespace URI",
    "no-namespace": "with no namespace",
    "stripped-names": "names stripped or renamed",
    "node-header": "element headers of 24 bytes",
    "duplicate-attribute": "a duplicated android:name attribute (the first is used)",
    "two-string-pools": "2 string pools (the last is used)",
    "two-resource-maps": "2 resource maps (the last is used)",
    "attribute-start": "attributes at offset 32, 24 bytes apart",
    "type-like-lt": "a document chunk type of 0x003c",
    "pool-header-0x20": "a string-pool header of 32 bytes",
    "unknown-chunk": "an unknown chunk (type 0x0205)",
}


def kinds(result: AppResult) -> set[BlindSpotKind]:
    return {b.kind for b in result.coverage.blind_spots}


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_trick_gives_the_real_facts_and_verdicts(audit, trick: str) -> None:
    result: AppResult = audit(EDGE / f"manifest-{trick}.apk")
    m = result.manifest
    assert m.identity.package == PKG
    assert (m.identity.min_sdk, m.identity.target_sdk) == (21, 33)
    assert {p.name for p in m.permissions} == PERMISSIONS
    (main,) = m.components
    assert (main.kind, main.name, main.exported) == ("activity", f"{PKG}.MainActivity", True)
    assert main.intent_filters[0].actions == ("android.intent.action.MAIN",)
    assert m.identity.label == "QuickCash Loan" and m.allow_backup is False
    v = result.verdicts
    assert (v.bulk_sms_to_contacts, v.sms_send, v.contacts_read) == (Level.CONFIRMED,) * 3
    # Read as Android reads it: named, and coverage stays complete.
    (spot,) = [b for b in result.coverage.blind_spots if b.kind == BlindSpotKind.MANIFEST_TRICK]
    assert TRICKS[trick] in spot.detail
    assert result.coverage.complete
    assert BlindSpotKind.MANIFEST_DAMAGED not in kinds(result)


def test_manifest_declaring_nothing_for_guarded_code_is_a_blind_spot(audit) -> None:
    result: AppResult = audit(EDGE / "manifest-no-permissions.apk")
    assert result.manifest.permissions == () and result.manifest.components == ()
    (spot,) = [
        b for b in result.coverage.blind_spots if b.kind == BlindSpotKind.MANIFEST_UNREADABLE
    ]
    assert "no components and no permissions" in spot.detail
    assert "READ_CONTACTS" in spot.detail and "SEND_SMS" in spot.detail
    assert "Blaster" in spot.detail
    assert not result.coverage.complete


@pytest.mark.parametrize("negative", ["perms-unused.apk", "clean.apk", "loan-bulk-sms.apk"])
def test_negatives_keep_complete_coverage(audit, negative: str) -> None:
    result: AppResult = audit(REPO / "fixtures" / "apks" / negative)
    assert not kinds(result) & {BlindSpotKind.MANIFEST_UNREADABLE, BlindSpotKind.MANIFEST_TRICK}
