"""Which writes to a field of the method's own objects reach a read of it (strong updates).

The per-method heap is flow-insensitive: a cell holds everything ever written to it. For an
object the method allocates (heap.is_precise), the interpreter also records each ``iput`` into
it by position (``record``). A read (``reaching``) then sees only the writes on some path to it:
walking the CFG backwards from the read, a write into exactly that object, allocated outside any
loop (one instance per call), kills the writes before it. So ``h.v = id; h.v = "def"; send(h.v)``
and ``send(h.v); h.v = id`` send no identifier. What other code put into the cell (a callee, a
constructor's summary, a library model) is not recorded here and stays in the cell's value.
Walking into an exception handler kills nothing (the throw may come before the write).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apkaudit.behaviour.cfg import CFG
from apkaudit.behaviour.values import Label, Obj, Value, cap
from apkaudit.code.dex.reader import Code

Cell = tuple[object, ...]


@dataclass
class Writes:
    """The method's recorded field writes into its own objects, and the CFG facts to order them."""

    code: Code
    cfg: CFG
    by_cell: dict[Cell, dict[int, tuple[Value, bool]]] = field(default_factory=dict)
    _preds: list[list[int]] | None = None
    _handlers: frozenset[int] | None = None

    def record(self, holders: frozenset[Obj], fdesc: str, pos: int, v: Value) -> None:
        """``iput`` at ``pos`` of ``v`` into ``holders`` (all allocated by this method)."""
        strong = len(holders) == 1 and self._single_instance(next(iter(holders)))
        for o in holders:
            bucket = self.by_cell.setdefault(("f", o, fdesc), {})
            old = bucket.get(pos)
            labels = v.labels if old is None else cap(old[0].labels | v.labels)
            bucket[pos] = (Value(labels), strong)

    def filter(self, holders: frozenset[Obj], fdesc: str, pos: int, got: Value) -> Value:
        """``got`` (what the heap's cells of ``holders`` hold) without the labels that only
        writes of this method which cannot reach ``pos`` put there."""
        drop: set[tuple[object, ...]] = set()
        keep: set[Label] = set()
        for o in holders:
            bucket = self.by_cell.get(("f", o, fdesc))
            if not bucket:
                return got  # an object whose writes we do not know: the cell as it is
            live = self._reaching(bucket, pos)
            for q, (v, _strong) in bucket.items():
                if q in live:
                    keep |= v.labels
                else:
                    drop.update(_origin(lb) for lb in v.labels)
        drop -= {_origin(lb) for lb in keep}
        if not drop:
            return got
        labels = frozenset(lb for lb in got.labels if lb in keep or _origin(lb) not in drop)
        return Value(labels, got.objs, got.tags, got.const)

    # ------------------------------------------------------------------ CFG order

    def _single_instance(self, o: Obj) -> bool:
        """An allocation site outside every loop: one object per call of the method."""
        off = o[1]
        if not isinstance(off, int):
            return False
        i = self.code.index_of(off)
        return i < len(self.code.insns) and self.cfg.loop_at(i) < 0

    def _reaching(self, bucket: dict[int, tuple[Value, bool]], pos: int) -> set[int]:
        block_of = self.cfg.block_of
        blocks = self.cfg.blocks
        found: set[int] = set()
        start = blocks[block_of[pos]].start
        if _scan(bucket, range(pos - 1, start - 1, -1), found, kill=True):
            return found
        preds, handlers = self._graph()
        todo = [(p, block_of[pos] not in handlers) for p in preds[block_of[pos]]]
        seen: set[tuple[int, bool]] = set()
        while todo:
            b, kill = todo.pop()
            if (b, kill) in seen:
                continue
            seen.add((b, kill))
            blk = blocks[b]
            if _scan(bucket, range(blk.end - 1, blk.start - 1, -1), found, kill):
                continue
            todo.extend((p, b not in handlers) for p in preds[b])
        return found

    def _graph(self) -> tuple[list[list[int]], frozenset[int]]:
        if self._preds is None or self._handlers is None:
            preds: list[list[int]] = [[] for _ in self.cfg.blocks]
            for blk in self.cfg.blocks:
                for s in blk.succs:
                    preds[s].append(blk.index)
            pos_of = {ins.offset: i for i, ins in enumerate(self.code.insns)}
            self._handlers = frozenset(
                self.cfg.block_of[pos_of[h]]
                for tb in self.code.tries
                for h in tb.handlers
                if h in pos_of
            )
            self._preds = preds
        return self._preds, self._handlers


def _scan(
    bucket: dict[int, tuple[Value, bool]], positions: range, found: set[int], kill: bool
) -> bool:
    """Add the writes at ``positions`` (walked backwards); True once a strong write kills."""
    for q in positions:
        hit = bucket.get(q)
        if hit is not None:
            found.add(q)
            if kill and hit[1]:
                return True
    return False


def _origin(lb: Label) -> tuple[object, ...]:
    return (lb.kind, lb.path[:1]) if lb.concrete else (lb.index, lb.access)
