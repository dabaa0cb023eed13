"""Inter-component hand-offs and sources called by name (issue 11, items 4 and 5): the
flow-icc-component, -messenger, -ordered, -any-action, kind-provider-staging,
kind-reflect-field-names, flow-icc-list, flow-icc-intent-helper, flow-icc-reflect-array,
flow-icc-reflect-intent, lifecycle-saved-state and field-inherited-static fixtures.

Each positive fixture must produce a chain of the given source and sink kind whose hops contain
the listed hops in order (``Class.method@offset``), the first listed hop being the chain's first
hop and the last its last; each negative twin must produce no chain of that (source, sink) pair.
Offsets are those in fixtures/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from conftest import fixture_apk, hop_names, is_subsequence

from apkaudit.model import AppResult, Chain


def chains_of(result: AppResult, source: str, sink: str) -> list[Chain]:
    assert result.behaviours is not None
    return [c for c in result.behaviours.chains if str(c.source) == source and str(c.sink) == sink]


@dataclass(frozen=True)
class Case:
    fixture: str
    source: str
    sink: str
    hops: tuple[str, ...]


CASES = [
    # ComponentName(context, X.class.getName()) -> setComponent (its result is the Intent).
    Case(
        "flow-icc-component",
        "device_id",
        "log",
        (
            "MainActivity.onCreate@0x16",  # getDeviceId
            "MainActivity.onCreate@0x4a",  # putExtra("id", ...)
            "MainActivity.onCreate@0x50",  # startActivity(ShowActivity)
            "ShowActivity.onCreate@0x1e",  # Log.i of getStringExtra("id")
        ),
    ),
    # A setter's data stays in the Intent it returns: setAction(imei) -> getAction() -> log.
    Case(
        "flow-icc-setter-data",
        "device_id",
        "log",
        ("MainActivity.onCreate@0x16", "MainActivity.onCreate@0x3c"),  # getDeviceId, Log.i
    ),
    # Message.obtain(handler, what, arg1, arg2) -> Messenger.send -> handleMessage reads arg1.
    Case(
        "flow-icc-messenger",
        "device_id",
        "log",
        (
            "MainActivity.onCreate@0x16",  # getDeviceId
            "MainActivity.onCreate@0x48",  # Messenger.send
            "Incoming.handleMessage@0x10",  # Log.i of String.valueOf(msg.arg1)
        ),
    ),
    # An ordered broadcast: one receiver's setResultData is the next one's getResultData.
    Case(
        "flow-icc-ordered",
        "device_id",
        "log",
        (
            "First.onReceive@0x10",  # getDeviceId
            "First.onReceive@0x18",  # setResultData
            "Last.onReceive@0xc",  # Log.i of getResultData()
        ),
    ),
    # An implicit Intent whose action is chosen at run time reaches the app's components whose
    # filters declare an action the code names.
    Case(
        "flow-icc-any-action",
        "device_id",
        "log",
        (
            "MainActivity.onCreate@0x16",  # getDeviceId
            "MainActivity.onCreate@0x34",  # putExtra("id", ...)
            "MainActivity.onCreate@0x3a",  # startActivity(new Intent(pick()))
            "EditActivity.onCreate@0x1e",  # Log.i of getStringExtra("id")
        ),
    ),
    # A content provider as a channel: ContentResolver.insert(uri, values), then a query of the
    # same URI reads the column back.
    Case(
        "kind-provider-staging",
        "device_id",
        "log",
        (
            "MainActivity.stage@0x10",  # getDeviceId
            "MainActivity.stage@0x40",  # ContentResolver.insert(content://…/ids, values)
            "MainActivity.report@0x36",  # Cursor.getString(number)
            "MainActivity.report@0x42",  # Log.i
        ),
    ),
    # An Intent kept in a List and taken back out (list.get(0)) is the Intent that went in.
    Case(
        "flow-icc-list",
        "device_id",
        "log",
        (
            "MainActivity.onCreate@0x16",  # getDeviceId
            "MainActivity.onCreate@0x30",  # putExtra("id", ...)
            "MainActivity.onCreate@0x72",  # startActivity((Intent) list.get(0))
            "ShowActivity.onCreate@0x1e",  # Log.i of getStringExtra("id")
        ),
    ),
    # The Intent a component receives, handed to a helper that reads the extra.
    Case(
        "flow-icc-intent-helper",
        "device_id",
        "log",
        (
            "MainActivity.onCreate@0x16",  # getDeviceId
            "MainActivity.onCreate@0x30",  # putExtra("id", ...)
            "MainActivity.onCreate@0x36",  # startActivity(ShowActivity)
            "ShowActivity.onCreate@0xe",  # show(getIntent())
            "ShowActivity.show@0x10",  # Log.i of intent.getStringExtra("id")
        ),
    ),
    # ... or handed to a reflective call in its Object[] (Method.invoke(reader, {intent})).
    Case(
        "flow-icc-reflect-array",
        "device_id",
        "log",
        (
            "MainActivity.onCreate@0x16",  # getDeviceId
            "MainActivity.onCreate@0x30",  # putExtra("id", ...)
            "MainActivity.onCreate@0x36",  # startActivity(ShowActivity)
            "ShowActivity.onCreate@0x44",  # Method.invoke = Reader.take(intent)
            "ShowActivity.onCreate@0x54",  # Log.i of its result
        ),
    ),
    # An Intent built by reflection: Constructor.newInstance({this, targets.get(0)}) with the
    # target class taken from a list held in a field, its extra put by Method.invoke.
    Case(
        "flow-icc-reflect-intent",
        "device_id",
        "log",
        (
            "MainActivity.onCreate@0x16",  # getDeviceId
            "MainActivity.onCreate@0xb6",  # Method.invoke = Intent.putExtra("id", ...)
            "MainActivity.onCreate@0xc0",  # startActivity(ShowActivity)
            "ShowActivity.onCreate@0x1e",  # Log.i of getStringExtra("id")
        ),
    ),
    # The saved instance state: onSaveInstanceState's Bundle is the one onCreate gets back.
    Case(
        "lifecycle-saved-state",
        "device_id",
        "log",
        (
            "MainActivity.onSaveInstanceState@0x10",  # getDeviceId
            "MainActivity.onSaveInstanceState@0x1c",  # outState.putString("id", ...)
            "MainActivity.onCreate@0xe",  # savedState.getString("id")
            "MainActivity.onCreate@0x1a",  # Log.i
        ),
    ),
    # ... and onRestoreInstanceState's, which keeps it in a field that onResume logs.
    Case(
        "lifecycle-saved-state",
        "device_id",
        "log",
        (
            "MainActivity.onSaveInstanceState@0x10",  # getDeviceId
            "MainActivity.onSaveInstanceState@0x1c",  # outState.putString("id", ...)
            "MainActivity.onRestoreInstanceState@0x4",  # savedState.getString("id")
            "MainActivity.onResume@0x6",  # this.last
            "MainActivity.onResume@0xe",  # Log.i
        ),
    ),
    # A static field written through the subclass that inherits it (MainActivity->id) is the
    # one its declaring class reads (BaseActivity->id).
    Case(
        "field-inherited-static",
        "device_id",
        "log",
        (
            "MainActivity.onCreate@0x16",  # getDeviceId, sput MainActivity->id
            "BaseActivity.onResume@0x6",  # sget BaseActivity->id
            "BaseActivity.onResume@0xe",  # Log.i
        ),
    ),
    # forName(this.cls).getMethod(this.meth).invoke(tm): the names are held in fields.
    Case(
        "kind-reflect-field-names",
        "device_id",
        "log",
        (
            "MainActivity.onCreate@0x46",  # Method.invoke = TelephonyManager.getDeviceId
            "MainActivity.onCreate@0x62",  # Log.i
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.fixture)
def test_positive_chain(audit, case: Case) -> None:
    result = audit(fixture_apk(case.fixture))
    assert result.status == "ok", result.error
    found = chains_of(result, case.source, case.sink)
    assert found, f"no {case.source} -> {case.sink} chain"
    paths = [hop_names(c) for c in found]
    assert any(
        p[0] == case.hops[0] and p[-1] == case.hops[-1] and is_subsequence(list(case.hops), p)
        for p in paths
    ), paths


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.fixture + "-neg")
def test_negative_twin_has_no_chain(audit, case: Case) -> None:
    """The twins: the ComponentName names an activity that only shows the extra; the action
    set is a constant; the Message
    carries a constant; the first receiver's result is a constant; the logging activity has no
    intent filter (an implicit Intent cannot reach it); the query reads another table of the
    provider; the method name is overwritten with
    getPhoneType before getMethod; the restored state is read under another key than the one
    saved; the subclass writes a static field of its own, not the inherited one; the Intent
    started is taken from another list, which holds an Intent without extras; the helper reads
    another extra; the reflective call is given a new, empty Intent; the reflective Intent's
    target class is QuietActivity, which only shows the extra."""
    result = audit(fixture_apk(case.fixture + "-neg"))
    assert result.status == "ok", result.error
    assert not chains_of(result, case.source, case.sink), [
        hop_names(c) for c in chains_of(result, case.source, case.sink)
    ]


def test_intent_setters_return_the_intent() -> None:
    from apkaudit.behaviour import icc

    assert {"setComponent", "setClass", "setFlags", "addCategory"} <= icc.FLUENT
    assert "putExtra" not in icc.FLUENT  # containers.py returns the Intent for its puts
