"""Dalvik opcode table: mnemonic, instruction format and what its pool index refers to.

Source of the facts: the Dalvik bytecode and instruction-format pages of the AOSP docs
(source.android.com/docs/core/runtime/dalvik-bytecode and .../instruction-formats).
"""

from __future__ import annotations

# Format -> size in 16-bit code units.
FORMAT_UNITS = {
    "10x": 1, "12x": 1, "11n": 1, "11x": 1, "10t": 1,
    "20t": 2, "22x": 2, "21t": 2, "21s": 2, "21h": 2, "21c": 2,
    "23x": 2, "22b": 2, "22t": 2, "22s": 2, "22c": 2,
    "30t": 3, "32x": 3, "31i": 3, "31t": 3, "31c": 3, "35c": 3, "3rc": 3,
    "45cc": 4, "4rcc": 4, "51l": 5,
}  # fmt: skip

# Pool kinds for the index operand.
STRING, TYPE, FIELD, METHOD, PROTO, CALLSITE, HANDLE = (
    "string", "type", "field", "method", "proto", "callsite", "handle",
)  # fmt: skip

NAMES: list[str] = [""] * 256
FORMATS: list[str] = ["10x"] * 256
POOLS: list[str | None] = [None] * 256


def _set(op: int, name: str, fmt: str, pool: str | None = None) -> None:
    NAMES[op], FORMATS[op], POOLS[op] = name, fmt, pool


def _build() -> None:
    singles = [
        (0x00, "nop", "10x"), (0x01, "move", "12x"), (0x02, "move/from16", "22x"),
        (0x03, "move/16", "32x"), (0x04, "move-wide", "12x"), (0x05, "move-wide/from16", "22x"),
        (0x06, "move-wide/16", "32x"), (0x07, "move-object", "12x"),
        (0x08, "move-object/from16", "22x"), (0x09, "move-object/16", "32x"),
        (0x0A, "move-result", "11x"), (0x0B, "move-result-wide", "11x"),
        (0x0C, "move-result-object", "11x"), (0x0D, "move-exception", "11x"),
        (0x0E, "return-void", "10x"), (0x0F, "return", "11x"), (0x10, "return-wide", "11x"),
        (0x11, "return-object", "11x"), (0x12, "const/4", "11n"), (0x13, "const/16", "21s"),
        (0x14, "const", "31i"), (0x15, "const/high16", "21h"), (0x16, "const-wide/16", "21s"),
        (0x17, "const-wide/32", "31i"), (0x18, "const-wide", "51l"),
        (0x19, "const-wide/high16", "21h"), (0x1D, "monitor-enter", "11x"),
        (0x1E, "monitor-exit", "11x"), (0x21, "array-length", "12x"),
        (0x26, "fill-array-data", "31t"), (0x27, "throw", "11x"), (0x28, "goto", "10t"),
        (0x29, "goto/16", "20t"), (0x2A, "goto/32", "30t"), (0x2B, "packed-switch", "31t"),
        (0x2C, "sparse-switch", "31t"),
    ]  # fmt: skip
    for op, name, fmt in singles:
        _set(op, name, fmt)
    _set(0x1A, "const-string", "21c", STRING)
    _set(0x1B, "const-string/jumbo", "31c", STRING)
    _set(0x1C, "const-class", "21c", TYPE)
    _set(0x1F, "check-cast", "21c", TYPE)
    _set(0x20, "instance-of", "22c", TYPE)
    _set(0x22, "new-instance", "21c", TYPE)
    _set(0x23, "new-array", "22c", TYPE)
    _set(0x24, "filled-new-array", "35c", TYPE)
    _set(0x25, "filled-new-array/range", "3rc", TYPE)
    for i, n in enumerate(["cmpl-float", "cmpg-float", "cmpl-double", "cmpg-double", "cmp-long"]):
        _set(0x2D + i, n, "23x")
    for i, n in enumerate(["if-eq", "if-ne", "if-lt", "if-ge", "if-gt", "if-le"]):
        _set(0x32 + i, n, "22t")
    for i, n in enumerate(["if-eqz", "if-nez", "if-ltz", "if-gez", "if-gtz", "if-lez"]):
        _set(0x38 + i, n, "21t")
    kinds = ["", "-wide", "-object", "-boolean", "-byte", "-char", "-short"]
    for i, k in enumerate(kinds):
        _set(0x44 + i, "aget" + k, "23x")
        _set(0x4B + i, "aput" + k, "23x")
        _set(0x52 + i, "iget" + k, "22c", FIELD)
        _set(0x59 + i, "iput" + k, "22c", FIELD)
        _set(0x60 + i, "sget" + k, "21c", FIELD)
        _set(0x67 + i, "sput" + k, "21c", FIELD)
    for i, n in enumerate(["virtual", "super", "direct", "static", "interface"]):
        _set(0x6E + i, f"invoke-{n}", "35c", METHOD)
        _set(0x74 + i, f"invoke-{n}/range", "3rc", METHOD)
    unops = [
        "neg-int", "not-int", "neg-long", "not-long", "neg-float", "neg-double", "int-to-long",
        "int-to-float", "int-to-double", "long-to-int", "long-to-float", "long-to-double",
        "float-to-int", "float-to-long", "float-to-double", "double-to-int", "double-to-long",
        "double-to-float", "int-to-byte", "int-to-char", "int-to-short",
    ]  # fmt: skip
    for i, n in enumerate(unops):
        _set(0x7B + i, n, "12x")
    binops = ["add", "sub", "mul", "div", "rem", "and", "or", "xor", "shl", "shr", "ushr"]
    fbinops = ["add", "sub", "mul", "div", "rem"]
    op = 0x90
    for t, ops in (("int", binops), ("long", binops), ("float", fbinops), ("double", fbinops)):
        for n in ops:
            _set(op, f"{n}-{t}", "23x")
            _set(op + 0x20, f"{n}-{t}/2addr", "12x")
            op += 1
    lit16 = ["add-int/lit16", "rsub-int", "mul-int/lit16", "div-int/lit16", "rem-int/lit16",
             "and-int/lit16", "or-int/lit16", "xor-int/lit16"]  # fmt: skip
    for i, n in enumerate(lit16):
        _set(0xD0 + i, n, "22s")
    lit8 = ["add-int/lit8", "rsub-int/lit8", "mul-int/lit8", "div-int/lit8", "rem-int/lit8",
            "and-int/lit8", "or-int/lit8", "xor-int/lit8", "shl-int/lit8", "shr-int/lit8",
            "ushr-int/lit8"]  # fmt: skip
    for i, n in enumerate(lit8):
        _set(0xD8 + i, n, "22b")
    _set(0xFA, "invoke-polymorphic", "45cc", METHOD)
    _set(0xFB, "invoke-polymorphic/range", "4rcc", METHOD)
    _set(0xFC, "invoke-custom", "35c", CALLSITE)
    _set(0xFD, "invoke-custom/range", "3rc", CALLSITE)
    _set(0xFE, "const-method-handle", "21c", HANDLE)
    _set(0xFF, "const-method-type", "21c", PROTO)
    for o in range(256):
        if not NAMES[o]:
            NAMES[o] = f"unused-{o:02x}"


