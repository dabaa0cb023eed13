"""Calls through method handles and call sites (issue 12.2): ``hostile-method-handle-sms``
(fixtures/make_hostile.py) is loan-bulk-sms whose only ``sendTextMessage`` call is a
``const-method-handle`` + ``invoke-polymorphic/range`` (dex 039)."""

from __future__ import annotations

from conftest import REPO

from apkaudit.code.dex.handles import _array_methods, site_targets
from apkaudit.model import AppResult

EDGE = REPO / "fixtures" / "edge"
BLASTER = "Lcom/apkaudit/fixture/loanbulksms/Blaster;"


def test_sms_sent_through_a_method_handle_is_an_sms_send(audit) -> None:
    result: AppResult = audit(EDGE / "hostile-method-handle-sms.apk")
    assert result.status == "ok", result.error
    (send,) = [r for r in result.code.refs if r.api_id == "sms.send.sendTextMessage"]
    assert (send.location.class_name, send.location.method.split("(")[0]) == (
        BLASTER,
        "blastContacts",
    )
    assert send.location.offset == 0x4E  # the const-method-handle
    assert send.target.startswith("Landroid/telephony/SmsManager;->sendTextMessage(")
    assert result.verdicts.sms_send.value == "confirmed"
    sms001 = next(f for f in result.findings if f.rule_id == "SMS001")
    assert sms001.confidence.value == "high"
    shown = next(e for e in sms001.evidence if e.location == send.location)
    assert any("const-method-handle" in line for line in shown.excerpt)
    assert result.coverage.complete is True


def test_the_handle_call_carries_its_arguments_to_the_sink(audit) -> None:
    """The data flow follows invoke-polymorphic as the direct call its handle stands for: the
    contact numbers reach the destination, the body is resolved, as in loan-bulk-sms."""
    result: AppResult = audit(EDGE / "hostile-method-handle-sms.apk")
    (send,) = result.behaviours.sms_sends
    assert send.location.offset == 0x4E  # the send site the code index names
    assert send.recipients == "contacts"
    assert send.texts == ("Your friend owes us money. Tell them to repay QuickCash today.",)
    (chain,) = [result.behaviours.chains[i] for i in send.chains]
    assert (chain.source, chain.sink) == ("contacts", "sms_destination")
    assert chain.hops[-1].location == send.location
    assert result.verdicts.bulk_sms_to_contacts.value == "confirmed"


def test_site_targets_of_handles_and_call_sites() -> None:
    handles, sites = {0: 7, 2: 9}, {1: (9, 7)}
    assert site_targets(0xFE, 0, handles, sites) == (7,)
    assert site_targets(0xFE, 1, handles, sites) == ()  # a field handle: no call
    assert site_targets(0xFC, 1, handles, sites) == (9, 7)
    assert site_targets(0xFD, 5, handles, sites) == ()
    assert site_targets(0x6E, 0, handles, sites) == ()


def test_call_site_arrays_read_their_handles_and_stop_at_damage() -> None:
    handles = {0: 11, 1: 12}
    # size 4: method handle 0 (bootstrap), string 3, method type 2, method handle 1
    good = bytes([4, 0x16, 0, 0x17, 3, 0x15, 2, 0x16, 1])
    assert _array_methods(good, 0, handles, 100) == (11, 12)
    # an array value (0x1c) is no call site argument: read stops there
    assert _array_methods(bytes([3, 0x16, 0, 0x1C, 0, 0x16, 1]), 0, handles, 100) == (11,)
    # truncated, and a size far past the data: what was read stays, nothing raises
    assert _array_methods(bytes([9, 0x16, 1]), 0, handles, 100) == (12,)
    assert _array_methods(bytes([0xFF, 0xFF, 0xFF, 0xFF, 0x7F]), 0, handles, 100) == ()
    assert _array_methods(b"", 0, handles, 100) == ()
