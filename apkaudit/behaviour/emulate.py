"""A bounded emulator for decryptor-shaped static methods: constant arguments in, a string out.

String obfuscators (StringHound, Glanz et al., CCS 2020) replace each literal with a call to a
small static method that rebuilds it from an encoded constant: XOR over ``toCharArray``, Base64,
reversal, a ``StringBuilder`` loop. Folding such calls turns ``Class.forName(d("…"))`` back into
a constant the reflection models can resolve. The emulator never runs app code natively: it
interprets a whitelist of Dalvik instructions over Python values, and gives up (``None``) on
anything else — a field access, an unknown call, a throw, a switch, a step or size bound.

Decryptor-shaped: static, returns ``String``, every argument a known constant (string or int),
at most ``MAX_INSNS`` instructions, and only calls to the pure JDK methods below or to other
decryptor-shaped app methods (``MAX_DEPTH`` deep).
"""

from __future__ import annotations

from collections.abc import Callable

from apkaudit.behaviour.jdkstrings import JDK, Arr, Builder, GiveUp, check_len, i32, i64
from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.reader import Code, DexFile, Insn, MethodRef, arg_regs
from apkaudit.code.index import DexSet

MAX_STEPS = 20_000  # instructions executed per top-level call, nested calls included
MAX_INSNS = 600  # instructions in one emulated method
MAX_DEPTH = 3
ACC_STATIC = 0x8


