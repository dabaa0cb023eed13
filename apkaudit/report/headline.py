"""The one-line answer at the top of a report, built from all the verdicts, most harmful first.

The borrower asks "did this app take my contacts, where did they go, and who texted my
friends?". The headline answers that: an upload of the contact list to a named host comes first
(the lender, collectors or data buyers can then reach the contacts from their own numbers, even
after the app is gone), then texting the contacts from the borrower's own number by itself, then
the other uploads and reads. Sending that needs the user (a Send button in the app, the user's
own SMS app) is never called "by itself". When part of the code is hidden the headline says so;
with nothing seen it is ``inconclusive``, never "no sign".

:func:`headline` is language-neutral (a key, a level and the parameters); :func:`headline_text`
words it in a catalog's language. JSON v1 carries ``headline`` {key, level, text} (English).
"""

from __future__ import annotations

from dataclasses import dataclass

from apkaudit.model import AppResult, Chain, Level, Trigger
from apkaudit.report.i18n import Catalog

# Most harmful first. Each key is worded in the catalogs as headline.KEY.third / .infinitive.
KEYS = (
    "contacts_upload",  # the contact list leaves the phone (to {host})
    "contacts_texted",  # SMS to the people in the contacts, from the user's number, by itself
    "sms_auto",  # SMS from the user's number, by itself
    "data_upload",  # SMS messages or call history leave the phone (to {host})
    "sms_send",  # SMS from the user's number; who triggers it was not determined
    "sms_read",
    "call_log_read",
    "contacts_read",
    "sms_user",  # SMS only when the user presses Send in the app (or in their own SMS app)
    "contacts_user",  # SMS to the contacts, but only when the user presses Send
)
NO_ANSWER = ("inconclusive", "none")
BULK_KINDS = frozenset({"contacts_to_sms_destination", "call_log_to_sms_destination"})
# data_upload: other personal data that goes to a server, most sensitive first (the words are
# headline.data.KIND, else term.KIND); typed form text is not in it (apps post forms)
UPLOAD_SOURCES = (
    "sms",
    "call_log",
    "location",
    "media",
    "accounts",
    "installed_apps",
    "phone_number",
    "device_id",
    "calendar",
    "clipboard",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Headline:
    key: str  # one of KEYS, or inconclusive | none
    level: str  # confirmed | likely | possible | inconclusive | none
    host: str = ""  # contacts_upload / data_upload: where it goes ("" when the code hides it)
    data: tuple[str, ...] = ()  # data_upload: the data kinds (sms, call_log)
    also: tuple[tuple[str, str], ...] = ()  # (key, level) of the other answers, most harmful first
    hidden: bool = False  # part of the code is hidden from analysis


def headline(app: AppResult) -> Headline:
    """The answers this app gives, most harmful first (an app not audited: ``inconclusive``)."""
    hidden = not app.coverage.complete
    if app.status != "ok" or app.behaviours is None:
        return Headline(key="inconclusive", level="inconclusive", hidden=True)
    found = _answers(app)
    hosts = _hosts(app)
    if not found:
        key = "inconclusive" if hidden else "none"
        return Headline(key=key, level=key, hidden=hidden)
    (key, level), *rest = found
    data = _upload_kinds(app)
    return Headline(
        key=key,
        level=level.value,
        host=hosts.get("contacts" if key == "contacts_upload" else "data", ""),
        data=data,
        also=tuple((k, lv.value) for k, lv in rest if lv.rank >= Level.LIKELY.rank),
        hidden=hidden,
    )


def _answers(app: AppResult) -> list[tuple[str, Level]]:
    v = app.verdicts
    sends = app.behaviours.sms_sends if app.behaviours else ()
    triggers = {s.trigger for s in sends}
    out: list[tuple[str, Level]] = []
    if v.contacts_upload is not Level.NONE:
        out.append(("contacts_upload", v.contacts_upload))
    if v.bulk_sms_to_contacts is not Level.NONE:
        # who sends: the bulk chains' trigger, else (a verdict from code references only)
        # the sends' triggers
        bulk = _bulk_triggers(app) or set(triggers)
        if bulk and bulk <= {Trigger.USER_ACTION, Trigger.USER_MEDIATED}:
            out.append(("contacts_user", v.bulk_sms_to_contacts))
        else:  # automatic, or not determined: the loop over the contacts is the app's
            out.append(("contacts_texted", v.bulk_sms_to_contacts))
    kinds = _upload_kinds(app)
    if kinds:
        out.append(("data_upload", _upload_level(app)))
    if v.sms_send is not Level.NONE and not any(k == "contacts_texted" for k, _ in out):
        if Trigger.AUTOMATIC in triggers:
            out.append(("sms_auto", v.sms_send))
        elif triggers:
            out.append(("sms_user", v.sms_send))
        else:
            out.append(("sms_send", v.sms_send))
    for key in ("sms_read", "call_log_read", "contacts_read"):
        level: Level = getattr(v, key)
        if level is not Level.NONE:
            out.append((key, level))
    seen: dict[str, Level] = {}
    for key, level in out:
        if key not in seen or level.rank > seen[key].rank:
            seen[key] = level
    # a read is part of the upload of the same data: say the upload only
    covered = {"contacts_read": "contacts_upload"}
    covered.update({f"{k}_read": "data_upload" for k in kinds if k in ("sms", "call_log")})
    for read, upload in covered.items():
        if read in seen and upload in seen and _weight(seen[upload]) >= _weight(seen[read]):
            del seen[read]
    order = {k: i for i, k in enumerate(KEYS)}
    # the most harmful key first among the strongest levels: a confirmed read outranks a
    # "possible" upload, so the sentence at the top is one the evidence carries
    return sorted(seen.items(), key=lambda kv: (-_weight(kv[1]), order[kv[0]]))


def _weight(level: Level) -> int:
    """Confirmed and likely weigh the same (both are shown as facts, with their level)."""
    return 2 if level.rank >= Level.LIKELY.rank else level.rank


def _bulk_triggers(app: AppResult) -> set[Trigger | None]:
    chains = app.behaviours.chains if app.behaviours else ()
    return {c.trigger for c in chains if c.kind in BULK_KINDS}


def _network_chains(app: AppResult) -> list[Chain]:
    chains = app.behaviours.chains if app.behaviours else ()
    return [c for c in chains if c.sink == "network"]


def _upload_kinds(app: AppResult) -> tuple[str, ...]:
    kinds = {c.source for c in _network_chains(app)}
    return tuple(k for k in UPLOAD_SOURCES if k in kinds)


def _upload_level(app: AppResult) -> Level:
    """A chain from SMS or call-log reads to the network: likely when reachable, else possible."""
    chains = [c for c in _network_chains(app) if c.source in UPLOAD_SOURCES]
    return Level.LIKELY if any(c.reachable is not False for c in chains) else Level.POSSIBLE


def _hosts(app: AppResult) -> dict[str, str]:
    """The named host the contacts (key ``contacts``) and the other data (``data``) go to."""
    out: dict[str, str] = {}
    for c in _network_chains(app):
        d = c.destination
        if d is None or not d.host:
            continue
        slot = "contacts" if c.source == "contacts" else "data"
        out.setdefault(slot, d.host)
    if app.behaviours:  # app level: destinations carrying the data kinds
        for d in app.behaviours.destinations:
            if not d.host:
                continue
            if "contacts" in d.data:
                out.setdefault("contacts", d.host)
            if any(k in d.data for k in UPLOAD_SOURCES):
                out.setdefault("data", d.host)
    return out


# --------------------------------------------------------------------------- wording


def answer_sentence(key: str, level: str, tr: Catalog, *, host: str = "", data: str = "") -> str:
    """One answer as a sentence: "This app very probably uploads your contact list to X."."""
    where = tr.t("headline.host", host=host) if host else tr.t("headline.unknown_host")
    third = tr.t(f"headline.{key}.third", host=where, data=data)
    infinitive = tr.t(f"headline.{key}.infinitive", host=where, data=data)
    return tr.t(f"verdict.{level}", third=third, infinitive=infinitive)


def headline_text(h: Headline, tr: Catalog) -> str:
    """The headline in the catalog's language: the top answer, what else was found, and a
    warning when part of the code is hidden."""
    if h.key == "none":
        return tr.t("ui.headline_none")
    if h.key == "inconclusive":
        return tr.t("ui.headline_inconclusive")
    data = data_words(h.data, tr)
    parts = [answer_sentence(h.key, h.level, tr, host=h.host, data=data)]
    if h.also:
        items = [tr.t(f"headline.{k}.also", data=data) for k, _ in h.also]
        parts.append(tr.t("headline.also", items=join_words(items, tr)))
    if h.hidden:
        parts.append(tr.t("headline.hidden"))
    return tr.t("headline.join").join(parts)


def data_words(kinds: tuple[str, ...], tr: Catalog) -> str:
    return join_words([tr.get(f"headline.data.{k}") or tr.term("term", k) for k in kinds], tr)


def join_words(items: list[str], tr: Catalog) -> str:
    if len(items) <= 1:
        return "".join(items)
    return tr.t("headline.list_sep").join(items[:-1]) + tr.t("headline.list_last") + items[-1]
