"""Abstract values of the data-flow analysis: taint labels with the path they travelled.

A register holds a ``Value``: the taint labels it carries, the abstract objects it may point to
(allocation sites, parameters, fields), semantic tags (``uri:contacts``, ``cursor``,
``net_stream``, ``cond:cursor`` ...) and a constant when one is known. Labels remember their
path as ``Step``s (where, what role, what happened) so a finished chain can name every step.
Everything is bounded: label sets per kind and path lengths are capped.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import cast

from apkaudit.behaviour.kinds import HopRole, LabelKind, Provider

# An abstract object: ("new", offset, class) | ("param", i) | ("field", descriptor) |
# ("ret", offset) | ("anon", offset), or (object, index) for an array element.
Obj = tuple[object, ...]
Site = tuple[str, str, str, int]  # dex, class, method, offset: one instruction

_PARAM = LabelKind.PARAM  # a module constant: enum attribute access is slow on Python 3.11
MAX_PATH = 14
MAX_LABELS_PER_KIND = 3


# Providers whose rows are personal data, and the label their data carries.
PERSONAL = {
    Provider.CONTACTS: LabelKind.CONTACTS,
    Provider.SMS: LabelKind.SMS,
    Provider.CALL_LOG: LabelKind.CALL_LOG,
    Provider.CALENDAR: LabelKind.CALENDAR,
    Provider.MEDIA: LabelKind.MEDIA,
}


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class Step:
    """One hop of a taint path: an instruction, its role, and what it did to the data.

    Steps are compared, hashed and put in paths all through the fixpoint, so the hash is
    computed once (``_hash``) and the interpreter reuses equal steps (see ``StepCache``).
    """

    dex: str
    class_name: str
    method: str
    offset: int
    role: HopRole
    description: str
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = (self.dex, self.class_name, self.method, self.offset, self.role, self.description)
        object.__setattr__(self, "_hash", hash(key))

    def __hash__(self) -> int:
        return self._hash

    @property
    def site(self) -> Site:
        return (self.dex, self.class_name, self.method, self.offset)


class StepCache:
    """Equal steps as one object: the fixpoint makes the same step on every pass, and an
    identical object makes path membership and label equality checks an identity test."""

    __slots__ = ("_steps",)

    def __init__(self) -> None:
        self._steps: dict[tuple[str, str, str, int, HopRole, str], Step] = {}

    def get(
        self, dex: str, class_name: str, method: str, offset: int, role: HopRole, desc: str
    ) -> Step:
        key = (dex, class_name, method, offset, role, desc)
        step = self._steps.get(key)
        if step is None:
            step = self._steps[key] = Step(
                dex=dex,
                class_name=class_name,
                method=method,
                offset=offset,
                role=role,
                description=desc,
            )
        return step


@dataclass(slots=True, kw_only=True)
class Label:
    """Taint of one kind, with the path it travelled. Never assigned to once made: not
    ``frozen`` only because a frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__`` (the fixpoint makes tens of thousands per app); hashed by value."""

    kind: LabelKind
    index: int = -1  # parameter index for kind PARAM
    path: tuple[Step, ...] = ()
    assumed: bool = False  # passed through an app method we could not analyse
    # For kind PARAM: the access path below the parameter this label stands for: field
    # descriptors, and "k:KEY" for the entry KEY of a Bundle, Intent, map or JSON object
    # (heap.py). Empty: the parameter's own value.
    access: tuple[str, ...] = ()
    # The loop (in words) in which this value was handed on once per iteration, to a field,
    # an Intent or a message read elsewhere: a sink it reaches runs once per iteration too.
    iteration: str = ""
    # Labels are hashed in every set operation of the fixpoint: the hash is computed once.
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The steps' own hashes, read at C level (hashing the path would call Step.__hash__,
        # a Python method, once per step of every label made).
        steps = tuple(map(_STEP_HASH, self.path))
        self._hash = hash((self.kind, self.index, steps, self.assumed, self.access, self.iteration))

    def __hash__(self) -> int:
        return self._hash

    def extend(self, step: Step) -> Label:
        # Idempotent: a step already on the path is not added again. This keeps the lattice
        # finite, so loops converge instead of growing paths until the cap.
        # Every pass and round makes the same extensions again: memoised by identity (the
        # entry holds both objects, so their ids stay theirs; no Python-level __hash__ runs).
        key = (id(self), id(step))
        hit = _EXTENDED.get(key)
        if hit is not None and hit[0] is self and hit[1] is step:
            return hit[2]
        done = _EXTENDED_EQ.get((self, step))  # an equal label: the same answer
        if done is None:
            done = _EXTENDED_EQ[(self, step)] = self._extend(step)
        _EXTENDED[key] = (self, step, done)
        return done

    def _extend(self, step: Step) -> Label:
        if step in self.path:
            return self
        path = self.path
        if len(path) >= MAX_PATH:
            path = path[:4] + path[-(MAX_PATH - 6) :]
        return Label(
            kind=self.kind,
            index=self.index,
            path=(*path, step),
            assumed=self.assumed,
            access=self.access,
            iteration=self.iteration,
        )

    def extend_path(self, steps: tuple[Step, ...], assumed: bool = False) -> Label:
        """``extend`` by each step in turn, in one pass (callee paths meet at every call)."""
        key = (id(self), id(steps), assumed)  # memoised as extend is
        hit = _EXTENDED_PATH.get(key)
        if hit is not None and hit[0] is self and hit[1] is steps:
            return hit[2]
        done = _EXTENDED_EQ.get((self, steps, assumed))
        if done is None:
            done = _EXTENDED_EQ[(self, steps, assumed)] = self._extend_path(steps, assumed)
        _EXTENDED_PATH[key] = (self, steps, done)
        return done

    def _extend_path(self, steps: tuple[Step, ...], assumed: bool) -> Label:
        out = self
        if steps:
            path = list(self.path)
            seen = set(path)
            for h in steps:
                if h in seen:
                    continue
                if len(path) >= MAX_PATH:
                    path = path[:4] + path[-(MAX_PATH - 6) :]
                    seen = set(path)
                path.append(h)
                seen.add(h)
            out = Label(
                kind=self.kind,
                index=self.index,
                path=tuple(path),
                assumed=self.assumed,
                access=self.access,
                iteration=self.iteration,
            )
        if assumed and not out.assumed:
            out = out.as_assumed()
        return out

    def as_assumed(self) -> Label:
        return replace(self, assumed=True)

    def per_iteration(self, loop: str) -> Label:
        return self if self.iteration else replace(self, iteration=loop)

    @property
    def concrete(self) -> bool:
        return self.kind is not _PARAM


def param_label(index: int, access: tuple[str, ...] = ()) -> Label:
    """A label for parameter ``index`` (at ``access`` below it) of the method being analysed."""
    return Label(kind=LabelKind.PARAM, index=index, access=access)


def source(kind: LabelKind, step: Step) -> Label:
    """A label for data that enters at ``step``."""
    return Label(kind=kind, path=(step,))


EMPTY: frozenset = frozenset()

# Memo tables of the two pure functions the fixpoint calls most (Label.extend, cap), for one
# app's analysis: interproc.analyse_flows empties them before and after (one_app).
_EXTENDED: dict[tuple[int, int], tuple[Label, Step, Label]] = {}
_EXTENDED_PATH: dict[tuple[int, int, bool], tuple[Label, tuple[Step, ...], Label]] = {}
_EXTENDED_ALL: dict[tuple[int, int], tuple[frozenset[Label], Step, frozenset[Label]]] = {}
_EXTENDED_EQ: dict[tuple[object, ...], Label] = {}  # the same, keyed by value
_CAPPED: dict[frozenset[Label], frozenset[Label]] = {}
_STEP_HASH = attrgetter("_hash")


def clear_caches() -> None:
    for table in (_EXTENDED, _EXTENDED_PATH, _EXTENDED_ALL, _EXTENDED_EQ, _CAPPED):
        table.clear()


@contextmanager
def one_app() -> Iterator[None]:
    """One app's fixpoint: the memo tables start and end empty, and the cyclic garbage
    collector waits. The fixpoint makes ~10^5 short-lived containers per app, which reference
    counting frees (peak RSS is the same without the collector on every real APK), while each
    collection it triggers rescans every long-lived object: 8-15 % of the fixpoint's CPU."""
    clear_caches()
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
        clear_caches()


