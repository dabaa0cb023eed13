"""Partial masking of phone numbers and e-mail addresses found in APK strings.

Reports are passed around (to journalists, regulators, issue trackers); numbers and addresses
found in an app may belong to people. The human-readable reports mask them by default, keeping
enough to recognise them: the first three and last two digits of a number, the first character
of an address's local part and its whole domain. Hex literals (``0x7f0a0001``), offsets,
IP addresses and dotted version numbers are left alone.
"""

from __future__ import annotations

import re

MASK = "•"

# 7 to 15 digits (E.164 allows 15), optionally after "+", separated by spaces, dashes or
# parentheses; never part of a longer word, hex literal or dotted number.
_PHONE = re.compile(r"(?<![\w.+\-])\+?\(?\d[\d\s()\-]{5,24}\d(?![\w.]\w|\w)")
_EMAIL = re.compile(
    r"(?<![\w.%+\-])([A-Za-z0-9._%+\-]{1,64})@([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24})"
    r"(?![\w\-])"
)


def _mask_phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    if not 7 <= digits <= 15 or "\n" in text:
        return text
    keep_head, keep_tail = 3, 2
    out, seen = [], 0
    for ch in text:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen <= keep_head or seen > digits - keep_tail else MASK)
        else:
            out.append(ch)
    return "".join(out)


def _mask_email(match: re.Match[str]) -> str:
    local, domain = match.group(1), match.group(2)
    head = local[0] if len(local) > 1 else ""
    return f"{head}{MASK * max(len(local) - len(head), 1)}@{domain}"


def redact(text: str) -> str:
    """``text`` with phone numbers and e-mail addresses partly masked."""
    if not text:
        return text
    text = _EMAIL.sub(_mask_email, text)
    return _PHONE.sub(_mask_phone, text)
