"""Dask tasks audit what the driver hashed, with the driver's versions, or fail with the reason.

The driver keys each task by the input's sha256 and size and stores the result under that key
and its own apkaudit and rules versions; a worker that sees another file at the same path (no
shared file system, a file changed since), or runs other versions, must not produce a row.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import FIXTURES, IN_CI

from apkaudit.corpus.run import InputSpec, content_key, run_checked, run_dask, worker_versions
from apkaudit.corpus.worker import INTERNAL, OK, Task, TaskResult, WorkerPool, WorkerSettings

SETTINGS = WorkerSettings(timeout=120)


def _task(i: int, path: Path, hashed: Path | None = None) -> Task:
    """A task for ``path`` keyed as the driver would; ``hashed``: the file the driver hashed."""
    key, size = content_key(InputSpec(str(path), str(hashed or path)))
    return Task(i, str(path), str(path), key, size)


def test_version_mismatch_fails_the_task_without_auditing(tmp_path: Path) -> None:
    apk = tmp_path / "clean.apk"
    shutil.copy(FIXTURES / "clean.apk", apk)
    tool, rules = worker_versions()
    result = run_checked(_task(0, apk), SETTINGS, (tool + "+other", rules))
    assert result.kind == INTERNAL and not result.reproducible
    assert result.app.status == "error"
    assert f"runs apkaudit {tool} with rules {rules}; the driver runs apkaudit {tool}+other" in (
        result.app.error or ""
    )


def test_missing_input_on_the_worker_is_a_clear_failure(tmp_path: Path) -> None:
    apk = tmp_path / "clean.apk"
    shutil.copy(FIXTURES / "clean.apk", apk)
    task = _task(0, apk)
    apk.unlink()
    result = run_checked(task, SETTINGS, worker_versions())
    assert result.kind == INTERNAL and "cannot read" in (result.app.error or "")


@pytest.mark.slow
def test_local_cluster_checks_the_file_each_worker_sees(tmp_path: Path) -> None:
    """One input is the file the driver hashed; at the other's path the worker finds a
    different file (as on a worker without the driver's file system): that task fails with
    the reason, the good one gives the row a local run gives."""
    if IN_CI:
        import distributed
    else:
        distributed = pytest.importorskip("distributed")
    good, swapped = tmp_path / "loan-bulk-sms.apk", tmp_path / "swapped.apk"
    shutil.copy(FIXTURES / "loan-bulk-sms.apk", good)
    shutil.copy(FIXTURES / "clean.apk", swapped)
    tasks = [_task(0, good), _task(1, swapped, hashed=FIXTURES / "sms-forward.apk")]

    remote: dict[int, TaskResult] = {}
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        run_dask(
            tasks,
            cluster.scheduler_address,
            SETTINGS,
            lambda r: remote.__setitem__(r.task.id, r),
            worker_versions(),
        )
    local: list[TaskResult] = []
    with WorkerPool(1, SETTINGS) as pool:
        pool.run(tasks[:1], local.append)

    assert remote[0].kind == OK
    assert replace(remote[0].app, timings=()) == replace(local[0].app, timings=())
    bad = remote[1]
    assert bad.kind == INTERNAL and not bad.reproducible
    error = bad.app.error or ""
    assert error.startswith(f"{swapped}: the Dask worker on ")
    assert f"sees another file at {swapped}" in error
    assert "the workers need the same files at the same paths" in error
