"""What one method's analysis produces and needs: sink events, summaries, the flow context.

``MethodFlow`` (flow.py) records ``SinkEvent``s and builds a ``Summary`` of its method; the
whole-app analysis (interproc.py) provides the ``FlowContext``: other methods' summaries, the
field store, and where events, queries and bridges are recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from apkaudit.behaviour.kinds import HopRole, LabelKind, Provider, Sink
from apkaudit.behaviour.values import BLANK, Label, Obj, Step, StepCache, Value
from apkaudit.code.dex.reader import Insn, MethodRef

MethodKey = tuple[str, str]
ParamPath = tuple[int, tuple[str, ...]]  # (parameter, access path below it)


@dataclass(frozen=True, slots=True, kw_only=True)
class SinkEvent:
    """Labelled data reaching a sink, by ``path`` (the steps after the label's own path)."""

    sink: Sink
    path: tuple[Step, ...]
    in_loop: bool
    loop: str  # what drives the loop, in words ("a cursor over the contact list")
    loop_kinds: frozenset[LabelKind] = frozenset()  # the data kinds the loop condition carries
    # How the loop is driven (loops.FORMS), and the summarised method's parameters that drive
    # it: a callee's loop over its parameter's list is resolved at each call site.
    loop_forms: tuple[str, ...] = ()
    loop_rel: frozenset[ParamPath] = frozenset()


@dataclass
class Summary:
    """What a method does, in terms of its parameters (labels of kind PARAM, with access
    paths): what reaches sinks, what goes to global fields, what it stores into its
    parameters' objects, which parameters' objects escape, and what it returns."""

    ret: Value = BLANK
    # (parameter, access) -> the best event per (sink, last step, in a loop), and whether it
    # passed through an app method outside the analysis (a bounded set, as for chains)
    param_sinks: dict[ParamPath, dict[tuple[object, ...], tuple[SinkEvent, bool]]] = field(
        default_factory=dict
    )
    param_fields: dict[ParamPath, set[str]] = field(default_factory=dict)
    param_writes: dict[ParamPath, Value] = field(default_factory=dict)
    param_escapes: set[int] = field(default_factory=set)
    # "Parameter i receives data": labels the method writes into the stream passed as
    # parameter i, with the steps of the write; whether that is a network send, a file write or
    # neither is decided at each call site, by what the caller passes (models/files.py).
    param_streams: dict[int, set[tuple[Label, tuple[Step, ...]]]] = field(default_factory=dict)
    # What the exceptions the method throws (or lets through from its callees) carry: a
    # handler's move-exception in the method or in a caller gets it (``new E(id)``, getMessage).
    thrown: frozenset[Label] = frozenset()

    def add_sink(self, at: ParamPath, ev: SinkEvent, assumed: bool) -> None:
        bucket = self.param_sinks.setdefault(at, {})
        key = (ev.sink, ev.path[-1:], ev.in_loop)
        old = bucket.get(key)
        if old is None or _rank(ev, assumed) < _rank(*old):
            bucket[key] = (ev, assumed)

    def empty(self) -> bool:
        return self.ret == BLANK and not (
            self.param_sinks
            or self.param_fields
            or self.param_writes
            or self.param_escapes
            or self.param_streams
            or self.thrown
        )

    def signature(self) -> tuple[object, ...]:
        """Comparable form, to detect a fixpoint."""
        return (
            self.ret.labels,
            self.ret.objs,
            self.ret.tags,
            tuple(sorted((k, frozenset(v.values())) for k, v in self.param_sinks.items())),
            tuple(sorted((k, frozenset(v)) for k, v in self.param_fields.items())),
            tuple(sorted((k, v.labels, v.objs) for k, v in self.param_writes.items())),
            frozenset(self.param_escapes),
            tuple(sorted((k, frozenset(v)) for k, v in self.param_streams.items())),
            self.thrown,
        )


def _rank(ev: SinkEvent, assumed: bool) -> tuple[object, ...]:
    """Lower is better, a total order (the event kept never depends on the order found)."""
    return (assumed, len(ev.path), ev.path, ev.loop_forms, sorted(ev.loop_rel))


@dataclass(frozen=True, slots=True)
class Handoff:
    """A framework hand-off found at a call (edges.py): the override the framework runs, its
    arguments, how the step reads, and the callbacks that receive the override's result."""

    key: MethodKey
    summary: Summary
    args: list[Value]
    desc: str
    then: tuple[tuple[MethodKey, Summary, str], ...] = ()


class FlowContext(Protocol):
    """What a method analysis needs from the whole-app analysis."""

    fields: dict[str, Value]
    uri_fields: dict[str, Provider]
    retrofit: bool
    steps: StepCache

    def callees(
        self, ref: MethodRef, op: int, args: list[Value]
    ) -> list[tuple[MethodKey, Summary]]: ...

    def handoffs(self, ref: MethodRef, args: list[Value]) -> list[Handoff]: ...

    def record_receiver(self, actions: frozenset[str], classes: frozenset[str]) -> None: ...

    def components_for(self, kinds: tuple[str, ...], action: str) -> set[str]: ...

    def is_app_class(self, name: str) -> bool: ...

    def field_key(self, fdesc: str) -> str: ...

    def read_field(self, fdesc: str) -> Value: ...

    def write_field(self, fdesc: str, v: Value) -> None: ...

    def is_unimplemented_interface(self, name: str) -> bool: ...

    def record_event(self, label: Label, event: SinkEvent, assumed: bool) -> None: ...

    def record_query(self, step: Step, provider: Provider, uri: str) -> None: ...

    def record_bridge(self, name: str, classes: set[str], step: Step) -> None: ...

    def record_reflective_send(self, steps: tuple[Step, ...]) -> None: ...

    @property
    def package_name(self) -> str: ...

    def handles_action(self, action: str) -> bool: ...

    def fold_string(self, ref: MethodRef, args: tuple[str | int, ...]) -> str | None: ...

    def resource_string(self, cls: str, sig: str, rid: int) -> str | None: ...

    def reflective_targets(self, cls: str, name: str) -> list[tuple[MethodRef, bool]]: ...


class SinkHost(Protocol):
    """Where sink events and tainted objects go: the running method's analysis, as the API models
    (call.Interpreter), the call-site code (Frame) and stream writes (models/files.py) see it."""

    def sink(
        self,
        sink: Sink,
        labels: frozenset[Label],
        step: Step,
        pos: int,
        inner: SinkEvent | None = None,
    ) -> None: ...

    def taint_obj(
        self, objs: Iterable[Obj], labels: frozenset[Label], tags: frozenset[str] = ...
    ) -> None: ...

    def write_store(self, keys: Iterable[str], value: Value, step: Step) -> None: ...

    # Store-and-forward (kind_services.py): a write into a stream passed as a parameter.
    def stream_param_write(
        self, params: set[int], labels: frozenset[Label], step: Step
    ) -> None: ...


class Frame(SinkHost, Protocol):
    """One method's analysis as the heap, call-site, container and ICC code see it
    (flow.MethodFlow implements it)."""

    ctx: FlowContext
    key: MethodKey
    is_static: bool
    summary: Summary
    heap: dict[Obj, Value]
    escaped: set[Obj]
    deref_cache: dict[tuple[object, ...], Value]
    cells_read: set[object]
    array_cells: dict[Obj, set[int]]

    def step(self, insn: Insn, role: HopRole, desc: str) -> Step: ...

    def heap_changed(self, reread: bool = True) -> None: ...

    def summary_write(self, index: int, access: tuple[str, ...], v: Value) -> None: ...

    def write_global(self, fdesc: str, v: Value) -> None: ...

    def per_iteration(self, pos: int, v: Value) -> Value: ...
