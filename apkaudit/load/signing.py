"""Signer certificates of an APK, read with our own zip index and a small binary reader.

Two places hold them (signatures are never verified here; the report only names the signers):

- v1 (JAR signing): ``META-INF/<name>.RSA|DSA|EC``, a PKCS#7 ``SignedData`` next to its
  ``<name>.SF``; the certificates a ``SignerInfo`` points at are the signers (others in the bag
  are decoys);
- the APK Signing Block right before the central directory (``size``, ID-value pairs, ``size``,
  ``APK Sig Block 42``), whose v2 (0x7109871a), v3 (0xf05368c0) and v3.1 (0x1b93ad61) values
  each hold a length-prefixed sequence of signers; a signer's signed data holds the DER
  certificates. Layout: https://source.android.com/docs/security/features/apksigning/v2 and
  .../v3; the first value of each ID is used, as apksig does.

The rules (which names count as v1 blocks, the first value per ID, a broken scheme giving
nothing while the others still count, v3.1 read only beside v3) are those of the androguard
path this module replaced, so the reports name the same certificates (tests/load/
test_signing.py compares both on every fixture and real APK). X.509 and CMS fields of the
common shape by :mod:`.der`; anything else through asn1crypto, imported only then.
"""

from __future__ import annotations

import hashlib
import re
import struct
import zlib
from collections.abc import Callable
from typing import Any

from apkaudit.load import der
from apkaudit.load.zipscan import Archive, Entry
from apkaudit.model import Certificate

# A v1 signature block (PKCS#7) is a few KiB; anything bigger is not a real one.
_MAX_V1_BLOCK = 1024 * 1024
# A signing block holds a few signers (KiBs) and padding to 4 KiB; 32 MiB is not a real one.
_MAX_SIGNING_BLOCK = 32 << 20
_MAGIC = b"APK Sig Block 42"
_V2, _V3, _V31 = 0x7109871A, 0xF05368C0, 0x1B93AD61
_V1_NAME = re.compile(r"\AMETA-INF/(?s:.)*\.(DSA|EC|RSA)\Z")
_EOCD_SIG, _CENTRAL_SIG, _LOCAL_SIG = b"PK\x05\x06", b"PK\x01\x02", b"PK\x03\x04"


class _Broken(Exception):
    """A signature structure that cannot be read: its scheme gives no certificate."""


def certificates(arch: Archive) -> tuple[Certificate, ...]:
    """Signer certificates of the v1, v2, v3 and v3.1 schemes, deduplicated by DER sha256
    (the first scheme that names one wins). An unsigned or unreadable APK gives ()."""
    blocks = _signing_block_values(arch)
    sources: tuple[tuple[str, Callable[[], list[bytes]]], ...] = (
        ("v1", lambda: _v1(arch)),
        ("v2", lambda: _signers(blocks, _V2, v3=False)),
        ("v3", lambda: _signers(blocks, _V3, v3=True)),
        ("v3.1", lambda: _signers(blocks, _V31, v3=True) if _V3 in blocks else []),
    )
    seen: dict[str, Certificate] = {}
    for scheme, read in sources:
        try:
            ders = read()
        except Exception:  # hostile input raises anything in asn1crypto: that scheme is lost
            continue
        for blob in ders:
            cert = _certificate(blob, scheme)
            if cert is not None and cert.sha256 not in seen:
                seen[cert.sha256] = cert
    return tuple(seen.values())


# --------------------------------------------------------------------------- v1 (JAR)


def _v1(arch: Archive) -> list[bytes]:
    if arch.recovered:
        return []  # entries found without a central directory: Android would not install it
    # The last copy of a duplicated name, as a name-keyed index gives.
    last: dict[str, Entry] = {e.name: e for e in arch.entries}
    ders: list[bytes] = []
    for name, entry in last.items():
        if not _V1_NAME.search(name) or f"{name.rsplit('.', 1)[0]}.SF" not in last:
            continue
        try:
            block = _read_small(arch, entry, _MAX_V1_BLOCK)
            if block:
                ders += _pkcs7_signers(block)
        except Exception:  # one broken block must not hide another signer's
            continue
    return ders


def _read_small(arch: Archive, entry: Entry, limit: int) -> bytes | None:
    """One small entry through its local header, inflated at most to ``limit``; None when it
    is bigger. Tampered headers that claim deflate for stored data read as stored."""
    hdr = arch.read_at(entry.offset, 30)
    if len(hdr) < 30 or not hdr.startswith(_LOCAL_SIG):
        raise _Broken("no local header")
    (method,) = struct.unpack_from("<H", hdr, 8)
    (csize,) = struct.unpack_from("<I", hdr, 18)
    nlen, elen = struct.unpack_from("<HH", hdr, 26)
    size = csize or entry.compressed_size
    if size > limit:
        return None
    data = arch.read_at(entry.offset + 30 + nlen + elen, size)
    if method == 0:
        return data
    try:
        return zlib.decompressobj(-15).decompress(data, limit)
    except zlib.error:
        return data


def _pkcs7_signers(block: bytes) -> list[bytes]:
    try:
        return der.signer_certificates(block)
    except Exception:  # not the common shape (or broken): asn1crypto decides, as it always did
        return _pkcs7_signers_asn1(block)


