"""Obfuscation as coverage: code an analyser reads but cannot follow.

Each finding is a blind spot (kind + one-line detail naming where) that makes coverage
incomplete, because what the code does is decided by data the audit does not compute:

- ``obfuscated_names``: class, method or field names Java would reject (non-ASCII, controls,
  spaces, keywords) or homoglyph names (``IlIl1``, ``O0O0``) in a share beyond what any build
  tool writes. R8/ProGuard short names (``a``, ``b``, ``aa``) alone are *not* counted: most
  legitimate apps have them, and they hide no data flow;
- ``string_decryptor``: a static ``String f(String | byte[] | int ...)`` defined in the app,
  called from many sites with constant arguments, whose results reach reflection or a sink
  (the strings the analysis needs, class names, URLs, numbers, are only known at run time);
- ``reflection_dense``: a class of the app's own code with many ``Method.invoke`` /
  ``Class.forName`` sites: the calls it makes are names computed at run time;
- ``runtime_exec``: ``Runtime.exec`` / ``ProcessBuilder`` in the app's own code: a shell command
  can read any provider (``content query``) or send data, and none of it is analysed.

Thresholds (``Thresholds``) were chosen from the 15 real APKs and the 190 DroidBench apps so
that every legitimate app and every negative stays complete; README "Obfuscation is coverage"
gives the figures. Everything here reads the id tables and the candidate call sites of
:class:`~apkaudit.code.dex.reader.DexFile` (C-level passes), and decodes at most a bounded
sample of methods, so a large app pays milliseconds.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import compress
from operator import itemgetter

from apkaudit.code.dex import opcodes as O
from apkaudit.code.dex.reader import DexFile, arg_regs
from apkaudit.code.index import DexSet
from apkaudit.errors import DexFormatError
from apkaudit.load.encoded import DEX_MAGIC, decode, looks_encoded_string
from apkaudit.model import BlindSpot, BlindSpotKind, descriptor_to_java


@dataclass(frozen=True, slots=True, kw_only=True)
class Thresholds:
    odd_names: int = 20  # names Java rejects or homoglyph names, in one app ...
    odd_share: float = 0.02  # ... and this share of its distinct defined names
    decryptor_sites: int = 25  # call sites of one static String(...) method ...
    decryptor_const: float = 0.8  # ... this share of the sampled ones with constant arguments
    reflection_sites: int = 12  # Method.invoke + Class.forName sites in one class
    sampled_methods: int = 40  # caller methods decoded per candidate (bound)


DEFAULT = Thresholds()
_SHOWN = 3
_STRING = "Ljava/lang/String;"
_DECRYPTOR_PARAMS = frozenset({_STRING, "[B", "[C", "I", "J", "[I", "C", "B", "S"})
# Names Java rejects that build tools write on purpose: D8/R8 synthetics (-$$Lambda$,
# -CC, $r8$, -$$Nest$), Kotlin's inline markers ($i$a$-let-...), constructors.
_SYNTHETIC = re.compile(r"[A-Za-z0-9_$-]+|<init>|<clinit>")
_HOMOGLYPH = re.compile(r"[Il1]{4,}|[O0]{4,}")
# The Java Language Specification, §3.9 (keywords) and §3.10.3 (true, false, null).
_JAVA_KEYWORDS = frozenset(
    {
        "abstract",
        "assert",
        "boolean",
        "break",
        "byte",
        "case",
        "catch",
        "char",
        "class",
        "const",
        "continue",
        "default",
        "do",
        "double",
        "else",
        "enum",
        "extends",
        "final",
        "finally",
        "float",
        "for",
        "goto",
        "if",
        "implements",
        "import",
        "instanceof",
        "int",
        "interface",
        "long",
        "native",
        "new",
        "package",
        "private",
        "protected",
        "public",
        "return",
        "short",
        "static",
        "strictfp",
        "super",
        "switch",
        "synchronized",
        "this",
        "throw",
        "throws",
        "transient",
        "try",
        "void",
        "volatile",
        "while",
        "true",
        "false",
        "null",
    }
)
_REFLECT = (
    ("Ljava/lang/reflect/Method;", "invoke"),
    ("Ljava/lang/Class;", "forName"),
)
_LOOKUPS = (  # where a decrypted string names what runs
    ("Ljava/lang/Class;", "forName"),
    ("Ljava/lang/Class;", "getMethod"),
    ("Ljava/lang/Class;", "getDeclaredMethod"),
    ("Ljava/lang/Class;", "getField"),
    ("Ljava/lang/Class;", "getDeclaredField"),
    ("Ljava/lang/ClassLoader;", "loadClass"),
    ("Ljava/net/URL;", "<init>"),
    ("Landroid/net/Uri;", "parse"),
    ("Landroid/content/Intent;", "<init>"),
    ("Landroid/content/Intent;", "setAction"),
    ("Landroid/telephony/SmsManager;", "sendTextMessage"),
)
_EXEC = (
    ("Ljava/lang/Runtime;", "exec"),
    ("Ljava/lang/ProcessBuilder;", "<init>"),
    ("Ljava/lang/ProcessBuilder;", "command"),
)
_STATIC_INVOKE = frozenset({O.OP["invoke-static"], O.OP["invoke-static/range"]})


def detect(
    dexset: DexSet, origin_of: Callable[[str], str], limits: Thresholds = DEFAULT
) -> tuple[BlindSpot, ...]:
    """The obfuscation blind spots of an app's dex files (each kind at most once)."""
    origin_of = _by_package(origin_of)
    names = _NameCount()
    decryptors: list[str] = []
    dense: list[str] = []
    execs: list[str] = []
    for dex in dexset.files:
        try:
            names.add(dex, origin_of)
            decryptors += _decryptors(dexset, dex, origin_of, limits)
            dense += _reflection_dense(dex, origin_of, limits)
            execs += _exec_sites(dexset, dex, origin_of)
        except (DexFormatError, IndexError, ValueError):
            continue  # a damaged dex is its own blind spot (unreadable_dex)
    spots = []
    if names.odd >= limits.odd_names and names.odd >= limits.odd_share * max(1, names.total):
        spots.append(
            BlindSpot(
                BlindSpotKind.OBFUSCATED_NAMES,
                f"{names.odd} of {names.total} class, method and field names are not Java "
                f"identifiers or are homoglyphs ({_list(names.examples)}): names built to "
                "defeat analysers; what the code does is not known from its names",
            )
        )
    if decryptors:
        spots.append(
            BlindSpot(
                BlindSpotKind.STRING_DECRYPTOR,
                f"string decryptor(s) {_list(decryptors)}: strings are decrypted at run time "
                "and name classes, methods or addresses the analysis cannot read",
            )
        )
    if dense:
        spots.append(
            BlindSpot(
                BlindSpotKind.REFLECTION_DENSE,
                f"reflection-dense classes ({_list(dense)}): the methods they call are "
                "chosen by names at run time",
            )
        )
    if execs:
        spots.append(
            BlindSpot(
                BlindSpotKind.RUNTIME_EXEC,
                f"shell commands run by app code ({_list(execs)}): what a command does "
                "(read a provider, send data) is not analysed",
            )
        )
    return tuple(spots)


