"""Precision of the data flow (issue 11): code that never runs and data overwritten before the
send are no chain, each guard with a twin where the flow is real.

Each pair: the positive fixture has the flow (chain asserted by hops, kinds, loop, reachability
and the verdicts), the ``-neg`` twin differs only in what makes the flow impossible. The fixtures
are described in fixtures/README.md ("Data-flow precision").
"""

from __future__ import annotations

import pytest
from conftest import fixture_apk, hops

from apkaudit.model import AppResult, Chain, Level

C, L, P, N = Level.CONFIRMED, Level.LIKELY, Level.POSSIBLE, Level.NONE
KEYS = ("contacts_read", "sms_read", "call_log_read", "contacts_upload", "sms_send",
        "bulk_sms_to_contacts")  # fmt: skip
BULK = (C, N, N, N, C, C)
KIND = "contacts_to_sms_destination"
QUERY, NUMBER = 0x14, 0x38  # the contacts query and getString in every fixture's loop

# fixture -> (verdicts, {sink hop: reachable} of its contacts -> SMS chains)
CASES = {
    # if/switch on Random.nextInt(30) and on a private method's constant: both sends can run.
    "flow-dead-branch": (BULK, {("MainActivity.invite", 0x70): True,
                                ("MainActivity.invite", 0x9C): True}),
    # nextInt(10) is never 21 (the only case), limit() + 80 is never >= 10: no chain.
    "flow-dead-branch-neg": ((C, N, N, N, C, P), {}),
    "flow-unreachable-private": (BULK, {("MainActivity.blast", 0x52): True}),
    # The private method nobody calls is no entry point although its class is a component.
    "flow-unreachable-private-neg": ((L, N, N, N, L, P), {("MainActivity.blast", 0x52): False}),
    # A disabled activity the app enables with setComponentEnabledSetting runs.
    "flow-disabled-component": (BULK, {("Blaster.blast", 0x52): True}),
    # Disabled in the manifest and never enabled: it cannot run.
    "flow-disabled-component-neg": ((L, N, N, N, L, P), {("Blaster.blast", 0x52): False}),
    # arr[1] = number; arr[2] = "5550100"; send(arr[slot()]) with slot() returning 1 ...
    "flow-array-index": (BULK, {("MainActivity.invite", 0x72): True}),
    # ... or 2: the cell read holds the company's number, not the contact's.
    "flow-array-index-neg": ((C, N, N, N, C, P), {}),
    # remind(n): r = new Recipient(); r.number = "5550100"; r.number = n; send(r.number) ...
    "flow-strong-update": (BULK, {("MainActivity.remind", 0x2A): True}),
    # ... or the other order: the contact's number is overwritten before the send.
    "flow-strong-update-neg": ((C, N, N, N, C, P), {}),
    # picker() (private) returns a new ContactPicker; picker().pick(n) returns n ...
    "flow-factory-dispatch": (BULK, {("MainActivity.invite", 0x60): True}),
    # ... or a new OfficePicker, whose pick returns a fixed number: not every implementation.
    "flow-factory-dispatch-neg": ((C, N, N, N, C, P), {}),
    # remind(n) calls check(n), which throws new IllegalStateException(n); its handler texts
    # e.getMessage() ...
    "flow-exception-message": (BULK, {("MainActivity.remind", 0x22): True}),
    # ... or the exception carries a fixed number.
    "flow-exception-message-neg": ((C, N, N, N, C, P), {}),
    # msg.obj = n; new SmsHandler().dispatchMessage(msg): handleMessage runs and texts msg.obj ...
    "flow-handler-dispatch": (BULK, {("SmsHandler.handleMessage", 0x18): True}),
    # ... or msg.obj is a fixed number.
    "flow-handler-dispatch-neg": ((C, N, N, N, C, P), {}),
}  # fmt: skip


def chains(result: AppResult) -> list[Chain]:
    return [c for c in result.behaviours.chains if c.kind == KIND]


@pytest.mark.parametrize("name", sorted(CASES))
def test_precision_case(audit, name: str) -> None:
    verdicts, sinks = CASES[name]
    result = audit(fixture_apk(name))
    assert result.status == "ok", result.error
    got = {k: getattr(result.verdicts, k) for k in KEYS}
    assert got == dict(zip(KEYS, verdicts, strict=True))
    found = chains(result)
    assert {tuple(hops(c)[-1][1:]): c.reachable for c in found} == sinks
    for c in found:
        method = hops(c)[-1][1]
        if hops(c)[-1][1] != hops(c)[0][1]:  # the send is in a method the loop calls
            method = "MainActivity.invite"
        assert hops(c)[:2] == [("source", method, QUERY), ("source", method, NUMBER)]
        assert (c.source, c.sink) == ("contacts", "sms_destination")
        assert c.in_loop and c.loop == "a cursor over the contact list"


def test_branch_outcomes_follow_java_int_semantics() -> None:
    from apkaudit.behaviour import feasible
    from apkaudit.code.dex.opcodes import OP

    decide = feasible._decide
    assert decide(OP["if-lt"], (42, 42), (10, 10)) is False
    assert decide(OP["if-ge"], (0, 9), (21, 21)) is False
    assert decide(OP["if-le"], (0, 29), (40, 40)) is True
    assert decide(OP["if-eq"], (0, 29), (21, 21)) is None  # it may or may not be
    assert decide(OP["if-eqz"], (0, 0), (0, 0)) is True
    assert decide(OP["if-gtz"], (-5, -1), (0, 0)) is False
    assert feasible._fold("add", 2**31 - 1, 1) == -(2**31)  # wraps like Java
    assert feasible._fold("div", -7, 2) == -3 and feasible._fold("rem", -7, 2) == -1
    assert feasible._fold("div", 1, 0) is None  # throws: no value
    assert feasible._arith("add", (0, 9), (80, 80)) == (80, 89)
    assert feasible._arith("mul", (0, 9), (2, 2)) is None  # only exact values multiply
