"""Audit a corpus: find the inputs, skip what the store already has, audit the rest in isolated
workers (locally or on a Dask cluster) and return one row per input.

    inputs ─discover─▶ InputSpec ─content_key─▶ (sha256, size)
        ├─ in the store with this tool + rules version ─▶ row from the store
        └─ otherwise ─▶ Task ─WorkerPool / Dask─▶ TaskResult ─▶ store (if reproducible) ─▶ row

Nothing here prints or exits: progress goes to a callback, the CLI draws it. Outputs are written
by :mod:`apkaudit.corpus.outputs` from the rows, gating is :mod:`apkaudit.corpus.gate`.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import itertools
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Any

from apkaudit.corpus.store import ResultsStore, StoredRow
from apkaudit.corpus.worker import (
    INPUT,
    INTERNAL,
    OK,
    PoolStats,
    Task,
    TaskResult,
    WorkerPool,
    WorkerSettings,
    error_app,
    relabel,
    run_one,
)
from apkaudit.errors import InputError
from apkaudit.load.files import open_regular
from apkaudit.model import AppResult

APP_SUFFIXES = (".apk", ".xapk", ".apks", ".apkm", ".aab")
SPLIT_DIR_MARKER = "base.apk"  # a directory holding base.apk (+ split_*.apk) is one app
EXECUTORS = ("local", "dask")


# --------------------------------------------------------------------------- discovery


@dataclass(frozen=True)
class InputSpec:
    display: str  # the name in every output (see shareable_path)
    path: str  # absolute
    is_dir: bool = False


def _has_magic(arg: str) -> bool:
    return glob.has_magic(arg)


def _walk(root: str) -> Iterator[InputSpec]:
    """App files under ``root`` (sorted, symlinked directories not followed) and split dirs."""
    for here, dirs, files in os.walk(root):
        dirs.sort()
        if here != root and SPLIT_DIR_MARKER in files:
            dirs.clear()
            yield InputSpec(here, os.path.abspath(here), is_dir=True)
            continue
        for name in sorted(files):
            if name.lower().endswith(APP_SUFFIXES):
                full = os.path.join(here, name)
                yield InputSpec(full, os.path.abspath(full))


def _expand(arg: str) -> tuple[list[InputSpec], str | None]:
    if os.path.isdir(arg):
        if os.path.isfile(os.path.join(arg, SPLIT_DIR_MARKER)):
            return [InputSpec(arg, os.path.abspath(arg), is_dir=True)], None
        found = list(_walk(arg))
        return found, None
    if os.path.exists(arg):
        return [InputSpec(arg, os.path.abspath(arg))], None  # a file given explicitly: any name
    if not _has_magic(arg):
        return [], f"{arg}: no such file or directory"
    out: list[InputSpec] = []
    for match in sorted(glob.glob(arg, recursive=True)):
        if os.path.isdir(match):
            out.extend(_walk(match))
        elif match.lower().endswith(APP_SUFFIXES):
            out.append(InputSpec(match, os.path.abspath(match)))
    return out, (None if out else f"{arg}: the pattern matched no app file")


def shareable_path(arg: str, found: str) -> str:
    """How the input ``found`` (from the argument ``arg``) is named in the outputs, which are
    meant to be shared: as given when that is a relative path that does not climb out ("..");
    else relative to the parent of the directory given (``real-apks/x.apk``), or the file name
    of a file given by its absolute path. The auditor's user name and folders stay at home."""
    path = PurePath(found)
    if not path.is_absolute() and ".." not in path.parts:
        return found
    parts = PurePath(arg).parts
    static = list(itertools.takewhile(lambda p: not _has_magic(p), parts))
    root = os.path.abspath(os.path.join(*static)) if static else os.getcwd()
    full = os.path.abspath(found)
    if full == root or not os.path.isdir(root):
        return os.path.basename(full) or full
    return os.path.relpath(full, os.path.dirname(root))


def discover(
    args: Sequence[str], *, absolute_paths: bool = False
) -> tuple[list[InputSpec], list[str]]:
    """Inputs from files, directories (recursive) and glob patterns, without duplicates.

    Returns the inputs in argument order (sorted within a directory or pattern) and the
    arguments that named nothing (the CLI reports them as input errors). Each input's
    ``display`` is :func:`shareable_path`, or its absolute path with ``absolute_paths``.
    """
    seen: set[str] = set()
    inputs: list[InputSpec] = []
    problems: list[str] = []
    for arg in args:
        found, problem = _expand(arg)
        if problem:
            problems.append(problem)
        for spec in found:
            real = os.path.realpath(spec.path)
            if real not in seen:
                seen.add(real)
                shown = spec.path if absolute_paths else shareable_path(arg, spec.display)
                inputs.append(replace(spec, display=shown))
    return inputs, problems


# --------------------------------------------------------------------------- content keys


