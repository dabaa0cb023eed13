"""The whole-app fixpoint: method analyses repeated until summaries and fields are stable.

A method's analysis reads its callees' summaries and some global fields (interproc.AppFlow
records which: ``deps``). The clock gives every analysis a tick when it starts and stamps each
summary and field with the tick of the analysis that last changed it; a method needs another
analysis only if something it read was stamped at or after its own start (which covers a
method that reads what it writes, or calls itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from apkaudit.behaviour.context import MethodKey, Summary
from apkaudit.limits import Deadline


@dataclass
class Clock:
    tick: int = 0
    started: dict[MethodKey, int] = field(default_factory=dict)
    summary_changed: dict[MethodKey, int] = field(default_factory=dict)
    field_changed: dict[str, int] = field(default_factory=dict)

    def start(self, key: MethodKey) -> None:
        self.tick += 1
        self.started[key] = self.tick

    def stale(self, key: MethodKey, deps: tuple[set[MethodKey], set[str]] | None) -> bool:
        """Did a summary or field that ``key``'s last analysis read change since it started?"""
        if deps is None:
            return False
        t = self.started[key]
        return any(self.summary_changed.get(c, -1) >= t for c in deps[0]) or any(
            self.field_changed.get(f, -1) >= t for f in deps[1]
        )


class Analyses(Protocol):
    summaries: dict[MethodKey, Summary]
    deps: dict[MethodKey, tuple[set[MethodKey], set[str]]]
    clock: Clock
    deadline: Deadline

    def analyse_method(self, key: MethodKey) -> Summary | None: ...


def fixpoint(flow: Analyses, methods: list[MethodKey], rounds: int) -> bool:
    """Analyse ``methods`` until summaries and fields are stable; False if ``rounds`` or the
    deadline ran out first.

    Each round is a sweep over ``methods`` (callees first): the first analyses every method,
    later ones only the stale ones, decided when the sweep reaches them, so a change made
    earlier in the sweep is taken up in the same round. Sink events are kept per method, so
    they stay final.
    """
    clock = flow.clock

    def stale(k: MethodKey) -> bool:
        return clock.stale(k, flow.deps.get(k))

    for k in methods:
        flow.summaries.setdefault(k, Summary())
    # Each summary's signature, taken once per summary: only an analysis replaces a summary.
    signatures = {k: flow.summaries[k].signature() for k in methods}
    for r in range(rounds):
        analysed = False
        for k in methods:
            if r and not stale(k):
                continue
            if flow.deadline.check("behaviour"):
                return False  # partial summaries; the audit adds a time_limit blind spot
            analysed = True
            s = flow.analyse_method(k)
            if s is not None:
                flow.summaries[k] = s
                sig = s.signature()
                if sig != signatures[k]:
                    signatures[k] = sig
                    clock.summary_changed[k] = clock.tick
        if not analysed:
            return True
    return not any(stale(k) for k in methods)
