"""Reflection as call edges: which classes and methods ``Class.forName``/``getMethod``/
``newInstance``/``invoke`` reach, and where they cannot be resolved.

Each method that uses the reflection API is read once, straight through, tracking the
constants its registers hold: string constants, the results of decryptor-shaped calls (folded
by the bounded emulator, emulate.py) and of pure string operations (jdkstrings.py), class
objects (``forName``, ``const-class``, ``getClass``), method and constructor objects. A resolved
``newInstance`` is an edge to the class's constructors, a resolved ``getMethod`` an edge to the
app methods of that name (all overloads); a method name resolved on an unknown class is an edge
to every app method of that name. What stays unknown — the class of an instantiation, the name
of a method invoked — is recorded: it makes "proven unreachable" unsafe (reachability.py) and
is reported as a ``reflection_unresolved`` blind spot.

A straight-line reading ignores branches; it is an over-approximation for edges (more code
looks reachable, none is hidden) and only the method's own constants are followed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from apkaudit.behaviour.emulate import Emulator
from apkaudit.behaviour.jdkstrings import JDK, Builder, GiveUp
from apkaudit.behaviour.resources import OWNERS
from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.reader import DexFile, Insn, MethodRef, arg_regs
from apkaudit.code.index import DexSet
from apkaudit.errors import DexFormatError
from apkaudit.model import BlindSpot, BlindSpotKind

MethodKey = tuple[str, str]
ACC_STATIC = 0x8
MAX_METHODS = 3_000  # methods read
MAX_INSNS = 4_000  # instructions of one method read
CLASS = "Ljava/lang/Class;"
REFLECT_API = {
    (CLASS, "forName"),
    (CLASS, "newInstance"),
    (CLASS, "getMethod"),
    (CLASS, "getDeclaredMethod"),
    (CLASS, "getConstructor"),
    (CLASS, "getDeclaredConstructor"),
    ("Ljava/lang/ClassLoader;", "loadClass"),
    ("Ldalvik/system/DexClassLoader;", "loadClass"),
    ("Ldalvik/system/PathClassLoader;", "loadClass"),
    ("Ljava/lang/reflect/Method;", "invoke"),
    ("Ljava/lang/reflect/Constructor;", "newInstance"),
}


@dataclass(frozen=True, slots=True)
class ClassVal:
    name: str | None  # dex descriptor; None: not resolved


@dataclass(frozen=True, slots=True)
class MethodVal:
    cls: str | None
    name: str | None
    ctor: bool = False


class _Unknown:
    __slots__ = ()


UNKNOWN = _Unknown()


@dataclass(frozen=True, slots=True, kw_only=True)
class Unresolved:
    method: MethodKey
    offset: int
    what: str  # "class name" | "method name" | "method" (a Method object not followed)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReflectionFacts:
    edges: dict[MethodKey, frozenset[MethodKey]] = field(default_factory=dict)
    resolved: int = 0  # reflective calls resolved
    unresolved: tuple[Unresolved, ...] = ()
    truncated: bool = False  # MAX_METHODS was hit: some methods were not read


def java_to_desc(name: str) -> str | None:
    name = name.strip()
    if not name or len(name) > 400 or any(c in name for c in " ;/[()"):
        return None
    return "L" + name.replace(".", "/") + ";"


class _Scan:
    def __init__(
        self, dexset: DexSet, emulator: Emulator, strings: Callable[[int], str | None]
    ) -> None:
        self.dex = dexset
        self.emu = emulator
        self.strings = strings
        self.edges: dict[MethodKey, set[MethodKey]] = {}
        self.unresolved: list[Unresolved] = []
        self.resolved = 0

    # ------------------------------------------------------------------ targets

    def methods_named(self, cls: str, name: str) -> list[MethodKey]:
        """The methods called ``name`` of ``cls`` and its app superclasses (every overload)."""
        out = []
        seen: set[str] = set()
        todo = [cls]
        while todo and len(seen) < 32:
            c = todo.pop()
            if c in seen or c not in self.dex.classes:
                continue
            seen.add(c)
            dex, cdef = self.dex.classes[c]
            out += [(c, r.signature) for _, r in dex.methods_of(c) if r.name == name]
            if cdef.superclass:
                todo.append(cdef.superclass)
        return [k for k in out if self.dex.defined_method(*k)]

    def ctors(self, cls: str) -> list[MethodKey]:
        return self.methods_named(cls, "<init>")[:16] if cls in self.dex.classes else []

    def edge(self, caller: MethodKey, targets: list[MethodKey]) -> None:
        if targets:
            self.edges.setdefault(caller, set()).update(targets)

    # ------------------------------------------------------------------ one method

    def read(self, dex: DexFile, idx: int) -> None:
        code = self.dex.code(dex, idx)
        if code is None or len(code.insns) > MAX_INSNS:
            return
        me = dex.method_ref(idx)
        key = (me.class_name, me.signature)
        static = bool(dex.defined_methods[idx].access & ACC_STATIC)
        regs: dict[int, object] = {}
        this: tuple[str, str] | None = None  # None: a static method
        if not static:
            this = ("this", me.class_name)
            regs[code.registers - code.ins] = this
        own: dict[int, object] = {}  # field index -> what this method last stored in this.field
        result: object = UNKNOWN
        for insn in code.insns:
            op = insn.op
            if (
                this is not None
                and (op in O.IPUT_OPS or op in O.IGET_OPS)
                and insn.idx is not None
                and regs.get(insn.regs[1]) == this
            ):
                result = UNKNOWN
                if op in O.IPUT_OPS:
                    own[insn.idx] = regs.get(insn.regs[0], UNKNOWN)
                else:
                    regs[insn.regs[0]] = own.get(insn.idx, UNKNOWN)
                continue
            if op in O.MOVE_RESULT_OPS:
                regs[insn.regs[0]] = result
                result = UNKNOWN
                continue
            result = UNKNOWN
            if op in O.CONST_STRING_OPS:
                regs[insn.regs[0]] = dex.string(insn.idx)
            elif op == O.CONST_CLASS and insn.idx is not None:
                regs[insn.regs[0]] = ClassVal(dex.type_name(insn.idx))
            elif op == O.NEW_INSTANCE and insn.idx is not None:
                name = dex.type_name(insn.idx)
                regs[insn.regs[0]] = Builder() if name in _BUILDERS else ("obj", name)
            elif op in O.MOVE_OPS:
                regs[insn.regs[0]] = regs.get(insn.regs[1], UNKNOWN)
            elif op in O.CONST_OPS:
                regs[insn.regs[0]] = insn.lit
            elif op in O.INVOKE_OPS:
                result = self.invoke(key, dex, insn, regs)
            elif insn.regs and op not in O.IF_OPS and op not in O.APUT_OPS:
                regs[insn.regs[0]] = UNKNOWN

    def invoke(self, caller: MethodKey, dex: DexFile, insn: Insn, regs: dict) -> object:
        ref = dex.method_ref(insn.idx)
        static = insn.op in O.STATIC_INVOKES
        args = [regs.get(r, UNKNOWN) for r in arg_regs(insn, ref)]
        cls, name = ref.class_name, ref.name
        if (cls, name) in REFLECT_API or (name == "getClass" and not static):
            return self.reflect(caller, insn, ref, args)
        if (cls, name) == ("Ljava/lang/reflect/Method;", "getName") and args:
            m = args[0]
            return m.name if isinstance(m, MethodVal) and m.name else UNKNOWN
        if (cls, name) == ("Ljava/lang/reflect/Method;", "getDeclaringClass") and args:
            m = args[0]
            return ClassVal(m.cls) if isinstance(m, MethodVal) and not m.ctor else UNKNOWN
        if name in ("getString", "getText") and ref.proto.startswith("(I)") and len(args) == 2:
            return self._resource(cls, ref.signature, args[1])
        jdk = JDK.get((cls, name))
        if jdk is not None and not any(a is UNKNOWN for a in args):
            try:
                out = jdk(list(args), ref, regs, insn)
            except (GiveUp, IndexError, TypeError, ValueError, AttributeError):
                return UNKNOWN
            return UNKNOWN if out is None else out
        if (
            static
            and ref.return_type == "Ljava/lang/String;"
            and all(isinstance(a, str | int) for a in args)
        ):
            folded = self.emu.fold(cls, ref.signature, tuple(args))
            return UNKNOWN if folded is None else folded
        if not static and args and isinstance(args[0], Builder) and name in ("append", "reverse"):
            return UNKNOWN  # a builder fed something unknown
        return UNKNOWN

    def _resource(self, cls: str, sig: str, rid: object) -> object:
        """A string resource read on a Context or Resources (or an app class inheriting it)."""
        if not isinstance(rid, int) or isinstance(rid, bool):
            return UNKNOWN
        if cls in self.dex.classes:  # an app class: not its own getString (edges may be extra)
            if self.dex.defined_method(cls, sig) is not None:
                return UNKNOWN
        elif not cls.startswith(OWNERS):
            return UNKNOWN
        text = self.strings(rid)
        return UNKNOWN if text is None else text

    def reflect(self, caller: MethodKey, insn: Insn, ref: MethodRef, args: list) -> object:
        name = ref.name
        at = insn.offset
        if name == "getClass":
            recv = args[0]
            if isinstance(recv, tuple) and recv[0] in ("this", "obj"):
                return ClassVal(recv[1])
            return ClassVal(None)
        if name in ("forName", "loadClass"):
            s = args[0] if name == "forName" else (args[1] if len(args) > 1 else UNKNOWN)
            desc = java_to_desc(s) if isinstance(s, str) else None
            if desc is not None:
                self.resolved += 1
                self.edge(caller, self.methods_named(desc, "<clinit>"))
            return ClassVal(desc)
        recv = args[0] if args else UNKNOWN
        if name == "newInstance" and ref.class_name == CLASS:
            return self._instantiate(caller, at, recv)
        if name in ("getConstructor", "getDeclaredConstructor"):
            c = recv.name if isinstance(recv, ClassVal) else None
            return MethodVal(c, "<init>", ctor=True)
        if name in ("getMethod", "getDeclaredMethod"):
            c = recv.name if isinstance(recv, ClassVal) else None
            m = args[1] if len(args) > 1 and isinstance(args[1], str) else None
            if c is None:
                self.unresolved.append(Unresolved(method=caller, offset=at, what="class name"))
            elif m is None:  # any method of that class may be called
                self.unresolved.append(Unresolved(method=caller, offset=at, what="method name"))
                self.edge(caller, self._all_of(c))
            else:
                self.resolved += 1
                self.edge(caller, self.methods_named(c, m))
            return MethodVal(c, m)
        if name == "newInstance":  # Constructor.newInstance
            if isinstance(recv, MethodVal) and recv.ctor:
                return self._instantiate(caller, at, ClassVal(recv.cls))
            self.unresolved.append(Unresolved(method=caller, offset=at, what="class name"))
            return UNKNOWN
        if name == "invoke":
            if not isinstance(recv, MethodVal):  # a Method from elsewhere (a field, a list)
                self.unresolved.append(Unresolved(method=caller, offset=at, what="method"))
            return UNKNOWN
        return UNKNOWN

    def _instantiate(self, caller: MethodKey, at: int, cls: object) -> object:
        if isinstance(cls, ClassVal) and cls.name is not None:
            self.resolved += 1
            self.edge(caller, self.ctors(cls.name))
            return ("obj", cls.name)
        self.unresolved.append(Unresolved(method=caller, offset=at, what="class name"))
        return UNKNOWN

    def _all_of(self, cls: str) -> list[MethodKey]:
        hit = self.dex.classes.get(cls)
        if hit is None:
            return []
        dex = hit[0]
        return [(cls, r.signature) for _, r in dex.methods_of(cls)][:64]


_BUILDERS = ("Ljava/lang/StringBuilder;", "Ljava/lang/StringBuffer;")


def scan_reflection(
    dexset: DexSet,
    emulator: Emulator,
    include: Callable[[str], bool] = lambda c: True,
    strings: Callable[[int], str | None] = lambda rid: None,
) -> ReflectionFacts:
    """Read every method (of a class ``include`` accepts) that calls the reflection API;
    ``strings`` gives a string resource's text by id (names kept in resources)."""
    scan = _Scan(dexset, emulator, strings)
    read = 0
    truncated = False
    for dex in dexset.files:
        ids = set()
        for cls, name in REFLECT_API:
            ids |= {i for i, r in dex.methods_of(cls) if r.name == name}
        for caller in sorted(dex.invokers(ids)):
            try:
                owner = dex.method_ref(caller).class_name
                if owner not in dexset.classes or not include(owner):
                    continue
                if read >= MAX_METHODS:
                    truncated = True
                    break
                read += 1
                scan.read(dex, caller)
            except DexFormatError:
                # A method index from damaged class data: the dex's damage is already a
                # blind spot (unreadable_dex); the other methods are still read.
                continue
    return ReflectionFacts(
        edges={k: frozenset(v) for k, v in scan.edges.items()},
        resolved=scan.resolved,
        unresolved=tuple(scan.unresolved),
        truncated=truncated,
    )


def blind_spots(facts: ReflectionFacts, relevant: set[MethodKey]) -> tuple[BlindSpot, ...]:
    """A ``reflection_unresolved`` blind spot for reflective calls we could not resolve in
    methods that handle the data or sinks we follow (``relevant``: methods with watched API
    references); elsewhere it is listed as a notice (``reflection_unresolved_other``), since
    resolving every reflective lookup of every library is neither possible nor needed."""
    hit = [u for u in facts.unresolved if u.method in relevant]
    rest = [u for u in facts.unresolved if u.method not in relevant]
    out: list[BlindSpot] = []
    kinds = (BlindSpotKind.REFLECTION_UNRESOLVED, BlindSpotKind.REFLECTION_UNRESOLVED_OTHER)
    for items, kind in zip((hit, rest), kinds, strict=True):
        if items:
            u = items[0]
            where = f"{u.method[0][1:-1].rsplit('/', 1)[-1]}.{u.method[1].split('(')[0]}()"
            out.append(
                BlindSpot(
                    kind,
                    f"{len(items)} reflective call(s) whose {u.what} could not be resolved, "
                    f"e.g. in {where} at {u.offset:#x}: the code they run is not followed, "
                    "and no code is taken as proven unreachable",
                )
            )
    return tuple(out)
