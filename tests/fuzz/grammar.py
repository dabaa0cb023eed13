"""Structure-aware fuzz targets (issue 12.6), next to the byte fuzzer in harness.py.

- ``dexgrammar``: a seed dex with one of its structures rewritten as a parser would meet it:
  an id-table entry (string, type, proto, field, method, class_def fields), a header size or
  offset, a map-list entry, a method handle or call site, a uleb of class data, or a code
  item's header and instructions (biased to invoke, const-method-handle, invoke-polymorphic,
  invoke-custom and payload opcodes). The reader, code index and excerpts must never raise.
- ``bundle``: an .xapk ``manifest.json``, .apkm ``info.json`` or .apks ``toc.pb`` mutated by its
  grammar (types swapped, nesting, huge or odd numbers, lone surrogates, names that point
  outside or at another split, protobuf fields), the bundle rebuilt and loaded: a result or a
  one-line error naming the file.
- ``render``: an audited app's every app-derived string (package, label, components,
  permissions, class and method names, excerpts, URIs, details, messages) replaced by hostile
  text (formula prefixes, controls, bidi overrides, markup, template syntax, surrogates), then
  every renderer: no exception, UTF-8 encodable, JSON and SARIF parse, the JSON validates
  against its schema, and no markup from the app survives into HTML.

A mutator takes a ``random.Random`` seeded per input, so every input is reproducible by number.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import random
import struct
import warnings
import zipfile
import zlib
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
INTERESTING = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF,
               0x80000000, 0xFFFFFFFE, 0xFFFFFFFF)  # fmt: skip

# --------------------------------------------------------------------------- dex grammar

# (offset in the header of the size field, of the offset field, entry width, u16/u32 fields)
_TABLES = (
    (0x38, 0x3C, 4, ((0, 4),)),  # string_ids: string_data_off
    (0x40, 0x44, 4, ((0, 4),)),  # type_ids: descriptor_idx
    (0x48, 0x4C, 12, ((0, 4), (4, 4), (8, 4))),  # proto_ids: shorty, return type, params off
    (0x50, 0x54, 8, ((0, 2), (2, 2), (4, 4))),  # field_ids: class, type, name
    (0x58, 0x5C, 8, ((0, 2), (2, 2), (4, 4))),  # method_ids: class, proto, name
    (0x60, 0x64, 32, tuple((o, 4) for o in range(0, 32, 4))),  # class_defs: 8 u32 fields
)
# Opcodes worth planting: invokes, handles, call sites, payload-bearing and wide formats.
_OPS = (0x6E, 0x71, 0x74, 0x77, 0xFA, 0xFB, 0xFC, 0xFD, 0xFE, 0xFF, 0x26, 0x2B, 0x2C, 0x1A,
        0x1B, 0x1C, 0x22, 0x24, 0x25, 0x00)  # fmt: skip
_PSEUDO = (0x0100, 0x0200, 0x0300)  # packed-switch, sparse-switch, fill-array-data payloads


def _map_items(dex: bytes) -> list[tuple[int, int, int, int]]:
    """(map entry position, type, count, offset) of every map_list entry that fits."""
    if len(dex) < 0x70:
        return []
    (map_off,) = struct.unpack_from("<I", dex, 0x34)
    if map_off + 4 > len(dex):
        return []
    (size,) = struct.unpack_from("<I", dex, map_off)
    out = []
    for i in range(min(size, 64)):
        at = map_off + 4 + 12 * i
        if at + 12 > len(dex):
            break
        typ, _, count, off = struct.unpack_from("<HHII", dex, at)
        out.append((at, typ, count, off))
    return out


def _value(rng: random.Random, width: int, limit: int) -> int:
    """An index or offset a parser must survive: a valid-looking one, the bound, or extreme."""
    pick = rng.random()
    if pick < 0.4 and limit > 0:
        v = rng.randrange(limit)
    elif pick < 0.6:
        v = limit + rng.choice((-1, 0, 1))
    else:
        v = rng.choice(INTERESTING)
    return max(0, v) & ((1 << (8 * width)) - 1)


def _put(buf: bytearray, at: int, width: int, value: int) -> None:
    if at >= 0 and at + width <= len(buf):
        buf[at : at + width] = value.to_bytes(width, "little")


def _code_items(dex: bytes) -> list[int]:
    return [off for _, typ, _, off in _map_items(dex) if typ == 0x2001]


def mutate_dex(rng: random.Random, dex: bytes) -> bytes:
    buf = bytearray(dex)
    if len(buf) < 0x70:
        return bytes(buf)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(7)
        if op == 0:  # one field of one id-table entry
            size_at, _, width, fields = rng.choice(_TABLES)
            count, off = struct.unpack_from("<II", buf, size_at)
            if count and off + width * count <= len(buf):
                entry = off + width * rng.randrange(count)
                f_off, f_w = rng.choice(fields)
                _put(buf, entry + f_off, f_w, _value(rng, f_w, max(count, len(buf))))
        elif op == 1:  # a header size or offset
            at = rng.choice(range(0x20, 0x70, 4))
            _put(buf, at, 4, _value(rng, 4, len(buf)))
        elif op == 2:  # a map-list entry: type, count or offset
            items = _map_items(bytes(buf))
            if items:
                at, *_ = rng.choice(items)
                field_at, w = rng.choice(((0, 2), (4, 4), (8, 4)))
                value = rng.choice((0x0007, 0x0008, 0x2000, 0x2001, 0x2002)) if field_at == 0 else 0
                _put(buf, at + field_at, w, value or _value(rng, w, len(buf)))
        elif op == 3:  # a method handle or call site entry
            items = [i for i in _map_items(bytes(buf)) if i[1] in (0x0007, 0x0008)]
            if items:
                _, typ, count, off = rng.choice(items)
                width = 8 if typ == 0x0008 else 4
                at = off + width * rng.randrange(max(1, count)) + rng.choice((0, 2, 4))
                _put(buf, at, 2 if typ == 0x0008 else 4, _value(rng, 2, 0x20))
        elif op == 4:  # a byte of class data (uleb sizes, method index diffs, code offsets)
            for _, typ, _, off in _map_items(bytes(buf)):
                if typ == 0x2000 and off < len(buf):
                    at = min(len(buf) - 1, off + rng.randrange(64))
                    buf[at] = rng.choice((0x00, 0x01, 0x7F, 0x80, 0xFF, rng.randrange(256)))
                    break
        elif op == 5:  # a code item header: registers, ins, outs, tries, debug, insns size
            codes = _code_items(bytes(buf))
            if codes:
                base = rng.choice(codes)
                at, w = rng.choice(((0, 2), (2, 2), (4, 2), (6, 2), (8, 4), (12, 4)))
                _put(buf, base + at, w, _value(rng, w, 0x400))
        else:  # an instruction planted in some code
            codes = _code_items(bytes(buf))
            if codes:
                base = rng.choice(codes) + 16
                at = base + 2 * rng.randrange(16)
                if rng.random() < 0.2:
                    _put(buf, at, 2, rng.choice(_PSEUDO))
                else:
                    _put(buf, at, 1, rng.choice(_OPS))
                    _put(buf, at + 1, 1, rng.randrange(256))
                    _put(buf, at + 2, 2, _value(rng, 2, 64))
    return bytes(buf)


# --------------------------------------------------------------------------- bundle grammar

_JSON_NAMES = ("manifest.json", "info.json")
ODD_NAMES = ("", "base", "../../etc/passwd", "/abs.apk", "x" * 5000, "\ud800", "a\u202eb",
             "base.apk\x00", "split_feature_sms.apk", "\U0001f600")  # fmt: skip


def _odd_value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.randrange(12)
    if pick == 0:
        return None
    if pick == 1:
        return rng.choice((0, -1, 2**63, 10**400 if depth else 1e308, 0.5))
    if pick == 2:
        return rng.choice(ODD_NAMES)
    if pick == 3:
        return [] if depth > 2 else [_odd_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if pick == 4:
        return {} if depth > 2 else {"id": _odd_value(rng, depth + 1), "file": _odd_value(rng, 9)}
    if pick == 5:
        return True
    return rng.choice(("com.apkaudit.fixture.splitsms.apk", "config.arm64_v8a.apk", "base"))


def _mutate_json(rng: random.Random, text: bytes) -> bytes:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        doc = {}
    op = rng.randrange(6)
    if op == 0 or not isinstance(doc, dict) or not doc:  # a whole odd document
        doc = _odd_value(rng)
    elif op == 1:  # one key's value replaced
        doc[rng.choice(list(doc))] = _odd_value(rng)
    elif op == 2:  # split_apks entries: odd ids and files, duplicates, two bases
        splits = doc.get("split_apks")
        if isinstance(splits, list) and splits:
            item = rng.choice(splits)
            if isinstance(item, dict):
                item[rng.choice(("id", "file", "x"))] = _odd_value(rng)
            if rng.random() < 0.5:
                splits.append(dict(item) if isinstance(item, dict) else item)
        else:
            doc["split_apks"] = _odd_value(rng)
    elif op == 3:  # nesting
        depth = rng.choice((10, 1000, 100_000))
        out = ("[" * depth + "]" * depth).encode()
        return b'{"split_apks": ' + out + b"}" if rng.random() < 0.5 else out
    elif op == 4:  # raw damage of the text
        raw = bytearray(json.dumps(doc).encode())
        if raw:
            raw[rng.randrange(len(raw))] = rng.choice(b'{}[]",:\\\x00\xff')
        return bytes(raw)
    else:  # a number or escape the decoder may choke on
        return rng.choice((b'{"split_apks": 1' + b"0" * 5000 + b"}", b'{"a": NaN}',
                           b'{"split_apks": [{"id": "base", "file": "\\ud800"}]}',
                           b'{"a": 1e99999}', b"\xef\xbb\xbf{}", b""))  # fmt: skip
    return json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")


def _mutate_proto(rng: random.Random, data: bytes) -> bytes:
    """toc.pb: a field tag, a varint length or a string rewritten."""
    buf = bytearray(data)
    if not buf:
        return bytes(rng.randbytes(16))
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(buf))
        buf[at] = rng.choice((0x0A, 0x12, 0x1A, 0x08, 0x10, 0xFF, 0x80, 0x00, rng.randrange(256)))
    if rng.random() < 0.2:
        buf += b"\x0a" + b"\xff" * 9 + b"\x01"  # a length past 2**63
    return bytes(buf)


@cache
def bundle_seeds() -> tuple[tuple[str, bytes], ...]:
    edge = REPO / "fixtures" / "edge"
    names = ("split-sms.xapk", "split-sms.apks", "split-sms.apkm", "hostile-nested-manifest.xapk")
    return tuple((n, (edge / n).read_bytes()) for n in names if (edge / n).is_file())


def mutate_bundle(rng: random.Random) -> bytes:
    _name, data = rng.choice(bundle_seeds())
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        entries = [(i.filename, zf.read(i)) for i in zf.infolist()]
    out = []
    for n, blob in entries:
        if n in _JSON_NAMES:
            blob = _mutate_json(rng, blob)
        elif n == "toc.pb":
            blob = _mutate_proto(rng, blob)
        elif n.endswith(".apk") and rng.random() < 0.05:
            continue  # a split the bundle's index names but the archive lacks
        out.append((n, blob))
    if rng.random() < 0.1:
        out.append(("manifest.json", _mutate_json(rng, b"{}")))  # a second index
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w") as zf:
        warnings.simplefilter("ignore")  # a duplicate manifest.json is wanted
        for n, blob in out:
            zf.writestr(zipfile.ZipInfo(n, (1980, 1, 1, 0, 0, 0)), blob)
    return buf.getvalue()


# --------------------------------------------------------------------------- renderer strings

# Fields that hold text taken from the app (everything else is ours: ids, kinds, hashes).
APP_FIELDS = frozenset({
    "path", "package", "label", "version_name", "version_code", "name", "actions", "categories",
    "schemes", "mime_types", "permission", "subject", "issuer", "serial", "application_class",
    "dex", "class_name", "method", "target", "excerpt", "dex_files", "description", "uri",
    "detail", "notes", "message", "manifest_element", "error", "entry",
})  # fmt: skip
MARK = "<i-x onload=alert(1)>"
HOSTILE = (
    "=HYPERLINK(\"http://evil.example/\",\"x\")", "+cmd|'/c calc'!A1", "-2+3", "@SUM(A1)", "\tx",
    "a\rb", "a\r\nb\nc", "\x1b[31mred\x1b]0;title\x07", "\x9b2J", "\u202egnp.exe", "\u2066x\u2069",
    MARK, "<script>alert(1)</script>", "]]><![CDATA[", "`x`", "# heading", "[a](javascript:x)",
    "![i](http://t.example/p.png)", "| a | b |", "*x* _y_ ~~z~~", "\\", "\"'&", "{{ 7*7 }}",
    "{% raw %}", "\U0001f600", "\x00", "\x7f", "\u2028\u2029", "\ufeff", "-->", "</textarea>",
    "javascript:alert(1)", "x" * 20_000, "%s%n%x", "../../etc/passwd", "\u0301\u0301\u0301",
)  # fmt: skip


def _hostile(rng: random.Random, old: str) -> str:
    pick = rng.random()
    text = rng.choice(HOSTILE)
    if pick < 0.3:
        return text
    if pick < 0.6:
        return old + text
    if pick < 0.8:
        return text + old + rng.choice(HOSTILE)
    return "".join(rng.choice(HOSTILE) for _ in range(rng.randint(2, 5)))[:30_000]


def mutate_strings(rng: random.Random, obj: Any, rate: float) -> Any:
    """``obj`` (an AppResult or any part of it) with app-derived strings made hostile."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if isinstance(value, Enum):
                continue
            if f.name in APP_FIELDS and isinstance(value, str):
                if rng.random() < rate:
                    changes[f.name] = _hostile(rng, value)
            elif (
                f.name in APP_FIELDS
                and isinstance(value, tuple)
                and all(isinstance(v, str) for v in value)
            ):
                if value and rng.random() < rate:
                    changes[f.name] = tuple(
                        _hostile(rng, v) if rng.random() < 0.5 else v for v in value
                    )
            elif dataclasses.is_dataclass(value) or isinstance(value, tuple):
                new = mutate_strings(rng, value, rate)
                if new is not value:
                    changes[f.name] = new
        return dataclasses.replace(obj, **changes) if changes else obj
    if isinstance(obj, tuple) and obj and not isinstance(obj[0], str | int | float | Enum):
        new = tuple(mutate_strings(rng, v, rate) for v in obj)
        return new if any(a is not b for a, b in zip(new, obj, strict=True)) else obj
    return obj


