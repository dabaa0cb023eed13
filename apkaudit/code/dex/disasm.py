"""smali-like text for decoded instructions, for evidence excerpts in reports."""

from __future__ import annotations

from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.reader import Code, DexFile, Insn

_MAX_STRING = 120


def operand(dex: DexFile, insn: Insn) -> str:
    """The resolved pool operand of an instruction (method, field, type or quoted string)."""
    pool = O.POOLS[insn.op]
    if insn.idx is None or pool is None:
        return ""
    try:
        if pool == O.METHOD:
            return dex.method_ref(insn.idx).descriptor
        if pool == O.FIELD:
            return dex.field_ref(insn.idx).descriptor
        if pool == O.TYPE:
            return dex.type_name(insn.idx)
        if pool == O.STRING:
            s = dex.string(insn.idx)
            if len(s) > _MAX_STRING:
                s = s[:_MAX_STRING] + "…"
            return '"' + s.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
    except (IndexError, ValueError, Exception):  # a bad index in hostile code
        return f"<bad {pool} index {insn.idx}>"
    return f"{pool}@{insn.idx}"


def format_insn(dex: DexFile, insn: Insn) -> str:
    name = insn.name
    fmt = O.FORMATS[insn.op]
    parts: list[str] = []
    if fmt in ("35c", "45cc"):
        parts.append("{" + ", ".join(f"v{r}" for r in insn.regs) + "}")
    elif fmt in ("3rc", "4rcc"):
        parts.append("{" + (f"v{insn.regs[0]} .. v{insn.regs[-1]}" if insn.regs else "") + "}")
    else:
        parts.extend(f"v{r}" for r in insn.regs)
    op = operand(dex, insn)
    if op:
        parts.append(op)
    if insn.lit is not None:
        parts.append(f"{insn.lit:#x}")
    if insn.target is not None:
        parts.append(f":{insn.target:#06x}")
    return f"{insn.offset:#06x}: {name} {', '.join(parts)}".rstrip()


def excerpt(
    dex: DexFile, code: Code, offset: int, before: int = 3, after: int = 2
) -> tuple[str, ...]:
    """A few instructions around ``offset``; the instruction at ``offset`` is marked with '>'."""
    i = code.index_of(offset)
    lo, hi = max(0, i - before), min(len(code.insns), i + after + 1)
    return tuple(
        ("> " if ins.offset == offset else "  ") + format_insn(dex, ins)
        for ins in code.insns[lo:hi]
    )
