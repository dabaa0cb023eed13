"""Fuzz targets and mutators for apkaudit's input paths.

Targets, each a function of bytes that must never raise (except the one-line input errors its
contract allows) and never run past a per-input time limit:

- ``container``: the whole audit (``audit_app``) of a file: zip reader, bundles, manifest,
  certificates, dex, code index, behaviour, rules;
- ``manifest``: the AndroidManifest.xml decoders (binary AXML as Android reads it, text, and
  the protobuf of .aab) and ``parse_manifest``;
- ``dex``: the lean DEX reader (tables, class data, code items, instruction decoding), the code
  index and excerpts;
- ``axml``: generated binary manifests (tests/manifest/mutants.py), apkaudit's reader checked
  against a model of the platform's parsing rules (tests/manifest/aosp_model.py).

Inputs are mutated from seeds (every fixture APK and bundle, and the real APKs under 1 MiB when
present), raw (bit flips, interesting integers, inserts, deletes, truncation, splices) and
structure-aware (an entry's content mutated and the zip rebuilt; central-directory and EOCD
fields rewritten), so both the container and the parsers behind it are reached. A mutator takes
a ``random.Random``: the long run seeds one per input (reproducible by number), the CI test gets
one from hypothesis (shrinkable).
"""

from __future__ import annotations

import io
import os
import random
import signal
import tempfile
import traceback
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tests.fuzz import grammar

REPO = Path(__file__).resolve().parents[2]
REAL = Path(os.environ.get("APKAUDIT_REAL_APKS", REPO / ".." / "shared" / "real-apks")).resolve()
MAX_SEED = 1 << 20
TARGETS = ("container", "manifest", "dex", "dexgrammar", "bundle", "render", "axml")
INTERESTING = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF,
               0x80000000, 0xFFFFFFFE, 0xFFFFFFFF)  # fmt: skip


class Hang(Exception):
    """An input ran past the per-input time limit."""


@dataclass(frozen=True)
class Seeds:
    containers: tuple[tuple[str, bytes], ...]
    manifests: tuple[bytes, ...]
    dexes: tuple[bytes, ...]

    def for_target(self, target: str) -> tuple[bytes, ...]:
        if target == "container":
            return tuple(d for _, d in self.containers)
        return self.manifests if target == "manifest" else self.dexes  # dex, dexgrammar


@cache
def load_seeds() -> Seeds:
    paths = sorted((REPO / "fixtures" / "apks").glob("*.apk"))
    paths += sorted(p for p in (REPO / "fixtures" / "edge").iterdir() if p.is_file())
    if REAL.is_dir():
        paths += sorted(p for p in REAL.glob("*.apk") if p.stat().st_size <= MAX_SEED)
    containers = tuple((p.name, p.read_bytes()) for p in paths if p.stat().st_size <= MAX_SEED)
    manifests: list[bytes] = []
    dexes: list[bytes] = []
    for _, data in containers:
        for name, blob in _entries(data):
            if name.endswith("AndroidManifest.xml") and len(blob) < MAX_SEED:
                manifests.append(blob)
            elif name.endswith(".dex") and len(blob) < MAX_SEED:
                dexes.append(blob)
            elif name.endswith(".apk"):  # splits inside bundles
                for inner, b in _entries(blob):
                    if inner == "AndroidManifest.xml":
                        manifests.append(b)
                    elif inner.endswith(".dex") and len(b) < MAX_SEED:
                        dexes.append(b)
    return Seeds(containers, tuple(dict.fromkeys(manifests)), tuple(dict.fromkeys(dexes)))


