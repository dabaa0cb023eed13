"""Data kinds, store-and-forward and reflection (issue 11, items 3, 5 and 6): the kind-* fixtures.

Each positive fixture must produce a chain of the given source and sink kind whose hops contain
the listed hops in order (``Class.method@offset``, class without the fixture package), the first
listed hop being the chain's first hop and the last its last; each negative twin must not
produce that (source, sink) pair. Offsets are those in fixtures/README.md ("Data-kind fixtures").
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from conftest import fixture_apk, hop_names, is_subsequence

from apkaudit.model import AppResult, Chain, Level

PENDING = pytest.mark.xfail(strict=True, reason="issue 11 engine work not landed yet")
PENDING_FIXTURES: set[str] = set()


def _v(x: object) -> str:
    return str(getattr(x, "value", x))


def kind_chains(result: AppResult, source: str, sink: str) -> list[Chain]:
    assert result.behaviours is not None
    return [c for c in result.behaviours.chains if _v(c.source) == source and _v(c.sink) == sink]


@dataclass(frozen=True)
class Case:
    fixture: str
    source: str
    sink: str
    hops: tuple[str, ...]  # first = the chain's source hop, last = its sink hop


CASES = [
    # Store-and-forward (reference micro-cases 7 and 8).
    Case(
        "kind-file-staging",
        "contacts",
        "network",
        (
            "Stager.run@0x14",  # query the contacts provider
            "Stager.run@0x3e",  # getString(data1)
            "Stager.run@0x8e",  # FileOutputStream(filesDir/c.txt).write
            "UploadService.onStartCommand@0x4",  # openFileInput("c.txt"): the staged data
            "UploadService.onStartCommand@0x14",  # read(byte[]) fills the buffer
            "UploadService.onStartCommand@0x3e",  # socket OutputStream.write(buf, 0, n)
        ),
    ),
    Case(
        "kind-prefs-staging",
        "contacts",
        "network",
        (
            "Stager.run@0x14",
            "Stager.run@0x3e",
            "Stager.run@0x80",  # prefs "cache" putString("c", ...)
            "SyncService.onStartCommand@0x16",  # prefs "cache" getString("c", "")
            "SyncService.onStartCommand@0x1e",  # Net.post(...)
            "Net.post@0x3c",  # OutputStream.write of the POST body
        ),
    ),
    Case(
        "kind-sqlite-staging",
        "contacts",
        "network",
        (
            "Stager.run@0x24",
            "Stager.run@0x44",
            "Stager.run@0x66",  # SQLiteDatabase.insert("contacts", ContentValues{number})
            "SyncService.onStartCommand@0x4a",  # getString(number) on db.query("contacts")
            "SyncService.onStartCommand@0x68",
            "Net.post@0x3c",
        ),
    ),
    Case(
        "kind-stream-param",
        "contacts",
        "network",
        (
            "Uploader.run@0x14",
            "Uploader.run@0x3e",
            "Uploader.run@0x88",  # Sender.send(socket stream, bytes): decided at the caller
            "Sender.send@0x0",  # OutputStream.write(byte[]) inside the helper
        ),
    ),
    # Reflection on decrypted strings (micro-case 10).
    Case(
        "kind-reflect-decrypt",
        "contacts",
        "sms_destination",
        (
            "Blaster.run@0x9e",
            "Blaster.run@0xbe",
            "Blaster.run@0xdc",  # Method.invoke -> SmsManager.sendTextMessage (decrypted names)
        ),
    ),
    # One family per new source kind.
    Case(
        "kind-device-id",
        "device_id",
        "network",
        ("Harvester.run@0x10", "Harvester.run@0x3a", "Harvester.run@0x52", "Net.post@0x3c"),
    ),
    Case(
        "kind-location",
        "location",
        "network",
        (
            "Locator.run@0x14",  # getLastKnownLocation("gps")
            "Locator.run@0x20",  # Tracker.report(location): getLatitude/getLongitude in a URL
            "Tracker.report@0x3c",  # Net.get(url with lat/lon)
            "Net.get@0x16",  # the request goes out (getResponseCode)
        ),
    ),
    Case(
        "kind-installed-apps",
        "installed_apps",
        "network",
        (
            "Inventory.run@0xa",  # getInstalledPackages(0)
            "Inventory.run@0x3c",  # PackageInfo.packageName
            "Inventory.run@0x50",
            "Net.post@0x3c",
        ),
    ),
    Case(
        "kind-accounts",
        "accounts",
        "network",
        ("Accounts.run@0x8", "Accounts.run@0x26", "Accounts.run@0x3e", "Net.post@0x3c"),
    ),
    Case(
        "kind-media",
        "media",
        "network",
        ("Gallery.run@0x14", "Gallery.run@0x3e", "Gallery.run@0x78", "Net.post@0x3c"),
    ),
    Case(
        "kind-calendar-upload",
        "calendar",
        "network",
        ("Agenda.run@0x14", "Agenda.run@0x3e", "Agenda.run@0x5c", "Net.post@0x3c"),
    ),
    Case(
        "kind-clipboard",
        "clipboard",
        "network",
        ("Clip.run@0x10", "Clip.run@0x36", "Net.post@0x3c"),
    ),
    Case(
        "kind-user-input",
        "user_input",
        "log",
        ("MainActivity.onCreate@0x20", "MainActivity.onCreate@0x34"),
    ),
    Case(
        "kind-user-input",
        "user_input",
        "sms_body",
        ("MainActivity.onCreate@0x20", "MainActivity.onCreate@0x4e"),
    ),
    Case(
        "kind-phone-number",
        "phone_number",
        "sms_body",
        ("Register.run@0x10", "Register.run@0x4c"),
    ),
    Case(
        "kind-ipc-extra",
        "device_id",
        "ipc",
        ("Share.run@0x10", "Share.run@0x2a", "Share.run@0x30"),
    ),
    # An extra to the app's own activity (startActivity called on the app's class, which is
    # no catalogue reference): the target's log is in the neighbourhood, the ICC model links.
    Case(
        "kind-icc-log",
        "device_id",
        "log",
        (
            "MainActivity.onCreate@0x16",  # getDeviceId
            "MainActivity.onCreate@0x30",  # putExtra("id", ...)
            "MainActivity.onCreate@0x36",  # startActivity(ShowActivity)
            "ShowActivity.onCreate@0x1e",  # Log.i of getStringExtra("id")
        ),
    ),
]


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=PENDING) if c.fixture in PENDING_FIXTURES else c for c in CASES],
    ids=lambda c: f"{c.fixture}:{c.source}->{c.sink}",
)
def test_positive_chain(audit, case: Case) -> None:
    result = audit(fixture_apk(case.fixture))
    assert result.status == "ok", result.error
    found = kind_chains(result, case.source, case.sink)
    assert found, f"no {case.source} -> {case.sink} chain"
    paths = [hop_names(c) for c in found]
    assert any(
        p[0] == case.hops[0] and p[-1] == case.hops[-1] and is_subsequence(list(case.hops), p)
        for p in paths
    ), paths


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.fixture}-neg:{c.source}->{c.sink}")
def test_negative_twin_has_no_chain(audit, case: Case) -> None:
    twin = case.fixture + "-neg"
    result = audit(fixture_apk(twin))
    assert result.status == "ok", result.error
    assert not kind_chains(result, case.source, case.sink), [
        hop_names(c) for c in kind_chains(result, case.source, case.sink)
    ]


# What the negative twins still show: the data goes somewhere else, and that is a chain too.
def test_file_staging_twin_keeps_the_file_sink(audit) -> None:
    result = audit(fixture_apk("kind-file-staging-neg"))
    (chain,) = kind_chains(result, "contacts", "file")
    assert hop_names(chain)[0] == "Stager.run@0x14"
    assert hop_names(chain)[-1] == "Stager.run@0x8e"
    assert result.verdicts.contacts_upload is Level.POSSIBLE


def test_stream_param_twin_is_a_file_write(audit) -> None:
    result = audit(fixture_apk("kind-stream-param-neg"))
    (chain,) = kind_chains(result, "contacts", "file")
    names = hop_names(chain)
    assert names[0] == "Uploader.run@0x14" and names[-1] == "Sender.send@0x0"
    assert "Uploader.run@0x8e" in names
    assert result.verdicts.contacts_upload is not Level.CONFIRMED


@pytest.mark.parametrize(
    "name", ["kind-file-staging", "kind-prefs-staging", "kind-sqlite-staging", "kind-stream-param"]
)
def test_staged_contacts_upload_is_confirmed(audit, name: str) -> None:
    assert audit(fixture_apk(name)).verdicts.contacts_upload is Level.CONFIRMED


@pytest.mark.parametrize(
    "name",
    ["kind-file-staging-neg", "kind-prefs-staging-neg", "kind-sqlite-staging-neg"],
)
def test_staged_twins_do_not_confirm_an_upload(audit, name: str) -> None:
    assert audit(fixture_apk(name)).verdicts.contacts_upload in (Level.POSSIBLE, Level.NONE)


# Reflection (micro-cases 10 and 11).
def test_decrypted_reflection_is_bulk_sms(audit) -> None:
    result = audit(fixture_apk("kind-reflect-decrypt"))
    (chain,) = kind_chains(result, "contacts", "sms_destination")
    assert chain.in_loop
    assert result.verdicts.sms_send is Level.CONFIRMED
    assert result.verdicts.bulk_sms_to_contacts is Level.CONFIRMED
    assert "SmsManager.sendTextMessage" in chain.hops[-1].description
    assert not [b for b in result.coverage.blind_spots if b.kind == "reflection_unresolved"]


def test_decrypted_benign_reflection_is_no_send(audit) -> None:
    result = audit(fixture_apk("kind-reflect-decrypt-neg"))
    assert result.verdicts.sms_send is not Level.CONFIRMED
    assert result.verdicts.bulk_sms_to_contacts in (Level.NONE, Level.POSSIBLE)
    # Resolved (to java.lang.System), so nothing is hidden.
    assert not [b for b in result.coverage.blind_spots if b.kind == "reflection_unresolved"]
    assert result.verdicts.contacts_read is Level.CONFIRMED


def test_unresolved_reflection_is_a_blind_spot(audit) -> None:
    result = audit(fixture_apk("kind-reflect-opaque"))
    spots = [b for b in result.coverage.blind_spots if b.kind == "reflection_unresolved"]
    assert spots and "Blaster.run" in spots[0].detail
    assert not result.coverage.complete
    assert result.verdicts.bulk_sms_to_contacts is Level.POSSIBLE


def _reach(result: AppResult, cls_suffix: str, method: str) -> bool | None:
    assert result.behaviours is not None
    hits = [
        r
        for (c, m, r) in result.behaviours.reachability
        if c.endswith(cls_suffix) and m.startswith(method)
    ]
    assert hits, f"{cls_suffix}.{method} not in the reachability table"
    return hits[0]


def test_class_built_only_by_reflection_is_reachable(audit) -> None:
    result = audit(fixture_apk("kind-reflect-ctor"))
    assert _reach(result, "/Sender;", "run(") is not False
    (chain,) = kind_chains(result, "contacts", "sms_destination")
    assert chain.reachable is not False
    assert result.verdicts.bulk_sms_to_contacts is Level.CONFIRMED


def test_reflection_resolved_elsewhere_leaves_the_class_unreachable(audit) -> None:
    result = audit(fixture_apk("kind-reflect-ctor-neg"))
    assert _reach(result, "/Sender;", "run(") is False
    assert result.verdicts.bulk_sms_to_contacts is not Level.CONFIRMED


def test_actions_registered_at_run_time_are_read_from_the_code() -> None:
    # registerReceiver(r, new IntentFilter(ACTION)): an Intent with ACTION stays in the app.
    import zipfile

    from apkaudit.behaviour.receivers import _registered_actions
    from apkaudit.code.index import open_dex_set

    dex = zipfile.ZipFile(fixture_apk("flow-icc-sms-receiver")).read("classes.dex")
    dexset, _spots = open_dex_set((("classes.dex", dex),))
    assert _registered_actions(dexset) == {"android.provider.Telephony.SMS_RECEIVED"}


@pytest.mark.real
def test_a_view_intent_shows_the_data_to_the_user(audit) -> None:
    # A2DP Volume's "show my car's location" button: ACTION_VIEW of the stored fix opens a map
    # for the user; that is not the location handed to another app behind the user's back.
    from conftest import require_real

    result = audit(require_real() / "legit-a2dp-volume.apk")
    assert {_v(c.sink) for c in result.behaviours.chains if _v(c.source) == "location"} == {"file"}
    assert "LOC002" not in {f.rule_id for f in result.findings}