def _file_sha256(path: str) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    try:  # a FIFO or a device named *.apk is refused before it is read (reading never ends)
        opened = open_regular(path)
    except InputError as exc:
        raise OSError(errno.EINVAL, exc.reason) from None
    with opened as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def content_key(spec: InputSpec) -> tuple[str, int]:
    """SHA-256 of the file (for a directory: of its files' relative names and hashes), size.

    Raises OSError when the input cannot be read.
    """
    if not spec.is_dir:
        return _file_sha256(spec.path)
    h = hashlib.sha256(b"apkaudit-dir-v1\n")
    total = 0
    for here, dirs, files in os.walk(spec.path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(here, name)
            if not os.path.isfile(full):
                continue
            digest, size = _file_sha256(full)
            rel = os.path.relpath(full, spec.path).replace(os.sep, "/")
            h.update(f"{rel}\0{digest}\n".encode())
            total += size
    return h.hexdigest(), total


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class BatchConfig:
    tool_version: str
    rules_version: str
    audited_at: str  # ISO-8601 UTC, written with each stored row
    jobs: int = 1
    settings: WorkerSettings = field(default_factory=WorkerSettings)
    rescan: bool = False
    executor: str = "local"  # local | dask
    scheduler: str | None = None  # Dask scheduler address (or a Cluster object in tests)
    tls: TlsFiles | None = None  # client certificate for a tls:// Dask scheduler


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for a Dask cluster that requires TLS (``distributed.Security``)."""

    ca_file: str
    cert: str
    key: str | None = None  # None: the key is in ``cert``


@dataclass(frozen=True)
class Row:
    """The outcome for one input of this run."""

    spec: InputSpec
    key: str
    app: AppResult  # input.path == spec.display
    source: str  # audited | store | unreadable
    kind: str  # ok | input | timeout | memory | crash | internal
    seconds: float | None = None

    @property
    def ok(self) -> bool:
        return self.app.status == "ok"


@dataclass
class BatchRun:
    rows: list[Row]
    audited: int = 0  # apps audited in this run (distinct contents)
    from_store: int = 0  # inputs answered by the store
    wall_seconds: float = 0.0
    pool: PoolStats | None = None
    worker_peaks: dict[str, int] = field(default_factory=dict)  # worker -> peak RSS KiB
    task_seconds: list[float] = field(default_factory=list)  # per audited app, in the worker


Progress = Callable[[int, int, Row], None]  # (done, total, row just finished)


def effective_settings(settings: WorkerSettings) -> WorkerSettings:
    """Give the library's own deadline most of the hard timeout, so a slow app ends with a
    partial result and a blind spot before the worker has to be killed."""
    given = dict(settings.limits)
    if "max_seconds" not in given and settings.timeout > 0:
        given["max_seconds"] = max(1, int(settings.timeout * 0.8))
        return WorkerSettings(settings.timeout, settings.memory_mb, tuple(sorted(given.items())))
    return settings


def run_batch(
    inputs: Sequence[InputSpec],
    config: BatchConfig,
    store: ResultsStore,
    on_progress: Progress | None = None,
) -> BatchRun:
    """Audit ``inputs`` (or take them from ``store``); one :class:`Row` per input, in order."""
    started = time.perf_counter()
    total = len(inputs)
    done = 0
    run = BatchRun(rows=[])
    rows: list[Row | None] = [None] * total

    def report(i: int, row: Row) -> None:
        nonlocal done
        rows[i] = row
        done += 1
        if on_progress is not None:
            on_progress(done, total, row)

    keys = _keys(inputs, config.jobs)
    waiting: dict[str, list[int]] = {}  # content key -> indexes of the inputs with it
    tasks: list[Task] = []
    for i, (spec, key) in enumerate(zip(inputs, keys, strict=True)):
        if isinstance(key, OSError):
            task = Task(i, spec.path, spec.display)
            reason = f"cannot read input ({key.strerror or key})"
            report(i, Row(spec, "", error_app(task, reason), "unreadable", INPUT))
            continue
        sha, size = key
        stored = (
            None if config.rescan else store.get(sha, config.tool_version, config.rules_version)
        )
        if stored is not None:
            app = relabel(stored.result, stored.path, spec.display)
            run.from_store += 1
            kind = OK if stored.status == "ok" else INPUT
            report(i, Row(spec, sha, app, "store", kind))
            continue
        if sha not in waiting:
            tasks.append(Task(len(tasks), spec.path, spec.display, sha, size))
            waiting[sha] = []
        waiting[sha].append(i)

    def on_result(result: TaskResult) -> None:
        task = result.task
        if result.reproducible:
            store.put(
                StoredRow(
                    sha256=task.key,
                    tool_version=config.tool_version,
                    rules_version=config.rules_version,
                    path=task.display,
                    result=result.app,
                    audited_at=config.audited_at,
                    seconds=result.seconds,
                    peak_rss_kib=result.peak_rss_kib,
                )
            )
        run.audited += 1
        run.task_seconds.append(result.seconds)
        if result.peak_rss_kib is not None and result.worker:
            peak = run.worker_peaks.get(result.worker, 0)
            run.worker_peaks[result.worker] = max(peak, result.peak_rss_kib)
        for i in waiting[task.key]:
            spec = inputs[i]
            app = relabel(result.app, task.display, spec.display)
            row = Row(spec, task.key, app, "audited", result.kind, result.seconds)
            report(i, row)

    settings = effective_settings(config.settings)
    # Largest first: the long audits start early instead of trailing alone at the end of the run
    # (rows keep their input order whatever the order of completion).
    tasks.sort(key=lambda t: (-t.size, t.id))
    if tasks:
        if config.executor == "dask":
            versions = (config.tool_version, config.rules_version)
            run_dask(tasks, config.scheduler, settings, on_result, versions, config.tls)
        else:
            with WorkerPool(config.jobs, settings) as pool:
                pool.run(tasks, on_result)
            run.pool = pool.stats
    run.rows = [r for r in rows if r is not None]
    run.wall_seconds = round(time.perf_counter() - started, 3)
    return run


def _keys(inputs: Sequence[InputSpec], jobs: int) -> list[tuple[str, int] | OSError]:
    def one(spec: InputSpec) -> tuple[str, int] | OSError:
        try:
            return content_key(spec)
        except OSError as exc:
            return exc

    if len(inputs) < 2:
        return [one(s) for s in inputs]
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, 8))) as ex:  # hashlib frees the GIL
        return list(ex.map(one, inputs))


# --------------------------------------------------------------------------- Dask


def run_dask(
    tasks: Sequence[Task],
    scheduler: Any,
    settings: WorkerSettings,
    on_result: Callable[[TaskResult], None],
    versions: tuple[str, str] | None = None,
    tls: TlsFiles | None = None,
) -> None:
    """The same per-app task (:func:`apkaudit.worker.run_one`) on a Dask distributed cluster.

    Each Dask worker thread keeps one isolated apkaudit worker process, with the same time and
    memory limits as a local run. Input paths must be readable at the same absolute path on the
    Dask workers (a shared file system): each task first checks that its worker sees the file
    the driver hashed (size and sha256) and runs the driver's apkaudit and rules versions
    (:func:`run_checked`), and fails with the reason otherwise. The store stays with this
    process. ``tls``: the client certificate for a cluster that requires TLS.
    """
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise RuntimeError(
            "the dask executor needs dask.distributed: pip install 'apkaudit[dask]'"
        ) from None
    if scheduler is None:
        raise ValueError("the dask executor needs --scheduler ADDRESS")
    security = None
    if tls is not None:
        from distributed.security import Security

        security = Security(
            tls_ca_file=tls.ca_file,
            tls_client_cert=tls.cert,
            tls_client_key=tls.key,
            require_encryption=True,
        )
    run_id = uuid.uuid4().hex[:12]
    with Client(scheduler, set_as_default=False, security=security) as client:
        futures = {
            client.submit(
                run_checked,
                task,
                settings,
                versions,
                key=f"apkaudit-{run_id}-{task.id}",
                priority=task.size,  # largest first, as locally
            ): task
            for task in tasks
        }
        for fut in as_completed(list(futures), loop=client.loop):
            task = futures[fut]
            try:
                result = fut.result()
            except Exception as exc:  # the Dask worker died or the task could not run
                reason = f"dask task failed ({type(exc).__name__}: {exc})"
                result = TaskResult(task, "crash", error_app(task, reason))
            on_result(result)


def worker_versions() -> tuple[str, str]:
    """(apkaudit version, rules version) of this process."""
    from apkaudit import __version__
    from apkaudit.rules import load_rules

    return __version__, load_rules().version


def run_checked(
    task: Task, settings: WorkerSettings, versions: tuple[str, str] | None = None
) -> TaskResult:
    """The Dask task: :func:`run_one`, once this worker is known to audit what the driver asked.

    The driver keyed the task by the input's sha256 and size, and stores the result under that
    key and its own versions; a worker that runs other versions, or sees another file (or none)
    at the same path, would store a row that a re-run would not give. Such a task fails with
    the reason (an error row, never stored).
    """
    import socket

    host = socket.gethostname()
    if versions is not None and (mine := worker_versions()) != versions:
        return TaskResult(
            task,
            INTERNAL,
            error_app(
                task,
                f"the Dask worker on {host} runs apkaudit {mine[0]} with rules {mine[1]}; "
                f"the driver runs apkaudit {versions[0]} with rules {versions[1]}",
            ),
        )
    try:
        key, size = content_key(InputSpec(task.display, task.path, os.path.isdir(task.path)))
    except OSError as exc:
        reason = f"the Dask worker on {host} cannot read {task.path} ({exc.strerror or exc})"
        return TaskResult(task, INTERNAL, error_app(task, reason))
    if (key, size) != (task.key, task.size):
        reason = (
            f"the Dask worker on {host} sees another file at {task.path} (size {size}, sha256 "
            f"{key[:16]}...) than the driver hashed (size {task.size}, sha256 {task.key[:16]}...)"
            ": the workers need the same files at the same paths"
        )
        return TaskResult(task, INTERNAL, error_app(task, reason))
    return run_one(task, settings)