def cap(labels: frozenset[Label]) -> frozenset[Label]:
    """Keep at most a few labels per (kind, param index): the shortest, unassumed paths."""
    if len(labels) <= MAX_LABELS_PER_KIND:
        return labels
    done = _CAPPED.get(labels)
    if done is None:  # the fixpoint caps the same sets again on every pass
        done = _CAPPED[labels] = _cap(labels)
    return done


def _cap(labels: frozenset[Label]) -> frozenset[Label]:
    groups: dict[tuple[str, int, tuple[str, ...]], list[Label]] = {}
    for lb in labels:
        groups.setdefault((lb.kind, lb.index, lb.access), []).append(lb)
    if all(len(g) <= MAX_LABELS_PER_KIND for g in groups.values()):
        return labels
    out: list[Label] = []
    for g in groups.values():
        g.sort(key=lambda lb: (lb.assumed, len(lb.path), lb.path))
        out.extend(g[:MAX_LABELS_PER_KIND])
    return frozenset(out)


@dataclass(slots=True, unsafe_hash=True)
class Value:
    """What a register holds. Never assigned to once made, and hashed by value as a frozen
    dataclass is; not ``frozen`` because the fixpoint makes hundreds of thousands per app and a
    frozen ``__init__`` costs 3.6 times as much (``object.__setattr__`` per field)."""

    labels: frozenset[Label] = EMPTY
    objs: frozenset[Obj] = EMPTY
    tags: frozenset[str] = EMPTY
    const: object = None  # str | int | None

    def join(self, other: Value) -> Value:
        if self is other:
            return self
        labels = self.labels
        if other.labels <= labels and other.objs <= self.objs and other.tags <= self.tags:
            # Nothing new in other (the common case at a loop head): self, with no Value built.
            if (self.const is None or self.const == other.const) and cap(labels) is labels:
                return self
            if self == other:  # only when other's sets are within self's
                return self
        new = Value(
            cap(self.labels | other.labels),
            self.objs | other.objs,
            self.tags | other.tags,
            self.const if self.const == other.const else None,
        )
        return self if new == self else new

    def with_tags(self, *tags: str) -> Value:
        return Value(self.labels, self.objs, self.tags | frozenset(tags), self.const)


