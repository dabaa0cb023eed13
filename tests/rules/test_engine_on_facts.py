"""The rules engine on facts and behaviours built by hand: no APK, no dex reader, no catalogue.

AppFacts and Behaviours are plain data, so a rule's evidence ladder can be checked directly:
what fires, at which stage and confidence, and what evidence and origin it reports.
"""

from __future__ import annotations

from apkaudit.behaviour.kinds import ChainKind, HopRole, Provider, Sink, Source
from apkaudit.facts import AppFacts
from apkaudit.model import (
    AppIdentity,
    Behaviours,
    Chain,
    CodeIndex,
    CodeLocation,
    CodeRef,
    Confidence,
    Coverage,
    Finding,
    Hop,
    ManifestFacts,
    Permission,
    ProviderQuery,
    RefKind,
    SmsSend,
    Stage,
    Trigger,
    Verdicts,
)
from apkaudit.rules import load_rules
from apkaudit.rules.engine import evaluate

MAIN = "Lcom/lender/app/Main;"
SENDER = "Lcom/lender/app/Sender;"
QUERY_AT = CodeLocation("classes.dex", MAIN, "load()V", 0x10)
URI_AT = CodeLocation("classes.dex", MAIN, "load()V", 0x04)
SEND_AT = CodeLocation("classes.dex", SENDER, "run()V", 0x2A)
QUERY_EXCERPT = ("  const-string v1, 'x'", "> invoke-virtual {v0, v1}, query")


def _manifest(*perms: str) -> ManifestFacts:
    return ManifestFacts(
        identity=AppIdentity(package="com.lender.app", target_sdk=33),
        permissions=tuple(Permission(p, "dangerous") for p in perms),
    )


def _ref(api_id: str, tags: set[str], loc: CodeLocation, kind: RefKind) -> CodeRef:
    return CodeRef(api_id, kind, api_id, loc, "app", frozenset(tags))


def _facts(*perms: str, refs: tuple[CodeRef, ...] = ()) -> AppFacts:
    code = CodeIndex(dex_files=("classes.dex",), refs=refs)
    return AppFacts(manifest=_manifest(*perms), code=code, coverage=Coverage())


def _by_id(findings: tuple[Finding, ...]) -> dict[str, Finding]:
    return {f.rule_id: f for f in findings}


def _bulk_sms_chain() -> Chain:
    hops = (
        Hop(HopRole.SOURCE, "queries the contacts provider", QUERY_AT),
        Hop(HopRole.SINK, "SmsManager.sendTextMessage: destination number", SEND_AT),
    )
    return Chain(
        ChainKind.CONTACTS_TO_SMS_DESTINATION,
        Source.CONTACTS,
        Sink.SMS_DESTINATION,
        hops,
        in_loop=True,
        loop="a cursor over the contact list",
        stage=Stage.LOOP,
        reachable=True,
    )


def test_contacts_texted_in_a_loop_fires_the_chain_and_code_rules() -> None:
    facts = _facts(
        "android.permission.READ_CONTACTS",
        "android.permission.SEND_SMS",
        refs=(
            _ref("contacts.uri.Phone", {"contacts_uri"}, URI_AT, RefKind.FIELD),
            _ref("sms.send.sendTextMessage", {"sms_send"}, SEND_AT, RefKind.INVOKE),
        ),
    )
    behaviours = Behaviours(
        Verdicts(),
        chains=(_bulk_sms_chain(),),
        reachability=((MAIN, "load()V", True), (SENDER, "run()V", True)),
        sms_sends=(
            SmsSend(
                location=SEND_AT,
                api="SmsManager.sendTextMessage",
                trigger=Trigger.AUTOMATIC,
                reason="one action sends to every entry of the contact list",
                recipients="contacts",
                chains=(0,),
            ),
        ),
        queries=(
            ProviderQuery(
                location=QUERY_AT,
                provider=Provider.CONTACTS,
                uri="content://com.android.contacts/data/phones",
                excerpt=QUERY_EXCERPT,
                origin="sdk:Example",
            ),
        ),
    )
    found = _by_id(evaluate(load_rules(), facts, behaviours))
    assert {"CON001", "SMS001", "SMS010"} <= found.keys()
    assert "SMS007" not in found  # the send is automatic, not a button press
    assert found["SMS001"].trigger is Trigger.AUTOMATIC
    assert not {"CON002", "CON003", "SMS003", "SMS004"} & found.keys()

    bulk = found["SMS010"]
    assert (bulk.stage, bulk.confidence) == (Stage.LOOP, Confidence.HIGH)
    assert [e.location for e in bulk.evidence] == [QUERY_AT, SEND_AT]

    contacts = found["CON001"]
    assert (contacts.stage, contacts.confidence) == (Stage.REACHABLE, Confidence.HIGH)
    # The query site's excerpt and origin come from the behaviour stage, not from a reader.
    assert contacts.evidence[0].location == QUERY_AT
    assert contacts.evidence[0].excerpt == QUERY_EXCERPT
    assert contacts.origin == "app"  # one of the references is the app's own code


def test_unreachable_code_lowers_confidence_and_missing_permission_is_its_own_rule() -> None:
    facts = _facts(refs=(_ref("contacts.uri.Phone", {"contacts_uri"}, URI_AT, RefKind.FIELD),))
    behaviours = Behaviours(Verdicts(), reachability=((MAIN, "load()V", False),))
    found = _by_id(evaluate(load_rules(), facts, behaviours))
    assert "CON003" in found  # contacts code without READ_CONTACTS
    con001 = found["CON001"]
    assert (con001.stage, con001.confidence) == (Stage.REFERENCED, Confidence.LOW)
    assert "not requested" in con001.message and "none of them is reachable" in con001.message


def test_permission_without_code_is_declared_only() -> None:
    facts = _facts("android.permission.READ_CONTACTS", "android.permission.SEND_SMS")
    found = _by_id(evaluate(load_rules(), facts, Behaviours(Verdicts())))
    assert {"CON002", "SMS003"} <= found.keys()
    assert not {"CON001", "SMS001", "SMS010"} & found.keys()
    assert {found["CON002"].confidence, found["SMS003"].confidence} == {Confidence.LOW}


def test_unresolved_query_uses_the_site_recorded_by_the_behaviour_stage() -> None:
    query = ProviderQuery(
        location=QUERY_AT, provider=Provider.UNRESOLVED, excerpt=QUERY_EXCERPT, origin="sdk:Example"
    )
    behaviours = Behaviours(Verdicts(), queries=(query,))
    found = _by_id(evaluate(load_rules(), _facts(), behaviours))
    prv = found["PRV001"]
    assert (prv.stage, prv.confidence) == (Stage.REFERENCED, Confidence.MEDIUM)
    assert prv.origin == "sdk:Example"
    assert prv.evidence[0].excerpt == QUERY_EXCERPT
    assert "could not be resolved" in prv.evidence[0].description
