"""androguard's silencing is an explicit call (``androguard_adapter.quiet``), not an import-time
patch: importing the adapter leaves logging alone, and ``quiet`` silences it once."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import logging, sys
AG = {"__name__": "androguard.core.axml"}  # globals of code that runs as an androguard module
from loguru import logger

handlers = set(logger._core.handlers)
import apkaudit.manifest.androguard_adapter as ag
from androguard.core import apk, axml

# Importing changes nothing, and adds no loguru handler (androguard.decompiler would).
assert set(logger._core.handlers) == handlers, "an androguard import added a loguru handler"
assert not any(m.startswith("androguard.decompiler") for m in sys.modules)
assert not logging.getLogger().filters
exec("from loguru import logger; logger.warning('before-quiet')", AG)
assert "print" not in vars(axml) and "print" not in vars(apk)
ag.quiet()
ag.quiet()
assert len(logging.getLogger().filters) == 1
assert vars(axml)["print"] is vars(apk)["print"]
# A message logged from an androguard module reaches no handler any more.
exec("from loguru import logger; logger.warning('after-quiet')", AG)
"""


def test_import_changes_nothing_and_quiet_silences_once() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "before-quiet" in done.stderr  # the probe can see androguard's messages...
    assert "after-quiet" not in done.stderr  # ...and quiet() stops them