def _by_package(origin_of: Callable[[str], str]) -> Callable[[str], str]:
    """``origin_of`` memoised per package: attribution matches package prefixes (each ends in
    a dot, code/catalogue/sdks.toml), so every class of a package has the same origin."""
    memo: dict[str, str] = {}

    def origin(class_name: str) -> str:
        pkg = class_name.rpartition("/")[0]
        hit = memo.get(pkg)
        if hit is None:
            hit = memo[pkg] = origin_of(class_name)
        return hit

    return origin


# --------------------------------------------------------------------------- payloads

_PAYLOAD_NEEDLES = ("ZGV4Cj", "UEsDB", "6465780a", "504b0304", "6465780A", "504B0304")
MAX_STRING_PAYLOADS = 8  # encoded payloads decoded from dex strings, per app


def string_payloads(
    dexset: DexSet, max_size: int
) -> tuple[tuple[tuple[str, bytes], ...], tuple[BlindSpot, ...]]:
    """Dex or zip payloads held Base64- or hex-encoded in dex strings: (decoded dex entries to
    analyse as embedded code, one ``encoded_payload`` blind spot per payload). Each decodes to
    at most ``max_size`` bytes (max_embedded_size); a zip's dex files are not unpacked here."""
    found: list[tuple[str, bytes]] = []
    spots: list[BlindSpot] = []
    for dex in dexset.files:
        try:
            hits = sorted({i for n in _PAYLOAD_NEEDLES for i in dex.strings_containing(n)})
            for idx in hits:
                if len(spots) >= MAX_STRING_PAYLOADS:
                    break
                value = dex.string(idx)
                if not looks_encoded_string(value):
                    continue
                raw = value.encode("ascii", "ignore")
                encoding = "base64" if raw.lstrip().startswith((b"ZGV4", b"UEsD")) else "hex"
                data = decode(raw, encoding, max_size)
                where = f"{dex.name} string #{idx}"
                if data is not None and data.startswith(DEX_MAGIC):
                    found.append((f"{where} ({encoding})", data))
                    done = "a dex file, decoded and analysed as embedded code"
                elif data is not None:
                    done = "a zip archive, not unpacked"
                else:
                    done = "no dex or zip once decoded"
                spots.append(
                    BlindSpot(
                        BlindSpotKind.ENCODED_PAYLOAD,
                        f"{where}: a {len(value)}-character string encoded as {encoding} "
                        f"({done}); code hidden from analysers on purpose",
                    )
                )
        except (DexFormatError, IndexError, ValueError):
            continue
    return tuple(found), tuple(spots)


