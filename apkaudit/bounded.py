"""The whole-audit bounds: ``audit_bounded(path, options)`` is :func:`~apkaudit.audit.audit_app`
in a forked child process that holds the limits it states, whatever stage it is in.

The stages poll a cooperative :class:`~apkaudit.limits.Deadline` (a slow app ends with a partial
result and a ``time_limit`` blind spot), but time spent inside androguard, lxml or one long
decode polls nothing, and a process cannot take back memory it has been given. So the audit
runs in a child: its address space capped at ``max_memory_mb`` (an app that needs more ends as
"ran out of memory"), killed at ``max_seconds`` of wall time (an app still running then ends as
a one-line error). The child's own deadline is set earlier, at :data:`SOFT_SHARE` of the limit,
so that in nearly every case the partial result arrives before the kill. The result comes back
pickled through a pipe; the parent never runs app-derived code, only reads that pipe.

Where ``fork`` is not available (Windows) or the limits are off, the audit runs in process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import select
import signal
import time

from apkaudit.audit import AuditOptions, audit_app, error_result
from apkaudit.limits import cap_address_space
from apkaudit.model import AppResult

SOFT_SHARE = 0.8  # the stages' deadline, as a share of max_seconds (the kill comes at 1.0)
_CHUNK = 1 << 16


def audit_bounded(path: str | os.PathLike[str], options: AuditOptions | None = None) -> AppResult:
    opts = options or AuditOptions()
    spath = os.fspath(path)
    seconds, memory = opts.limits.max_seconds, opts.limits.max_memory_mb
    if not hasattr(os, "fork") or (not seconds and not memory):
        cap_address_space(memory)
        return audit_app(spath, opts)
    soft = max(1, int(seconds * SOFT_SHARE)) if seconds else 0
    child_opts = dataclasses.replace(opts, limits=opts.limits.override(max_seconds=soft))
    started = time.monotonic()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: audit, send the result, leave without running any cleanup
        code = 0
        try:
            os.close(read_fd)
            _detach_terminal()
            cap_address_space(memory)
            try:
                reply: tuple[str, object] = ("ok", audit_app(spath, child_opts))
            except Exception:  # a bug: the parent raises it, so it is not taken for bad input
                import traceback

                reply = ("bug", traceback.format_exc())
            with os.fdopen(write_fd, "wb") as out:
                out.write(pickle.dumps(reply, pickle.HIGHEST_PROTOCOL))
        except BaseException:  # a child must never return into its caller's code
            code = 70
        os._exit(code)
    os.close(write_fd)
    try:
        blob, timed_out = _read_until(read_fd, started + seconds if seconds else None)
    finally:
        os.close(read_fd)
    if timed_out:
        _kill(pid)
        return error_result(spath, f"stopped: the audit ran past its {seconds} s time limit")
    _, status = os.waitpid(pid, 0)
    if blob and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        kind, value = pickle.loads(blob)  # our own child's output
        if kind == "bug":
            raise RuntimeError(f"the audit of {spath} failed in its child process:\n{value}")
        assert isinstance(value, AppResult)
        return value
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGKILL and memory:
            why = f"the analysis was killed (signal {sig}; over the {memory} MiB memory limit?)"
        else:
            why = f"the analysis process died (signal {sig})"
        return error_result(spath, why)
    return error_result(spath, "ran out of memory (over the process memory limit)")


def _detach_terminal() -> None:
    """The child never reads the terminal nor writes to it: what a library prints or resets
    there (androguard's logging, a colour library's reset at exit) stays out of the output."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def _read_until(fd: int, end: float | None) -> tuple[bytes, bool]:
    """Everything the child writes, or (what came, True) when ``end`` passes first."""
    parts: list[bytes] = []
    while True:
        wait = None if end is None else end - time.monotonic()
        if wait is not None and wait <= 0:
            return b"".join(parts), True
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            continue
        chunk = os.read(fd, _CHUNK)
        if not chunk:
            return b"".join(parts), False
        parts.append(chunk)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
