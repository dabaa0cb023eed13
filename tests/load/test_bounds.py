"""Whole-audit bounds (issue 12.3): ``bounded.audit_bounded`` (what ``scan`` runs) holds
``max_seconds`` and ``max_memory_mb`` whatever stage the time or memory goes to.

A stage that polls nothing is simulated by patching ``load_app`` before the fork (the child
inherits the patch): it sleeps, allocates or fails where androguard or lxml would.
"""

from __future__ import annotations

import os
import time

import pytest
from conftest import fixture_apk

from apkaudit import audit as audit_module
from apkaudit.audit import AuditOptions, audit_app
from apkaudit.bounded import SOFT_SHARE, audit_bounded
from apkaudit.errors import InputError
from apkaudit.limits import DEFAULT_LIMITS, Limits

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="bounded child needs fork")


def test_default_limits_are_ones_a_person_waits_for() -> None:
    assert 0 < DEFAULT_LIMITS.max_seconds <= 60
    assert DEFAULT_LIMITS.max_memory_mb > 0


def test_bounded_result_is_the_in_process_result() -> None:
    apk = fixture_apk("loan-bulk-sms")
    bounded, direct = audit_bounded(apk), audit_app(apk)
    assert bounded.status == "ok", bounded.error
    assert bounded.verdicts == direct.verdicts
    assert [f.rule_id for f in bounded.findings] == [f.rule_id for f in direct.findings]
    assert bounded.behaviours.chains == direct.behaviours.chains
    assert bounded.coverage == direct.coverage


def test_a_stage_that_polls_nothing_is_stopped_at_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def stuck(path: str, limits: Limits, **_options: object) -> None:
        time.sleep(60)  # as a parse inside a C library would

    monkeypatch.setattr(audit_module, "load_app", stuck)
    apk = fixture_apk("clean")
    t0 = time.monotonic()
    result = audit_bounded(apk, AuditOptions(limits=Limits().override(max_seconds=2)))
    took = time.monotonic() - t0
    assert result.status == "error"
    assert result.error == f"{apk}: stopped: the audit ran past its 2 s time limit"
    assert took < 2 + 1.5, took  # the kill comes at the limit, not after the stage


def test_memory_over_the_cap_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def greedy(path: str, limits: Limits, **_options: object) -> None:
        hoard = [bytearray(64 << 20) for _ in range(64)]  # 4 GiB, 64 MiB at a time
        raise AssertionError(len(hoard))

    monkeypatch.setattr(audit_module, "load_app", greedy)
    apk = fixture_apk("clean")
    limits = Limits().override(max_memory_mb=768, max_seconds=30)
    result = audit_bounded(apk, AuditOptions(limits=limits))
    assert result.status == "error"
    assert result.error == f"{apk}: ran out of memory (over the process memory limit)"


def test_a_bug_in_the_child_is_raised_not_reported_as_bad_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(path: str, limits: Limits, **_options: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(audit_module, "load_app", broken)
    with pytest.raises(RuntimeError, match="ZeroDivisionError: a bug"):
        audit_bounded(fixture_apk("clean"))


def test_the_stages_deadline_comes_before_the_kill(monkeypatch: pytest.MonkeyPatch) -> None:
    def tell(path: str, limits: Limits, **_options: object) -> None:
        raise InputError(path, f"the child polls a {limits.max_seconds} s deadline")

    monkeypatch.setattr(audit_module, "load_app", tell)
    apk = fixture_apk("clean")
    result = audit_bounded(apk, AuditOptions(limits=Limits().override(max_seconds=10)))
    assert SOFT_SHARE == 0.8
    assert result.error == f"{apk}: the child polls a 8 s deadline"


def test_unlimited_runs_in_process() -> None:
    limits = Limits().override(max_seconds=0, max_memory_mb=0)
    result = audit_bounded(fixture_apk("clean"), AuditOptions(limits=limits))
    assert result.status == "ok"
