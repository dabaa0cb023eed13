"""Who triggers each SMS (issue 10 item 3): automatic, user_action or user_mediated, per send
site, with the recipients and texts; on the dest-* fixtures, older fixtures and real APKs."""

from __future__ import annotations

import pytest
from conftest import fixture_apk, require_real

from apkaudit.model import AppResult, SmsSend, Trigger

AUTO, USER, MEDIATED = Trigger.AUTOMATIC, Trigger.USER_ACTION, Trigger.USER_MEDIATED


def _sends(app: AppResult) -> dict[str, SmsSend]:
    assert app.behaviours is not None
    return {s.location.short.rsplit(".", 1)[1]: s for s in app.behaviours.sms_sends}


# fixture -> {Class.method@offset of the send: (trigger, entry, recipients, numbers, texts)}
EXPECTED = {
    "dest-worm-service": {
        "spread@0x4e": (AUTO, "SpreadService.onStartCommand", "contacts", (),
                        ("Hey, I found this video of you: http://vid-share.example/v.apk",)),
    },
    "dest-worm-service-neg": {"draft@0x72": (MEDIATED, "", "contacts", (), ())},
    "dest-sms-click": {"onClick@0x36": (USER, "SendListener.onClick", "user_input", (), ())},
    "dest-sms-click-neg": {
        "onClick@0x56": (AUTO, "SendListener.onClick", "contacts", (),
                         ("Join me on Texter: http://texter.example/invite",)),
    },
    "dest-sms-nonlending": {
        "subscribe@0x16": (AUTO, "MainActivity.onCreate", "constant", ("+15550123",),
                           ("SUBSCRIBE BULLETIN",)),
    },
    "loan-bulk-sms": {
        "blastContacts@0x4e": (AUTO, "MainActivity.onCreate", "contacts", (),
                               ("Your friend owes us money. Tell them to repay QuickCash today.",)),
    },
    "multidex-sms": {
        "send@0x14": (AUTO, "MainActivity.onCreate", "constant", ("5550100",),
                      ("Your loan is approved",)),
    },
    "server-sms": {"fetchAndSend@0xa6": (AUTO, "MainActivity.onCreate", "network_response", (),
                                         ("Promo: instant loan",))},
    "sms-forward": {"onReceive@0x2e": (AUTO, "Forwarder.onReceive", "constant", ("5550177",), ())},
    "sms-intent-only": {"remind@0x4": (MEDIATED, "", "unknown", (), ())},
    "sendto-loop": {"onCreate@0x7e": (MEDIATED, "", "contacts", (), ())},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_trigger_of_every_send(audit, name: str) -> None:
    got = {
        k: (s.trigger, s.entry, s.recipients, s.numbers, s.texts)
        for k, s in _sends(audit(fixture_apk(name))).items()
    }
    assert got == EXPECTED[name]


def test_only_automatic_sends_are_by_itself(audit) -> None:
    click = _sends(audit(fixture_apk("dest-sms-click")))["onClick@0x36"]
    assert click.reason.startswith("sent when the user presses a button (SendListener.onClick)")
    neg = _sends(audit(fixture_apk("dest-sms-click-neg")))["onClick@0x56"]
    assert neg.reason == "one action sends to every entry of the contact list"
    worm = _sends(audit(fixture_apk("dest-worm-service")))["spread@0x4e"]
    assert worm.reason.startswith("runs from a background service (SpreadService.onStartCommand)")


def test_chains_carry_the_trigger_of_their_send(audit) -> None:
    app = audit(fixture_apk("dest-sms-click-neg"))
    [chain] = app.behaviours.chains
    assert (chain.kind, chain.trigger) == ("contacts_to_sms_destination", AUTO)
    [draft] = audit(fixture_apk("dest-worm-service-neg")).behaviours.chains
    assert (draft.kind, draft.trigger) == ("contacts_to_sms_intent", MEDIATED)
    for c in audit(fixture_apk("dest-json-post")).behaviours.chains:
        assert c.trigger is None  # network chains: no SMS


@pytest.mark.real
def test_apidemos_send_button_is_a_user_action(audit) -> None:
    sends = _sends(audit(require_real() / "legit-apidemos.apk"))
    assert {k: (s.trigger, s.recipients) for k, s in sends.items()} == {
        "onClick@0xf4": (USER, "user_input")
    }


@pytest.mark.real
def test_real_malware_sends_are_automatic(audit) -> None:
    root = require_real()
    worm = _sends(audit(root / "smsworm-anubis-fakecontact.apk"))
    assert {s.trigger for s in worm.values()} == {AUTO}
    rat = _sends(audit(root / "harvester-ahmyth.apk"))
    assert {k: (s.trigger, s.entry, s.recipients) for k, s in rat.items()} == {
        "sendSMS@0x12": (AUTO, "MainService.onStartCommand", "network_response")
    }
    hippo = _sends(audit(root / "premiumsms-hipposms.apk"))
    assert hippo["sendsms@0x3c"].numbers == ("1066156686",)  # the premium number
    assert {s.trigger for s in hippo.values()} == {AUTO, MEDIATED}
