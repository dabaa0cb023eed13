"""Is it a lending app? yes / no / unknown, from what the APK says about itself.

Signals (tables in code/catalogue/lending.toml and sdks.toml):

- the label and the package name: a strong lending word (loan, pinjaman, préstamo, 贷款 ...)
  decides "yes" alone — the app calls itself a lender;
- a credit-scoring SDK (Credolab, Lenddo, FinBox, Tongdun ...) in the dex: decides "yes" alone;
- strong lending words in class names and in the app's strings (resources.arsc and dex): one
  point per distinct word (two decide "yes");
- weak words in the label or package (cash, credit, EMI, a currency) and identity checks (KYC
  terms or a KYC SDK): one point each, they only add up.

Three points or more: ``yes``. At most one point with the whole code visible: ``no``. Anything
in between, or nothing with hidden code (a packed app may hide a lender): ``unknown``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from apkaudit.behaviour.program import Program
from apkaudit.cache import cached_toml
from apkaudit.code.catalogue import load_sdks
from apkaudit.coverage.hidden import NOTICE_KINDS
from apkaudit.facts import AppFacts
from apkaudit.load.arsc_strings import pool_strings
from apkaudit.model import BlindSpotKind, LendingApp, LendingSignal

YES_AT = 3
# Blind spots that hide no label, resource or dex string: a lender would still show (the app's own
# JNI libraries, a method too big to interpret, a time or decoding limit mid-analysis).
# Blind spots that hide no text of the app's own: its native libraries, methods or time the
# analysis skipped, reflective calls whose target it could not name (the code is in the dex).
_TEXT_VISIBLE = frozenset(
    {
        BlindSpotKind.NATIVE_CODE,
        BlindSpotKind.NATIVE_CODE_KNOWN,
        BlindSpotKind.UNREADABLE_METHOD,
        BlindSpotKind.LIMIT,
        BlindSpotKind.TIME_LIMIT,
        BlindSpotKind.REFLECTION_UNRESOLVED,
        BlindSpotKind.REFLECTION_UNRESOLVED_OTHER,
    }
)
MAX_SIGNALS = 12
MAX_DEX_STRING_BYTES = 1 << 18  # dex string data searched per app (the first dex files first)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


@dataclass(frozen=True, slots=True)
class Term:
    value: str  # lower case
    strength: str  # strong | weak
    match: str  # prefix | word | text
    lang: str


@cache
def lending_terms() -> tuple[tuple[Term, ...], tuple[Term, ...]]:
    """(lending words, KYC terms) from code/catalogue/lending.toml."""
    raw = cached_toml(files("apkaudit.code.catalogue").joinpath("lending.toml").read_text("utf-8"))
    terms = tuple(
        Term(t.lower(), g["strength"], g["match"], g["lang"])
        for g in raw["term"]
        for t in g["terms"]
    )
    kyc = tuple(Term(t.lower(), "weak", g["match"], "kyc") for g in raw["kyc"] for t in g["terms"])
    return terms, kyc


def _words(text: str) -> list[str]:
    """Words of a label, package or class name: split at non-letters and at camelCase."""
    out: list[str] = []
    for w in _WORD.findall(text):
        parts = _CAMEL.findall(w) if w.isascii() else [w]
        out.extend(p.lower() for p in (parts or [w]))
        out.append(w.lower())
    return out


def _in_words(term: Term, words: list[str], text: str) -> bool:
    if term.match == "text":
        return term.value in text.lower()
    if term.match == "prefix":
        return any(w.startswith(term.value) for w in words)
    return term.value in words


def classify_lending(facts: AppFacts, program: Program) -> LendingApp:
    terms, kyc = lending_terms()
    signals: list[LendingSignal] = []
    ident = facts.manifest.identity

    def named(kind: str, text: str) -> None:
        words = _words(text)
        for t in terms:
            if _in_words(t, words, text):
                signals.append(
                    LendingSignal(kind=kind, value=t.value, strength=t.strength, detail=text[:120])
                )

    if ident.label:
        named("label", ident.label)
    if ident.package:
        named("package", ident.package)
    signals.extend(_sdk_signals(program))
    signals.extend(_class_signals(program, terms))
    decided = _score(signals) >= YES_AT and any(
        s.kind in ("label", "package", "sdk") for s in signals
    )
    signals.extend(_string_signals(program, terms, kyc, dex_strings=not decided))
    signals = _dedupe(signals)
    score = _score(signals)
    if score >= YES_AT:
        value = "yes"
    elif score <= 1 and _text_visible(facts):
        value = "no"
    else:
        value = "unknown"
    order = {"label": 0, "package": 1, "sdk": 2, "class": 3, "string": 4, "kyc": 5}
    signals.sort(key=lambda s: (s.strength != "strong", order.get(s.kind, 9), s.value))
    return LendingApp(value=value, signals=tuple(signals[:MAX_SIGNALS]))


def _text_visible(facts: AppFacts) -> bool:
    """Nothing that could hide lending words: complete coverage, or only blind spots that hide
    no text (see _TEXT_VISIBLE). Packed code, code loaded at run time, Flutter or JS bundles
    may hold the app's real screens."""
    if facts.coverage.complete:
        return True
    return all(
        b.kind in _TEXT_VISIBLE or b.kind in NOTICE_KINDS for b in facts.coverage.blind_spots
    )


