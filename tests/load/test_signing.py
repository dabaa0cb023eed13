"""Our signer-certificate reader (load/signing.py) against the androguard path it replaced, on
every fixture and real APK: the same Certificate values, in the same order, with the same
first-seen scheme. Also hostile signing blocks built here: a bad one gives nothing, never a
crash, and never hides another scheme's signer."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import struct
import zlib
from pathlib import Path

import pytest
from conftest import REAL, REPO

from apkaudit.limits import DEFAULT_LIMITS
from apkaudit.load import der, signing
from apkaudit.load.zipscan import Archive, ArchiveError
from apkaudit.model import Certificate

FIXTURE_APKS = sorted(glob.glob(str(REPO / "fixtures" / "apks" / "*.apk"))) + sorted(
    glob.glob(str(REPO / "fixtures" / "edge" / "*.apk"))
)


def ours(path: str) -> tuple[Certificate, ...]:
    with open(path, "rb") as fh:
        size = fh.seek(0, 2)
        try:
            arch = Archive(fh, size, DEFAULT_LIMITS)
        except ArchiveError:
            return ()
        return signing.certificates(arch)


def androguards(path: str) -> tuple[Certificate, ...]:
    """What the androguard adapter gave before this reader: APK(skip_analysis) for the zip
    index, its signature names and v2/v3/v3.1 DER lists; the certificate fields and the PKCS#7
    signers through asn1crypto only (as before load/der.py)."""
    from androguard.core import apk as ag_apk
    from loguru import logger

    logger.disable("androguard")
    try:
        apk = ag_apk.APK(path, skip_analysis=True)
    except Exception:
        return ()

    def v1() -> list[bytes]:
        ders: list[bytes] = []
        for name in apk.get_signature_names():
            try:
                central = apk.zip.central_directory.entries[name]
                local = apk.zip.local_headers[name]
                size = local.compressed_size or central.compressed_size
                if size > 1 << 20:
                    continue
                start = (
                    central.relative_offset_of_local_file_header
                    + 30
                    + local.file_name_length
                    + local.extra_field_length
                )
                data = apk.zip.zip.getbuffer()[start : start + size].tobytes()
                if local.compression_method:
                    with contextlib.suppress(zlib.error):  # stored data claimed as deflated
                        data = zlib.decompressobj(-15).decompress(data, 1 << 20)
                ders += signing._pkcs7_signers_asn1(data)
            except Exception:
                continue
        return ders

    seen: dict[str, Certificate] = {}
    for scheme, read in (
        ("v1", v1),
        ("v2", apk.get_certificates_der_v2),
        ("v3", apk.get_certificates_der_v3),
        ("v3.1", apk.get_certificates_der_v31),
    ):
        try:
            ders = read()
        except Exception:
            continue
        for blob in ders:
            cert = signing._certificate_asn1(bytes(blob), scheme)
            if cert is not None and cert.sha256 not in seen:
                seen[cert.sha256] = cert
    return tuple(seen.values())


@pytest.mark.parametrize("path", FIXTURE_APKS, ids=lambda p: Path(p).name)
def test_fixture_certificates_are_androguards(path: str) -> None:
    assert ours(path) == androguards(path)


def _real_apks() -> list[str]:
    return sorted(glob.glob(str(REAL / "*.apk")))


@pytest.mark.real
@pytest.mark.slow
def test_real_apk_certificates_are_androguards() -> None:
    paths = _real_apks()
    assert paths
    differ = [Path(p).name for p in paths if ours(p) != androguards(p)]
    assert differ == []


@pytest.mark.real
def test_signed_real_apks_name_their_signers() -> None:
    named = {Path(p).name: ours(p) for p in _real_apks()}
    (large,) = named["large-uiautomator2-server.apk"]
    assert (large.scheme, large.serial) == ("v1", "936eacbe07f201df")
    (v2,) = named["legit-appium-settings.apk"]
    assert (v2.scheme, v2.subject) == ("v2", "C=US, O=Android, CN=Android Debug")


# --------------------------------------------------------------------------- hostile blocks


def _v2_only_apk() -> bytes:
    return (REAL / "legit-appium-settings.apk").read_bytes()  # signed with v2 only


def _certs_of(raw: bytes) -> tuple[Certificate, ...]:
    import io

    return signing.certificates(Archive(io.BytesIO(raw), len(raw), DEFAULT_LIMITS))


def _block_bounds(raw: bytes) -> tuple[int, int]:
    eocd = raw.rfind(b"PK\x05\x06")
    (cd,) = struct.unpack_from("<I", raw, eocd + 16)
    (size,) = struct.unpack_from("<Q", raw, cd - 24)
    return cd - size - 8, cd


@pytest.mark.real
def test_every_cut_and_flip_of_a_signing_block_is_survived() -> None:
    raw = _v2_only_apk()
    start, end = _block_bounds(raw)
    good = _certs_of(raw)
    assert good
    for pos in range(start, min(end, start + 600), 3):
        for value in (0x00, 0xFF, 0x7F):
            mutated = bytearray(raw)
            mutated[pos] = value
            got = _certs_of(bytes(mutated))  # never raises
            assert all(isinstance(c, Certificate) for c in got)


@pytest.mark.real
def test_a_signing_block_claiming_more_than_the_file_gives_nothing() -> None:
    raw = bytearray(_v2_only_apk())
    _, end = _block_bounds(bytes(raw))
    struct.pack_into("<Q", raw, end - 24, 1 << 40)
    v1_only = [c for c in _certs_of(bytes(raw)) if c.scheme != "v1"]
    assert v1_only == []


@pytest.mark.real
def test_certificate_fields_are_the_ders() -> None:
    raw = _v2_only_apk()
    (cert, *_) = _certs_of(raw)
    assert len(cert.sha1) == 40 and cert.sha256 == hashlib.sha256(_first_v2_der(raw)).hexdigest()


def _first_v2_der(raw: bytes) -> bytes:
    start, end = _block_bounds(raw)
    block = raw[start:end]
    pos = 8
    while pos < len(block) - 24:
        length, key = struct.unpack_from("<QI", block, pos)
        if key == 0x7109871A:
            value = block[pos + 12 : pos + 8 + length]
            signer = value[8:]  # sequence size, signer size
            signed = signer[4:]
            (digests,) = struct.unpack_from("<I", signed)
            certs_at = 4 + digests
            (cert_len,) = struct.unpack_from("<I", signed, certs_at + 4)
            return signed[certs_at + 8 : certs_at + 8 + cert_len]
        pos += 8 + length
    raise AssertionError("no v2 block")


def _v1_blocks(path: str) -> list[bytes]:
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            return [zf.read(n) for n in zf.namelist() if signing._V1_NAME.search(n)]
    except Exception:
        return []


def _all_ders(paths: list[str]) -> list[bytes]:
    ders: list[bytes] = []
    for path in paths:
        for block in _v1_blocks(path):
            with contextlib.suppress(Exception):
                ders += signing._pkcs7_signers_asn1(block)
    return ders


def _fast_and_asn1_agree(paths: list[str]) -> tuple[int, list[str]]:
    fast = 0
    differ = []
    for path in paths:
        for block in _v1_blocks(path):
            try:
                theirs = signing._pkcs7_signers_asn1(block)
            except Exception:
                theirs = None
            try:
                mine = der.signer_certificates(block)
                fast += 1
            except der.Unusual:
                continue
            if mine != theirs:
                differ.append(f"{Path(path).name}: PKCS#7 signers")
    for blob in _all_ders(paths):
        if signing._certificate(blob, "v1") != signing._certificate_asn1(blob, "v1"):
            differ.append(f"certificate {hashlib.sha256(blob).hexdigest()[:12]}")
    return fast, differ


def test_the_der_reader_agrees_with_asn1crypto_on_fixtures() -> None:
    fast, differ = _fast_and_asn1_agree(FIXTURE_APKS)
    assert differ == []
    assert fast > 100  # the fixtures' signer is the common shape: no asn1crypto needed


@pytest.mark.real
def test_the_der_reader_agrees_with_asn1crypto_on_real_apks() -> None:
    _fast, differ = _fast_and_asn1_agree(_real_apks())
    assert differ == []


def test_unusual_certificates_go_to_asn1crypto() -> None:
    (blob, *_) = _all_ders(FIXTURE_APKS[:1])
    cn = bytes.fromhex("0603550403")
    at = blob.index(cn)
    teletex = bytearray(blob)
    teletex[at + len(cn)] = 0x14  # the CN's string type: TeletexString
    with pytest.raises(der.Unusual):
        der.certificate_fields(bytes(teletex))
    assert signing._certificate(bytes(teletex), "v1") == signing._certificate_asn1(
        bytes(teletex), "v1"
    )
    for cut in range(0, len(blob), 7):
        assert signing._certificate(blob[:cut], "v1") == signing._certificate_asn1(blob[:cut], "v1")
