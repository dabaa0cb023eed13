"""A call's result read after its try range ends (dx and d8 end the range after the call,
before its move-result): the result is not lost at the try boundary (fixture flow-try-result)."""

from __future__ import annotations

from conftest import fixture_apk, hop_names

from apkaudit.behaviour.cfg import build_cfg
from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.code_items import Code, TryBlock
from apkaudit.code.dex.decode import Insn


def _chains(result, source: str, sink: str):
    assert result.status == "ok", result.error
    assert result.behaviours is not None
    return [c for c in result.behaviours.chains if (c.source, c.sink) == (source, sink)]


def test_move_result_after_a_try_end_is_no_block_leader() -> None:
    invoke, move, ret = 0x6E, 0x0C, 0x11  # invoke-virtual, move-result-object, return-object
    assert invoke in O.INVOKE_OPS and move in O.MOVE_RESULT_OPS and ret in O.RETURN_OPS
    insns = (
        Insn(offset=0, op=invoke, regs=(0,), idx=0),
        Insn(offset=6, op=move, regs=(0,)),
        Insn(offset=8, op=ret, regs=(0,)),
    )
    cfg = build_cfg(Code(registers=1, ins=0, insns=insns, tries=(TryBlock(0, 6, (8,)),)))
    assert cfg.block_of[0] == cfg.block_of[1]  # the call and its move-result: one block


def test_result_of_a_call_at_a_try_end_keeps_its_data(audit) -> None:
    found = _chains(audit(fixture_apk("flow-try-result")), "device_id", "log")
    assert any(
        hop_names(c)
        == ["MainActivity.deviceId@0x14", "MainActivity.onCreate@0x6", "MainActivity.onCreate@0x12"]
        for c in found
    ), [hop_names(c) for c in found]


def test_twin_returns_the_constant(audit) -> None:
    """The twin returns the constant it set before the try: no device_id -> log chain."""
    assert not _chains(audit(fixture_apk("flow-try-result-neg")), "device_id", "log")
