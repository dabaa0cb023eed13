"""Page 1 of a report: what the person holding it needs, in their language.

Where the data goes (the destinations the analysis resolved, with the data kinds each carries),
who makes each SMS go out, what that means for the reader (an upload reaches the contacts from
other people's numbers, even after the app is gone; an SMS from the phone goes out under the
reader's own number), what they can do, and where to complain in their market (channels with
their sources, each marked verified or secondary: ``i18n/channels.toml``). The developer's
remediation is not here: it stays with the rules in the appendix.

Pure functions of an :class:`AppResult` and a catalog; nothing here is marked safe (the template
escapes it all).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from importlib.resources import files

from apkaudit.cache import cached_toml
from apkaudit.model import AppResult, Destination, Level, SmsSend
from apkaudit.policies.engine import PolicyOutcome
from apkaudit.report.headline import Headline
from apkaudit.report.i18n import Catalog

MAX_DESTINATIONS = 8  # on page 1; the evidence lists every one
MAX_SENDS = 6
MAX_TEXTS = 2  # message texts shown per send


@dataclass(frozen=True, slots=True, kw_only=True)
class DestinationRow:
    host: str  # "" when the code does not show it
    address: str  # the URL as far as known ("…" for unknown parts)
    data: str  # the data kinds that reach it, in words ("" when none was traced)
    resolution: str  # how the address was found, in words
    payload_keys: tuple[str, ...]
    api: str
    origin: str  # app | sdk:NAME | unknown
    anchor: str  # the id of its (first) evidence row
    count: int = 1  # sinks with the same host and data, shown as one row


@dataclass(frozen=True, slots=True, kw_only=True)
class SendRow:
    trigger: str  # automatic | user_action | user_mediated
    trigger_text: str
    recipients: str  # where the numbers come from, in words
    numbers: tuple[str, ...]
    texts: tuple[str, ...]
    entry: str
    where: str  # Class.method of the send
    anchor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Channel:
    name: str
    contact: str
    use: str
    sources: tuple[str, ...]
    verification: str
    verification_text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Borrower:
    destinations: tuple[DestinationRow, ...]
    more_destinations: int  # not shown on page 1
    sends: tuple[SendRow, ...]
    more_sends: int
    uploads: bool  # something personal goes to a server (verdict or traced chain)
    own_number: bool  # SMS go out from the reader's number
    meanings: tuple[str, ...]  # what the answers mean for the reader
    steps: tuple[str, ...]  # what they can do
    channels: tuple[Channel, ...]
    channels_note: str
    no_app_box: str


def borrower_view(
    app: AppResult, head: Headline, tr: Catalog, ai: int, chosen: tuple[str, ...] = ()
) -> Borrower:
    """``chosen``: the ids of the policies picked with --policy (their markets' channels)."""
    b = app.behaviours
    dests = tuple(b.destinations) if b else ()
    sends = tuple(b.sms_sends) if b else ()
    uploads = app.verdicts.contacts_upload is not Level.NONE or any(
        k in ("contacts_upload", "data_upload") for k in (head.key, *(k for k, _ in head.also))
    )
    own = any(s.trigger.value == "automatic" for s in sends) or head.key in (
        "contacts_texted",
        "sms_auto",
    )
    meanings = []
    if uploads:
        meanings.append(tr.t("help.meaning_upload"))
    if own:
        meanings.append(tr.t("help.meaning_own_number"))
    elif sends:
        meanings.append(tr.t("help.meaning_user_send"))
    if head.hidden and head.key != "inconclusive":  # an inconclusive headline says it already
        meanings.append(tr.t("help.meaning_hidden"))
    steps = [tr.t("help.step_revoke"), tr.t("help.step_evidence", sha256=app.input.sha256)]
    if uploads or own:
        steps.append(tr.t("help.step_contacts"))
    steps.append(tr.t("help.step_complain"))
    chans, note = channels(tr, chosen)
    return Borrower(
        destinations=(rows := grouped_rows(dests, tr, ai))[:MAX_DESTINATIONS],
        more_destinations=max(0, len(rows) - MAX_DESTINATIONS),
        sends=tuple(
            send_row(s, tr, f"app-{ai}-send-{i}") for i, s in enumerate(sends[:MAX_SENDS], 1)
        ),
        more_sends=max(0, len(sends) - MAX_SENDS),
        uploads=uploads,
        own_number=own,
        meanings=tuple(meanings),
        steps=tuple(steps),
        channels=chans,
        channels_note=note,
        no_app_box=tr.t("help.no_app_box"),
    )


def data_kinds_text(kinds: tuple[str, ...], tr: Catalog) -> str:
    return tr.t("headline.list_sep").join(tr.get(f"data.{k}") or tr.term("term", k) for k in kinds)


def grouped_rows(
    dests: tuple[Destination, ...], tr: Catalog, ai: int
) -> tuple[DestinationRow, ...]:
    """One row per (host, data kinds): the first sink's, with how many sinks share it; hosts
    that receive personal data first."""
    first: dict[tuple[str, tuple[str, ...]], tuple[int, Destination]] = {}
    counts: dict[tuple[str, tuple[str, ...]], int] = {}
    for i, d in enumerate(dests, 1):
        key = (d.host, d.data)
        first.setdefault(key, (i, d))
        counts[key] = counts.get(key, 0) + 1
    ordered = sorted(first.items(), key=lambda kv: (not kv[0][1], not kv[0][0], kv[1][0]))
    return tuple(
        replace(destination_row(d, tr, f"app-{ai}-dest-{i}"), count=counts[key])
        for key, (i, d) in ordered
    )


def destination_row(d: Destination, tr: Catalog, anchor: str) -> DestinationRow:
    return DestinationRow(
        host=d.host,
        address=d.url,
        data=data_kinds_text(d.data, tr),
        resolution=tr.t(f"resolution.{d.resolution.value}"),
        payload_keys=d.payload_keys,
        api=d.api,
        origin=d.origin,
        anchor=anchor,
    )


def send_row(s: SmsSend, tr: Catalog, anchor: str) -> SendRow:
    loc = s.location
    return SendRow(
        trigger=s.trigger.value,
        trigger_text=tr.t(f"trigger.{s.trigger.value}"),
        recipients=tr.term("recipients", s.recipients),
        numbers=s.numbers,
        texts=s.texts[:MAX_TEXTS],
        entry=s.entry,
        where=f"{loc.java_class}.{loc.method.split('(', 1)[0]}",
        anchor=anchor,
    )


@cache
def _channel_data() -> dict[str, object]:
    text = files("apkaudit.report.i18n").joinpath("channels.toml").read_text(encoding="utf-8")
    return cached_toml(text)


def chosen_policies(outcomes: Sequence[PolicyOutcome], explicit: bool) -> tuple[str, ...]:
    """The ids of the policies the user chose with --policy (() for the default, all)."""
    return tuple(o.policy.id for o in outcomes) if explicit else ()


def channel_markets(lang: str, chosen: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The markets whose channels a report shows: those of the policies chosen with --policy
    (``chosen``: their ids), else the market of the report's language (``intl`` for English)."""
    markets = _channel_data().get("market", {})
    assert isinstance(markets, dict)
    picked = tuple(m for m, v in markets.items() if set(v.get("policies", ())) & set(chosen))
    if picked:
        return picked
    return (next((m for m, v in markets.items() if lang in v.get("languages", ())), "intl"),)


def channels(tr: Catalog, chosen: tuple[str, ...] = ()) -> tuple[tuple[Channel, ...], str]:
    """The complaint channels of the reader's market (see :func:`channel_markets`), and a note
    on how far they were checked. ``intl`` lists the overview channel of each of its markets."""
    data = _channel_data()
    markets = data.get("market", {})
    raw = data.get("channel", [])
    assert isinstance(markets, dict) and isinstance(raw, list)
    shown = channel_markets(tr.lang, chosen)
    wanted: list[tuple[str, bool]] = []  # (market, overview channels only)
    for m in shown:
        parts = markets.get(m, {}).get("overview")
        wanted += [(p, True) for p in parts] if parts else [(m, False)]
    rows = []
    for market, overview_only in wanted:
        for c in raw:
            if c["market"] != market or (overview_only and not c.get("overview")):
                continue
            rows.append(
                Channel(
                    name=c["name"].get(tr.lang) or c["name"]["en"],
                    contact=c["contact"],
                    use=c["use"].get(tr.lang) or c["use"]["en"],
                    sources=tuple(c["sources"]),
                    verification=c["verification"],
                    verification_text=tr.t(f"verification.{c['verification']}"),
                )
            )
    note = "cn" if shown == ("cn",) else "intl"
    return tuple(rows), tr.t(f"help.channels_note_{note}")
