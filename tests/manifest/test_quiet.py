"""androguard's silencing is an explicit call (``androguard_adapter.quiet``, made by the one path
that uses androguard), not an import-time patch: importing the adapter imports nothing of
androguard, and ``quiet`` silences it once. Only ``androguard.core.axml`` is ever imported: not
``androguard.core.apk`` (colorama's reset at exit, apkInspector's root-logger warnings) nor
``androguard.decompiler`` (a loguru handler on stderr)."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import logging, sys
AG = {"__name__": "androguard.core.axml"}  # globals of code that runs as an androguard module
from loguru import logger

handlers = set(logger._core.handlers)
import apkaudit.manifest.androguard_adapter as ag
assert not any(m.startswith("androguard") for m in sys.modules), "the adapter imported androguard"
from androguard.core import axml

# Importing changes nothing, and adds no loguru handler.
assert set(logger._core.handlers) == handlers, "an androguard import added a loguru handler"
assert not logging.getLogger().filters
exec("from loguru import logger; logger.warning('before-quiet')", AG)
assert "print" not in vars(axml)
ag.quiet()
ag.quiet()
assert "print" in vars(axml)
# A message logged from an androguard module reaches no handler any more.
exec("from loguru import logger; logger.warning('after-quiet')", AG)
assert ag.lenient_manifest(b"\\x03\\x00\\x08\\x00garbage") is None
bad = [m for m in sys.modules if m.startswith(("androguard.core.apk", "androguard.decompiler",
                                               "apkInspector", "colorama"))]
assert not bad, bad
"""


def test_import_changes_nothing_and_quiet_silences_once() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "before-quiet" in done.stderr  # the probe can see androguard's messages...
    assert "after-quiet" not in done.stderr  # ...and quiet() stops them
