"""What the analysis answers for the person holding the report (issue 10).

Where the data goes (``Destination``, how its address was ``Resolution``-ed), who makes each SMS
go out (``SmsSend`` with its ``Trigger``) and whether the app is a lender (``LendingApp`` with
its ``LendingSignal``s). Made by the behaviour stage, carried by ``Chain``, ``Behaviours`` and
``Finding`` in apkaudit.model, which re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from apkaudit.model import CodeLocation


class Resolution(StrEnum):
    """How a destination's address was found in the code."""

    CONSTANT = "constant"  # one string constant (also when passed through calls and fields)
    BUILT = "built"  # assembled from several constants (StringBuilder, format, Uri.Builder, ...)
    RESOURCE = "resource"  # read from resources.arsc (getString(R.string.x))
    UNRESOLVED = "unresolved"  # the host is only known at run time


class Trigger(StrEnum):
    """Who makes an SMS go out."""

    AUTOMATIC = "automatic"  # the app, by itself: services, receivers, timers, loops, no UI
    USER_ACTION = "user_action"  # the app, when the user presses a button (number typed)
    USER_MEDIATED = "user_mediated"  # the user, in their own SMS app (ACTION_SENDTO, smsto:)


@dataclass(frozen=True, slots=True, kw_only=True)
class Destination:
    """Where a network sink sends its data, as far as the code shows it."""

    url: str = ""  # the address with unknown parts as "…" ("" when nothing is known)
    scheme: str = ""
    host: str = ""  # "" when unresolved
    port: int | None = None
    path: str = ""
    resolution: Resolution = Resolution.UNRESOLVED
    api: str = ""  # urlconnection | okhttp | volley | apache-http | retrofit | socket.io | tcp ...
    payload_keys: tuple[str, ...] = ()  # JSON keys / form names the data was put under
    alternatives: tuple[str, ...] = ()  # other addresses the same sink may use
    evidence: tuple[CodeLocation, ...] = ()  # the constants (and resource reads) it is built from
    location: CodeLocation | None = None  # the sink
    origin: str = "app"
    data: tuple[str, ...] = ()  # app level: the data kinds that reach it (chain sources)
    chains: tuple[int, ...] = ()  # app level: indices into Behaviours.chains


@dataclass(frozen=True, slots=True, kw_only=True)
class SmsSend:
    """One place the app sends (or prepares) an SMS: who triggers it, to whom, what text."""

    location: CodeLocation
    api: str  # SmsManager.sendTextMessage | ... | ACTION_SENDTO
    trigger: Trigger
    reason: str  # why that trigger, in words (the entry point and what is on the path)
    entry: str = ""  # where the path starts: "SpreadService.onStartCommand", "onClick" ...
    recipients: str = (
        "unknown"  # a chain source (contacts, call_log, network_response, ...) | constant | unknown
    )
    numbers: tuple[str, ...] = ()  # constant recipient numbers
    texts: tuple[str, ...] = ()  # message texts as far as known ("…" for unknown parts)
    chains: tuple[int, ...] = ()  # indices into Behaviours.chains ending here
    origin: str = "app"


@dataclass(frozen=True, slots=True, kw_only=True)
class LendingSignal:
    kind: str  # label | package | class | string | sdk | kyc
    value: str  # the word, SDK name or KYC term found
    strength: str  # strong | weak
    detail: str = ""  # where: the label, the class, the string (clipped)


@dataclass(frozen=True, slots=True, kw_only=True)
class LendingApp:
    """Is it a lending app? yes | no | unknown, and the signals that decided it."""

    value: str = "unknown"  # yes | no | unknown
    signals: tuple[LendingSignal, ...] = ()