def _dedupe(signals: list[LendingSignal]) -> list[LendingSignal]:
    """One signal per word and place: "pinjaman" in the label, not also "pinjam"."""
    out: list[LendingSignal] = []
    for s in sorted(dict.fromkeys(signals), key=lambda x: -len(x.value)):
        if not any(o.kind == s.kind and o.detail == s.detail and s.value in o.value for o in out):
            out.append(s)
    return out


def _score(signals: list[LendingSignal]) -> int:
    strong_named = any(
        s.strength == "strong" and s.kind in ("label", "package", "sdk") for s in signals
    )
    if strong_named:
        return YES_AT
    found_strong = {
        s.value for s in signals if s.strength == "strong" and s.kind in ("class", "string")
    }
    weak_named = {
        s.value for s in signals if s.strength == "weak" and s.kind in ("label", "package")
    }
    kyc = any(s.kind == "kyc" for s in signals)
    return min(len(found_strong), 3) + min(len(weak_named), 2) + int(kyc)


def _sdk_signals(program: Program) -> list[LendingSignal]:
    sdks = [s for s in load_sdks() if s.category in ("credit_scoring", "kyc")]
    prefixes = {("L" + p.replace(".", "/")): s for s in sdks for p in s.prefixes}
    keys = tuple(prefixes)
    found: dict[str, LendingSignal] = {}
    for cls in program.dex.classes:
        if cls.startswith(keys):
            sdk = next(s for p, s in prefixes.items() if cls.startswith(p))
            if sdk.name not in found:
                strength = "strong" if sdk.category == "credit_scoring" else "weak"
                kind = "sdk" if sdk.category == "credit_scoring" else "kyc"
                example = cls[1:-1].replace("/", ".")
                category = sdk.category.replace("_", "-")
                found[sdk.name] = LendingSignal(
                    kind=kind,
                    value=sdk.name,
                    strength=strength,
                    detail=f"{category} SDK, e.g. class {example}"[:120],
                )
    return list(found.values())


@cache
def _sdk_prefixes() -> tuple[str, ...]:
    return tuple("L" + p.replace(".", "/") for s in load_sdks() for p in s.prefixes)


def _class_signals(program: Program, terms: tuple[Term, ...]) -> list[LendingSignal]:
    """Strong latin/pinyin words in the app's own class and package names (LoanApplyActivity):
    one search per word over all the names, lower-cased and joined."""
    wanted = [
        t
        for t in terms
        if t.strength == "strong" and t.match in ("prefix", "word") and t.value.isascii()
    ]
    names = [c[1:-1] for c in program.dex.classes if not c.startswith(_sdk_prefixes())]
    joined = "\n".join(names)
    lowered = joined.lower()
    found: list[LendingSignal] = []
    for t in wanted:
        start = 0
        for _ in range(8):
            pos = lowered.find(t.value, start)
            if pos < 0:
                break
            start = pos + 1
            before = joined[pos - 1] if pos else "/"
            after = joined[pos + len(t.value)] if pos + len(t.value) < len(joined) else "/"
            # a word of the name: after a separator or starting a camelCase word
            if before.isalpha() and not joined[pos].isupper():
                continue
            if t.match == "word" and after.isalpha() and not after.isupper():
                continue
            found.append(
                LendingSignal(
                    kind="class",
                    value=t.value,
                    strength="strong",
                    detail=_line_at(joined, pos).replace("/", ".")[:120],
                )
            )
            break
        if len(found) >= 4:
            break
    return found


