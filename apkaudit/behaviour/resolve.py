"""Which app methods a call can run: class-hierarchy resolution.

A call resolves to app methods only (an SDK whose category is modelled at its API, see
OPAQUE_CATEGORIES, is not followed into). Virtual calls go to every override below the named
class unless the receiver's allocation site names its class. The framework's hand-offs
(AsyncTask, Handler, Runnable ...) are resolved from the table in edges.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apkaudit.behaviour.reachability import Hierarchy
from apkaudit.behaviour.values import Value, new_classes
from apkaudit.code.attribution import Attributor
from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.reader import MethodRef
from apkaudit.code.index import DexSet
from apkaudit.errors import DexFormatError

MethodKey = tuple[str, str]
ACC_INTERFACE = 0x200
ACC_STATIC = 0x8
# SDKs whose internals we model at their API (sinks/sources) instead of analysing them: their
# internals only add fan-out (a socket.io emit reaches every listener) and cost.
OPAQUE_CATEGORIES = {"network", "platform"}
MAX_FANOUT = 12  # a virtual call with more possible targets is treated as an unknown call


@dataclass
class Resolver:
    dex: DexSet
    attributor: Attributor
    hier: Hierarchy
    # Calls the bytecode does not name (resolved reflection, reflection.py): caller -> callees.
    extra: dict[MethodKey, frozenset[MethodKey]] = field(default_factory=dict)
    _targets: dict[tuple[str, str, int], list[MethodKey]] = field(default_factory=dict)
    _app_class: dict[str, bool] = field(default_factory=dict)
    _fields: dict[str, str] = field(default_factory=dict)
    _resolved: dict[tuple[str, str], MethodKey | None] = field(default_factory=dict)
    _declared: dict[str, frozenset[str]] = field(default_factory=dict)  # class -> "name:type"

    def is_app_class(self, name: str) -> bool:
        """Defined in the app and not an opaque library (see OPAQUE_CATEGORIES)."""
        hit = self._app_class.get(name)
        if hit is None:
            sdk = self.attributor.sdk_of(name) if name in self.dex.classes else None
            hit = name in self.dex.classes and not (sdk and sdk.category in OPAQUE_CATEGORIES)
            self._app_class[name] = hit
        return hit

    def field(self, fdesc: str) -> str:
        """The field a reference names, by its declaring class: ``Sub->f`` where ``Sub``
        inherits ``f`` from an app class ``Base`` is ``Base->f`` (javac names the class the
        code uses, the VM resolves it upwards), so the field store has one cell for it. The
        declaring class is the first class up the superclass chain whose class data declares a
        field of that name and type (code/dex ``class_fields``): a subclass that shadows ``f``
        with its own field keeps its own."""
        hit = self._fields.get(fdesc)
        if hit is None:
            hit = self._fields[fdesc] = self._declaring(fdesc)
        return hit

    def _declaring(self, fdesc: str) -> str:
        cls, rest = fdesc.split("->", 1)
        c: str | None = cls
        for _ in range(32):  # the superclass chain, as the VM resolves a field
            if c is None or c not in self.dex.classes:
                break
            if rest in self._declared_by(c):
                return fdesc if c == cls else f"{c}->{rest}"
            c = self.dex.classes[c][1].superclass
        return fdesc  # declared by no app class (the framework's): the reference's own name

    def is_unimplemented_interface(self, name: str) -> bool:
        hit = self.dex.classes.get(name)
        return bool(hit and hit[1].access & ACC_INTERFACE and not self.hier.subs.get(name))

    def resolve(self, cls: str, sig: str) -> MethodKey | None:
        """The definition a call to cls.sig runs when the object's class is ``cls``."""
        key = (cls, sig)
        if key in self._resolved:  # every pass of every analysis asks again
            return self._resolved[key]
        found = self._resolved[key] = self._resolve(cls, sig)
        return found

    def _resolve(self, cls: str, sig: str) -> MethodKey | None:
        if not self.is_app_class(cls):
            return None
        for c in (cls, *self.hier.ancestors(cls)):
            if self.dex.defined_method(c, sig) is not None:
                return (c, sig) if self.is_app_class(c) else None
        return None

    def targets(self, ref: MethodRef, op: int, args: list[Value]) -> list[MethodKey]:
        sig = ref.signature
        if op not in O.DIRECT_INVOKES:  # virtual or interface
            allocated = new_classes(args[0].objs) if args else set()
            allocated &= self.dex.classes.keys()
            if allocated:  # the object's class is known: no need for the whole hierarchy
                return sorted({k for c in allocated if (k := self.resolve(c, sig))})
        ck = (ref.class_name, sig, op)
        if ck not in self._targets:
            self._targets[ck] = self._static_targets(ref.class_name, sig, op)
        return self._targets[ck]

    def _static_targets(self, cls: str, sig: str, op: int) -> list[MethodKey]:
        if op in O.DIRECT_INVOKES:  # static, direct, super
            k = self.resolve(cls, sig)
            return [k] if k else []
        keys = {self.resolve(cls, sig)}  # class hierarchy analysis: every override below
        keys |= {
            (c, sig)
            for c in self.hier.descendants(cls)
            if self.is_app_class(c) and self.dex.defined_method(c, sig) is not None
        }
        found = sorted(k for k in keys if k)
        return found if len(found) <= MAX_FANOUT else []

    def _declared_by(self, cls: str) -> frozenset[str]:
        hit = self._declared.get(cls)
        if hit is None:
            dex, cdef = self.dex.classes[cls]
            try:  # the ids are read from the class data: a damaged one may name none
                refs = [dex.field_ref(i) for i in dex.class_fields(cdef)]
            except DexFormatError:  # damaged class data: already a blind spot of the dex
                refs = []
            hit = self._declared[cls] = frozenset(f"{r.name}:{r.type}" for r in refs)
        return hit

    def methods_named(self, cls: str, name: str) -> list[MethodKey]:
        """Methods called ``name`` that an object of ``cls`` runs (its own, else inherited)."""
        for c in (cls, *self.hier.ancestors(cls)):
            if not self.is_app_class(c):
                continue
            found = self.named(c, name)
            if found:
                return found
        return []

    def named_up(self, cls: str, name: str) -> list[tuple[MethodRef, bool]]:
        """The app methods called ``name`` that ``cls`` has (its own, then inherited), with
        whether each is static: the targets of a reflective ``getMethod(name)``."""
        out: list[tuple[MethodRef, bool]] = []
        for c in (cls, *self.hier.ancestors(cls))[:16]:
            hit = self.dex.classes.get(c)
            if hit is None:
                continue
            dex = hit[0]
            for i, ref in dex.methods_of(c):
                m = dex.defined_methods.get(i)
                if ref.name == name and m is not None:
                    out.append((ref, bool(m.access & ACC_STATIC)))
        return out[:8]

    def class_methods(self, cls: str) -> list[MethodKey]:
        hit = self.dex.classes.get(cls)
        if not hit:
            return []
        dex = hit[0]
        return [(cls, r.signature) for i, r in dex.methods_of(cls) if i in dex.defined_methods]

    def named(self, cls: str, name: str) -> list[MethodKey]:
        hit = self.dex.classes.get(cls)
        if not hit:
            return []
        dex = hit[0]
        return [
            (cls, r.signature)
            for i, r in dex.methods_of(cls)
            if r.name == name and i in dex.defined_methods
        ]
