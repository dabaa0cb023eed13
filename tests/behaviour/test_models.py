"""The API models on hand-built calls: one ``Call`` in, a ``Value`` out, no APK or interpreter.

A small recording ``Interpreter`` stands in for the method analysis, so each model's meaning
(a tainted cursor, a recorded sink, a URI followed through a builder) is checked on its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from apkaudit.behaviour.call import Call
from apkaudit.behaviour.kinds import HopRole, LabelKind, Provider, Sink
from apkaudit.behaviour.models import MODELS
from apkaudit.behaviour.values import EMPTY, Label, Obj, Step, StepCache, Value, source
from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.reader import Insn, MethodRef


class Recorder:
    """An Interpreter that records what the models ask of it."""

    def __init__(self) -> None:
        self.steps = StepCache()
        self.sinks: list[tuple[Sink, frozenset[Label], Step]] = []
        self.queries: list[tuple[Step, Provider, str]] = []

    def step(self, insn: Insn, role: HopRole, desc: str) -> Step:
        return self.steps.get("classes.dex", "LApp;", "run()V", insn.offset, role, desc)

    def sink(self, sink: Sink, labels: frozenset[Label], step: Step, pos: int) -> None:
        self.sinks.append((sink, labels, step))

    def network_sink(self, pos: int, insn: Insn, values: Iterable[Value], desc: str) -> None:
        labels = frozenset().union(*(v.labels for v in values))
        if labels:
            self.sink(Sink.NETWORK, labels, self.step(insn, HopRole.SINK, desc), pos)

    def taint_obj(
        self, objs: Iterable[Obj], labels: frozenset[Label], tags: frozenset[str] = EMPTY
    ) -> None:
        pass

    def elements(self, array: Value, index: int) -> list[Value]:
        return []

    def record_query(self, step: Step, provider: Provider, uri: str) -> None:
        self.queries.append((step, provider, uri))

    def record_bridge(self, name: str, classes: set[str], step: Step) -> None:
        pass

    def record_reflective_send(self, steps: tuple[Step, ...]) -> None:
        pass


def _call(
    flow: Recorder, cls: str, name: str, proto: str, args: list[Value], op: int = 0x6E
) -> Value | None:
    """Run the model of ``cls.name`` on ``args`` (receiver first) in registers 0, 1, ..."""
    insn = Insn(offset=0x10, op=op, regs=tuple(range(len(args))))
    regs = list(range(len(args)))
    call = Call(
        flow=flow,
        pos=3,
        insn=insn,
        ref=MethodRef(cls, name, proto),
        regs=regs,
        args=args,
        state=dict(zip(regs, args, strict=True)),
    )
    return MODELS[name](call)


RESOLVER = "Landroid/content/ContentResolver;"
SMS = "Landroid/telephony/SmsManager;"


def test_a_contacts_query_returns_a_tainted_cursor_and_is_recorded() -> None:
    flow = Recorder()
    uri = Value(tags=frozenset({"uri", "uri:contacts"}), const="content://com.android.contacts")
    cursor = _call(flow, RESOLVER, "query", "(Landroid/net/Uri;)V", [Value(), uri])
    assert cursor is not None and "cursor" in cursor.tags
    (label,) = cursor.labels
    assert label.kind is LabelKind.CONTACTS and label.concrete
    (step, provider, text) = flow.queries[0]
    assert (provider, text) == (Provider.CONTACTS, "content://com.android.contacts")
    assert label.path == (step,) and step.role is HopRole.SOURCE
    assert step.description == "queries the contacts provider"


def test_an_unknown_uri_is_an_unresolved_query_with_no_taint() -> None:
    flow = Recorder()
    cursor = _call(flow, RESOLVER, "query", "(Landroid/net/Uri;)V", [Value(), Value()])
    assert cursor is not None and not cursor.labels
    assert flow.queries[0][1] is Provider.UNRESOLVED


def test_sms_send_records_the_destination_and_the_text() -> None:
    flow = Recorder()
    contacts = frozenset({source(LabelKind.CONTACTS, Step(
        dex="classes.dex", class_name="LApp;", method="run()V", offset=2,
        role=HopRole.SOURCE, description="reads column data1",
    ))})  # fmt: skip
    number, text = Value(labels=contacts), Value(labels=contacts)
    args = [Value(), number, Value(), text, Value(), Value()]
    proto = "(Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;LPI;LPI;)V"
    assert _call(flow, SMS, "sendTextMessage", proto, args) == Value()
    assert [(s, step.description) for s, _, step in flow.sinks] == [
        (Sink.SMS_DESTINATION, "SmsManager.sendTextMessage: destination number"),
        (Sink.SMS_BODY, "SmsManager.sendTextMessage: message text"),
    ]


def test_a_builder_keeps_a_known_prefix_for_the_uri_it_builds() -> None:
    flow = Recorder()
    builder = Value(objs=frozenset({("new", 0, "Ljava/lang/StringBuilder;")}), const="")
    sb = "Ljava/lang/StringBuilder;"
    out = _call(flow, sb, "append", "(Ljava/lang/String;)V", [builder, Value(const="smsto:")])
    assert out is not None and out.const == "smsto:"
    unknown = _call(flow, sb, "append", "(Ljava/lang/String;)V", [out, Value()])
    assert unknown is not None and unknown.const is None and "prefix:smsto:" in unknown.tags
    parsed = _call(flow, "Landroid/net/Uri;", "parse", "(Ljava/lang/String;)V", [unknown], 0x71)
    assert parsed is not None and "uri:smsto" in parsed.tags


def test_static_calls_are_not_iterators() -> None:
    flow = Recorder()
    listv = Value(tags=frozenset({"msg_parts"}))
    assert (
        _call(flow, "LList;", "iterator", "()V", [listv], op=next(iter(O.STATIC_INVOKES))) is None
    )
    it = _call(flow, "LList;", "iterator", "()V", [listv])
    assert it is not None and it.tags == {"msg_parts"}


def test_steps_hash_like_the_tuples_they_replace_and_are_shared() -> None:
    cache = StepCache()
    a = cache.get("classes.dex", "LApp;", "run()V", 4, HopRole.CALL, "calls X.y")
    b = cache.get("classes.dex", "LApp;", "run()V", 4, HopRole.CALL, "calls X.y")
    assert a is b
    # The hash of the 6-tuple hops had: set and frozenset orders in the fixpoint are unchanged.
    assert hash(a) == hash(("classes.dex", "LApp;", "run()V", 4, "call", "calls X.y"))
    fresh = Step(
        dex="classes.dex", class_name="LApp;", method="run()V", offset=4,
        role=HopRole.CALL, description="calls X.y",
    )  # fmt: skip
    assert fresh == a and fresh is not a
    label = Label(kind=LabelKind.SMS).extend(a)
    assert label.extend(fresh) is label  # a step already on the path is not added again
