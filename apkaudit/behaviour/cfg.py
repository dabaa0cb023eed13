"""Control-flow graph of one method: basic blocks, successors, and loops.

A loop is a strongly connected component of the block graph with a cycle (Tarjan). That is
coarser than natural loops (nested loops merge into one component) but it is exactly the
question asked: "can this instruction run many times in one call?".
"""

from __future__ import annotations

from dataclasses import dataclass

from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.reader import Code, Insn


@dataclass(frozen=True)
class Block:
    index: int
    start: int  # first instruction's position in code.insns
    end: int  # one past the last
    succs: tuple[int, ...]


@dataclass(frozen=True)
class CFG:
    blocks: tuple[Block, ...]
    block_of: tuple[int, ...]  # instruction position -> block index
    loop_of: tuple[int, ...]  # block index -> loop id, or -1 when the block is in no loop
    loop_blocks: tuple[frozenset[int], ...]  # loop id -> its blocks
    rpo: tuple[int, ...] = ()  # block index -> position in reverse postorder (worklist priority)

    def loop_at(self, insn_pos: int) -> int:
        return self.loop_of[self.block_of[insn_pos]]


def _branch_targets(insn: Insn) -> tuple[int, ...]:
    if insn.op in O.SWITCH_OPS:
        return insn.targets
    if insn.op in O.GOTO_OPS or insn.op in O.IF_OPS:
        return (insn.target,) if insn.target is not None else ()
    return ()


def build_cfg(code: Code) -> CFG:
    insns = code.insns
    if not insns:
        return CFG((), (), (), ())
    pos_of = {ins.offset: i for i, ins in enumerate(insns)}
    leaders = {0}
    for i, ins in enumerate(insns):
        targets = _branch_targets(ins)
        for t in targets:
            if t in pos_of:
                leaders.add(pos_of[t])
        if (targets or ins.op in O.TERMINATORS) and i + 1 < len(insns):
            leaders.add(i + 1)
    handler_pos = {pos_of[h] for t in code.tries for h in t.handlers if h in pos_of}
    leaders |= handler_pos
    for tb in code.tries:  # block boundaries at try edges keep handler edges precise
        for edge in (tb.start, tb.end):
            # ... except before a move-result: dx and d8 end a try range after the call it
            # covers, so a boundary there would cut the call from its result (the flow
            # carries a call's result to the move-result within a block only).
            if edge in pos_of and insns[pos_of[edge]].op not in O.MOVE_RESULT_OPS:
                leaders.add(pos_of[edge])
    starts = sorted(leaders)
    block_of = [0] * len(insns)
    bounds = []
    for bi, s in enumerate(starts):
        e = starts[bi + 1] if bi + 1 < len(starts) else len(insns)
        bounds.append((s, e))
        for k in range(s, e):
            block_of[k] = bi
    blocks = []
    for bi, (s, e) in enumerate(bounds):
        last = insns[e - 1]
        succ: set[int] = set()
        for t in _branch_targets(last):
            if t in pos_of:
                succ.add(block_of[pos_of[t]])
        if last.op not in O.TERMINATORS and e < len(insns):
            succ.add(bi + 1)
        lo, hi = insns[s].offset, last.offset
        for tb in code.tries:
            if tb.start <= hi and lo < tb.end:
                succ.update(block_of[pos_of[h]] for h in tb.handlers if h in pos_of)
        blocks.append(Block(bi, s, e, tuple(sorted(succ))))
    loop_of, loops = _loops(blocks)
    return CFG(tuple(blocks), tuple(block_of), loop_of, loops, _rpo(blocks))


def _rpo(blocks: list[Block]) -> tuple[int, ...]:
    """Reverse-postorder number of each block (unreachable blocks come last)."""
    n = len(blocks)
    seen = [False] * n
    post: list[int] = []
    for root in range(n):
        if seen[root]:
            continue
        seen[root] = True
        stack = [(root, iter(blocks[root].succs))]
        while stack:
            v, it = stack[-1]
            nxt = next((w for w in it if not seen[w]), None)
            if nxt is None:
                post.append(v)
                stack.pop()
            else:
                seen[nxt] = True
                stack.append((nxt, iter(blocks[nxt].succs)))
    order = [0] * n
    for i, b in enumerate(reversed(post)):
        order[b] = i
    return tuple(order)


def _loops(blocks: list[Block]) -> tuple[tuple[int, ...], tuple[frozenset[int], ...]]:
    """Tarjan's SCC, iterative (methods can have thousands of blocks)."""
    n = len(blocks)
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    counter = 0
    loops: list[frozenset[int]] = []
    loop_of = [-1] * n
    for root in range(n):
        if index[root] != -1:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack[v] = True
            succs = blocks[v].succs
            if i < len(succs):
                work.append((v, i + 1))
                w = succs[i]
                if index[w] == -1:
                    work.append((w, 0))
                elif on_stack[w]:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1 or v in blocks[v].succs:
                    for w in comp:
                        loop_of[w] = len(loops)
                    loops.append(frozenset(comp))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return tuple(loop_of), tuple(loops)