def _entries(data: bytes) -> list[tuple[str, bytes]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return [(i.filename, zf.read(i)) for i in zf.infolist() if i.file_size < MAX_SEED]
    except Exception:  # hostile seeds (bombs, damaged zips): no entries to take
        return []


# --------------------------------------------------------------------------- mutators


def mutate_bytes(rng: random.Random, data: bytes, others: tuple[bytes, ...] = ()) -> bytes:
    """1-4 raw mutations."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        n = len(buf)
        if n == 0:
            buf += rng.randbytes(rng.randint(1, 64))
            continue
        pos = rng.randrange(n)
        if op == 0:  # bit flips
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(n)
                buf[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # an interesting little-endian integer
            width = rng.choice((1, 2, 4))
            value = rng.choice(INTERESTING) & ((1 << (8 * width)) - 1)
            buf[pos : pos + width] = value.to_bytes(width, "little")[: max(0, n - pos)]
        elif op == 2:  # random bytes over a run
            k = rng.randint(1, 32)
            buf[pos : pos + k] = rng.randbytes(min(k, n - pos))
        elif op == 3:  # insert
            buf[pos:pos] = rng.randbytes(rng.randint(1, 64))
        elif op == 4:  # delete a block
            del buf[pos : pos + rng.randint(1, max(1, n // 8))]
        elif op == 5:  # truncate
            del buf[rng.randrange(n) :]
        elif op == 6:  # duplicate a block elsewhere
            k = rng.randint(1, max(1, min(n - pos, 512)))
            block = bytes(buf[pos : pos + k])
            at = rng.randrange(len(buf) + 1)
            buf[at:at] = block
        elif op == 7 and others:  # splice with another seed
            other = rng.choice(others)
            if other:
                cut = rng.randrange(len(other))
                buf[pos:] = other[cut : cut + rng.randint(1, 4096)]
    return bytes(buf)


def _rezip(rng: random.Random, data: bytes, others: tuple[bytes, ...]) -> bytes:
    """Mutate the content of one entry (manifest, dex, nested APK, anything) and rebuild."""
    entries = _entries(data)
    if not entries:
        return mutate_bytes(rng, data, others)
    weights = [8 if n.endswith((".dex", "AndroidManifest.xml", ".apk")) else 1 for n, _ in entries]
    k = rng.choices(range(len(entries)), weights)[0]
    name, blob = entries[k]
    if name.endswith(".apk") and rng.random() < 0.5:
        blob = _rezip(rng, blob, others)  # a split inside a bundle
    else:
        blob = mutate_bytes(rng, blob, others)
    entries[k] = (name, blob)
    if rng.random() < 0.1:  # a duplicate, a path-traversal name, or an odd entry
        entries.append(rng.choice([(name, blob), ("../" + name, blob), ("assets/x.dex", blob)]))
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w") as zf:
        warnings.simplefilter("ignore")  # duplicate names are wanted here
        for n, b in entries:
            method = rng.choice((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED))
            zf.writestr(zipfile.ZipInfo(n, (1980, 1, 1, 0, 0, 0)), b, compress_type=method)
    return out.getvalue()


def _zip_fields(rng: random.Random, data: bytes) -> bytes:
    """Rewrite a field of a central-directory record, a local header or the EOCD record."""
    buf = bytearray(data)
    sigs = [(b"PK\x01\x02", (8, 10, 20, 24, 28, 30, 42)), (b"PK\x03\x04", (6, 8, 18, 22, 26, 28)),
            (b"PK\x05\x06", (8, 10, 12, 16, 20))]  # fmt: skip
    sig, offsets = rng.choice(sigs)
    hits = []
    pos = buf.find(sig)
    while pos >= 0 and len(hits) < 256:
        hits.append(pos)
        pos = buf.find(sig, pos + 4)
    if not hits:
        return mutate_bytes(rng, data)
    at = rng.choice(hits) + rng.choice(offsets)
    width = 2 if at + 4 > len(buf) or rng.random() < 0.4 else 4
    value = rng.choice((*INTERESTING, rng.randrange(1 << 32))) & ((1 << (8 * width)) - 1)
    buf[at : at + width] = value.to_bytes(width, "little")[: max(0, len(buf) - at)]
    return bytes(buf)


def mutate(rng: random.Random, target: str, seeds: Seeds | None = None) -> bytes:
    if target == "bundle":
        return grammar.mutate_bundle(rng)
    if target == "axml":  # a generated manifest, structurally mutated
        from tests.manifest import mutants

        return mutants.mutant(rng)
    if target == "render":  # the input names the mutation, done on AppResults by the runner
        return f"render:{rng.getrandbits(64)}".encode()
    seeds = seeds or load_seeds()
    if target == "dexgrammar":
        return grammar.mutate_dex(rng, rng.choice(seeds.dexes))
    pool = seeds.for_target(target)
    data = rng.choice(pool)
    if target != "container":
        return mutate_bytes(rng, data, pool)
    choice = rng.random()
    if choice < 0.45:
        return _rezip(rng, data, seeds.dexes)
    if choice < 0.75:
        return _zip_fields(rng, data)
    return mutate_bytes(rng, data, pool)


# --------------------------------------------------------------------------- targets


def _fuzz_options():
    from apkaudit.audit import AuditOptions
    from apkaudit.limits import Limits

    # Smaller than the defaults so one input stays fast; the limits themselves are under test.
    return AuditOptions(limits=Limits().override(max_seconds=20, max_dex_size=16 << 20,
                                                 max_total_dex_size=64 << 20))  # fmt: skip


@cache
def _options():
    return _fuzz_options()


def run_container(data: bytes, workdir: str) -> None:
    from apkaudit.audit import audit_app

    path = os.path.join(workdir, "input.apk")
    with open(path, "wb") as fh:
        fh.write(data)
    result = audit_app(path, _options())
    if result.status == "error":
        error = result.error or ""
        assert error and "\n" not in error and error.startswith(path + ": "), error
    else:
        assert result.status == "ok"
        for b in result.coverage.blind_spots:
            assert b.kind and "\n" not in b.kind


def run_manifest(data: bytes, workdir: str = "") -> None:
    from apkaudit.errors import InputError
    from apkaudit.manifest import androguard_adapter, splits
    from apkaudit.manifest.parse import parse_manifest

    androguard_adapter.quiet()  # as lenient_manifest does: androguard stays off the terminal
    for fmt in ("axml", "proto"):
        try:
            xml, _ = splits.decode(data, fmt, "fuzz.apk")
        except InputError:
            continue  # the one-line refusal its contract allows
        parse_manifest(xml, arsc=None)


def run_axml(data: bytes, workdir: str = "") -> None:
    """The binary-XML reader against the platform model (tests/manifest/aosp_model.py): the
    same elements, attributes and outcome; then the whole decode path never raises."""
    from tests.manifest import mutants

    problem = mutants.disagreement(data)
    assert problem is None, problem
    mutants.parse_all(data)


def run_dex(data: bytes, workdir: str = "") -> None:
    from apkaudit.code.attribution import Attributor
    from apkaudit.code.catalogue import load_catalogue
    from apkaudit.code.index import build_code_index, open_dex_set

    dexset, _spots = open_dex_set((("classes.dex", data),))
    index, _ = build_code_index(
        dexset, load_catalogue(), Attributor.for_app(()).origin, max_methods=5000
    )
    for ref in index.refs[:20]:
        dexset.excerpt(ref.location)
    for dex in dexset.files:  # decode a few methods of every class, whatever they reference
        for n, cdef in enumerate(dex.classes.values()):
            if n >= 50:
                break
            try:
                methods = dex.class_methods(cdef)
            except Exception as exc:  # class_methods raises DexFormatError/IndexError by design
                from apkaudit.errors import DexFormatError

                if not isinstance(exc, DexFormatError | IndexError):
                    raise
                continue
            for m in methods[:5]:
                dexset.code(dex, m.method_idx)


def warm() -> None:
    """Import everything the targets use, so forked workers share one snapshot of the code."""
    from apkaudit.code.catalogue import load_catalogue
    from apkaudit.coverage.hidden import load_markers
    from apkaudit.manifest import parse as manifest  # noqa: F401
    from apkaudit.rules import load_rules

    load_catalogue(), load_markers(), load_rules()
    grammar.render_seeds(), grammar.bundle_seeds()


RUNNERS: dict[str, Callable[[bytes, str], None]] = {
    "container": run_container,
    "manifest": run_manifest,
    "dex": run_dex,
    "dexgrammar": run_dex,
    "bundle": grammar.run_bundle,
    "render": grammar.run_render,
    "axml": run_axml,
}


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` when the body runs longer than ``seconds`` (main thread, POSIX)."""

    def on_alarm(_sig: int, _frame: object) -> None:
        raise Hang(f"input ran longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def check(target: str, data: bytes, timeout: float, workdir: str | None = None) -> str | None:
    """Run one input; None when fine, else a one-paragraph failure (the traceback)."""
    own = workdir is None
    wd = workdir or tempfile.mkdtemp(prefix="apkaudit-fuzz.")
    try:
        with time_limit(timeout):
            RUNNERS[target](data, wd)
        return None
    except Hang as exc:
        return f"hang: {exc}"
    except Exception:
        return traceback.format_exc()
    finally:
        if own:
            import shutil

            shutil.rmtree(wd, ignore_errors=True)


def input_for(seed: int, index: int, target: str) -> bytes:
    """Input number ``index`` of a run with ``seed``: reproducible anywhere."""
    return mutate(random.Random(f"{seed}:{target}:{index}"), target)
