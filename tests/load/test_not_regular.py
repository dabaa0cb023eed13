"""Files that are not regular files are refused from ``stat`` alone, before they are opened.

Opening a FIFO blocks until a writer comes and reading /dev/zero never ends, so each case runs
in a thread with a one-second budget: a hang fails the test instead of stalling the run.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from conftest import fixture_apk

from apkaudit.audit import audit_app
from apkaudit.corpus.run import InputSpec, content_key, discover

T = TypeVar("T")

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")


def within(seconds: float, fn: Callable[[], T]) -> T:
    box: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            box.append(fn())
        except BaseException as exc:  # re-raised in the test thread
            errors.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still running after {seconds} s (blocked on a read?)"
    if errors:
        raise errors[0]
    return box[0]


def _refusal(path: Path) -> str:
    result = within(1.0, lambda: audit_app(path))
    assert result.status == "error"
    assert result.input.sha256 == ""  # never hashed
    assert result.error is not None and "\n" not in result.error
    return result.error


def test_fifo_is_refused_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.apk"
    os.mkfifo(fifo)
    assert _refusal(fifo) == f"{fifo}: not a regular file: it is a FIFO (named pipe)"


def test_link_to_dev_zero_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "zero.apk"
    link.symlink_to("/dev/zero")
    assert _refusal(link) == f"{link}: not a regular file: it is a character device"


def test_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.apk"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        assert _refusal(path) == f"{path}: not a regular file: it is a socket"


def test_dangling_link_is_a_one_line_error(tmp_path: Path) -> None:
    link = tmp_path / "gone.apk"
    link.symlink_to(tmp_path / "nowhere.apk")
    assert _refusal(link).startswith(f"{link}: cannot read file (")


def test_split_folder_never_opens_a_fifo_named_apk(tmp_path: Path) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    shutil.copy(fixture_apk("clean"), folder / "base.apk")
    os.mkfifo(folder / "split_config.arm64_v8a.apk")
    (folder / "split_zero.apk").symlink_to("/dev/zero")
    result = within(5.0, lambda: audit_app(folder))
    assert result.status == "ok", result.error


def test_batch_discovery_refuses_fifo_and_device_links(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.apk")
    (tmp_path / "zero.apk").symlink_to("/dev/zero")
    inputs, problems = discover([str(tmp_path)])
    assert problems == []
    by_name = {Path(s.path).name: s for s in inputs}
    assert set(by_name) == {"pipe.apk", "zero.apk"}
    for name, what in (("pipe.apk", "a FIFO (named pipe)"), ("zero.apk", "a character device")):
        spec: InputSpec = by_name[name]
        with pytest.raises(OSError, match=re.escape(f"not a regular file: it is {what}")):
            within(1.0, lambda spec=spec: content_key(spec))  # type: ignore[misc]
