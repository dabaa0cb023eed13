"""Is it a lending app? (issue 10 item 4): the value and the signals that decided it."""

from __future__ import annotations

import pytest
from conftest import fixture_apk, real_params, real_path

from apkaudit.behaviour.lending import _score
from apkaudit.load.arsc_strings import pool_strings
from apkaudit.model import LendingSignal


def _lending(app) -> tuple[str, set[tuple[str, str]]]:
    assert app.behaviours is not None
    la = app.behaviours.lending_app
    return la.value, {(s.kind, s.value) for s in la.signals}


@pytest.mark.parametrize(
    ("name", "value", "signals"),
    [
        ("dest-json-post", "yes", {("label", "pinjaman")}),  # Indonesian "loan"
        ("dest-base-url", "yes", {("label", "préstamo")}),
        ("dest-packed-lending", "yes", {("label", "kredit")}),  # code hidden, label decides
        ("dest-packed-lending-neg", "unknown", set()),  # code hidden, nothing says: unknown
        ("dest-sms-nonlending", "no", set()),  # "Photo credits" is no lending word
        ("dest-sms-nonlending-neg", "yes", {("sdk", "Credolab")}),  # a credit-scoring SDK
        ("dest-json-post-neg", "no", set()),
        ("dest-sms-click", "no", set()),
        ("loan-bulk-sms", "yes", {("label", "loan"), ("package", "loan")}),
        ("unreachable-sdk", "yes", {("sdk", "Credolab")}),
        ("perms-unused", "no", {("label", "cash")}),  # one weak word is not enough
    ],
)
def test_lending_app(audit, name: str, value: str, signals: set) -> None:
    got_value, got = _lending(audit(fixture_apk(name)))
    assert got_value == value
    assert signals <= got


def test_class_names_count_but_one_word_does_not_decide(audit) -> None:
    """dest-libs has a LoanApi interface and nothing else: one strong word, 'no'."""
    value, got = _lending(audit(fixture_apk("dest-libs")))
    assert value == "no"
    assert ("class", "loan") in got


def test_how_signals_add_up() -> None:
    def sig(kind: str, value: str, strength: str = "strong") -> LendingSignal:
        return LendingSignal(kind=kind, value=value, strength=strength, detail="")

    assert _score([sig("label", "loan")]) == 3  # the app calls itself a lender
    assert _score([sig("sdk", "Credolab")]) == 3
    assert _score([sig("string", "loan"), sig("class", "loan")]) == 1  # one word, twice
    assert _score([sig("string", "loan"), sig("string", "repayment date")]) == 2
    strings = [sig("string", "loan"), sig("string", "pinjaman"), sig("kyc", "aadhaar", "weak")]
    assert _score(strings) == 3
    assert _score([sig("label", "cash", "weak"), sig("package", "credit", "weak")]) == 2
    assert _score([sig("string", "cash", "weak")]) == 0  # weak words in strings are noise


@pytest.mark.parametrize("row", real_params())
def test_real_apks_are_not_lending_apps(audit, row) -> None:
    """None of the real APKs lends; those whose code is hidden (packed, loaded at run time) may
    hide a lender: unknown, never yes."""
    app = audit(real_path(row))
    if app.status != "ok":
        return
    value, got = _lending(app)
    expected = "unknown" if row["file"] in HIDDEN_CODE else "no"
    assert (value, got) == (expected, set()), row["file"]


HIDDEN_CODE = {"packed-dsencrypt.apk", "smsworm-anubis-fakecontact.apk", "malformed-truncated.apk"}


def test_arsc_pool_of_a_fixture_with_resources() -> None:
    import zipfile

    with zipfile.ZipFile(fixture_apk("dest-builders")) as z:
        arsc = z.read("resources.arsc")
    assert "https://h5.builders.example/r/upload" in pool_strings(arsc)
    assert pool_strings(b"") == () and pool_strings(b"\x02\x00\x0c\x00" + b"\xff" * 64) == ()
