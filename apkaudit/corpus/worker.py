"""Isolated worker processes for ``apkaudit batch``: one app at a time, killed when it overruns.

A worker is ``python -m apkaudit.corpus.worker``: it caps its own address space
(``RLIMIT_AS``), then reads one JSON request per line on standard input
(``{"id", "path", "limits"}``), audits the app with :func:`apkaudit.audit.audit_app` and
writes one JSON line back, the :class:`~apkaudit.model.AppResult` in the batch codec
(:mod:`apkaudit.corpus.codec`), on a private copy of its standard output (the real fd 1 is pointed
at standard error, so nothing the libraries print can corrupt the protocol). A worker serves
many apps, which saves the interpreter start and the imports for every app, and is replaced
after a timeout, a crash or a memory error.

:class:`WorkerPool` is the parent side: N workers, a wall-time deadline per app (the worker is
killed with SIGKILL when it passes), and a :class:`TaskResult` for every task whatever happened.
Timeouts, crashes and memory-limit hits become error rows; the run goes on.

Test hook: ``APKAUDIT_WORKER_TEST_HOOK="sleep:SECONDS@NAME;crash@NAME;memory@NAME"`` makes the
worker sleep, abort, or allocate until the memory limit, before auditing any input whose file
name contains NAME. It exists for the tests of the isolation itself.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from apkaudit.corpus import codec
from apkaudit.model import AppResult, InputInfo, JsonDict

HOOK_ENV = "APKAUDIT_WORKER_TEST_HOOK"
DEFAULT_TIMEOUT = 300.0  # seconds of wall time per app
DEFAULT_MEMORY_MB = 2048  # address-space cap of a worker, MiB (0: none)
RECYCLE_AFTER = 200  # apps per worker before it is replaced (bounds heap fragmentation)

# Kinds of task outcome. Only "ok" and "input" are reproducible (and stored).
OK, INPUT, TIMEOUT, MEMORY, CRASH, INTERNAL = (
    "ok",
    "input",
    "timeout",
    "memory",
    "crash",
    "internal",
)
REPRODUCIBLE = frozenset({OK, INPUT})


@dataclass(frozen=True)
class Task:
    id: int
    path: str  # absolute path the worker opens
    display: str  # the path as the user gave or discovered it (used in every output)
    key: str = ""  # content hash (store key)
    size: int = 0


@dataclass(frozen=True)
class WorkerSettings:
    timeout: float = DEFAULT_TIMEOUT
    memory_mb: int = DEFAULT_MEMORY_MB
    limits: tuple[tuple[str, int], ...] = ()  # Limits overrides passed to audit_app


@dataclass(frozen=True)
class TaskResult:
    task: Task
    kind: str  # ok | input | timeout | memory | crash | internal
    app: AppResult  # input.path == task.display
    seconds: float = 0.0  # wall time of the audit (or until the kill)
    peak_rss_kib: int | None = None  # the worker's peak RSS so far (self-reported)
    worker: str = ""  # "host:pid" of the worker process

    @property
    def reproducible(self) -> bool:
        """Would the same versions give the same row on any machine? Not after a kill, nor when
        the analysis stopped at its own deadline (a ``time_limit`` blind spot)."""
        if self.kind not in REPRODUCIBLE:
            return False
        return not any(b.kind == "time_limit" for b in self.app.coverage.blind_spots)


# --------------------------------------------------------------------------- rows


def error_app(task: Task, reason: str) -> AppResult:
    """The result of an app the worker could not finish (the same shape as input errors)."""
    info = InputInfo(path=task.display, sha256=task.key, size=task.size)
    one_line = " ".join(reason.split())
    return AppResult(input=info, status="error", error=f"{task.display}: {one_line}")


def relabel(app: AppResult, old: str, new: str) -> AppResult:
    """The result with ``input.path`` (and the error's leading path) changed from old to new."""
    if old == new:
        return app
    err = app.error
    if err is not None and err.startswith(old):
        err = new + err[len(old) :]
    return replace(app, input=replace(app.input, path=new), error=err)


# --------------------------------------------------------------------------- worker side


def _peak_rss_kib() -> int | None:
    try:
        import resource
    except ImportError:  # not POSIX
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak // 1024 if sys.platform == "darwin" else peak)  # macOS: bytes


def _set_memory_limit(mb: int) -> None:
    """Cap the address space at ``mb`` MiB (0: no cap) and never write core files."""
    try:
        import resource
    except ImportError:  # not POSIX
        return
    with contextlib.suppress(ValueError, OSError):  # a crash on hostile input: no core file
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    from apkaudit.limits import cap_address_space  # light: no androguard before the cap

    cap_address_space(mb)


def _test_hook(path: str, memory_mb: int) -> None:
    spec = os.environ.get(HOOK_ENV, "")
    name = os.path.basename(path)
    for item in filter(None, (s.strip() for s in spec.split(";"))):
        action, _, needle = item.partition("@")
        if not needle or needle not in name:
            continue
        if action.startswith("sleep:"):
            time.sleep(float(action.split(":", 1)[1]))
        elif action == "crash":
            os.abort()
        elif action == "memory" and memory_mb > 0:
            hoard = []
            for _ in range(4 * memory_mb // 64 + 4):  # bounded even if the cap were lifted
                hoard.append(bytearray(64 * 1024 * 1024))
            del hoard


def _serve(requests: IO[str], replies: IO[str], memory_mb: int) -> int:
    from apkaudit.audit import AuditOptions, audit_app
    from apkaudit.limits import DEFAULT_LIMITS

    for line in requests:
        if not line.strip():
            continue
        req = json.loads(line)
        start = time.perf_counter()
        stop_after = False
        result: JsonDict | None = None
        error = ""
        try:
            _test_hook(req["path"], memory_mb)
            limits = DEFAULT_LIMITS.override(**dict(req.get("limits") or {}))
            audited = audit_app(req["path"], AuditOptions(limits=limits))
            result, kind = codec.encode(audited), (OK if audited.status == "ok" else INPUT)
        except MemoryError:
            kind, stop_after = MEMORY, True
        except Exception as exc:  # a bug in apkaudit: report it on the row, keep serving
            where = traceback.extract_tb(exc.__traceback__)[-1:]
            at = f" at {Path(where[0].filename).name}:{where[0].lineno}" if where else ""
            kind, error = INTERNAL, f"{type(exc).__name__}: {exc}{at}"
        reply = {
            "id": req["id"],
            "kind": kind,
            "result": result,
            "error": error,
            "seconds": round(time.perf_counter() - start, 4),
            "peak_rss_kib": _peak_rss_kib(),
        }
        replies.write(json.dumps(reply, ensure_ascii=False) + "\n")
        replies.flush()
        if stop_after:  # after a MemoryError the heap may be in any state: start afresh
            return 0
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m apkaudit.corpus.worker", description=__doc__)
    ap.add_argument("--memory-limit", type=int, default=DEFAULT_MEMORY_MB, help="MiB, 0: none")
    args = ap.parse_args(argv)
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # stray prints go to stderr, never into the protocol
    _set_memory_limit(args.memory_limit)
    requests = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    return _serve(requests, replies, args.memory_limit)


# --------------------------------------------------------------------------- parent side


def worker_env() -> dict[str, str]:
    """The environment of a worker: ours, with this apkaudit first on the import path."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    paths = [root, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


class WorkerProcess:
    """One ``python -m apkaudit.corpus.worker`` child and its reply buffer."""

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in _close_files)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "apkaudit.corpus.worker", "--memory-limit", str(memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=worker_env(),
            start_new_session=os.name == "posix",  # a Ctrl-C reaches the driver, not us
        )
        self.name = f"{os.uname().nodename if hasattr(os, 'uname') else 'local'}:{self.proc.pid}"
        self.served = 0
        self.peak_rss_kib: int | None = None
        self._buf = bytearray()
        assert self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)

    @property
    def fd(self) -> int:
        assert self.proc.stdout is not None
        return self.proc.stdout.fileno()

    def send(self, task: Task, settings: WorkerSettings) -> bool:
        req = {"id": task.id, "path": task.path, "limits": dict(settings.limits)}
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write((json.dumps(req) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return False
        return True

    def read(self) -> JsonDict | bool | None:
        """A complete reply, None while incomplete, False at end of file (the worker died)."""
        while True:
            try:
                chunk = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                break
            if not chunk:
                return False if b"\n" not in self._buf else self._take()
            self._buf += chunk
        return self._take() if b"\n" in self._buf else None

    def _take(self) -> JsonDict:
        line, _, rest = bytes(self._buf).partition(b"\n")
        self._buf = bytearray(rest)
        reply: JsonDict = json.loads(line)
        peak = reply.get("peak_rss_kib")
        if isinstance(peak, int):
            self.peak_rss_kib = max(self.peak_rss_kib or 0, peak)
        return reply

    def death(self) -> str:
        """Why the worker ended: signal or exit code, and the last line of its stderr."""
        code = self.wait(5)
        if code is None:
            how = "worker did not exit"
        elif code < 0:
            try:
                how = f"worker killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"worker killed by signal {-code}"
        else:
            how = f"worker exited with code {code}"
        tail = self.stderr_tail()
        return how + (f" ({tail})" if tail else "")

    def stderr_tail(self) -> str:
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - 2000))
            text = self._stderr.read().decode("utf-8", "replace")
        except OSError:
            return ""
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return lines[-1][:200] if lines else ""

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                if os.name == "posix":
                    os.killpg(self.proc.pid, signal.SIGKILL)
                else:
                    self.proc.kill()
            except (ProcessLookupError, PermissionError):
                pass
        self.wait(10)
        self._close_files()

    def close(self) -> None:
        """Ask the worker to stop (end of its input), kill it if it does not."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        if self.wait(5) is None:
            self.kill()
        self._close_files()

    def _close_files(self) -> None:
        for fh in (self.proc.stdout, self._stderr):
            try:
                if fh is not None:
                    fh.close()
            except OSError:
                pass


@dataclass
class PoolStats:
    workers_started: int = 0
    peak_rss_kib: dict[str, int] = field(default_factory=dict)  # worker name -> peak
    killed: int = 0


class WorkerPool:
    """Up to ``jobs`` workers; :meth:`run` gives every task a :class:`TaskResult`."""

    def __init__(self, jobs: int, settings: WorkerSettings) -> None:
        self.jobs = max(1, jobs)
        self.settings = settings
        self.stats = PoolStats()
        self._idle: list[WorkerProcess] = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        while self._idle:
            self._retire(self._idle.pop())

    def _worker(self) -> WorkerProcess:
        if self._idle:
            return self._idle.pop()
        self.stats.workers_started += 1
        return WorkerProcess(self.settings.memory_mb)

    def _retire(self, w: WorkerProcess, *, kill: bool = False) -> None:
        if w.peak_rss_kib is not None:
            self.stats.peak_rss_kib[w.name] = w.peak_rss_kib
        if kill:
            w.kill()
        else:
            w.close()

    def run(self, tasks: Iterable[Task], on_result: Callable[[TaskResult], None]) -> None:
        pending = deque(tasks)
        busy: dict[WorkerProcess, tuple[Task, float]] = {}
        sel = selectors.DefaultSelector()
        timeout = self.settings.timeout

        def finish(w: WorkerProcess, result: TaskResult, *, keep: bool, kill: bool = False) -> None:
            sel.unregister(w.fd)
            del busy[w]
            w.served += 1
            if keep and w.served < RECYCLE_AFTER:
                self._idle.append(w)
            else:
                self._retire(w, kill=kill)
            on_result(result)

        try:
            while pending or busy:
                while pending and len(busy) < self.jobs:
                    task = pending.popleft()
                    w = self._worker()
                    if not w.send(task, self.settings):
                        reason = w.death()
                        self._retire(w, kill=True)
                        on_result(TaskResult(task, CRASH, error_app(task, reason), worker=w.name))
                        continue
                    busy[w] = (task, time.monotonic())
                    sel.register(w.fd, selectors.EVENT_READ, w)
                if not busy:
                    continue
                now = time.monotonic()
                wait = min(start + timeout for _, start in busy.values()) - now if timeout else None
                for key, _ in sel.select(None if wait is None else max(0.0, wait)):
                    w = key.data
                    task, start = busy[w]
                    reply = w.read()
                    if reply is None:
                        continue
                    if reply is False:
                        reason = w.death()
                        result = TaskResult(
                            task,
                            CRASH,
                            error_app(task, f"{reason}; the app was not audited"),
                            seconds=round(time.monotonic() - start, 3),
                            peak_rss_kib=w.peak_rss_kib,
                            worker=w.name,
                        )
                        finish(w, result, keep=False, kill=True)
                        continue
                    assert isinstance(reply, dict)
                    finish(w, self._result(task, reply, w), keep=reply["kind"] != MEMORY)
                if timeout:
                    now = time.monotonic()
                    for w, (task, start) in list(busy.items()):
                        if now - start >= timeout:
                            self.stats.killed += 1
                            reason = f"timed out after {timeout:g} s (worker killed)"
                            result = TaskResult(
                                task,
                                TIMEOUT,
                                error_app(task, reason),
                                seconds=round(now - start, 3),
                                peak_rss_kib=w.peak_rss_kib,
                                worker=w.name,
                            )
                            finish(w, result, keep=False, kill=True)
        finally:
            for w in list(busy):
                self._retire(w, kill=True)
            sel.close()

    def _result(self, task: Task, reply: JsonDict, w: WorkerProcess) -> TaskResult:
        kind = reply["kind"]
        if kind in REPRODUCIBLE:
            app = relabel(codec.decode(reply["result"]), task.path, task.display)
        elif kind == MEMORY:
            app = error_app(task, f"memory limit exceeded ({self.settings.memory_mb} MiB)")
        else:
            app = error_app(task, f"internal error (a bug in apkaudit): {reply['error']}")
        return TaskResult(
            task,
            kind,
            app,
            seconds=float(reply.get("seconds") or 0.0),
            peak_rss_kib=reply.get("peak_rss_kib"),
            worker=w.name,
        )


# --------------------------------------------------------------------------- remote tasks

_LOCAL = threading.local()


def run_one(task: Task, settings: WorkerSettings) -> TaskResult:
    """Audit one app in an isolated worker of this thread (kept for the next call).

    This is the task a Dask worker runs: the same isolation, limits and rows as local runs.
    """
    pool: WorkerPool | None = getattr(_LOCAL, "pool", None)
    if pool is None or pool.settings != settings:
        if pool is not None:
            pool.close()
        pool = _LOCAL.pool = WorkerPool(1, settings)
    out: list[TaskResult] = []
    pool.run([task], out.append)
    return out[0]


if __name__ == "__main__":
    sys.exit(main())
