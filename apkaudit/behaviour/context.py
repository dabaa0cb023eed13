"""What one method's analysis produces and needs: sink events, summaries, the flow context.

``MethodFlow`` (flow.py) records ``SinkEvent``s and builds a ``Summary`` of its method; the
whole-app analysis (interproc.py) provides the ``FlowContext``: other methods' summaries, the
field store, and where events, queries and bridges are recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from apkaudit.behaviour.kinds import LabelKind, Provider, Sink
from apkaudit.behaviour.values import BLANK, Label, Step, StepCache, Value
from apkaudit.code.dex.reader import MethodRef

MethodKey = tuple[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class SinkEvent:
    """Labelled data reaching a sink, by ``path`` (the steps after the label's own path)."""

    sink: Sink
    path: tuple[Step, ...]
    in_loop: bool
    loop: str  # what drives the loop, in words ("a cursor over the contact list")
    loop_kinds: frozenset[LabelKind] = frozenset()  # the data kinds the loop condition carries


@dataclass
class Summary:
    ret: Value = BLANK
    param_sinks: dict[int, set[tuple[SinkEvent, bool]]] = field(default_factory=dict)
    param_fields: dict[int, set[str]] = field(default_factory=dict)

    def signature(self) -> tuple[object, ...]:
        """Comparable form, to detect a fixpoint."""
        return (
            self.ret.labels,
            self.ret.tags,
            tuple(sorted((k, frozenset(v)) for k, v in self.param_sinks.items())),
            tuple(sorted((k, frozenset(v)) for k, v in self.param_fields.items())),
        )


class FlowContext(Protocol):
    """What a method analysis needs from the whole-app analysis."""

    fields: dict[str, Value]
    uri_fields: dict[str, Provider]
    retrofit: bool
    steps: StepCache

    def callees(
        self, ref: MethodRef, op: int, args: list[Value]
    ) -> list[tuple[MethodKey, Summary]]: ...

    def async_targets(
        self, ref: MethodRef, args: list[Value]
    ) -> list[tuple[MethodKey, Summary, list[Value]]]: ...

    def is_app_class(self, name: str) -> bool: ...

    def read_field(self, fdesc: str) -> Value: ...

    def is_unimplemented_interface(self, name: str) -> bool: ...

    def record_event(self, label: Label, event: SinkEvent, assumed: bool) -> None: ...

    def record_query(self, step: Step, provider: Provider, uri: str) -> None: ...

    def record_bridge(self, name: str, classes: set[str], step: Step) -> None: ...

    def record_reflective_send(self, steps: tuple[Step, ...]) -> None: ...