class _Budget:
    __slots__ = ("steps",)

    def __init__(self) -> None:
        self.steps = MAX_STEPS

    def tick(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise GiveUp("step bound")


class Emulator:
    """Folds calls of decryptor-shaped methods of one dex set. Results are cached per call."""

    def __init__(self, lookup: Callable[[str, str], tuple[DexFile, Code, bool] | None]) -> None:
        self._lookup = lookup
        self._cache: dict[tuple, str | None] = {}

    def fold(self, cls: str, sig: str, args: tuple[object, ...]) -> str | None:
        if not sig.endswith(")Ljava/lang/String;"):
            return None
        key = (cls, sig, args)
        if key in self._cache:
            return self._cache[key]
        try:
            out = self._call(cls, sig, list(args), _Budget(), 0)
            result = out if isinstance(out, str) else None
        except (GiveUp, IndexError, ZeroDivisionError, ValueError, TypeError, KeyError):
            result = None
        self._cache[key] = result
        return result

    # ------------------------------------------------------------------ interpreter

    def _call(self, cls: str, sig: str, args: list, budget: _Budget, depth: int) -> object:
        if depth > MAX_DEPTH:
            raise GiveUp("depth")
        found = self._lookup(cls, sig)
        if found is None:
            raise GiveUp("no code")
        dex, code, static = found
        if not static or len(code.insns) > MAX_INSNS:
            raise GiveUp("not decryptor-shaped")
        regs: dict[int, object] = {}
        r = code.registers - code.ins
        params = MethodRef(cls, sig.split("(", 1)[0], "(" + sig.split("(", 1)[1]).param_types
        if len(params) != len(args):
            raise GiveUp("arity")
        for t, a in zip(params, args, strict=True):
            regs[r] = a
            r += 2 if t in ("J", "D") else 1
        return self._run(dex, code, regs, budget, depth)

    def _run(self, dex: DexFile, code: Code, regs: dict, budget: _Budget, depth: int) -> object:
        insns = code.insns
        index = {i.offset: n for n, i in enumerate(insns)}
        pc = 0
        result: object = None
        while True:
            budget.tick()
            if pc >= len(insns):
                raise GiveUp("fell off the end")
            insn = insns[pc]
            op = insn.op
            nxt = pc + 1
            if op in O.RETURN_OPS:
                return regs.get(insn.regs[0])
            if op == 0x0E:  # return-void
                raise GiveUp("void")
            if op in O.MOVE_RESULT_OPS:
                regs[insn.regs[0]] = result
            elif op in O.MOVE_OPS:
                regs[insn.regs[0]] = regs.get(insn.regs[1])
            elif 0x12 <= op <= 0x19:
                regs[insn.regs[0]] = insn.lit
            elif op in O.CONST_STRING_OPS:
                regs[insn.regs[0]] = dex.string(insn.idx)
            elif op == 0x1F:  # check-cast
                pass
            elif op == 0x22:  # new-instance
                name = dex.type_name(insn.idx) if insn.idx is not None else ""
                if name not in ("Ljava/lang/StringBuilder;", "Ljava/lang/StringBuffer;",
                                "Ljava/lang/String;"):  # fmt: skip
                    raise GiveUp("new " + name)
                regs[insn.regs[0]] = Builder() if "Builder" in name or "Buffer" in name else ""
            elif op == 0x23:  # new-array
                n = regs.get(insn.regs[1])
                if not isinstance(n, int):
                    raise GiveUp("array size")
                check_len(n)
                t = dex.type_name(insn.idx) if insn.idx is not None else ""
                regs[insn.regs[0]] = Arr([None if t[1:2] in ("L", "[") else 0] * n)
            elif op == 0x21:  # array-length
                regs[insn.regs[0]] = len(self._arr(regs, insn.regs[1]).items)
            elif op in O.AGET_OPS:
                a = self._arr(regs, insn.regs[1])
                regs[insn.regs[0]] = a.items[self._int(regs, insn.regs[2])]
            elif op in O.APUT_OPS:
                a = self._arr(regs, insn.regs[1])
                i = self._int(regs, insn.regs[2])
                if not 0 <= i < len(a.items):
                    raise GiveUp("index")
                a.items[i] = self._narrow(op, regs.get(insn.regs[0]))
            elif op in O.IF_OPS:
                if self._test(op, regs, insn.regs):
                    nxt = self._jump(index, insn)
            elif op in O.GOTO_OPS:
                nxt = self._jump(index, insn)
            elif 0x7B <= op <= 0x8F:
                regs[insn.regs[0]] = self._unop(op, regs.get(insn.regs[1]))
            elif 0x90 <= op <= 0xAF:
                regs[insn.regs[0]] = self._binop(op - 0x90, regs, insn.regs[1], insn.regs[2])
            elif 0xB0 <= op <= 0xCF:
                regs[insn.regs[0]] = self._binop(op - 0xB0, regs, insn.regs[0], insn.regs[1])
            elif 0xD0 <= op <= 0xE2:
                regs[insn.regs[0]] = self._litop(op, self._int(regs, insn.regs[1]), insn.lit)
            elif op in O.INVOKE_OPS:
                result = self._invoke(dex, insn, regs, budget, depth)
            elif op == 0x00:
                pass
            else:
                raise GiveUp(f"opcode {op:#x}")
            pc = nxt

    @staticmethod
    def _jump(index: dict[int, int], insn: Insn) -> int:
        if insn.target is None or insn.target not in index:
            raise GiveUp("branch target")
        return index[insn.target]

    @staticmethod
    def _arr(regs: dict, r: int) -> Arr:
        a = regs.get(r)
        if not isinstance(a, Arr):
            raise GiveUp("not an array")
        return a

    @staticmethod
    def _int(regs: dict, r: int) -> int:
        v = regs.get(r)
        if not isinstance(v, int):
            raise GiveUp("not an int")
        return v

    @staticmethod
    def _narrow(op: int, v: object) -> object:
        if not isinstance(v, int):
            return v
        if op == 0x50:  # aput-char
            return v & 0xFFFF
        if op == 0x4F:  # aput-byte
            v &= 0xFF
            return v - 256 if v > 127 else v
        if op == 0x51:  # aput-short
            v &= 0xFFFF
            return v - 65536 if v > 32767 else v
        return v

    def _test(self, op: int, regs: dict, rr: tuple[int, ...]) -> bool:
        a = regs.get(rr[0])
        b = regs.get(rr[1]) if op < 0x38 else 0
        if op in (0x32, 0x33, 0x38, 0x39) and not (isinstance(a, int) and isinstance(b, int)):
            same = a is b or (a is None and b == 0) or (b is None and a == 0)
            return same if op in (0x32, 0x38) else not same  # object (null) tests
        if not (isinstance(a, int) and isinstance(b, int)):
            raise GiveUp("compare")
        k = (op - 0x32) if op < 0x38 else (op - 0x38)
        return (a == b, a != b, a < b, a >= b, a > b, a <= b)[k]

    @staticmethod
    def _unop(op: int, v: object) -> int:
        if not isinstance(v, int):
            raise GiveUp("unop")
        name = O.NAMES[op]
        if name == "neg-int":
            return i32(-v)
        if name == "not-int":
            return i32(~v)
        if name == "neg-long":
            return i64(-v)
        if name == "not-long":
            return i64(~v)
        if name in ("int-to-long", "long-to-int"):
            return i64(v) if name == "int-to-long" else i32(v)
        if name == "int-to-char":
            return v & 0xFFFF
        if name == "int-to-byte":
            v &= 0xFF
            return v - 256 if v > 127 else v
        if name == "int-to-short":
            v &= 0xFFFF
            return v - 65536 if v > 32767 else v
        raise GiveUp(name)

    @staticmethod
    def _arith(k: int, a: int, b: int, wide: bool) -> int:
        wrap = i64 if wide else i32
        bits = 63 if wide else 31
        if k == 0:
            return wrap(a + b)
        if k == 1:
            return wrap(a - b)
        if k == 2:
            return wrap(a * b)
        if k in (3, 4):
            if b == 0:
                raise GiveUp("division by zero")
            q = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
            return wrap(q) if k == 3 else wrap(a - q * b)
        if k == 5:
            return wrap(a & b)
        if k == 6:
            return wrap(a | b)
        if k == 7:
            return wrap(a ^ b)
        s = b & bits
        if k == 8:
            return wrap(a << s)
        if k == 9:
            return wrap(a >> s)
        if k == 10:
            return wrap((a & ((1 << (bits + 1)) - 1)) >> s)
        raise GiveUp("arith")

    def _binop(self, k: int, regs: dict, ra: int, rb: int) -> int:
        if k >= 22:  # float and double
            raise GiveUp("floating point")
        wide = k >= 11
        return self._arith(k - 11 if wide else k, self._int(regs, ra), self._int(regs, rb), wide)

    def _litop(self, op: int, a: int, lit: int | None) -> int:
        if lit is None:
            raise GiveUp("literal")
        name = O.NAMES[op].split("/")[0]
        if name == "rsub-int":
            return i32(lit - a)
        table = {"add-int": 0, "mul-int": 2, "div-int": 3, "rem-int": 4, "and-int": 5,
                 "or-int": 6, "xor-int": 7, "shl-int": 8, "shr-int": 9, "ushr-int": 10}  # fmt: skip
        return self._arith(table[name], a, lit, False)

    # ------------------------------------------------------------------ calls

    def _args(self, insn: Insn, ref: MethodRef, static: bool, regs: dict) -> list:
        rr = arg_regs(insn, ref)
        if len(rr) != len(ref.param_types) + (not static):
            raise GiveUp("arity")  # fewer registers than the method takes: damaged code
        return [regs.get(r) for r in rr]

    def _invoke(self, dex: DexFile, insn: Insn, regs: dict, budget: _Budget, depth: int) -> object:
        ref = dex.method_ref(insn.idx)
        static = insn.op in O.STATIC_INVOKES
        args = self._args(insn, ref, static, regs)
        jdk = JDK.get((ref.class_name, ref.name))
        if jdk is not None:
            out = jdk(args, ref, regs, insn)
            if isinstance(out, str | Arr):
                check_len(len(out) if isinstance(out, str) else len(out.items))
            return out
        if static and self._lookup(ref.class_name, ref.signature) is not None:
            return self._call(ref.class_name, ref.signature, args, budget, depth + 1)
        raise GiveUp(f"call {ref.class_name}->{ref.name}")


def emulator_for(dexset: DexSet) -> Emulator:
    """An emulator over the methods an app defines (first definition wins, as at run time)."""

    def lookup(cls: str, sig: str) -> tuple[DexFile, Code, bool] | None:
        found = dexset.defined_method(cls, sig)
        if found is None:
            return None
        dex, idx = found
        code = dexset.code(dex, idx)
        if code is None:
            return None
        return dex, code, bool(dex.defined_methods[idx].access & ACC_STATIC)

    return Emulator(lookup)
