"""A per-user cache of what apkaudit derives from its own data files at every start: parsed
TOML (rules, policies, catalogues, phrase tables) and compiled report templates.

It works as Python's bytecode cache does: entries are keyed by the content they came from (a
changed file is parsed again), written only when Python may write bytecode (not under
``PYTHONDONTWRITEBYTECODE``) and atomically, and read only from a directory that belongs to
the user and that no one else may write to (``$XDG_CACHE_HOME/apkaudit``, else
``~/.cache/apkaudit``). Nothing from an analysed app is ever cached here. Without a usable
directory everything is simply computed, as before.
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import os
import stat
import sys
import tempfile
import tomllib
from typing import Any

_PY = f"py{sys.version_info[0]}{sys.version_info[1]}"  # marshal's format follows Python's


@functools.cache
def folder(name: str) -> str | None:
    """The private cache folder ``name`` (created when writing is allowed), or None."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "apkaudit", name)
    try:
        if not sys.dont_write_bytecode:
            os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.stat(path)
    except OSError:
        return None
    private = info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    return path if private and stat.S_ISDIR(info.st_mode) else None


def cached_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads(text)``, from the cache when the same text was parsed before."""
    where = folder(f"toml-{_PY}")
    if where is None:
        return tomllib.loads(text)
    path = os.path.join(where, hashlib.sha256(text.encode("utf-8")).hexdigest() + ".marshal")
    try:
        with open(path, "rb") as fh:
            cached = marshal.load(fh)
        if isinstance(cached, dict):
            return cached
    except (OSError, EOFError, ValueError, TypeError):
        pass
    data = tomllib.loads(text)
    if not sys.dont_write_bytecode:
        _write(where, path, data)
    return data


def _write(where: str, path: str, data: dict[str, Any]) -> None:
    try:
        blob = marshal.dumps(data)
    except ValueError:  # a type marshal does not keep (TOML dates): not cached
        return
    try:
        fd, tmp = tempfile.mkstemp(dir=where, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, path)
    except OSError:
        return
