"""The one module that imports androguard: binary XML, resources, permission data.

Every function here turns androguard's many exception types into ``InputError`` (one line, a
human reason) or into partial/empty data, so no other module depends on androguard's API or its
failure modes. androguard logs through loguru at DEBUG level on every chunk it parses, and
prints; that output must never reach the user's terminal: :func:`quiet` turns it off, and the
load stage calls it before it first uses androguard (importing this module changes nothing).
"""

from __future__ import annotations

import contextlib
import functools
import logging

from androguard.core import api_specific_resources as _permdata
from androguard.core import apk as _apk
from androguard.core import axml as _axml
from loguru import logger as _loguru
from lxml import etree


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
