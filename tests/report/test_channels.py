"""Complaint channels (i18n/channels.toml): every one sourced and marked verified or secondary,
and a report shows the channels of the reader's market (--policy, else --lang)."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from urllib.parse import urlparse

import pytest
from conftest import fixture_apk, report_of

from apkaudit.policies import load_policies
from apkaudit.report.borrower import channel_markets, channels
from apkaudit.report.formats import RenderOptions, render
from apkaudit.report.i18n import LANGUAGES, catalog

DATA = tomllib.loads(
    files("apkaudit.report.i18n").joinpath("channels.toml").read_text(encoding="utf-8")
)
PLAY = ("google-play-financial", "google-play-sms-call-log", "google-play-contacts")


def test_every_channel_is_sourced_and_translated() -> None:
    markets = DATA["market"]
    for c in DATA["channel"]:
        assert c["market"] in markets and "overview" not in markets[c["market"]], c
        assert c["verification"] in ("verified", "secondary"), c
        assert c["sources"] and all(urlparse(u).scheme == "https" for u in c["sources"]), c
        assert set(c["name"]) == set(c["use"]) == set(LANGUAGES), c
        if c["verification"] == "verified":  # read on the authority's own page: its address
            assert any(urlparse(u).hostname in c["contact"] for u in c["sources"]), c


def test_markets_name_real_policies_and_one_overview_line_each() -> None:
    ids = {p.id for p in load_policies().policies}
    markets = DATA["market"]
    for m, spec in markets.items():
        assert set(spec.get("policies", ())) <= ids, m
    for m in markets["intl"]["overview"]:
        lines = [c for c in DATA["channel"] if c["market"] == m and c.get("overview")]
        assert len(lines) == 1, m
    covered = {p for spec in markets.values() for p in spec.get("policies", ())}
    assert covered == ids  # every policy pack leads to its market's channels


@pytest.mark.parametrize(
    ("lang", "chosen", "markets"),
    [
        ("en", (), ("intl",)),
        ("zh-CN", (), ("cn",)),
        ("en", ("rbi",), ("in",)),
        ("zh-CN", ("ojk", "fccpc"), ("id", "ng")),
        ("en", PLAY, ("play",)),
        ("en", ("china",), ("cn",)),
    ],
)
def test_the_readers_market(lang: str, chosen: tuple[str, ...], markets: tuple[str, ...]) -> None:
    assert channel_markets(lang, chosen) == markets


def test_channels_in_the_readers_language() -> None:
    rows, _ = channels(catalog("en"))
    assert [r.name.split(":")[0] for r in rows] == [
        "India",
        "Indonesia",
        "Kenya",
        "Nigeria",
        "Philippines",
        "Google Play",
    ]
    rows, _ = channels(catalog("zh-CN"), ("rbi",))
    assert {r.contact for r in rows} >= {"sachet.rbi.org.in", "1930 · cybercrime.gov.in"}
    assert all(r.name.startswith("印度：") for r in rows)


def test_policy_choice_picks_the_channels_of_the_report(audit) -> None:
    app = audit(fixture_apk("dest-libs"))
    md = render(report_of(app, policies=("rbi",)), "md", RenderOptions())
    assert "sachet.rbi.org.in" in md and "OJK" not in md.split("complain")[-1]
    md = render(report_of(app), "md", RenderOptions())
    assert "sachet.rbi.org.in" in md and "kontak157" not in md and "157 · WhatsApp" in md
    html = render(report_of(app, policies=("ojk",)), "html", RenderOptions(lang="zh-CN"))
    assert "patrolisiber.id" in html and "12378" not in html
