"""Is a method reachable from the app's entry points? A bounded backward search.

Entry points: every method of a manifest component class, of the Application class or of a View
or Fragment subclass that the app's resource XML names (load/layouts.py) that the framework can
call (a private method other than a constructor is called only by the class's own code), where a
component disabled in the manifest counts only if the app can enable it at run time
(``entry_components``). A method is reachable when a caller is; a non-static, non-private
method also counts as called by the framework once an object of its class (or a subclass) is
created in reachable code, which covers listeners, Runnables, AsyncTasks and JavaScript
interfaces without a whole-program call graph.
Callers are found with the same byte-pattern search the code index uses, one pass per level.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

from apkaudit.code.dex.opcodes import INVOKE_OPS
from apkaudit.code.dex.reader import DexFile
from apkaudit.code.index import DexSet

ACC_PRIVATE, ACC_STATIC, ACC_CONSTRUCTOR = 0x2, 0x8, 0x10000
PACKAGE_MANAGER = "Landroid/content/pm/PackageManager;"

MethodKey = tuple[str, str]  # (class descriptor, name+proto)


@dataclass(frozen=True)
class Hierarchy:
    supers: dict[str, tuple[str, ...]]  # class -> superclass + interfaces (direct)
    subs: dict[str, tuple[str, ...]]  # class -> direct subclasses/implementors defined in the app
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, dexset: DexSet) -> Hierarchy:
        """The hierarchy of ``dexset``'s classes, built once per dex set (the data flow, the
        triggers and reachability all ask) and dropped with it."""
        hit = _HIERARCHIES.get(dexset)
        if hit is None:
            hit = _HIERARCHIES[dexset] = cls._build(dexset)
        return hit

    @classmethod
    def _build(cls, dexset: DexSet) -> Hierarchy:
        supers: dict[str, tuple[str, ...]] = {}
        subs: dict[str, list[str]] = defaultdict(list)
        for name, (_dex, cdef) in dexset.classes.items():
            parents = ((cdef.superclass,) if cdef.superclass else ()) + cdef.interfaces
            supers[name] = parents
            for p in parents:
                subs[p].append(name)
        return cls(supers, {k: tuple(v) for k, v in subs.items()})

    def ancestors(self, name: str, limit: int = 32) -> list[str]:
        key = ("a", name, limit)
        if key not in self._cache:
            self._cache[key] = self._walk(self.supers, name, limit)
        return self._cache[key]

    def descendants(self, name: str, limit: int = 64) -> list[str]:
        key = ("d", name, limit)
        if key not in self._cache:
            self._cache[key] = self._walk(self.subs, name, limit)
        return self._cache[key]

    @staticmethod
    def _walk(edges: dict[str, tuple[str, ...]], name: str, limit: int) -> list[str]:
        out: list[str] = []
        todo = list(edges.get(name, ()))
        while todo and len(out) < limit:
            c = todo.pop()
            if c not in out:
                out.append(c)
                todo.extend(edges.get(c, ()))
        return out


_HIERARCHIES: WeakKeyDictionary[DexSet, Hierarchy] = WeakKeyDictionary()


def find_callers(
    dexset: DexSet, targets: Iterable[tuple[str, str]], *, verify: bool = True
) -> dict[tuple[str, str], set[MethodKey]]:
    """For each (class, name+proto) target *reference*, the methods whose code invokes it.

    Looks the reference up in every dex's method-id table, then in the dex's invoke index.
    ``verify`` decodes each candidate to drop byte coincidences; reachability skips that
    (a rare spurious edge can only make code look reachable, never hide a behaviour).
    """
    wanted = set(targets)
    by_class: dict[str, set[str]] = defaultdict(set)
    for cls, sig in wanted:
        by_class[cls].add(sig)
    names = {cls: {s.split("(", 1)[0] for s in sigs} for cls, sigs in by_class.items()}
    out: dict[tuple[str, str], set[MethodKey]] = defaultdict(set)
    for dex in dexset.files:
        ids: dict[int, tuple[str, str]] = {}
        for cls, sigs in by_class.items():
            for i, ref in dex.methods_named(cls, names[cls]):
                if ref.signature in sigs:
                    ids[i] = (cls, ref.signature)
        if not ids:
            continue
        index = dex.callers(ids)
        for i, target in ids.items():
            for caller in index.get(i, ()):
                if verify and not _invokes(dexset, dex, caller, i):
                    continue
                out[target].add(_key(dex, caller))
    return out


def _invokes(dexset: DexSet, dex: DexFile, caller: int, method_id: int) -> bool:
    code = dexset.code(dex, caller)
    return code is not None and any(
        insn.idx == method_id and insn.op in INVOKE_OPS for insn in code.insns
    )


def _key(dex: DexFile, method_idx: int) -> MethodKey:
    ref = dex.method_ref(method_idx)
    return ref.class_name, ref.signature


def compute_reachability(
    dexset: DexSet,
    methods: Iterable[MethodKey],
    entry_classes: frozenset[str],
    *,
    max_levels: int = 8,
    max_nodes: int = 800,
    extra_edges: Mapping[MethodKey, Iterable[MethodKey]] | None = None,
    unknown: bool = False,
) -> dict[MethodKey, bool | None]:
    """Reachability of ``methods`` from ``entry_classes`` (None: search budget ran out).

    ``extra_edges`` (caller -> callees) are calls the bytecode does not name, such as resolved
    reflection; ``unknown`` says code may be called that no edge shows (unresolved reflection,
    native or packed code), so nothing is "proven unreachable": False becomes None.
    """
    hier = Hierarchy.of(dexset)
    extra_callers: dict[MethodKey, set[MethodKey]] = defaultdict(set)
    for caller, callees in (extra_edges or {}).items():
        for callee in callees:
            extra_callers[callee].add(caller)
    app = dexset.classes.keys()
    preds: dict[MethodKey, set[MethodKey]] = defaultdict(set)
    explored: set[MethodKey] = set()
    targets = set(methods)

    def is_entry(m: MethodKey) -> bool:
        return m[0] in entry_classes and not _is_private(dexset, m)

    reach: set[MethodKey] = {t for t in targets if is_entry(t)}
    frontier = targets - reach
    for _ in range(max_levels):
        frontier = {m for m in frontier if m not in explored and m not in reach}
        if not frontier or len(explored) > max_nodes:
            break
        refs: dict[tuple[str, str], set[MethodKey]] = defaultdict(set)
        for node in frontier:
            cls, sig = node
            explored.add(node)
            # Calls may name the method on the class or an app-defined supertype or subtype.
            # Calls through framework types (Runnable.run, Object.toString) are covered by the
            # object-creation rule below, without pulling in every caller of the framework type.
            for c in (cls, *hier.ancestors(cls), *hier.descendants(cls)):
                if c in app:
                    refs[(c, sig)].add(node)
            if _is_overridable(dexset, node):
                # Created objects get their callbacks called by the framework.
                for c in (cls, *hier.descendants(cls)):
                    for ctor in dexset.constructors(c):
                        refs[(c, ctor)].add(node)
            if sig == "<clinit>()V":
                # A static initializer runs when the class is first used: any call into it.
                for m in _methods_named(dexset, cls):
                    refs[(cls, m)].add(node)
        found = find_callers(dexset, refs, verify=False)
        for ref in refs:
            if ref in extra_callers:
                found[ref] = found.get(ref, set()) | extra_callers[ref]
        nxt: set[MethodKey] = set()
        for ref, callers in found.items():
            for node in refs[ref]:
                for caller in callers:
                    if caller != node:
                        preds[node].add(caller)
                        nxt.add(caller)
        reach |= {n for n in nxt if is_entry(n)}
        reach = _propagate(reach, preds)
        if targets <= reach:
            break
        frontier = nxt
    result: dict[MethodKey, bool | None] = {}
    for t in targets:
        if t in reach:
            result[t] = True
        elif not unknown and _closed(t, preds, explored, is_entry):
            result[t] = False
        else:
            result[t] = None
    return result


def _propagate(reach: set[MethodKey], preds: dict[MethodKey, set[MethodKey]]) -> set[MethodKey]:
    """Nodes with a reachable caller are reachable (forward closure over the explored graph)."""
    succs: dict[MethodKey, set[MethodKey]] = defaultdict(set)
    for node, ps in preds.items():
        for p in ps:
            succs[p].add(node)
    out = set(reach)
    todo = list(reach)
    while todo:
        n = todo.pop()
        for s in succs.get(n, ()):
            if s not in out:
                out.add(s)
                todo.append(s)
    return out


def _closed(
    t: MethodKey,
    preds: dict[MethodKey, set[MethodKey]],
    explored: set[MethodKey],
    is_entry: Callable[[MethodKey], bool],
) -> bool:
    """True when every backward path from ``t`` was explored to its end (so 'unreachable' holds)."""
    seen: set[MethodKey] = set()
    todo = [t]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        if n not in explored and not is_entry(n):
            return False
        todo.extend(preds.get(n, ()))
    return True


def _is_private(dexset: DexSet, node: MethodKey) -> bool:
    """A private method that is not a constructor: the framework never calls it by name."""
    found = dexset.defined_method(*node)
    if found is None:
        return False
    dex, idx = found
    access = dex.defined_methods[idx].access
    return bool(access & ACC_PRIVATE) and not access & ACC_CONSTRUCTOR


def entry_components(
    dexset: DexSet, components: Iterable[tuple[str, str, bool]], application_class: str | None
) -> frozenset[str]:
    """The class descriptors the framework instantiates: the components (kind, descriptor,
    enabled) and the Application class. A component the manifest disables
    (``android:enabled="false"``) never runs unless the app enables it with
    ``PackageManager.setComponentEnabledSetting`` (or an enabled activity-alias may point at
    it, as the alias names no class here): then every component counts."""
    comps = list(components)
    alias = any(kind == "activity-alias" and on for kind, _, on in comps)
    runtime = alias or _enables_components(dexset)
    names = {name for _kind, name, on in comps if on or runtime}
    if application_class:
        names.add(application_class)
    return frozenset(names)


def _enables_components(dexset: DexSet) -> bool:
    for dex in dexset.files:
        ids = [
            i
            for i, ref in dex.methods_of(PACKAGE_MANAGER)
            if ref.name == "setComponentEnabledSetting"
        ]
        # A dex with shadowed classes: the reference must be made by code that loads.
        if ids and (not dex.shadowed or dex.invokers(ids)):
            return True
    return False


def _is_overridable(dexset: DexSet, node: MethodKey) -> bool:
    found = dexset.defined_method(*node)
    if found is None:
        return False
    dex, idx = found
    access = dex.defined_methods[idx].access
    return not access & (ACC_PRIVATE | ACC_STATIC | ACC_CONSTRUCTOR)


def _methods_named(dexset: DexSet, cls: str) -> list[str]:
    """Every method signature of ``cls`` (constructors and static methods included)."""
    hit = dexset.classes.get(cls)
    if hit is None:
        return []
    return [ref.signature for _, ref in hit[0].methods_of(cls) if ref.name != "<clinit>"]
