"""Escaping of strings that come from an APK, one helper per consumer.

An APK is written by whoever wants to fool the reader: its package name, labels, class names
and URLs may hold carriage returns, terminal escape sequences (ESC, C1 CSI), bidirectional
overrides that reorder what a person reads (U+202E), Markdown that makes a heading or a live
link, and spreadsheet formulas. Every renderer puts app strings through the helper of its
consumer:

- :func:`terminal`: one line for a terminal; controls and bidi formatting characters become
  visible ``\\xNN`` / ``\\uNNNN`` text;
- :func:`terminal_document`: a whole rendered document (Markdown, HTML) on its way to a
  terminal; keeps newlines and tabs, makes every other control visible;
- :func:`json_safe`: JSON text with C1 controls, bidi and line/paragraph separators written as
  ``\\uNNNN`` escapes (the same JSON value, nothing a terminal or editor acts on);
- :func:`markdown`: CommonMark/GFM text shown literally, on one line, also in a table cell;
- :func:`sarif_text`: a SARIF plain-text message (SARIF 2.1.0 §3.11.6 embedded links
  ``[text](target)`` are made literal);
- :func:`csv_cell`: a spreadsheet cell that is never a formula.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls; bidi embeddings, overrides, isolates and marks (Unicode
# UAX #9), the Arabic letter mark, line and paragraph separators, zero-width no-break space.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}\u2028\u2029\ufeff]")
_UNSAFE_IN_DOCUMENT = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}\u2028\u2029\ufeff]")
# Only what JSON leaves raw: json.dumps already escapes C0 controls.
_UNSAFE_IN_JSON = re.compile(f"[\x7f-\x9f{_BIDI}\u2028\u2029\ufeff]")


def _visible(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def _json_escape(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def terminal(text: object) -> str:
    """``text`` on one line, every control and bidi character shown as an escape."""
    return _UNSAFE.sub(_visible, str(text))


def terminal_document(text: str) -> str:
    """A rendered document for a terminal: lines and tabs kept, other controls made visible."""
    return _UNSAFE_IN_DOCUMENT.sub(_visible, text)


def json_safe(text: str) -> str:
    """JSON text (from ``json.dumps``) with the characters a terminal or editor would act on
    written as ``\\uNNNN`` escapes. These characters can only occur inside JSON strings, where
    the escape means the same character, so the document's value is unchanged."""
    return _UNSAFE_IN_JSON.sub(_json_escape, text)


# Emphasis, code, links and images, table cells, strikethrough, headings, HTML; ":" and "@"
# stop GFM from turning URLs and e-mail addresses into links.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~!:@#{}])")
_MD_WWW = re.compile(r"(?i)\b(www)\.")
# What opens a block at the start of a line: quote, list item, setext underline, ordered list.
_MD_BLOCK_START = re.compile(r"^(?:([+=-])|(\d+)([.)]))")


def markdown(text: object) -> str:
    """``text`` shown literally by CommonMark/GFM, also inside a table cell, on one line.

    Whitespace runs (newlines included) become one space, so an app string can never start a
    line of its own; controls and bidi characters become visible escapes.
    """
    flat = terminal(" ".join(str(text).split()))
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    flat = _MD_WWW.sub(r"\1\\.", _MD_SPECIAL.sub(r"\\\1", flat))
    return _MD_BLOCK_START.sub(_md_block_escape, flat)


def _md_block_escape(m: re.Match[str]) -> str:
    if m.group(1):
        return "\\" + m.group(1)
    return m.group(2) + "\\" + m.group(3)


_SARIF_BRACKET = re.compile(r"(\\*)([\[\]])")


def sarif_text(text: object) -> str:
    """A SARIF plain-text message: one line, controls visible, and ``[``/``]`` escaped as the
    specification asks (a backslash before a bracket is doubled), so ``[x](https://...)`` from
    an app is never an embedded link."""
    flat = terminal(" ".join(str(text).split()))
    return _SARIF_BRACKET.sub(lambda m: m.group(1) * 2 + "\\" + m.group(2), flat)


# OWASP's CSV injection guidance: a cell that starts with one of these is read as a formula
# by Excel, LibreOffice or Google Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value: object) -> str:
    """A CSV field that no spreadsheet evaluates: controls made visible (no bare CR or LF
    splitting a row), and a leading formula character neutralised with an apostrophe.
    Numbers are written as they are (a negative number is not a formula)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if text.startswith(_FORMULA_START):
        text = "'" + text
    return terminal(text)
