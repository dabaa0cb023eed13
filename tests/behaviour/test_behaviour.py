"""Behaviour chains (issue "behaviour chains"): exact verdicts, chain kinds and hops per fixture,
and the acceptance verdicts on real third-party APKs."""

from __future__ import annotations

import pytest
from conftest import fixture_apk, hops, require_real

from apkaudit.model import AppResult, Chain, Level, Stage

C, L, P, N = Level.CONFIRMED, Level.LIKELY, Level.POSSIBLE, Level.NONE
KEYS = ("contacts_read", "sms_read", "call_log_read", "contacts_upload", "sms_send",
        "bulk_sms_to_contacts")  # fmt: skip

# fixture -> exact verdicts, in KEYS order
VERDICTS = {
    "loan-bulk-sms": (C, N, N, N, C, C),
    "chain-split-helpers": (C, N, N, N, C, C),
    "contacts-field-static": (C, N, N, N, C, C),
    "uri-string-concat": (C, N, N, N, C, C),
    "reflection-sms": (C, N, N, N, C, C),
    "sms-body-only": (C, N, N, N, C, P),
    "divide-message-loop": (N, N, N, N, C, N),
    "server-sms": (N, N, N, N, C, N),
    "contacts-aes-okhttp": (C, N, N, C, N, N),
    "contacts-socketio": (C, N, N, C, N, N),
    "loan-harvest-upload": (C, C, C, C, N, N),
    "js-bridge-contacts": (C, N, N, L, N, N),
    "sendto-loop": (C, N, N, N, N, N),
    "sms-intent-only": (N, N, N, N, N, N),
    "unreachable-sdk": (L, N, N, N, N, N),
    "multidex-sms": (N, N, N, N, C, N),
    "clean": (N, N, N, N, N, N),
}


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_fixture_verdicts(audit, name: str) -> None:
    result = audit(fixture_apk(name))
    assert result.status == "ok", result.error
    got = tuple(getattr(result.verdicts, k) for k in KEYS)
    assert dict(zip(KEYS, got, strict=True)) == dict(zip(KEYS, VERDICTS[name], strict=True))


def chains(result: AppResult, kind: str) -> list[Chain]:
    return [c for c in result.behaviours.chains if c.kind == kind]


def test_bulk_sms_chain_in_one_method(audit) -> None:
    result = audit(fixture_apk("loan-bulk-sms"))
    (chain,) = chains(result, "contacts_to_sms_destination")
    assert chain.in_loop and chain.loop == "a cursor over the contact list"
    assert chain.stage is Stage.LOOP and chain.reachable is True and chain.origin == "app"
    assert hops(chain) == [
        ("source", "Blaster.blastContacts", 0x14),
        ("source", "Blaster.blastContacts", 0x34),
        ("sink", "Blaster.blastContacts", 0x4E),
    ]
    assert "destination number" in chain.hops[-1].description
    assert any(
        line.startswith("> ") and "sendTextMessage" in line for line in chain.hops[-1].excerpt
    )
    finding = next(f for f in result.findings if f.rule_id == "SMS010")
    assert finding.confidence.value == "high" and finding.stage is Stage.LOOP


def test_bulk_sms_chain_across_helper_asynctask_and_field(audit) -> None:
    (chain,) = chains(audit(fixture_apk("chain-split-helpers")), "contacts_to_sms_destination")
    assert hops(chain) == [
        ("source", "ContactRepo.loadNumbers", 0x1E),
        ("source", "ContactRepo.loadNumbers", 0x44),
        ("call", "MainActivity.onCreate", 0x10),
        ("call", "MainActivity.onCreate", 0x22),  # execute: the framework runs doInBackground
        ("transform", "BlastTask.doInBackground", 0x0),
        ("call", "BlastTask.doInBackground", 0x28),
        ("sink", "SmsHelper.send", 0x12),
    ]
    assert chain.in_loop and chain.loop == "an iterator over the contact list"
    assert chain.reachable is True


def test_bulk_sms_through_static_field_and_thread(audit) -> None:
    (chain,) = chains(audit(fixture_apk("contacts-field-static")), "contacts_to_sms_destination")
    assert hops(chain)[0] == ("source", "MainActivity.loadContacts", 0x1E)
    assert hops(chain)[-1] == ("sink", "ReminderSender.sendAll", 0x36)
    assert ("transform", "ReminderSender.sendAll", 0x0) in hops(chain)  # read of Store.numbers
    assert chain.in_loop and chain.reachable is True


def test_uri_built_from_strings_is_classified_as_contacts(audit) -> None:
    result = audit(fixture_apk("uri-string-concat"))
    assert [q.provider for q in result.behaviours.queries] == ["contacts"]
    (query,) = result.behaviours.queries_of("contacts")
    loc = query.location
    assert (loc.method, loc.offset) == ("onCreate(Landroid/os/Bundle;)V", 0x54)
    assert query.origin == "app" and any(line.startswith(">") for line in query.excerpt)
    con = next(f for f in result.findings if f.rule_id == "CON001")
    assert con.evidence[0].location == loc
    assert con.evidence[0].excerpt == query.excerpt


def test_contact_number_only_in_body_is_not_bulk(audit) -> None:
    result = audit(fixture_apk("sms-body-only"))
    assert not chains(result, "contacts_to_sms_destination")
    (body,) = chains(result, "contacts_to_sms_body")
    assert "message text" in body.hops[-1].description
    ids = {f.rule_id for f in result.findings}
    assert "SMS013" in ids and "SMS010" not in ids