BLANK = Value()


def join_all(values: Iterable[Value]) -> Value:
    out = BLANK
    for v in values:
        out = out.join(v)
    return out


def extend_all(labels: frozenset[Label], step: Step) -> frozenset[Label]:
    key = (id(labels), id(step))  # memoised as Label.extend is
    hit = _EXTENDED_ALL.get(key)
    if hit is not None and hit[0] is labels and hit[1] is step:
        return hit[2]
    done = frozenset(lb.extend(step) for lb in labels)
    _EXTENDED_ALL[key] = (labels, step, done)
    return done


def assumed_all(labels: frozenset[Label]) -> frozenset[Label]:
    return frozenset(lb.as_assumed() for lb in labels)


def new_classes(objs: Iterable[Obj]) -> set[str]:
    """The classes of the allocation sites among ``objs``, and of the objects app methods
    returned that they allocated (``("ret", offset, class)``, heap.returned_objects)."""
    return cast(set[str], {o[2] for o in objs if len(o) == 3 and o[0] in ("new", "ret")})


def parts(v: Value) -> frozenset[str]:
    """The loop-bound tag of a value that holds the parts of one message."""
    return frozenset({"bound:parts"}) if "msg_parts" in v.tags else EMPTY


def kinds_of(labels: frozenset[Label]) -> set[LabelKind]:
    return {lb.kind for lb in labels if lb.concrete}


def classify_uri_string(s: str) -> Provider | None:
    """Provider of a content URI given as a string (None: not a content URI we know)."""
    s = s.strip().lower()
    if s.startswith(("content://com.android.contacts", "content://contacts", "content://icc/adn")):
        return Provider.CONTACTS
    if s.startswith(("content://sms", "content://mms")):
        return Provider.SMS
    if s.startswith("content://call_log"):
        return Provider.CALL_LOG
    if s.startswith("content://com.android.calendar"):
        return Provider.CALENDAR
    if s.startswith("content://media/"):
        return Provider.MEDIA
    if s.startswith(("smsto:", "sms:", "mmsto:", "mms:")):
        return Provider.SMSTO
    if s.startswith("content://"):
        return Provider.OTHER
    return None