# --------------------------------------------------------------------------- names


class _NameCount:
    """Distinct names of the classes defined outside known SDKs, their packages, and the
    methods and fields declared on them, read straight from the id tables (one string
    decode per distinct name)."""

    def __init__(self) -> None:
        self.total = 0
        self.odd = 0
        self.examples: list[str] = []
        self._seen: set[str] = set()

    def add(self, dex: DexFile, origin_of: Callable[[str], str]) -> None:
        own: set[int] = set()
        shadowed = dex.shadowed  # dead copies: their names are never loaded
        for t in dex.defined_types:
            cls = dex.type_name(t)
            if (shadowed and cls in shadowed) or origin_of(cls).startswith("sdk:"):
                continue
            own.add(t)
            parts = cls[1:-1].split("/") if cls.endswith(";") else [cls]
            for part in parts:
                self._name(part, cls)
        for table_off, size in (
            (dex.method_ids_off, dex.method_ids_size),
            (dex.field_ids_off, dex.field_ids_size),
        ):
            pairs = zip(dex.id_classes(table_off, size), dex.id_names(table_off, size), strict=True)
            for name_idx in {n for c, n in pairs if c in own}:
                if name_idx < dex.string_ids_size:
                    self._name(dex.string(name_idx), "")

    def _name(self, name: str, where: str) -> None:
        if name in self._seen:
            return
        self._seen.add(name)
        self.total += 1
        if _odd_name(name):
            self.odd += 1
            if len(self.examples) < _SHOWN:
                shown = ascii(name)
                self.examples.append(f"{shown} in {descriptor_to_java(where)}" if where else shown)


def _odd_name(name: str) -> bool:
    """Not a name javac or a build tool writes: non-ASCII, controls or spaces, a Java keyword,
    or a homoglyph run (I/l/1, O/0)."""
    if not _SYNTHETIC.fullmatch(name):
        return True
    return name in _JAVA_KEYWORDS or bool(_HOMOGLYPH.fullmatch(name))


# --------------------------------------------------------------------------- call sites


def _method_ids(dex: DexFile, wanted: Iterable[tuple[str, str]]) -> set[int]:
    out: set[int] = set()
    for cls, name in wanted:
        out.update(i for i, ref in dex.methods_of(cls) if ref.name == name)
    return out


def _sites(dex: DexFile, ids: set[int]) -> Iterable[tuple[int, int]]:
    """(file position, method id) of the candidate call sites of ``ids``."""
    positions, targets = dex._invoke_sites
    return compress(zip(positions, targets, strict=True), map(ids.__contains__, targets))


def _reflection_dense(
    dex: DexFile, origin_of: Callable[[str], str], limits: Thresholds
) -> list[str]:
    ids = _method_ids(dex, _REFLECT)
    if not ids:
        return []
    per_class: Counter[str] = Counter()
    for pos, _t in _sites(dex, ids):
        em = dex.method_at(pos)
        if em is not None:
            per_class[dex.method_ref(em.method_idx).class_name] += 1
    return [
        f"{descriptor_to_java(c)} ({n} sites)"
        for c, n in per_class.most_common()
        if n >= limits.reflection_sites and not origin_of(c).startswith("sdk:")
    ]


def _decryptors(
    dexset: DexSet, dex: DexFile, origin_of: Callable[[str], str], limits: Thresholds
) -> list[str]:
    """Static ``String f(String|byte[]|int...)`` methods of the app with many call sites,
    constant arguments at most of them, and a result that reaches a lookup or sink."""
    candidates: list[tuple[int, int]] = []
    counts = Counter(dex._invoke_sites[1])
    # Only the ids called often enough are sorted (most called first, ties in file order, as
    # most_common() orders them), not every id a dex invokes.
    often = [(m, n) for m, n in counts.items() if n >= limits.decryptor_sites]
    for midx, n in sorted(often, key=itemgetter(1), reverse=True):
        em = dex.defined_methods.get(midx)
        if em is None or not em.access & 0x8:  # defined here, static
            continue
        ref = dex.method_ref(midx)
        params = ref.param_types
        if (
            ref.return_type == _STRING
            and params
            and all(p in _DECRYPTOR_PARAMS for p in params)
            and not origin_of(ref.class_name).startswith("sdk:")
        ):
            candidates.append((midx, n))
    if not candidates:
        return []
    lookups = _method_ids(dex, _LOOKUPS)
    callers = dex.callers(m for m, _ in candidates)  # one pass over the sites for all
    out = []
    for midx, n in candidates:
        sample = callers.get(midx, [])[: limits.sampled_methods]
        const, reaches = _const_and_reach(dexset, dex, midx, sample, lookups)
        if const >= limits.decryptor_const and reaches:
            ref = dex.method_ref(midx)
            out.append(f"{descriptor_to_java(ref.class_name)}.{ref.name} ({n} call sites)")
    return out