def test_divide_message_loop_is_not_bulk(audit) -> None:
    result = audit(fixture_apk("divide-message-loop"))
    assert result.behaviours.chains == ()
    assert "SMS010" not in {f.rule_id for f in result.findings}


def test_server_numbers_are_server_controlled_sms(audit) -> None:
    result = audit(fixture_apk("server-sms"))
    (chain,) = chains(result, "network_to_sms")
    assert hops(chain)[0] == ("source", "MainActivity.fetchAndSend", 0x2C)
    assert hops(chain)[-1] == ("sink", "MainActivity.fetchAndSend", 0xA6)
    assert chain.in_loop and "data from the network" in chain.loop
    assert {f.rule_id for f in result.findings} >= {"SMS011"}
    assert "SMS010" not in {f.rule_id for f in result.findings}


def test_contacts_json_aes_okhttp_upload(audit) -> None:
    (chain,) = chains(audit(fixture_apk("contacts-aes-okhttp")), "contacts_to_network")
    descs = [h.description for h in chain.hops]
    assert any("Cipher.doFinal" in d for d in descs)
    assert any("Base64" in d for d in descs)
    assert any("JSON" in d for d in descs)
    assert hops(chain)[-1] == ("sink", "MainActivity.uploadContacts", 0x134)
    assert "OkHttpClient.newCall" in chain.hops[-1].description


def test_contacts_socketio_emit(audit) -> None:
    (chain,) = chains(audit(fixture_apk("contacts-socketio")), "contacts_to_network")
    assert hops(chain)[-1] == ("sink", "MainActivity.streamContacts", 0x7A)
    assert "Socket.emit" in chain.hops[-1].description


def test_harvest_upload_spans_methods(audit) -> None:
    result = audit(fixture_apk("loan-harvest-upload"))
    for kind, first in (
        ("contacts_to_network", "Collector.collectContacts"),
        ("sms_to_network", "Collector.collectSms"),
        ("call_log_to_network", "Collector.collectCallLogs"),
    ):
        (chain,) = chains(result, kind)
        assert hops(chain)[0][1] == first
        assert hops(chain)[-1] == ("sink", "Uploader.upload", 0x3C)
    assert {"CON004", "SMR004", "CLG004"} <= {f.rule_id for f in result.findings}


def test_js_bridge_names_the_bridge(audit) -> None:
    result = audit(fixture_apk("js-bridge-contacts"))
    (chain,) = chains(result, "contacts_to_js_bridge")
    assert "window.LoanBridge.getContacts()" in chain.hops[-1].description
    assert "CON005" in {f.rule_id for f in result.findings}


def test_reflection_is_a_send_vector(audit) -> None:
    result = audit(fixture_apk("reflection-sms"))
    (refl,) = chains(result, "reflection_sms_send")
    assert "reflection" in refl.hops[-1].description
    (bulk,) = chains(result, "contacts_to_sms_destination")
    assert hops(bulk)[-1] == ("sink", "MainActivity.remindAll", 0xDA) and bulk.in_loop


def test_sendto_loop_is_user_mediated(audit) -> None:
    result = audit(fixture_apk("sendto-loop"))
    (chain,) = chains(result, "contacts_to_sms_intent")
    assert chain.in_loop
    assert not chains(result, "contacts_to_sms_destination")
    ids = {f.rule_id for f in result.findings}
    assert "SMS012" in ids and "SMS010" not in ids and "SMS001" not in ids


def test_unreachable_sdk_code_is_attributed_and_downgraded(audit) -> None:
    result = audit(fixture_apk("unreachable-sdk"))
    con = next(f for f in result.findings if f.rule_id == "CON001")
    assert con.origin == "sdk:Credolab"
    assert con.confidence.value == "low"
    assert "not reachable" in con.message or "reachable" in con.evidence[0].description
    assert result.behaviours.is_reachable(con.evidence[0].location) is False


# ---------------------------------------------------------------------------- real APKs


def real(name: str):
    return require_real() / name


@pytest.mark.real
@pytest.mark.parametrize("name", ["smsworm-anubis-fakecontact.apk"])
def test_anubis_blasts_and_uploads_contacts(audit, name: str) -> None:
    v = audit(real(name)).verdicts
    assert v.bulk_sms_to_contacts in (C, L)
    assert v.contacts_upload in (C, L)


@pytest.mark.real
def test_ahmyth_uploads_contacts(audit) -> None:
    result = audit(real("harvester-ahmyth.apk"))
    assert result.verdicts.contacts_upload in (C, L)
    (sink,) = {c.hops[-1].description for c in chains(result, "contacts_to_network")}
    assert "emit" in sink


@pytest.mark.real
@pytest.mark.parametrize(
    "name",
    [
        "legit-apidemos.apk",
        "legit-smssync.apk",
        "legit-a2dp-volume.apk",
        "negative-jamendo.apk",
        "negative-politedroid.apk",
    ],
)
def test_legit_apps_do_not_blast_contacts(audit, name: str) -> None:
    assert audit(real(name)).verdicts.bulk_sms_to_contacts not in (C, L)


@pytest.mark.real
def test_packed_app_is_inconclusive(audit) -> None:
    result = audit(real("packed-dsencrypt.apk"))
    assert result.coverage.complete is False
    # The stub's own reflection (InjectFun.invokeMethod) on names it computes: a notice; its
    # DesUtils$CommandRun runs shell commands (coverage/obfuscation.py).
    assert [b.kind for b in result.coverage.blind_spots] == [
        "missing_class",
        "encrypted_asset",
        "runtime_exec",
        "reflection_unresolved_other",
    ]
