"""Calls through a method handle in the data flow: ``const-method-handle vA, handle@B`` then
``invoke-polymorphic {vA, ...}, MethodHandle.invoke|invokeExact`` calls the handle's method
with the registers after the handle (dex format, "invoke-polymorphic": the first register is
the handle, the rest are the arguments of the call, the receiver first for an instance handle).

The code index counts the handle as a call of its method at the ``const-method-handle``
(code/dex/handles.py). Here the handle register carries its target and that offset (a ``mh:``
tag), so the invoke is followed as the direct call it stands for, at the index's location: the
sink's arguments (an SMS destination and body) are seen and its chains land on that send.
"""

from __future__ import annotations

from dataclasses import replace

from apkaudit.behaviour.values import BLANK, Value
from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.code_items import Code
from apkaudit.code.dex.reader import DexFile, Insn

CONST_METHOD_HANDLE = O.OP["const-method-handle"]
INVOKE_POLYMORPHIC_OPS = frozenset({O.OP["invoke-polymorphic"], O.OP["invoke-polymorphic/range"]})
_TAG = "mh:"
_INVOKERS = frozenset({"invoke", "invokeExact"})
_HANDLE_CLASS = "Ljava/lang/invoke/MethodHandle;"
_INVOKE_VIRTUAL, _INVOKE_STATIC = O.OP["invoke-virtual"], O.OP["invoke-static"]


def handle_value(dex: DexFile, insn: Insn) -> Value:
    """The value of ``const-method-handle``: the method it calls, when it calls one."""
    handles, _sites = dex.handle_targets
    target = handles.get(insn.idx) if insn.idx is not None else None
    if target is None:
        return BLANK
    return Value(tags=frozenset({f"{_TAG}{target}:{insn.offset}"}))


def direct_call(dex: DexFile, insn: Insn, handle: Value) -> Insn | None:
    """The ``invoke-polymorphic`` as a direct call of the handle's method, placed at the
    handle's ``const-method-handle``; None when the call is not ``MethodHandle.invoke*`` on
    one known handle."""
    targets = {t for t in handle.tags if t.startswith(_TAG)}
    if len(targets) != 1 or not _is_handle_invoke(dex, insn):
        return None
    method, offset = (int(x) for x in targets.pop()[len(_TAG) :].split(":"))
    return _as_call(dex, insn, method, offset)


def call_of_handle(dex: DexFile, code: Code, offset: int) -> Insn | None:
    """For the ``const-method-handle`` at ``offset``: the first later ``invoke-polymorphic``
    on its register, as the direct call it stands for (at that invoke's own offset)."""
    at = code.index_of(offset)
    if at >= len(code.insns) or code.insns[at].op != CONST_METHOD_HANDLE:
        return None
    made = code.insns[at]
    handles, _sites = dex.handle_targets
    method = handles.get(made.idx) if made.idx is not None else None
    if method is None or not made.regs:
        return None
    for insn in code.insns[at + 1 :]:
        if insn.op in INVOKE_POLYMORPHIC_OPS and insn.regs and insn.regs[0] == made.regs[0]:
            if not _is_handle_invoke(dex, insn):
                return None
            return _as_call(dex, insn, method, insn.offset)
    return None


def _is_handle_invoke(dex: DexFile, insn: Insn) -> bool:
    if insn.idx is None or not insn.regs:
        return False
    ref = dex.method_ref(insn.idx)
    return ref.class_name == _HANDLE_CLASS and ref.name in _INVOKERS


def _as_call(dex: DexFile, insn: Insn, method: int, offset: int) -> Insn:
    args = insn.regs[1:]
    slots = sum(2 if t in ("J", "D") else 1 for t in dex.method_ref(method).param_types)
    # One register more than the parameters need: the receiver of an instance handle.
    op = _INVOKE_VIRTUAL if len(args) > slots else _INVOKE_STATIC
    return replace(insn, offset=offset, op=op, regs=args, idx=method)