_build()

UNITS = [FORMAT_UNITS[f] for f in FORMATS]

INVOKE_OPS = frozenset(range(0x6E, 0x73)) | frozenset(range(0x74, 0x79))
INVOKE_RANGE_OPS = frozenset(range(0x74, 0x79))
STATIC_INVOKES = frozenset({0x71, 0x77})
SGET_OPS = frozenset(range(0x60, 0x67))
SPUT_OPS = frozenset(range(0x67, 0x6E))
IGET_OPS = frozenset(range(0x52, 0x59))
IPUT_OPS = frozenset(range(0x59, 0x60))
AGET_OPS = frozenset(range(0x44, 0x4B))
APUT_OPS = frozenset(range(0x4B, 0x52))
MOVE_OPS = frozenset(range(0x01, 0x0A))
MOVE_RESULT_OPS = frozenset({0x0A, 0x0B, 0x0C})
RETURN_OPS = frozenset({0x0F, 0x10, 0x11})
CONST_STRING_OPS = frozenset({0x1A, 0x1B})
GOTO_OPS = frozenset({0x28, 0x29, 0x2A})
IF_OPS = frozenset(range(0x32, 0x3E))
SWITCH_OPS = frozenset({0x2B, 0x2C})
THROW_OP = 0x27
RETURN_VOID_OP = 0x0E
# Ends of a basic block that never fall through.
TERMINATORS = GOTO_OPS | RETURN_OPS | {RETURN_VOID_OP, THROW_OP}

# Single opcodes and families by mnemonic, for the interpreters (behaviour/flow.py).
OP = {name: op for op, name in enumerate(NAMES)}
MOVE_EXCEPTION = OP["move-exception"]
CONST_CLASS = OP["const-class"]
CHECK_CAST = OP["check-cast"]
INSTANCE_OF = OP["instance-of"]
ARRAY_LENGTH = OP["array-length"]
NEW_INSTANCE = OP["new-instance"]
NEW_ARRAY = OP["new-array"]
FILLED_NEW_ARRAY_OPS = frozenset({OP["filled-new-array"], OP["filled-new-array/range"]})
CONST_OPS = frozenset(range(OP["const/4"], OP["const-wide/high16"] + 1))  # literal constants
CONST_WIDE_OPS = frozenset(range(OP["const-wide/16"], OP["const-wide/high16"] + 1))
# Comparisons, unary and binary arithmetic (also /2addr, /lit16, /lit8): a result from operands.
ARITH_OPS = frozenset(range(OP["cmpl-float"], OP["cmp-long"] + 1)) | frozenset(
    range(OP["neg-int"], OP["ushr-int/lit8"] + 1)
)
# Invokes whose target is the named method itself (no virtual dispatch).
DIRECT_INVOKES = frozenset(
    OP[f"invoke-{k}{r}"] for k in ("super", "direct", "static") for r in ("", "/range")
)
