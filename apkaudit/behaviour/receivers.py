"""The Intent actions the app itself receives: its manifest's intent filters and the actions of
receivers it registers at run time (``new IntentFilter("a")``, ``addAction("a")``).

An Intent for such an action stays inside the app (as far as a static reading can tell), so it
is a hand-off between the app's own components, not data leaving for another app.
"""

from __future__ import annotations

from apkaudit.code.dex import opcodes as O
from apkaudit.code.index import DexSet
from apkaudit.model import ManifestFacts

INTENT_FILTER = "Landroid/content/IntentFilter;"
MAX_METHODS = 200  # methods scanned for registered actions


def handled_actions(manifest: ManifestFacts, dexset: DexSet) -> frozenset[str]:
    actions = {a for c in manifest.components for f in c.intent_filters for a in f.actions}
    actions |= _registered_actions(dexset)
    return frozenset(actions)


def _registered_actions(dexset: DexSet) -> set[str]:
    out: set[str] = set()
    scanned = 0
    for dex in dexset.files:
        ids = {i for i, ref in dex.methods_of(INTENT_FILTER) if ref.name in ("<init>", "addAction")}
        if not ids:
            continue
        callers = dex.invokers(ids)
        for caller in sorted(callers):
            scanned += 1
            if scanned > MAX_METHODS:
                return out
            code = dexset.code(dex, caller)
            if code is None:
                continue
            consts: dict[int, str] = {}
            for insn in code.insns:
                if insn.op in O.CONST_STRING_OPS:
                    consts[insn.regs[0]] = dex.string(insn.idx)
                elif insn.op in O.INVOKE_OPS and insn.idx in ids:
                    out.update(consts[r] for r in insn.regs[1:] if r in consts)
    return out