@cache
def render_seeds() -> tuple[Any, ...]:
    from apkaudit.audit import audit_app

    names = ("loan-bulk-sms", "loan-harvest-upload", "contacts-aes-okhttp", "hostile-label")
    apks = [REPO / "fixtures" / "apks" / f"{n}.apk" for n in names]
    apks += [REPO / "fixtures" / "edge" / n for n in ("packed-stub.apk", "split-sms.xapk")]
    return tuple(audit_app(p) for p in apks if p.is_file())


@cache
def _schema() -> Any:
    import jsonschema

    path = REPO / "apkaudit" / "report" / "schema" / "report-v1.schema.json"
    return jsonschema.Draft202012Validator(json.loads(path.read_text()))


def run_render(data: bytes, workdir: str = "") -> None:
    rng_seed = data.decode()
    _render(rng_seed, validate=zlib.crc32(data) % 10 == 0)


def _render(rng_seed: str, validate: bool) -> None:
    from apkaudit import __version__
    from apkaudit.report.document import RuleRun, build_report
    from apkaudit.report.formats import FORMATS, render
    from apkaudit.rules import load_rules

    rng = random.Random(rng_seed)
    app = mutate_strings(rng, rng.choice(render_seeds()), rng.choice((0.1, 0.5, 1.0)))
    report = build_report(
        [app],
        rules=RuleRun.of(load_rules()),
        tool_version=__version__,
        generated_at="2026-01-01T00:00:00Z",
    )
    # One format per input (two in ten inputs: all of them), so a long run stays affordable.
    formats = (*FORMATS, "csv") if rng.random() < 0.2 else (rng.choice((*FORMATS, "csv")),)
    for fmt in formats:
        text = _csv(app) if fmt == "csv" else render(report, fmt)
        text.encode("utf-8")
        if fmt == "csv":
            rows = list(csv.reader(io.StringIO(text)))
            assert len(rows) == 2, f"the app's row split into {len(rows) - 1} rows"
        if fmt in ("json", "sarif"):
            doc = json.loads(text)
            if fmt == "json" and validate:
                _schema().validate(doc)
        if fmt == "html":
            assert MARK not in text and "<script>alert(1)" not in text, "markup from the app"


def _csv(app: Any) -> str:
    from apkaudit.corpus.store import StoredRow, export_csv

    row = StoredRow(
        sha256="0" * 64,
        tool_version="t",
        rules_version="r",
        path=app.input.path,
        result=app,
        audited_at="2026-01-01T00:00:00Z",
        seconds=1.0,
    )
    return "".join(export_csv(iter([row])))


def run_bundle(data: bytes, workdir: str) -> None:
    from apkaudit.errors import InputError
    from apkaudit.load.loader import load_app

    suffix = ".apks" if b"toc.pb" in data else ".apkm" if b"info.json" in data else ".xapk"
    path = os.path.join(workdir, "input" + suffix)
    with open(path, "wb") as fh:
        fh.write(data)
    try:
        load_app(path)
    except InputError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(path + ": "), str(exc)
