"""The one module that imports androguard: binary XML, resources, certificates, permission data.

Every function here turns androguard's many exception types into ``InputError`` (one line, a
human reason) or into partial/empty data, so no other module depends on androguard's API or its
failure modes. androguard logs through loguru at DEBUG level on every chunk it parses, and
prints; that output must never reach the user's terminal: :func:`quiet` turns it off, and the
load stage calls it before it first uses androguard (importing this module changes nothing).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import zlib
from typing import Any

from androguard.core import api_specific_resources as _permdata
from androguard.core import apk as _apk
from androguard.core import axml as _axml
from loguru import logger as _loguru
from lxml import etree

from apkaudit.model import Certificate


def _no_print(*_args: object, **_kwargs: object) -> None:
    return None


class _DropApkInspector(logging.Filter):
    """apkInspector (androguard's zip reader) warns through the *root* stdlib logger.

    With no handler configured, Python's last-resort handler would print those warnings to
    stderr. A filter on the root logger drops only records emitted from apkInspector's files.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "apkInspector" not in (record.pathname or "")


@functools.cache
def quiet() -> None:
    """Keep androguard's output off the terminal, for the rest of the process (idempotent).

    - its loguru messages are disabled (the modules imported here add no loguru handler;
      ``androguard.decompiler``, which adds one to stderr, is never imported: a test holds it);
    - androguard 4.1.4 also calls bare print() on corrupt resources (ARSCComplex: "We are out
      of bound with this complex entry"): a module-level ``print`` shadows the builtin for
      those modules only, so nothing reaches stdout and no global stream is swapped;
    - apkInspector's warnings on the root logger are filtered out (other records pass);
    - androguard's androconf calls ``colorama.init()`` at import, which wraps the standard
      streams only where it converts (Windows) but, everywhere, writes ``ESC[0m`` to a
      terminal at exit (even with NO_COLOR): that exit hook is removed.
    """
    _undo_colorama()
    _loguru.disable("androguard")
    _axml.print = _no_print
    _apk.print = _no_print
    logging.getLogger().addFilter(_DropApkInspector())


def _undo_colorama() -> None:
    import atexit

    import colorama.initialise

    atexit.unregister(colorama.initialise.reset_all)


ANDROID_NS = "http://schemas.android.com/apk/res/android"

# A v1 signature block (PKCS#7) is a few KiB; anything bigger is not a real one. Reading it
# ourselves, bounded, avoids androguard's unbounded zlib.decompress of hostile entries.
_MAX_V1_BLOCK = 1024 * 1024

# --------------------------------------------------------------------------- manifest (AXML)


class _TolerantPrinter(_axml.AXMLPrinter):
    """AXMLPrinter that keeps the tree built so far when its constructor raises.

    androguard builds the tree inside ``__init__`` and raises (IndexError, struct.error, ...)
    on some broken chunks, e.g. an END_TAG or TEXT before any element; the elements read up to
    that point are still worth auditing.
    """

    def __init__(self, raw: bytes) -> None:
        self.root = None
        with contextlib.suppress(Exception):  # androguard raises arbitrary types on hostile input
            super().__init__(raw)


def lenient_manifest(raw: bytes) -> etree._Element | None:
    """androguard's reading of binary XML that Android itself refuses (the manifest stage reads
    every manifest the platform accepts with its own reader, ``manifest.axml``): the elements
    it could read, or None."""
    root = _TolerantPrinter(raw).root
    return root if root is not None and isinstance(root.tag, str) else None


@functools.cache
def framework_attribute_names() -> dict[int, str]:
    """Framework attribute resource id -> name (``0x01010003`` -> ``name``), from the SDK's
    public.xml that androguard ships."""
    from androguard.core.resources import public

    table = public.SYSTEM_RESOURCES["attributes"]["inverse"]
    return {int(rid): str(name) for rid, name in table.items()}


# --------------------------------------------------------------------------- resources (ARSC)


@functools.lru_cache(maxsize=1)
def _arsc_parser(arsc: bytes) -> Any | None:
    # maxsize=1: a manifest resolves a few values against the same table, one app at a time.
    try:
        return _axml.ARSCParser(arsc)
    except Exception:
        return None


def _resource_id(parser: Any, value: str) -> int | None:
    """``@7F0A0001`` or ``@string/app_name`` -> numeric id; framework references -> None."""
    ref = value[1:]
    if ref.startswith("android:"):
        return None  # lives in framework-res.apk, which we do not have
    if "/" in ref:  # textual reference from a hand-made manifest
        rtype, _, key = ref.rpartition("/")
        rtype = rtype.rpartition(":")[2]
        for package in parser.get_packages_names():
            rid = parser.get_res_id_by_key(package, rtype, key)
            if rid:
                return int(rid)
        return None
    rid, package = parser.parse_id(value)
    return None if package else rid


def resolve_resource(value: str, arsc: bytes | None) -> str | None:
    """Resolve a resource reference to its default-locale value; None when it cannot be."""
    if not value.startswith("@") or not arsc:
        return None
    parser = _arsc_parser(arsc)
    if parser is None:
        return None
    try:
        rid = _resource_id(parser, value)
        if not rid:
            return None
        # The default config (androguard falls back to the first config when the resource has
        # no default entry), then any config. Complex values (lists) are not labels.
        for config in (_axml.ARSCResTableConfig.default_config(), None):
            for _config, resolved in parser.get_resolved_res_configs(rid, config):
                if isinstance(resolved, str):
                    return resolved
    except Exception:  # includes RecursionError on reference cycles A -> B -> A
        return None
    return None


def resolve_label(value: str, arsc: bytes | None) -> str:
    """The manifest label, resolved if it is a resource reference; else the raw value."""
    resolved = resolve_resource(value, arsc)
    return value if resolved is None else resolved


def resource_files(value: str, arsc: bytes | None) -> tuple[tuple[str, int], ...]:
    """The files a file resource (``@mipmap/ic_launcher``) resolves to, one per configuration:
    ``(zip entry name, screen density)``; density 0 is the default, 0xFFFE any-dpi, 0xFFFF
    no-dpi. () when it cannot be resolved."""
    if not value.startswith("@") or not arsc:
        return ()
    parser = _arsc_parser(arsc)
    if parser is None:
        return ()
    out: list[tuple[str, int]] = []
    try:
        rid = _resource_id(parser, value)
        if not rid:
            return ()
        for config, resolved in parser.get_resolved_res_configs(rid):
            if isinstance(resolved, str) and resolved.startswith("res/"):
                out.append((resolved, int(config.get_density())))
    except Exception:  # includes RecursionError on reference cycles A -> B -> A
        return tuple(out)
    return tuple(dict.fromkeys(out))


# --------------------------------------------------------------------------- certificates

_NAME_KEYS = {
    "common_name": "CN",
    "organizational_unit_name": "OU",
    "organization_name": "O",
    "locality_name": "L",
    "state_or_province_name": "ST",
    "country_name": "C",
    "email_address": "E",
    "street_address": "STREET",
    "domain_component": "DC",
    "serial_number": "SERIALNUMBER",
    "surname": "SN",
    "given_name": "GN",
    "title": "T",
}


def _escape_dn(value: str) -> str:
    out = "".join("\\" + ch if ch in ',+"\\<>;=' else ch for ch in value)
    if out.startswith(("#", " ")):
        out = "\\" + out
    return out


def _name_string(name: Any) -> str:
    """An asn1crypto ``Name`` as ``CN=..., O=..., C=...`` (RFC 4514 order: last RDN first)."""
    rdns = []
    for rdn in name.chosen:
        avas = []
        for ava in rdn:
            key = ava["type"].native
            value = ava["value"].native
            avas.append(f"{_NAME_KEYS.get(key, key)}={_escape_dn(str(value))}")
        rdns.append("+".join(avas))
    return ", ".join(reversed(rdns))


def _certificate(der: bytes, scheme: str) -> Certificate | None:
    from asn1crypto import x509  # androguard's own dependency; kept behind this adapter

    try:
        cert = x509.Certificate.load(der)
        tbs = cert["tbs_certificate"]
        subject = _name_string(tbs["subject"])
        issuer = _name_string(tbs["issuer"])
        serial = format(tbs["serial_number"].native, "x")
    except Exception:
        return None
    return Certificate(
        subject=subject,
        issuer=issuer,
        sha256=hashlib.sha256(der).hexdigest(),
        sha1=hashlib.sha1(der).hexdigest(),
        serial=serial,
        scheme=scheme,
    )


def _read_entry_bounded(apk: Any, name: str, limit: int) -> bytes | None:
    """Read one small zip entry through androguard's zip index without unbounded inflation."""
    zipentry = apk.zip  # apkInspector ZipEntry (androguard 4.1)
    central = zipentry.central_directory.entries[name]
    local = zipentry.local_headers[name]
    size = local.compressed_size or central.compressed_size
    if size > limit:
        return None
    start = (
        central.relative_offset_of_local_file_header
        + 30
        + local.file_name_length
        + local.extra_field_length
    )
    data = zipentry.zip.getbuffer()[start : start + size].tobytes()
    if local.compression_method == 0:
        return data
    inflater = zlib.decompressobj(-15)
    try:
        return inflater.decompress(data, limit)
    except zlib.error:
        # Tampered headers claim deflate for stored data; Android then reads it as stored.
        return data


def _v1_signer_certs(apk: Any, name: str) -> list[bytes]:
    """DER certificates of the signers of one META-INF/*.RSA|DSA|EC block (not verified)."""
    from asn1crypto import cms

    block = _read_entry_bounded(apk, name, _MAX_V1_BLOCK)
    if not block:
        return []
    signed = cms.ContentInfo.load(block)["content"]
    certs = [c.chosen for c in signed["certificates"] if c.name == "certificate"]
    found: list[bytes] = []
    # Only the certificates that a SignerInfo points at: extra certificates in the bag are
    # not signers (and malware adds decoys).
    for signer in signed["signer_infos"]:
        sid = signer["sid"]
        for cert in certs:
            if sid.name == "issuer_and_serial_number":
                match = (
                    cert.issuer == sid.chosen["issuer"]
                    and cert.serial_number == sid.chosen["serial_number"].native
                )
            else:
                match = cert.key_identifier == sid.chosen.native
            if match:
                found.append(cert.dump())
    return found


def certificates(path: str | bytes) -> tuple[Certificate, ...]:
    """Signer certificates of v1, v2, v3 and v3.1 schemes, deduplicated by DER sha256.

    ``path`` is a file, or the bytes of an APK nested in a bundle. Signatures are not
    verified. An unsigned, oddly signed or unreadable APK gives ().
    """
    try:
        # skip_analysis: only the zip index; the manifest and dex are not parsed again.
        apk = _apk.APK(path, raw=isinstance(path, bytes), skip_analysis=True)
    except Exception:
        return ()

    def v1() -> list[bytes]:
        ders: list[bytes] = []
        for name in apk.get_signature_names():
            try:
                ders += _v1_signer_certs(apk, name)
            except Exception:  # one broken block must not hide another signer's
                continue
        return ders

    sources = (
        ("v1", v1),
        ("v2", apk.get_certificates_der_v2),
        ("v3", apk.get_certificates_der_v3),
        ("v3.1", apk.get_certificates_der_v31),
    )
    seen: dict[str, Certificate] = {}
    for scheme, read in sources:
        try:
            ders = read()
        except Exception:  # a broken block of one scheme must not hide the others
            continue
        for der in ders:
            cert = _certificate(bytes(der), scheme)
            if cert is not None and cert.sha256 not in seen:
                seen[cert.sha256] = cert
    return tuple(seen.values())


# --------------------------------------------------------------------------- permission data

# Flags that say nothing about who may hold a permission on a phone (instant apps only).
_IGNORED_FLAGS = {"instant", "ephemeral", "runtime"}
_BASES = ("normal", "dangerous", "signature", "internal")


def _normalise_level(raw: str) -> str:
    """AOSP data spells levels several ways; return ``base|flag|...`` in one spelling.

    ``signatureOrSystem`` and ``system|signature`` -> ``signature|privileged``;
    ``dangerous|instant`` -> ``dangerous``; an empty level is Android's default, ``normal``.
    """
    parts: list[str] = []
    for part in raw.split("|"):
        part = part.strip()
        if part == "signatureOrSystem":
            parts += ["signature", "privileged"]
        elif part == "system":
            parts.append("privileged")
        elif part and part not in _IGNORED_FLAGS:
            parts.append(part)
    base = next((p for p in parts if p in _BASES), "normal")
    flags = [p for p in dict.fromkeys(parts) if p != base and p not in _BASES]
    return "|".join([base, *flags])


@functools.lru_cache(maxsize=1)
def _available_levels() -> tuple[int, ...]:
    # androguard ships aosp_permissions/permissions_<api>.json; list which, once.
    import os

    folder = os.path.join(os.path.dirname(_permdata.__file__), "aosp_permissions")
    try:
        names = os.listdir(folder)
    except OSError:
        return ()
    levels = (n[len("permissions_") : -len(".json")] for n in names)
    return tuple(sorted(int(n) for n in levels if n.isdigit()))


def _data_level(api_level: int | None) -> int | None:
    """The API level whose data to use: clamped to the shipped range; in a gap, the lower one."""
    levels = _available_levels()
    if not levels:
        return None
    if api_level is None or api_level >= levels[-1]:
        return levels[-1]
    return max((lv for lv in levels if lv <= api_level), default=levels[0])


@functools.lru_cache(maxsize=64)
def _levels_for(data_level: int) -> dict[str, str]:
    try:
        table = _permdata.load_permissions(data_level, "permissions")
    except Exception:
        return {}
    return {
        name: _normalise_level(str(info.get("protectionLevel") or ""))
        for name, info in table.items()
        if isinstance(info, dict)
    }


def protection_level(permission: str, api_level: int | None) -> str:
    """AOSP protection level of a platform permission at ``api_level`` (default: newest data).

    Returns e.g. ``dangerous``, ``normal``, ``signature|privileged``; ``unknown`` for custom
    permissions and for names the AOSP data at that level does not define.
    """
    level = _data_level(api_level)
    if level is None:
        return "unknown"
    return _levels_for(level).get(permission, "unknown")
