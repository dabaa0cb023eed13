"""Writing a rendered report to a file: atomically, or not at all.

A report is written to a temporary file in the target's own directory, flushed to disk and
renamed over the target, so a reader (or a CI upload step) sees the old file or the whole new
one, never half a report, and a full disk or a read-only directory leaves nothing behind. Every
failure is an :class:`~apkaudit.errors.OutputError` with a one-line message.

A target that exists and is not a regular file (``/dev/null``, a FIFO, a terminal) is written
in place: it cannot be replaced by a rename, and there is no half-written file to fear.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from apkaudit.errors import OutputError


def write_report(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    target = Path(path)
    data = text.encode("utf-8")
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise OutputError(_message(target, exc)) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise OutputError(f"cannot write {target}: it is a directory")
    if mode is not None and not stat.S_ISREG(mode):
        try:
            with open(target, "wb") as out:
                out.write(data)
        except OSError as exc:
            raise OutputError(_message(target, exc)) from None
        return target
    folder = target.parent
    if not folder.is_dir():
        raise OutputError(f"cannot write {target}: directory {folder} does not exist")
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report is for sharing
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise OutputError(_message(target, exc)) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return target


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _message(target: Path, exc: OSError) -> str:
    reason = exc.strerror or exc.__class__.__name__
    return f"cannot write {target}: {reason}"
