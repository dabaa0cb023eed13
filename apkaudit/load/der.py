"""A small DER reader for the common shape of signing certificates, so that an ordinary APK is
read without importing asn1crypto (~60 ms of CPU at start-up): the certificates and signer
identifiers of a PKCS#7 ``SignedData`` (RFC 5652) and an X.509 certificate's serial number,
issuer and subject names (RFC 5280) with the attribute types and string types real signers use.

Anything else (an indefinite length, a multi-byte tag, an unknown name attribute or string type,
a signer named by key identifier, punycode) raises :class:`Unusual`, and the caller reads that
block with asn1crypto instead, so this module never decides an unusual case differently
(tests/load/test_signing.py compares both readers on every fixture and real APK).
"""

from __future__ import annotations

# Attribute type OIDs (DER content bytes) -> asn1crypto's names for them.
_ATTRIBUTES = {
    bytes.fromhex("550403"): "common_name",
    bytes.fromhex("55040b"): "organizational_unit_name",
    bytes.fromhex("55040a"): "organization_name",
    bytes.fromhex("550407"): "locality_name",
    bytes.fromhex("550408"): "state_or_province_name",
    bytes.fromhex("550406"): "country_name",
    bytes.fromhex("2a864886f70d010901"): "email_address",
    bytes.fromhex("550409"): "street_address",
    bytes.fromhex("0992268993f22c640119"): "domain_component",
    bytes.fromhex("550405"): "serial_number",
    bytes.fromhex("550404"): "surname",
    bytes.fromhex("55042a"): "given_name",
    bytes.fromhex("55040c"): "title",
}
_SIGNED_DATA = bytes.fromhex("2a864886f70d010702")
_UTF8, _PRINTABLE, _IA5 = 0x0C, 0x13, 0x16
_SEQUENCE, _SET, _INTEGER, _OID = 0x30, 0x31, 0x02, 0x06


Element = tuple[int, int, int, int]  # tag, content start, content end, element start
Name = list[list[tuple[str, str]]]  # RDNs, each a list of (asn1crypto attribute name, value)


class Unusual(Exception):
    """Not the common shape: read it with asn1crypto."""


def _tlv(buf: bytes, pos: int, end: int) -> Element:
    """(tag, start of content, end of content, start of the element) at ``pos``."""
    if pos + 2 > end:
        raise Unusual("cut off")
    tag, first = buf[pos], buf[pos + 1]
    if tag & 0x1F == 0x1F:
        raise Unusual("multi-byte tag")
    at = pos + 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or at + n > end:
            raise Unusual("indefinite or huge length")
        length = int.from_bytes(buf[at : at + n], "big")
        at += n
    if at + length > end:
        raise Unusual("element past its parent")
    return tag, at, at + length, pos


def _children(buf: bytes, start: int, end: int) -> list[Element]:
    out = []
    pos = start
    while pos < end:
        element = _tlv(buf, pos, end)
        out.append(element)
        pos = element[2]
    return out


def _expect(element: Element, tag: int) -> tuple[int, int]:
    if element[0] != tag:
        raise Unusual(f"tag 0x{element[0]:02x} where 0x{tag:02x} belongs")
    return element[1], element[2]


def signer_certificates(block: bytes) -> list[bytes]:
    """DER of the certificates that a SignerInfo of this PKCS#7 block names (issuer and
    serial, byte for byte), in signer order."""
    s, e = _expect(_tlv(block, 0, len(block)), _SEQUENCE)
    content = _children(block, s, e)
    if len(content) != 2 or block[slice(*_expect(content[0], _OID))] != _SIGNED_DATA:
        raise Unusual("not signedData")
    s, e = _expect(content[1], 0xA0)
    s, e = _expect(_tlv(block, s, e), _SEQUENCE)
    parts = _children(block, s, e)
    bags = [p for p in parts[3:] if p[0] == 0xA0]
    signer_set = parts[-1]
    certs: list[tuple[bytes, bytes, int]] = []  # (der, issuer der, serial)
    for bag in bags:
        for element in _children(block, bag[1], bag[2]):
            if element[0] != _SEQUENCE:
                continue  # not a plain certificate (asn1crypto skips those as well)
            der = block[element[3] : element[2]]
            issuer, serial = _issuer_and_serial(der)
            certs.append((der, issuer, serial))
    found: list[bytes] = []
    for signer in _children(block, *_expect(signer_set, _SET)):
        fields = _children(block, *_expect(signer, _SEQUENCE))
        if len(fields) < 2:
            raise Unusual("short SignerInfo")
        s, e = _expect(fields[1], _SEQUENCE)  # IssuerAndSerialNumber; [0] keyId: unusual
        name, number = _children(block, s, e)[:2]
        issuer, serial = block[name[3] : name[2]], _integer(block, number)
        same_serial = [(der, i) for der, i, n in certs if n == serial]
        if not same_serial or any(i != issuer for _, i in same_serial):
            raise Unusual("names to compare as asn1crypto does (RFC 5280 matching)")
        found += [der for der, _ in same_serial]
    return found


def _tbs_fields(der: bytes) -> list[Element]:
    s, e = _expect(_tlv(der, 0, len(der)), _SEQUENCE)
    s, e = _expect(_tlv(der, s, e), _SEQUENCE)
    fields = _children(der, s, e)
    return fields[1:] if fields and fields[0][0] == 0xA0 else fields  # [0] version


def _integer(buf: bytes, element: Element) -> int:
    s, e = _expect(element, _INTEGER)
    return int.from_bytes(buf[s:e], "big", signed=True)


def _issuer_and_serial(der: bytes) -> tuple[bytes, int]:
    fields = _tbs_fields(der)
    if len(fields) < 3:
        raise Unusual("short TBSCertificate")
    issuer = fields[2]
    _expect(issuer, _SEQUENCE)
    return der[issuer[3] : issuer[2]], _integer(der, fields[0])


def certificate_fields(der: bytes) -> tuple[Name, Name, int]:
    """(issuer RDNs, subject RDNs, serial) of an X.509 certificate; each RDN a list of
    (asn1crypto attribute name, value)."""
    fields = _tbs_fields(der)
    if len(fields) < 5:
        raise Unusual("short TBSCertificate")
    return _name(der, fields[2]), _name(der, fields[4]), _integer(der, fields[0])


def _name(der: bytes, element: Element) -> Name:
    rdns = []
    for rdn in _children(der, *_expect(element, _SEQUENCE)):
        avas = []
        for ava in _children(der, *_expect(rdn, _SET)):
            parts = _children(der, *_expect(ava, _SEQUENCE))
            if len(parts) != 2:
                raise Unusual("odd attribute")
            key = _ATTRIBUTES.get(der[slice(*_expect(parts[0], _OID))])
            if key is None:
                raise Unusual("attribute type without a short name here")
            avas.append((key, _text(der, parts[1])))
        rdns.append(avas)
    return rdns


def _text(der: bytes, element: Element) -> str:
    tag, s, e, _ = element
    raw = der[s:e]
    try:
        if tag == _UTF8:
            text = raw.decode("utf-8")
        elif tag in (_PRINTABLE, _IA5):
            text = raw.decode("ascii")
        else:
            raise Unusual(f"string type 0x{tag:02x}")
    except UnicodeDecodeError:
        raise Unusual("undecodable string") from None
    if "xn--" in text.lower():
        raise Unusual("punycode (asn1crypto decodes IDNA)")
    return text
