"""Is an instruction in a loop, and what drives the loop?

A loop (cfg.py: a strongly connected component) is described by the values its conditions
test: a cursor (``moveToNext``), an iterator (``hasNext``), an index bounded by a size, or the
parts of one message. The data kinds those values carry say whether the loop is driven by the
data itself (a cursor over the contact list): bulk messaging needs that. A loop over a
parameter's contents is known only at the call site, so the parameter is kept (``rel``) and
the description is remade there (``describe``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from apkaudit.behaviour.cfg import CFG
from apkaudit.behaviour.kinds import SOURCES, LabelKind
from apkaudit.behaviour.values import Value, kinds_of

FORMS = ("parts", "cursor", "iterator", "bound")
# Every data kind in words (kinds.SOURCES, one table).
_NOUNS: dict[str, str] = {str(info.label): info.noun for info in SOURCES.values()}


@dataclass(frozen=True, slots=True)
class LoopInfo:
    in_loop: bool = False
    desc: str = ""
    kinds: frozenset[LabelKind] = frozenset()
    forms: tuple[str, ...] = ()
    rel: frozenset[tuple[int, tuple[str, ...]]] = frozenset()


NO_LOOP = LoopInfo()


def loop_info(cfg: CFG, conds: dict[int, Value], pos: int) -> LoopInfo:
    loop = cfg.loop_at(pos)
    if loop < 0:
        return NO_LOOP
    blocks = cfg.loop_blocks[loop]
    forms: list[str] = []
    kinds: set[LabelKind] = set()
    rel: set[tuple[int, tuple[str, ...]]] = set()
    for p, v in conds.items():
        if cfg.block_of[p] not in blocks:
            continue
        kinds |= kinds_of(v.labels)
        rel |= {(lb.index, lb.access) for lb in v.labels if not lb.concrete}
        if "bound:parts" in v.tags:
            forms.append("parts")
        elif "cond:cursor" in v.tags:
            forms.append("cursor")
        elif "cond:iterator" in v.tags:
            forms.append("iterator")
        elif "bound" in v.tags:
            forms.append("bound")
    f = tuple(dict.fromkeys(forms))
    return LoopInfo(True, describe(f, kinds), frozenset(kinds), f, frozenset(rel))


def describe(forms: tuple[str, ...], kinds: Iterable[LabelKind]) -> str:
    over = " and ".join(_NOUNS.get(x, x) for x in sorted(kinds)) or "local data"
    words = {
        "parts": "the parts of one message",
        "cursor": f"a cursor over {over}",
        "iterator": f"an iterator over {over}",
        "bound": f"an index bounded by the size of {over}",
    }
    return ", ".join(words[f] for f in forms) or "a loop"


def per_iteration(li: LoopInfo, v: Value) -> Value:
    """``v`` handed on (to a global field, an Intent) inside the loop ``li``: if the loop is
    driven by its own data, its labels carry the loop to where the value is read."""
    if not v.labels or not li.in_loop or not li.kinds:
        return v
    labels = frozenset(
        lb.per_iteration(li.desc) if lb.concrete and lb.kind in li.kinds else lb for lb in v.labels
    )
    return Value(labels, v.objs, v.tags, v.const)