def _pkcs7_signers_asn1(block: bytes) -> list[bytes]:
    from asn1crypto import cms

    signed = cms.ContentInfo.load(block)["content"]
    certs = [c.chosen for c in signed["certificates"] if c.name == "certificate"]
    found: list[bytes] = []
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


# --------------------------------------------------------------------------- APK Signing Block


def _signing_block_values(arch: Archive) -> dict[int, bytes]:
    """ID -> value of the first pair with that ID; {} when there is no readable block."""
    try:
        return _pairs(arch)
    except (_Broken, struct.error):
        return {}


def _central_directory_offset(arch: Archive) -> int:
    # The last end-of-central-directory record, at its declared offset (no shift: apksig
    # does not look for a directory that moved either).
    tail_start = max(0, arch.size - 22 - 0xFFFF)
    tail = arch.read_at(tail_start, arch.size - tail_start)
    pos = tail.rfind(_EOCD_SIG, 0, max(0, len(tail) - 18))
    if pos < 0:
        raise _Broken("no end of central directory")
    (offset,) = struct.unpack_from("<I", tail, pos + 16)
    if not offset:
        raise _Broken("no central directory")
    if arch.read_at(offset, 4) != _CENTRAL_SIG:
        raise _Broken("no central directory at its offset")
    return offset


def _pairs(arch: Archive) -> dict[int, bytes]:
    end = _central_directory_offset(arch)
    footer = arch.read_at(end - 24, 24)
    if end < 24 or len(footer) < 24 or footer[8:] != _MAGIC:
        return {}
    (size,) = struct.unpack_from("<Q", footer)
    start = end - size - 8
    if start < 0 or size > _MAX_SIGNING_BLOCK:
        raise _Broken("signing block size out of range")
    block = arch.read_at(start, size + 8)
    if struct.unpack_from("<Q", block)[0] != size:
        raise _Broken("signing block sizes differ")
    values: dict[int, bytes] = {}
    pos, stop = 8, len(block) - 24
    while pos < stop:
        length, key = struct.unpack_from("<QI", block, pos)
        pos += 12
        # A length under 4 (no room for its ID) takes the rest of the block.
        nxt = len(block) if length < 4 else min(len(block), pos + length - 4)
        values.setdefault(key, block[pos:nxt])
        pos = nxt
    return values


class _Reader:
    """Little-endian reads from bytes; short reads give what is there, a short integer raises."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def u32(self) -> int:
        if self.pos + 4 > len(self.data):
            raise _Broken("cut off")
        (value,) = struct.unpack_from("<I", self.data, self.pos)
        self.pos += 4
        return int(value)

    def take(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        self.pos = min(len(self.data), self.pos + n)
        return out

    def sized(self) -> bytes:
        return self.take(self.u32())


def _signers(blocks: dict[int, bytes], key: int, *, v3: bool) -> list[bytes]:
    """The certificates of every signer of one scheme's value (all or nothing)."""
    value = blocks.get(key)
    if value is None:
        return []
    seq = _Reader(value)
    if seq.u32() + 4 != len(value):
        raise _Broken("signer sequence size")
    certs: list[bytes] = []
    while seq.pos < len(value):
        seq.u32()  # the signer's own size: its fields follow in order
        signed = _Reader(seq.sized())
        signed.sized()  # digests
        length = signed.u32()
        first = signed.pos
        while signed.pos < first + length:
            certs.append(signed.sized())
        if v3:
            signed.u32(), signed.u32()  # min and max SDK
        signed.sized()  # additional attributes
        if v3:
            seq.u32(), seq.u32()  # min and max SDK
        seq.sized()  # signatures
        seq.sized()  # public key
    return certs


# --------------------------------------------------------------------------- X.509 fields

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


def _rdn_string(rdns: der.Name) -> str:
    parts = ("+".join(f"{_NAME_KEYS.get(k, k)}={_escape_dn(v)}" for k, v in rdn) for rdn in rdns)
    return ", ".join(reversed(list(parts)))


def _certificate(blob: bytes, scheme: str) -> Certificate | None:
    try:
        issuer_rdns, subject_rdns, number = der.certificate_fields(blob)
    except Exception:  # not the common shape (or broken): asn1crypto decides
        return _certificate_asn1(blob, scheme)
    return _made(blob, scheme, _rdn_string(subject_rdns), _rdn_string(issuer_rdns), number)


def _certificate_asn1(blob: bytes, scheme: str) -> Certificate | None:
    from asn1crypto import x509

    try:
        cert = x509.Certificate.load(blob)
        tbs = cert["tbs_certificate"]
        subject = _name_string(tbs["subject"])
        issuer = _name_string(tbs["issuer"])
        number = tbs["serial_number"].native
    except Exception:
        return None
    return _made(blob, scheme, subject, issuer, number)


def _made(blob: bytes, scheme: str, subject: str, issuer: str, number: int) -> Certificate:
    return Certificate(
        subject=subject,
        issuer=issuer,
        sha256=hashlib.sha256(blob).hexdigest(),
        sha1=hashlib.sha1(blob).hexdigest(),
        serial=format(number, "x"),
        scheme=scheme,
    )
