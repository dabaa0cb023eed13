"""Data that leaves the phone: an app's chains grouped by (source kind, sink kind), with a level.

A view of ``Behaviours.chains`` for the renderers (JSON ``data_flows``, the HTML section "Data
that leaves the phone"). A chain's level: ``confirmed`` when the data flow is proven and its
ends are reachable from the app's entry points; ``likely`` when reachability is undetermined or
one step passes through an app method outside the analysed neighbourhood; ``possible`` when an
end is proven unreachable. A pair's level is the strongest of its chains. Reflective-call chains
carry no data and are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from apkaudit.model import Chain, Level, Stage

# The vocabulary of issue 11 in display order (behaviour/kinds.py SOURCES and SINKS; a test
# holds the two equal, since the report does not import the analysis stages).
SOURCES = ("contacts", "sms", "call_log", "device_id", "phone_number", "location", "accounts",
           "installed_apps", "media", "calendar", "clipboard", "user_input",
           "network_response")  # fmt: skip
SINKS = ("network", "sms_destination", "sms_body", "sms_intent", "js_bridge", "file", "log",
         "ipc")  # fmt: skip
STAYS_ON_PHONE = frozenset({"file", "log"})


@dataclass(frozen=True, slots=True, kw_only=True)
class DataFlow:
    source: str
    sink: str
    level: Level
    chains: tuple[int, ...]  # indexes into the app's chains

    @property
    def stays_on_phone(self) -> bool:
        return self.sink in STAYS_ON_PHONE


def chain_level(chain: Chain) -> Level:
    if chain.reachable is False:
        return Level.POSSIBLE
    if chain.reachable is None or chain.stage < Stage.DATAFLOW:
        return Level.LIKELY
    return Level.CONFIRMED


def data_flows(chains: Sequence[Chain]) -> tuple[DataFlow, ...]:
    groups: dict[tuple[str, str], list[int]] = {}
    for i, c in enumerate(chains):
        if c.source in SOURCES and c.sink in SINKS:
            groups.setdefault((c.source, c.sink), []).append(i)
    out = [
        DataFlow(
            source=src,
            sink=snk,
            level=max((chain_level(chains[i]) for i in idx), key=lambda lv: lv.rank),
            chains=tuple(idx),
        )
        for (src, snk), idx in groups.items()
    ]
    out.sort(key=lambda f: (-f.level.rank, SOURCES.index(f.source), SINKS.index(f.sink)))
    return tuple(out)