def _const_and_reach(
    dexset: DexSet, dex: DexFile, target: int, callers: list[int], lookups: set[int]
) -> tuple[float, bool]:
    """(share of the call sites in ``callers`` whose arguments are all constants, whether a
    result reaches a lookup or sink), by a linear walk of each caller's code."""
    calls = const = 0
    reaches = False
    for caller in callers:
        code = dexset.code(dex, caller)
        if code is None:
            continue
        known: dict[int, bool] = {}  # register -> holds a constant (straight-line guess)
        results: set[int] = set()  # registers holding a decrypted string
        pending = False
        for insn in code.insns:
            op = insn.op
            if op in O.MOVE_RESULT_OPS:
                if pending and insn.regs:
                    results.add(insn.regs[0])
                elif insn.regs:
                    results.discard(insn.regs[0])
                pending = False
                continue
            pending = False
            if op in O.INVOKE_OPS and insn.idx is not None:
                regs = arg_regs(insn, dex.method_ref(insn.idx))
                if insn.idx == target and op in _STATIC_INVOKE:
                    calls += 1
                    const += all(known.get(r, False) for r in regs)
                    pending = True
                elif insn.idx in lookups and results.intersection(regs):
                    reaches = True
                continue
            if insn.regs and _writes_first(op):
                r = insn.regs[0]
                known[r] = op in _CONST_OPS
                results.discard(r)
                if op in O.MOVE_OPS and len(insn.regs) > 1:
                    known[r] = known.get(insn.regs[1], False)
                    if insn.regs[1] in results:
                        results.add(r)
    return (const / calls if calls else 0.0), reaches


_CONST_OPS = frozenset(
    {O.OP[n] for n in ("const/4", "const/16", "const", "const/high16", "const-string",
                       "const-string/jumbo", "const-wide/16", "const-wide/32", "const-wide",
                       "const-wide/high16", "new-array", "filled-new-array")}
)  # fmt: skip
_NO_WRITE = O.IF_OPS | O.APUT_OPS | O.IPUT_OPS | O.SPUT_OPS | O.RETURN_OPS


def _writes_first(op: int) -> bool:
    """Whether the instruction's first register is written (a rough cut: enough to forget a
    constant that was overwritten)."""
    return op not in _NO_WRITE and op not in O.INVOKE_OPS


def _exec_sites(dexset: DexSet, dex: DexFile, origin_of: Callable[[str], str]) -> list[str]:
    ids = _method_ids(dex, _EXEC)
    if not ids:
        return []
    out: list[str] = []
    for caller_list in dex.callers(ids).values():
        for caller in caller_list:
            ref = dex.method_ref(caller)
            if origin_of(ref.class_name).startswith("sdk:"):
                continue
            where = f"{descriptor_to_java(ref.class_name)}.{ref.name}"
            commands = _commands(dexset, dex, caller, ids)
            shown = f"{where}: {', '.join(commands)}" if commands else where
            if shown not in out:
                out.append(shown)
    return out


def _commands(dexset: DexSet, dex: DexFile, caller: int, ids: set[int]) -> list[str]:
    """The constant command strings passed to exec/ProcessBuilder in ``caller`` (a linear walk:
    the last const-string of each register)."""
    code = dexset.code(dex, caller)
    if code is None:
        return []
    strings: dict[int, str] = {}
    seen: list[str] = []
    for insn in code.insns:
        if insn.op in O.CONST_STRING_OPS and insn.regs and insn.idx is not None:
            strings[insn.regs[0]] = dex.string(insn.idx)
        elif insn.op in O.INVOKE_OPS and insn.idx in ids:
            for r in arg_regs(insn, dex.method_ref(insn.idx))[1:]:
                if r in strings:
                    seen.append(ascii(strings[r][:80]))
        elif insn.regs and (insn.op in O.MOVE_RESULT_OPS or _writes_first(insn.op)):
            strings.pop(insn.regs[0], None)
    return list(dict.fromkeys(seen))[:_SHOWN]


def _list(items: list[str], n: int = _SHOWN) -> str:
    shown = ", ".join(items[:n])
    return shown + (f" and {len(items) - n} more" if len(items) > n else "")
