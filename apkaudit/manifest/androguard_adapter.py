"""The one module that imports androguard, for one path: binary XML that Android itself refuses
(:func:`lenient_manifest`). Certificates (load/signing.py), resources (manifest/arsc.py) and
platform data (manifest/platform.py) are read by our own code, so androguard's import chain
(~0.2 s: loguru, its public.xml parsed at import) is paid only by an app on that path.

Every function here turns androguard's many exception types into partial/empty data, so no
other module depends on androguard's API or its failure modes. androguard logs through loguru
at DEBUG level on every chunk it parses, and prints; that output must never reach the user's
terminal: :func:`quiet` turns it off, and :func:`lenient_manifest` calls it before it first
uses androguard (importing this module imports nothing of androguard and changes nothing).
"""

from __future__ import annotations

import contextlib
import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lxml import etree


def _no_print(*_args: object, **_kwargs: object) -> None:
    return None


@functools.cache
def quiet() -> None:
    """Keep androguard's output off the terminal, for the rest of the process (idempotent).

    - its loguru messages are disabled (``androguard.core.axml`` adds no loguru handler;
      ``androguard.decompiler``, which adds one to stderr, is never imported: a test holds it);
    - androguard 4.1.4 also calls bare print() on some corrupt input: a module-level ``print``
      shadows the builtin for that module only, so nothing reaches stdout and no global
      stream is swapped;
    - only ``androguard.core.axml`` is imported (not ``androguard.core.apk``, whose androconf
      calls ``colorama.init()`` and so writes ``ESC[0m`` to a terminal at exit, and whose
      apkInspector warns on the root logger): a test holds that too.
    """
    from androguard.core import axml
    from loguru import logger

    logger.disable("androguard")
    axml.print = _no_print


@functools.cache
def _tolerant_printer() -> type:
    from androguard.core import axml

    class TolerantPrinter(axml.AXMLPrinter):
        """AXMLPrinter that keeps the tree built so far when its constructor raises.

        androguard builds the tree inside ``__init__`` and raises (IndexError, struct.error,
        ...) on some broken chunks, e.g. an END_TAG or TEXT before any element; the elements
        read up to that point are still worth auditing.
        """

        def __init__(self, raw: bytes) -> None:
            self.root = None
            with contextlib.suppress(Exception):  # arbitrary types on hostile input
                super().__init__(raw)

    return TolerantPrinter


def lenient_manifest(raw: bytes) -> etree._Element | None:
    """androguard's reading of binary XML that Android itself refuses (the manifest stage reads
    every manifest the platform accepts with its own reader, ``manifest.axml``): the elements
    it could read, or None."""
    quiet()
    root = _tolerant_printer()(raw).root
    return root if root is not None and isinstance(root.tag, str) else None