def _string_signals(
    program: Program, terms: tuple[Term, ...], kyc: tuple[Term, ...], *, dex_strings: bool
) -> list[LendingSignal]:
    """Strong lending words and KYC terms in resources.arsc and, when the label, package and
    SDKs have not decided already, in the first MAX_DEX_STRING_BYTES of dex string data (UI
    text hard-coded in the code; the rest is mostly identifiers)."""
    strong = [t for t in terms if t.strength == "strong"]
    wanted = strong + list(kyc)
    found: dict[str, LendingSignal] = {}
    pool = pool_strings(program.arsc)
    if pool:
        blob = "\n".join(pool).lower()
        for t in wanted:
            hit = _find(blob, t)
            if hit is not None and t.value not in found:
                found[t.value] = _string_signal(t, _line_at(blob, hit), "resources")
    budget = MAX_DEX_STRING_BYTES if dex_strings else 0
    for dex in program.dex.files:
        offs = dex._string_offs
        if not offs or budget <= 0:
            continue
        lo = min(offs)
        hi = min(len(dex.data), max(offs) + 4096, lo + budget)
        budget -= hi - lo
        region = dex.data[lo:hi].lower()
        for t in strong:  # KYC words live in the resources (and only add a point)
            if t.value in found:
                continue
            text = _dex_hit(dex, region, lo, t)
            if text is not None:
                found[t.value] = _string_signal(t, text, dex.name)
    return list(found.values())


def _dex_hit(dex, region: bytes, lo: int, t: Term) -> str | None:
    """The first dex string holding the word that reads like text, not like a regular
    expression or a data table (Android's own URL pattern lists every TLD, .loan included)."""
    start = 0
    for _ in range(16):
        pos = _find_bytes(region, t, start)
        if pos is None:
            return None
        start = pos + 1
        text = _string_around(dex.data, lo + pos)
        if text is not None and len(text) <= 400 and text.count("|") < 3 and "(?" not in text:
            return text
    return None


def _string_around(data: bytes, pos: int) -> str | None:
    """The string_data_item holding byte ``pos``: MUTF-8 bodies hold no NUL, so it starts after
    the previous NUL (and its ULEB128 length) and ends at the next one."""
    begin = data.rfind(b"\x00", max(0, pos - 2048), pos) + 1
    end = data.find(b"\x00", pos, pos + 2048)
    if begin <= 0 or end < 0:
        return None
    while begin < pos and data[begin] & 0x80:  # the length's continuation bytes
        begin += 1
    begin += 1  # the length's last byte
    return data[begin:end].decode("utf-8", "replace") if begin <= pos else None


def _string_signal(t: Term, text: str, where: str) -> LendingSignal:
    kind = "kyc" if t.lang == "kyc" else "string"
    return LendingSignal(
        kind=kind,
        value=t.value,
        strength="weak" if kind == "kyc" else t.strength,
        detail=f"{where}: {text.strip()[:100]}",
    )


def _line_at(blob: str, pos: int) -> str:
    start = blob.rfind("\n", 0, pos) + 1
    end = blob.find("\n", pos)
    return blob[start : end if end >= 0 else len(blob)]


def _boundary_ok(before: str, after: str, match: str) -> bool:
    if match == "text":
        return True
    if before.isalpha():
        return False
    return match == "prefix" or not after.isalpha()


def _find(blob: str, t: Term) -> int | None:
    pos = blob.find(t.value)
    while pos >= 0:
        before = blob[pos - 1] if pos else " "
        end = pos + len(t.value)
        after = blob[end] if end < len(blob) else " "
        if _boundary_ok(before, after, t.match):
            return pos
        pos = blob.find(t.value, pos + 1)
    return None


def _find_bytes(region: bytes, t: Term, start: int = 0) -> int | None:
    needle = t.value.encode("utf-8")
    pos = region.find(needle, start)
    tries = 0
    while pos >= 0 and tries < 64:
        tries += 1
        before = chr(region[pos - 1]) if pos else " "
        end = pos + len(needle)
        after = chr(region[end]) if end < len(region) else " "
        if _boundary_ok(
            before if before.isascii() else "a", after if after.isascii() else "a", t.match
        ):
            return pos
        pos = region.find(needle, pos + 1)
    return None
