"""One call site as the API models see it (``Call``), and what they may ask of the interpreter.

The models (behaviour/models/) depend on this module only, not on the interpreter that runs
them (behaviour/flow.py), so the two do not import each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from apkaudit.behaviour.context import FlowContext, SinkHost
from apkaudit.behaviour.kinds import HopRole, Provider, Sink
from apkaudit.behaviour.values import BLANK, Label, Obj, Step, Value
from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.reader import Insn, MethodRef


class Interpreter(SinkHost, Protocol):
    """The services of the running method analysis that the API models use."""

    def step(self, insn: Insn, role: HopRole, desc: str) -> Step: ...

    def network_sink(self, pos: int, insn: Insn, values: Iterable[Value], desc: str) -> None: ...

    def elements(self, array: Value, index: int) -> list[Value]: ...

    def record_query(self, step: Step, provider: Provider, uri: str) -> None: ...

    def record_bridge(self, name: str, classes: set[str], step: Step) -> None: ...

    def record_reflective_send(self, steps: tuple[Step, ...]) -> None: ...

    # Store-and-forward (models/stores.py): whole-app store keys, read and written like fields.
    def read_store(self, keys: Iterable[str], step: Step) -> Value: ...

    def link_stream(self, outer: Iterable[Obj], inner: frozenset[Obj]) -> None: ...

    def linked(self, objs: Iterable[Obj]) -> frozenset[Obj]: ...

    def contents(self, objs: Iterable[Obj]) -> frozenset[Label]: ...

    # The whole-app analysis (models/outputs.py: does an Intent stay inside the app?).
    @property
    def ctx(self) -> FlowContext: ...

    # The method being analysed (models/reflection.py: this.getClass()).
    @property
    def key(self) -> tuple[str, str]: ...

    @property
    def is_static(self) -> bool: ...

    def call_reflective(
        self, pos: int, insn: Insn, cls: str, name: str, recv: Value, params: list[Value]
    ) -> Value: ...


@dataclass(slots=True, kw_only=True)
class Call:
    """An invoke instruction being interpreted: the method called and its argument values.

    Models read a Call and never assign to it. It is not ``frozen``: one is made for most
    invokes on the fixpoint's hot path, and a frozen dataclass's ``__init__`` costs about
    2.6 times as much (``object.__setattr__`` per field).

    ``regs`` and ``args`` are the logical arguments (the receiver first for an instance call);
    ``state`` is the caller's register state, which a model may update (a builder's receiver).
    """

    flow: Interpreter
    pos: int  # the instruction's position in its method
    insn: Insn
    ref: MethodRef
    regs: list[int]
    args: list[Value]
    state: dict[int, Value]

    @property
    def static(self) -> bool:
        return self.insn.op in O.STATIC_INVOKES

    @property
    def result_objs(self) -> frozenset[Obj]:
        """The abstract object the call returns (one per call site)."""
        return frozenset({("ret", self.insn.offset)})

    def receiver(self) -> Value:
        """The receiver register's own value (without the taint of the objects it points to)."""
        return self.state.get(self.regs[0], BLANK)

    def set_receiver(self, value: Value) -> None:
        self.state[self.regs[0]] = value

    def step(self, role: HopRole, desc: str) -> Step:
        return self.flow.step(self.insn, role, desc)

    def sink(self, sink: Sink, labels: frozenset[Label], step: Step) -> None:
        self.flow.sink(sink, labels, step, self.pos)

    def network_sink(self, values: Iterable[Value], desc: str) -> None:
        self.flow.network_sink(self.pos, self.insn, values, desc)
