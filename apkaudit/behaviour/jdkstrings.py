"""Pure JDK string operations for the bounded emulator (emulate.py) and the reflection scan
(reflection.py): Java's UTF-16 strings, StringBuilder, Base64, on plain Python values.

Each function gets the call's arguments (receiver first) and returns the result, or raises
``GiveUp`` when an argument is not a value it can compute with.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field

from apkaudit.code.dex.reader import Insn, MethodRef

MAX_LEN = 8_192  # longest string or array built


class GiveUp(Exception):
    """Not computable here: the method is not decryptor-shaped, or a bound was hit."""


def check_len(n: int) -> None:
    if n < 0 or n > MAX_LEN:
        raise GiveUp("size bound")


def i32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x & 0x80000000 else x


def i64(x: int) -> int:
    x &= 0xFFFFFFFFFFFFFFFF
    return x - (1 << 64) if x & (1 << 63) else x


def units(s: str) -> list[int]:
    """A Java string's UTF-16 code units."""
    b = s.encode("utf-16-le", "surrogatepass")
    return [b[i] | b[i + 1] << 8 for i in range(0, len(b), 2)]


def _fromunits(units: list[int]) -> str:
    raw = b"".join((u & 0xFFFF).to_bytes(2, "little") for u in units)
    return raw.decode("utf-16-le", "surrogatepass")


def utf8(s: str) -> list[int]:
    return [b - 256 if b > 127 else b for b in s.encode("utf-8", "surrogatepass")]


def from_bytes(bs: list[int]) -> str:
    return bytes(b & 0xFF for b in bs).decode("utf-8", "replace")


@dataclass(slots=True)
class Builder:  # a StringBuilder / StringBuffer
    units: list[int] = field(default_factory=list)


@dataclass(slots=True)
class Arr:  # an array: element values (ints for primitives)
    items: list


def _s(v: object) -> str:
    if not isinstance(v, str):
        raise GiveUp("not a string")
    return v


def _string(args, ref, regs, insn):
    """java.lang.String instance methods and constructors."""
    name = ref.name
    if name == "<init>":
        p = ref.param_types
        if p == ("[C",):
            val = _fromunits(args[1].items)
        elif p == ("[B",) or p == ("[B", "Ljava/lang/String;"):
            val = from_bytes(args[1].items)
        elif p == ("[C", "I", "I"):
            val = _fromunits(args[1].items[args[2] : args[2] + args[3]])
        elif p == ("Ljava/lang/String;",):
            val = _s(args[1])
        elif p == ():
            val = ""
        else:
            raise GiveUp("String.<init>" + ref.proto)
        regs[insn.regs[0]] = val  # strings are values: the receiver register becomes the string
        return None
    s = _s(args[0])
    u = units(s)
    if name == "toCharArray":
        return Arr(u)
    if name == "length":
        return len(u)
    if name == "charAt":
        return u[args[1]]
    if name == "getBytes":
        return Arr(utf8(s))
    if name == "substring":
        end = args[2] if len(args) > 2 else len(u)
        return _fromunits(u[args[1] : end])
    if name in ("toString", "intern", "trim"):
        return s.strip() if name == "trim" else s
    if name == "concat":
        return s + _s(args[1])
    if name in ("toUpperCase", "toLowerCase"):
        return s.upper() if name == "toUpperCase" else s.lower()
    if name == "replace" and ref.param_types == ("C", "C"):
        return _fromunits([args[2] if c == args[1] else c for c in u])
    if name == "replace":
        return s.replace(_s(args[1]), _s(args[2]))
    if name == "indexOf" and ref.param_types == ("I",):
        return u.index(args[1]) if args[1] in u else -1
    raise GiveUp("String." + name)


def _string_static(args, ref, regs, insn):
    p = ref.param_types
    if ref.name == "valueOf" and p == ("[C",):
        return _fromunits(args[0].items)
    if ref.name == "valueOf" and p == ("C",):
        return _fromunits([args[0]])
    if ref.name == "valueOf" and p == ("I",):
        return str(args[0])
    raise GiveUp("String." + ref.name)


def _builder(args, ref, regs, insn):
    name = ref.name
    b = args[0]
    if name == "<init>":
        init = args[1] if len(args) > 1 else ""
        regs[insn.regs[0]] = Builder(units(init) if isinstance(init, str) else [])
        return None
    if not isinstance(b, Builder):
        raise GiveUp("builder")
    if name == "append":
        t = ref.param_types[0]
        v = args[1]
        if t == "C":
            b.units.append(v & 0xFFFF)
        elif t in ("I", "J"):
            b.units += units(str(v))
        elif isinstance(v, str):
            b.units += units(v)
        elif isinstance(v, Arr) and t == "[C":
            b.units += v.items
        else:
            raise GiveUp("append " + t)
        check_len(len(b.units))
        return b
    if name == "toString":
        return _fromunits(b.units)
    if name == "reverse":
        b.units.reverse()
        return b
    if name == "length":
        return len(b.units)
    if name == "charAt":
        return b.units[args[1]]
    if name == "setCharAt":
        b.units[args[1]] = args[2] & 0xFFFF
        return None
    if name == "insert" and ref.param_types[1] in ("C", "Ljava/lang/String;"):
        v = args[2]
        b.units[args[1] : args[1]] = [v & 0xFFFF] if isinstance(v, int) else units(_s(v))
        return b
    raise GiveUp("StringBuilder." + name)


def _base64(args, ref, regs, insn):
    if ref.name != "decode":
        raise GiveUp("Base64." + ref.name)
    data = args[0]
    raw = data.encode("ascii") if isinstance(data, str) else bytes(b & 0xFF for b in data.items)
    try:
        out = base64.b64decode(
            raw + b"=" * (-len(raw) % 4), altchars=b"-_" if b"-" in raw or b"_" in raw else None
        )
    except (binascii.Error, ValueError) as e:
        raise GiveUp("base64") from e
    return Arr([b - 256 if b > 127 else b for b in out])


def _integer(args, ref, regs, insn):
    if ref.name == "parseInt":
        return i32(int(_s(args[0]), args[1] if len(args) > 1 else 10))
    raise GiveUp("Integer." + ref.name)


JdkFn = Callable[[list, MethodRef, dict, Insn], object]
JDK: dict[tuple[str, str], JdkFn] = {}
_STRING_METHODS = ("<init>", "toCharArray", "length", "charAt", "getBytes", "substring",
                   "toString", "intern", "trim", "concat", "toUpperCase", "toLowerCase",
                   "replace", "indexOf")  # fmt: skip
for _m in _STRING_METHODS:
    JDK[("Ljava/lang/String;", _m)] = _string
JDK[("Ljava/lang/String;", "valueOf")] = _string_static
for _c in ("Ljava/lang/StringBuilder;", "Ljava/lang/StringBuffer;"):
    for _m in ("<init>", "append", "toString", "reverse", "length", "charAt", "setCharAt",
               "insert"):  # fmt: skip
        JDK[(_c, _m)] = _builder
JDK[("Landroid/util/Base64;", "decode")] = _base64
JDK[("Ljava/lang/Integer;", "parseInt")] = _integer
