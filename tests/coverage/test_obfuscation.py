"""Obfuscation is coverage (issue 12.3): each trick of fixtures/make_hostile.py ("obfusc-*") makes
coverage incomplete and names itself; its "-neg" twin, the same app without the trick, stays
complete. All are loan-bulk-sms plus one class or asset, so the real verdicts stay confirmed."""

from __future__ import annotations

import base64

import pytest
from conftest import REPO

from apkaudit.coverage.obfuscation import _odd_name
from apkaudit.load.encoded import decode, encoding_of
from apkaudit.model import AppResult, BlindSpotKind

EDGE = REPO / "fixtures" / "edge"
K = BlindSpotKind

TRICKS = [
    ("obfusc-names", K.OBFUSCATED_NAMES, "24 of 33 class, method and field names"),
    ("obfusc-decryptor", K.STRING_DECRYPTOR, "com.apkaudit.fixture.loanbulksms.S.d (30 call"),
    ("obfusc-reflection", K.REFLECTION_DENSE, "loanbulksms.Refl (14 sites)"),
    ("obfusc-exec", K.RUNTIME_EXEC, "Shell.run: 'content query --uri content://sms/inbox'"),
    ("obfusc-encoded-payload", K.ENCODED_PAYLOAD, "assets/p.b64: a dex file encoded as base64"),
]


@pytest.mark.parametrize(("name", "kind", "detail"), TRICKS, ids=[t[0] for t in TRICKS])
def test_the_trick_is_a_blind_spot_and_its_twin_is_complete(audit, name, kind, detail) -> None:
    result: AppResult = audit(EDGE / f"{name}.apk")
    assert result.status == "ok", result.error
    assert result.coverage.complete is False
    spots = [b for b in result.coverage.blind_spots if b.kind is kind]
    assert spots and any(detail in b.detail for b in spots), result.coverage.blind_spots
    assert result.verdicts.bulk_sms_to_contacts.value == "confirmed"
    twin: AppResult = audit(EDGE / f"{name}-neg.apk")
    assert twin.status == "ok", twin.error
    assert twin.coverage.complete is True, twin.coverage.blind_spots
    assert twin.coverage.blind_spots == ()
    assert twin.verdicts.bulk_sms_to_contacts.value == "confirmed"


def test_every_encoded_payload_is_decoded_and_analysed(audit) -> None:
    result: AppResult = audit(EDGE / "obfusc-encoded-payload.apk")
    payloads = [b.detail for b in result.coverage.blind_spots if b.kind is K.ENCODED_PAYLOAD]
    assert len(payloads) == 4
    assert any(d.startswith("assets/p.hex: a dex file encoded as hex, decoded") for d in payloads)
    assert any(d.startswith("assets/p.bin: a dex file encoded as xor 0x5a") for d in payloads)
    assert any(d.startswith("classes.dex string #") and "base64 (a dex file" in d for d in payloads)
    # the decoded classes are analysed: each hidden sendTextMessage is a code reference
    dexes = {r.location.dex for r in result.code.refs if r.api_id == "sms.send.sendTextMessage"}
    assert {"assets/p.b64 (base64)", "assets/p.hex (hex)", "assets/p.bin (xor 0x5a)"} <= dexes
    assert any(d.startswith("classes.dex string #") and d.endswith("(base64)") for d in dexes)


def test_an_sdk_class_loader_is_a_notice_naming_the_sdk(audit) -> None:
    result: AppResult = audit(EDGE / "obfusc-x5-loader.apk")
    assert result.coverage.complete is True
    (spot,) = result.coverage.blind_spots
    assert spot.kind is K.DYNAMIC_CODE_SDK
    assert "Tencent X5 WebView (TBS)" in spot.detail


@pytest.mark.parametrize(
    ("name", "odd"),
    [
        ("a", False), ("aa", False), ("-$$Nest$mfoo", False), ("$r8$lambda$x", False),
        ("<init>", False), ("access$000", False), ("Il", False), ("IlIl", True),
        ("O0O0", True), ("if", True), ("null", True), ("\u0430bc", True), ("a b", True),
        ("\x1b[31m", True), ("\U0001f600", True),
    ],
)  # fmt: skip
def test_odd_names(name: str, odd: bool) -> None:
    assert _odd_name(name) is odd


def test_encoded_magic_and_bounded_decode() -> None:
    dex = b"dex\n035\x00" + bytes(200)
    assert encoding_of(base64.b64encode(dex)[:16]) == "base64"
    assert encoding_of(b"  \n" + base64.b64encode(b"PK\x03\x04rest")[:13]) == "base64"
    assert encoding_of(dex.hex().upper().encode()[:16]) == "hex"
    xored = dex.translate(bytes(i ^ 0x33 for i in range(256)))
    assert encoding_of(xored[:16]) == "xor 0x33"
    assert encoding_of(b"\x89PNG\r\n\x1a\n" + bytes(8)) is None
    assert encoding_of(dex[:16]) is None  # a plain dex is no encoded payload
    assert decode(base64.encodebytes(dex), "base64", 1 << 20) == dex
    assert decode(dex.hex().encode(), "hex", 1 << 20) == dex
    assert decode(xored, "xor 0x33", 1 << 20) == dex
    assert decode(base64.b64encode(dex), "base64", 64) == dex[:64]  # bounded
    assert decode(b"ZGV4Cj!!!not base64 at all", "base64", 1 << 20) is None
    assert decode(b"6465780aZZ", "hex", 1 << 20) is None
