"""One table from a ``--format`` name to its renderer. Every renderer is a pure function of a
:class:`~apkaudit.report.document.Report` and the reader's options.

The renderers are imported when first used, so that the command line can offer the format
names without loading jinja2 and the catalogs at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apkaudit.report.document import Report


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderOptions:
    """What a reader chooses; ``lang`` and ``redact`` apply to the human-readable formats,
    ``color`` (ANSI colours, for a terminal) to ``text`` only, ``timings`` (each app's per-stage
    wall and CPU seconds; off by default, so that reports stay byte-reproducible) to ``json``."""

    lang: str = "en"
    redact: bool = True
    color: bool = False
    timings: bool = False


Renderer = Callable[["Report", RenderOptions], str]


def _html(report: Report, options: RenderOptions) -> str:
    from apkaudit.report.html import render_html

    return render_html(report, lang=options.lang, redact=options.redact)


def _json(report: Report, options: RenderOptions) -> str:
    from apkaudit.report.json_v1 import render_json

    return render_json(report, timings=options.timings)


def _sarif(report: Report, options: RenderOptions) -> str:
    from apkaudit.report.sarif import render_sarif

    return render_sarif(report)


def _markdown(report: Report, options: RenderOptions) -> str:
    from apkaudit.report.markdown import render_markdown

    return render_markdown(report, lang=options.lang, redact=options.redact)


def _text(report: Report, options: RenderOptions) -> str:
    from apkaudit.report.text import render_text

    return render_text(report, lang=options.lang, redact=options.redact, color=options.color)


RENDERERS: Mapping[str, Renderer] = MappingProxyType(
    {"html": _html, "json": _json, "sarif": _sarif, "md": _markdown, "text": _text}
)
FORMATS = tuple(RENDERERS)
# The formats that show the file's sha1 and md5 beside its sha256 (text and md show neither).
SHOWS_LEGACY_DIGESTS = frozenset({"html", "json", "sarif"})


def render(report: Report, fmt: str, options: RenderOptions | None = None) -> str:
    """``report`` in format ``fmt`` (one of :data:`FORMATS`; ``KeyError`` for any other)."""
    return RENDERERS[fmt](report, options or RenderOptions())
