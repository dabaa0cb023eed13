"""Code hidden in plain sight: a dex or zip stored Base64-encoded, hex-encoded or XORed with one
byte, in an asset, a raw resource or a dex string. Loaders decode such a payload at run time and
hand it to a class loader; an analyser that only recognises the ``dex\\n`` / ``PK\\x03\\x04``
magic never sees it. We recognise the encoded magic, decode (bounded by the caller's limit),
and the decoded dex is analysed as embedded code; the encoding itself is an
``encoded_payload`` blind spot (coverage/obfuscation.py explains why it stays one).
"""

from __future__ import annotations

import base64
import binascii
import re

DEX_MAGIC = b"dex\n"
ZIP_MAGIC = b"PK\x03\x04"
# base64("dex\n") and base64("PK\x03\x04") start with these (the 4th character of the second
# depends on the next byte, so only 5 characters are fixed).
_B64_PREFIXES = (b"ZGV4Cj", b"UEsDB")
_HEX_PREFIXES = (b"6465780a", b"504b0304")
_DEX_HEAD = re.compile(rb"dex\n0[3-4][0-9]\x00")
_NOT_B64 = re.compile(rb"[^A-Za-z0-9+/=_-]")
MIN_STRING = 64  # a dex string shorter than this cannot hold a dex header (0x70 bytes)


def encoding_of(head: bytes) -> str | None:
    """How the first bytes of an entry encode a dex or zip: ``base64``, ``hex``, ``xor 0xNN``
    or None (not an encoded payload, or a plain one)."""
    start = head.lstrip()
    if start.startswith(_B64_PREFIXES):
        return "base64"
    if start[:8].lower().startswith(_HEX_PREFIXES):
        return "hex"
    if len(head) >= 8:
        key = head[0] ^ DEX_MAGIC[0]
        if key and _DEX_HEAD.fullmatch(bytes(b ^ key for b in head[:8])):
            return f"xor {key:#04x}"
    if len(head) >= 4:
        key = head[0] ^ ZIP_MAGIC[0]
        if key and bytes(b ^ key for b in head[:4]) == ZIP_MAGIC:
            return f"xor {key:#04x}"
    return None


def decode(data: bytes, encoding: str, limit: int) -> bytes | None:
    """The decoded payload (at most ``limit`` bytes decoded), or None when it does not decode
    to a dex or zip."""
    try:
        if encoding == "base64":
            text = _NOT_B64.sub(b"", data[: limit * 4 // 3 + 4096])
            text = text.replace(b"-", b"+").replace(b"_", b"/")
            text = text[: len(text) - len(text) % 4]
            out = base64.b64decode(text)
        elif encoding == "hex":
            text = re.sub(rb"\s", b"", data[: 2 * limit + 4096])
            out = binascii.unhexlify(text[: len(text) - len(text) % 2])
        elif encoding.startswith("xor "):
            key = int(encoding[4:], 16)
            out = data[:limit].translate(bytes(i ^ key for i in range(256))) if key else b""
        else:
            return None
    except (binascii.Error, ValueError):
        return None
    out = out[:limit]
    return out if _DEX_HEAD.match(out) or out.startswith(ZIP_MAGIC) else None


def looks_encoded_string(value: str) -> bool:
    """A dex string that may hold a Base64 or hex payload (cheap test before decoding)."""
    if len(value) < MIN_STRING:
        return False
    head = value[:16].encode("ascii", "replace")
    enc = encoding_of(head)
    return enc in ("base64", "hex")
