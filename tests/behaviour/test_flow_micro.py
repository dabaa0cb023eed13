"""Data-flow micro-cases of issue 11 (../shared/reference/flow-capabilities.md), each with its
negative twin: framework hand-offs (AsyncTask, Handler), field-held containers, object
sensitivity, the loop carried across an async edge, inter-component communication, and the
verdict policy (an uncalled SDK, a contact the user picked).

Chains are asserted by hops (role, Class.method, offset), source and sink kinds, loop and stage;
verdicts exactly. The fixtures are described in fixtures/README.md ("Data-flow micro-cases").
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from conftest import fixture_apk, hops

from apkaudit.model import AppResult, Chain, Level, Stage

C, L, P, N = Level.CONFIRMED, Level.LIKELY, Level.POSSIBLE, Level.NONE
KEYS = ("contacts_read", "sms_read", "call_log_read", "contacts_upload", "sms_send",
        "bulk_sms_to_contacts")  # fmt: skip
UPLOAD, UPLOAD_NEG = (C, N, N, C, N, N), (C, N, N, P, N, N)
BULK, BULK_NEG = (C, N, N, N, C, C), (C, N, N, N, C, P)

VERDICTS = {
    "flow-async-progress": BULK,
    "flow-async-progress-neg": BULK_NEG,
    "flow-async-postexecute": UPLOAD,
    "flow-async-postexecute-neg": UPLOAD_NEG,
    "flow-handler-message": UPLOAD,
    "flow-handler-message-neg": UPLOAD_NEG,
    "flow-handler-bundle": UPLOAD,
    "flow-handler-bundle-neg": UPLOAD_NEG,
    "flow-field-container": UPLOAD,
    "flow-field-container-neg": UPLOAD_NEG,
    "flow-field-container-static": UPLOAD,
    "flow-field-container-static-neg": UPLOAD_NEG,
    "flow-field-container-map": UPLOAD,
    "flow-field-container-map-neg": UPLOAD_NEG,
    "flow-field-container-sb": UPLOAD,
    "flow-field-container-sb-neg": UPLOAD_NEG,
    "flow-object-sensitivity": BULK,
    "flow-object-sensitivity-neg": BULK_NEG,
    "flow-loop-via-field": BULK,
    "flow-loop-via-field-neg": BULK_NEG,
    "flow-loop-via-icc": BULK,
    "flow-loop-via-icc-neg": BULK_NEG,
    "flow-loop-via-static": BULK,
    "flow-loop-via-static-neg": BULK_NEG,
    "flow-lifecycle-field": BULK,
    "flow-lifecycle-field-neg": BULK_NEG,
    "flow-icc": UPLOAD,
    "flow-icc-neg": UPLOAD_NEG,
    "flow-icc-implicit": UPLOAD,
    "flow-icc-implicit-neg": UPLOAD_NEG,
    "flow-icc-sms-receiver": (N, C, N, N, N, N),
    "flow-icc-sms-receiver-neg": (N, N, N, N, N, N),
    "flow-sdk-loop": BULK,
    # Code nobody calls: reads and sends stay "likely" (the code is there), bulk is "possible".
    "flow-sdk-loop-neg": (L, N, N, N, L, P),
    "flow-picked-contact": BULK,
    "flow-picked-contact-neg": (C, N, N, N, C, P),
}


@dataclass(frozen=True)
class Expect:
    kind: str
    start: tuple[tuple[str, str, int], ...]  # the first hops, in order
    end: tuple[str, str, int]  # the sink hop
    via: tuple[tuple[str, str, int], ...] = ()  # hops that must be on the path (hand-offs)
    loop: str = ""  # "" when the sink is not in a loop
    stage: Stage = Stage.DATAFLOW
    origin: str = "app"


CHAINS = {
    # 1. AsyncProgress1: each number goes through publishProgress to onProgressUpdate, which
    # texts it; the loop is in doInBackground, on the other side of the hand-off.
    "flow-async-progress": Expect(
        "contacts_to_sms_destination",
        (("source", "InviteTask.doInBackground", 0x18),
         ("source", "InviteTask.doInBackground", 0x40)),
        ("sink", "InviteTask.onProgressUpdate", 0x1C),
        via=(("call", "InviteTask.doInBackground", 0x54),),
        loop="a cursor over the contact list",
        stage=Stage.LOOP,
    ),
    # 2. AsyncPostExecute1: doInBackground's result is onPostExecute's argument.
    "flow-async-postexecute": Expect(
        "contacts_to_network",
        (("source", "UploadTask.doInBackground", 0x22),),
        ("sink", "UploadTask.onPostExecute", 0x3C),
        via=(("transform", "UploadTask.doInBackground", 0x8E),
             ("call", "MainActivity.onCreate", 0x16)),
    ),
    # 3. HandlerMessage1: msg.obj, then a Bundle under a constant key.
    "flow-handler-message": Expect(
        "contacts_to_network",
        (("source", "ContactSync.sync", 0x1E), ("source", "ContactSync.sync", 0x44)),
        ("sink", "UploadHandler.handleMessage", 0x3A),
        via=(("transform", "ContactSync.sync", 0x4C), ("call", "ContactSync.sync", 0x7C)),
    ),
    "flow-handler-bundle": Expect(
        "contacts_to_network",
        (("source", "ContactSync.sync", 0x1E), ("source", "ContactSync.sync", 0x44)),
        ("sink", "UploadHandler.handleMessage", 0x46),
        via=(("call", "ContactSync.sync", 0x94),),
    ),
    # 4. FieldContainer1: this.list.add -> this.json.put -> Runnable.run posts this.h.json.
    "flow-field-container": Expect(
        "contacts_to_network",
        (("source", "Harvester.collect", 0x18), ("source", "Harvester.collect", 0x3C)),
        ("sink", "UploadRunnable.run", 0x4C),
        via=(("transform", "Harvester.pack", 0x16),),
    ),
    "flow-field-container-static": Expect(
        "contacts_to_network",
        (("source", "Collector.collect", 0x14), ("source", "Collector.collect", 0x38)),
        ("sink", "UploadRunnable.run", 0x48),
        via=(("transform", "Collector.pack", 0x16),),
    ),
    "flow-field-container-map": Expect(
        "contacts_to_network",
        (("source", "Harvester.collect", 0x22), ("source", "Harvester.collect", 0x46)),
        ("sink", "UploadRunnable.run", 0x58),
    ),
    "flow-field-container-sb": Expect(
        "contacts_to_network",
        (("source", "Harvester.collect", 0x18), ("source", "Harvester.collect", 0x3C)),
        ("sink", "UploadRunnable.run", 0x4C),
    ),
    # 5. ObjectSensitivity1: the wrapper holding the contact is the one texted.
    "flow-object-sensitivity": Expect(
        "contacts_to_sms_destination",
        (("source", "MainActivity.invite", 0x14), ("source", "MainActivity.invite", 0x38)),
        ("sink", "SmsSender.send", 0x16),
        via=(("call", "MainActivity.invite", 0x58),),
        loop="a cursor over the contact list",
        stage=Stage.LOOP,
    ),
    # 6. LoopViaField1: new SendTask(n).execute() in the loop; the send is in doInBackground.
    "flow-loop-via-field": Expect(
        "contacts_to_sms_destination",
        (("source", "MainActivity.blast", 0x14), ("source", "MainActivity.blast", 0x38)),
        ("sink", "SendTask.doInBackground", 0x16),
        via=(("call", "MainActivity.blast", 0x50),),
        loop="a cursor over the contact list",
        stage=Stage.LOOP,
    ),
    # 6 (variants). The loop carried by a value handed on once per iteration: an Intent extra
    # to a Service that texts it, a static field a helper texts.
    "flow-loop-via-icc": Expect(
        "contacts_to_sms_destination",
        (("source", "MainActivity.blast", 0x14), ("source", "MainActivity.blast", 0x38)),
        ("sink", "SendService.onStartCommand", 0x1E),
        via=(("call", "MainActivity.blast", 0x58),),
        loop="a cursor over the contact list",
        stage=Stage.LOOP,
    ),
    "flow-loop-via-static": Expect(
        "contacts_to_sms_destination",
        (("source", "MainActivity.blast", 0x14), ("source", "MainActivity.blast", 0x38)),
        ("sink", "Notifier.notifyCurrent", 0x16),
        via=(("transform", "Notifier.notifyCurrent", 0x0),),
        loop="a cursor over the contact list",
        stage=Stage.LOOP,
    ),
    # Lifecycle: onCreate stores the numbers in a field of the activity, onResume texts them
    # (no app code calls either: the field store, not a call site, links them).
    "flow-lifecycle-field": Expect(
        "contacts_to_sms_destination",
        (("source", "ContactRepo.load", 0x1E), ("source", "ContactRepo.load", 0x42)),
        ("sink", "MainActivity.onResume", 0x3C),
        via=(("transform", "MainActivity.onResume", 0x6),),
        loop="an iterator over the contact list",
        stage=Stage.LOOP,
    ),
    # 9. ICC1: an explicit Intent to a Service, an implicit one to an Activity (getIntent()).
    "flow-icc": Expect(
        "contacts_to_network",
        (("source", "Collector.collect", 0x1E), ("source", "Collector.collect", 0x42)),
        ("sink", "UploadService.onStartCommand", 0x48),
        via=(("call", "MainActivity.onCreate", 0x34),),
    ),
    "flow-icc-implicit": Expect(
        "contacts_to_network",
        (("source", "Collector.collect", 0x1E), ("source", "Collector.collect", 0x42)),
        ("sink", "SyncActivity.onCreate", 0x56),
        via=(("call", "MainActivity.onCreate", 0x34),),
    ),
    # 14. UnreachableSdk1's positive twin: the app calls the SDK, so the SDK's loop counts.
    "flow-sdk-loop": Expect(
        "contacts_to_sms_destination",
        (("source", "SMSPlugin.sendToAll", 0x14), ("source", "SMSPlugin.sendToAll", 0x38)),
        ("sink", "SMSPlugin.sendToAll", 0x52),
        loop="a cursor over the contact list",
        stage=Stage.LOOP,
        origin="sdk:Cordova SMS plugin",
    ),
    # 15. PickedContactReply1's positive twin: after the pick, every contact is texted.
    "flow-picked-contact": Expect(
        "contacts_to_sms_destination",
        (("source", "MainActivity.onActivityResult", 0x24),
         ("source", "MainActivity.onActivityResult", 0x48)),
        ("sink", "MainActivity.onActivityResult", 0x62),
        loop="a cursor over the contact list",
        stage=Stage.LOOP,
    ),
}  # fmt: skip

# Twins: the chain of the positive case must not be there.
ABSENT = {
    "flow-async-progress-neg": "contacts_to_sms_destination",
    "flow-async-postexecute-neg": "contacts_to_network",
    "flow-handler-message-neg": "contacts_to_network",
    "flow-handler-bundle-neg": "contacts_to_network",
    "flow-field-container-neg": "contacts_to_network",
    "flow-field-container-static-neg": "contacts_to_network",
    "flow-field-container-map-neg": "contacts_to_network",
    "flow-field-container-sb-neg": "contacts_to_network",
    "flow-object-sensitivity-neg": "contacts_to_sms_destination",
    "flow-icc-neg": "contacts_to_network",
    "flow-icc-implicit-neg": "contacts_to_network",
}


def chains(result: AppResult, kind: str) -> list[Chain]:
    return [c for c in result.behaviours.chains if c.kind == kind]


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_micro_case_verdicts(audit, name: str) -> None:
    result = audit(fixture_apk(name))
    assert result.status == "ok", result.error
    got = {k: getattr(result.verdicts, k) for k in KEYS}
    assert got == dict(zip(KEYS, VERDICTS[name], strict=True))


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_micro_case_chain(audit, name: str) -> None:
    want = CHAINS[name]
    found = chains(audit(fixture_apk(name)), want.kind)
    assert found, f"no {want.kind} chain"
    # The chain that proves the case: the one ending at the expected sink.
    (chain,) = [c for c in found if hops(c)[-1] == want.end]
    got = hops(chain)
    assert tuple(got[: len(want.start)]) == want.start
    for hop in want.via:
        assert hop in got
    source, sink = want.kind.split("_to_")
    assert (chain.source, chain.sink) == (source, sink)
    assert chain.in_loop is bool(want.loop) and chain.loop == want.loop
    assert chain.stage is want.stage
    assert chain.reachable is True and chain.origin == want.origin


@pytest.mark.parametrize("name", sorted(ABSENT))
def test_micro_case_twin_has_no_chain(audit, name: str) -> None:
    result = audit(fixture_apk(name))
    assert result.status == "ok", result.error
    assert chains(result, ABSENT[name]) == []


def test_sms_receiver_twin_is_never_registered(audit) -> None:
    """The SMS-reading receiver exists in both; only the positive registers it for
    SMS_RECEIVED. In the twin its upload chains are proven unreachable."""
    pos = chains(audit(fixture_apk("flow-icc-sms-receiver")), "sms_to_network")
    neg = chains(audit(fixture_apk("flow-icc-sms-receiver-neg")), "sms_to_network")
    want = {("source", "SmsTap.onReceive", 0x1E), ("source", "SmsTap.onReceive", 0x36)}
    for found, reachable in ((pos, True), (neg, False)):
        assert {tuple(hops(c)[0]) for c in found} == want
        assert {tuple(hops(c)[-1]) for c in found} == {("sink", "SmsTap.onReceive", 0x88)}
        assert all(c.reachable is reachable for c in found)


def test_uncalled_sdk_loop_is_at_most_possible(audit) -> None:
    result = audit(fixture_apk("flow-sdk-loop-neg"))
    (chain,) = chains(result, "contacts_to_sms_destination")
    assert chain.reachable is False and chain.origin == "sdk:Cordova SMS plugin"
    assert result.verdicts.bulk_sms_to_contacts is P
