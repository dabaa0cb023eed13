"""The scripted big dex (fixtures/make_hostile.py ``big_dex``): loan-bulk-sms plus 10,000 methods
of 100 ``sendTextMessage`` calls each, a 6.5 MB dex with a million send sites. With the default
limits ``scan`` must answer with a report (partial, coverage incomplete), not the kill at 60 s."""

from __future__ import annotations

import time

import pytest
from conftest import REPO

from apkaudit.audit import AuditOptions
from apkaudit.bounded import audit_bounded
from apkaudit.code.index import MAX_REFS_PER_API
from apkaudit.model import BlindSpotKind

BIG = REPO / "fixtures" / "edge" / "hostile-big-dex.apk"


@pytest.mark.slow
def test_the_big_dex_gives_a_report_within_the_default_limit() -> None:
    started = time.monotonic()
    result = audit_bounded(BIG, AuditOptions())
    assert time.monotonic() - started < 61  # the kill is the last resort, at 60 s
    assert result.status == "ok", result.error
    assert result.coverage.complete is False
    kinds = {b.kind for b in result.coverage.blind_spots}
    assert kinds <= {BlindSpotKind.LIMIT, BlindSpotKind.TIME_LIMIT}, kinds
    sends = [r for r in result.code.refs if r.api_id == "sms.send.sendTextMessage"]
    assert 0 < len(sends) <= MAX_REFS_PER_API
    assert result.verdicts.sms_send.value in ("likely", "confirmed")
