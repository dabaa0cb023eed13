"""Abstract values of the data-flow analysis: taint labels with the path they travelled.

A register holds a ``Value``: the taint labels it carries, the abstract objects it may point to
(allocation sites, parameters, fields), semantic tags (``uri:contacts``, ``cursor``,
``net_stream``, ``cond:cursor`` ...) and a constant when one is known. Labels remember their
path as hops (dex, class, method, offset, role, description) so a finished chain can name
every step. Everything is bounded: label sets per kind and path lengths are capped.
"""

from __future__ import annotations

from dataclasses import dataclass

Hop = tuple[str, str, str, int, str, str]  # dex, class, method, offset, role, description
Obj = tuple  # ("new", offset, class) | ("param", i) | ("field", descriptor) | ("ret", offset)

MAX_PATH = 14
MAX_LABELS_PER_KIND = 3
SOURCE_KINDS = ("contacts", "sms", "call_log", "network")


@dataclass(frozen=True, slots=True)
class Label:
    kind: str  # contacts | sms | call_log | network | param
    index: int = -1  # parameter index for kind == "param"
    path: tuple[Hop, ...] = ()
    assumed: bool = False  # passed through an app method we could not analyse

    def extend(self, hop: Hop) -> Label:
        # Idempotent: a hop already on the path is not added again. This keeps the lattice
        # finite, so loops converge instead of growing paths until the cap.
        if hop in self.path:
            return self
        path = self.path
        if len(path) >= MAX_PATH:
            path = path[:4] + path[-(MAX_PATH - 6) :]
        return Label(self.kind, self.index, (*path, hop), self.assumed)

    def extend_path(self, hops: tuple[Hop, ...], assumed: bool = False) -> Label:
        out = self
        for h in hops:
            out = out.extend(h)
        if assumed and not out.assumed:
            out = Label(out.kind, out.index, out.path, True)
        return out

    @property
    def concrete(self) -> bool:
        return self.kind != "param"


EMPTY: frozenset = frozenset()


def cap(labels: frozenset[Label]) -> frozenset[Label]:
    """Keep at most a few labels per (kind, param index): the shortest, unassumed paths."""
    if len(labels) <= MAX_LABELS_PER_KIND:
        return labels
    groups: dict[tuple[str, int], list[Label]] = {}
    for lb in labels:
        groups.setdefault((lb.kind, lb.index), []).append(lb)
    if all(len(g) <= MAX_LABELS_PER_KIND for g in groups.values()):
        return labels
    out: list[Label] = []
    for g in groups.values():
        g.sort(key=lambda lb: (lb.assumed, len(lb.path), lb.path))
        out.extend(g[:MAX_LABELS_PER_KIND])
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class Value:
    labels: frozenset[Label] = EMPTY
    objs: frozenset[Obj] = EMPTY
    tags: frozenset[str] = EMPTY
    const: object = None  # str | int | None

    def join(self, other: Value) -> Value:
        if self is other or self == other:
            return self
        new = Value(
            cap(self.labels | other.labels),
            self.objs | other.objs,
            self.tags | other.tags,
            self.const if self.const == other.const else None,
        )
        return self if new == self else new

    def with_labels(self, labels: frozenset[Label]) -> Value:
        return Value(cap(self.labels | labels), self.objs, self.tags, self.const)

    def with_tags(self, *tags: str) -> Value:
        return Value(self.labels, self.objs, self.tags | frozenset(tags), self.const)


BLANK = Value()


def join_all(values) -> Value:
    out = BLANK
    for v in values:
        out = out.join(v)
    return out


def extend_all(labels: frozenset[Label], hop: Hop) -> frozenset[Label]:
    return frozenset(lb.extend(hop) for lb in labels)


def kinds_of(labels: frozenset[Label]) -> set[str]:
    return {lb.kind for lb in labels if lb.concrete}


def classify_uri_string(s: str) -> str | None:
    """Provider of a content URI given as a string (None: not a content URI we know)."""
    s = s.strip().lower()
    if s.startswith(("content://com.android.contacts", "content://contacts", "content://icc/adn")):
        return "contacts"
    if s.startswith(("content://sms", "content://mms")):
        return "sms"
    if s.startswith("content://call_log"):
        return "call_log"
    if s.startswith("content://com.android.calendar"):
        return "calendar"
    if s.startswith(("smsto:", "sms:", "mmsto:", "mms:")):
        return "smsto"
    if s.startswith("content://"):
        return "other"
    return None
