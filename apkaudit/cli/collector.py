"""The garbage collector around a command's start-up and exit.

Start-up builds long-lived objects only (modules, classes, tables): every pass the collector
makes over them while they load finds nothing, and each later full pass would walk them again
(in the forked child of :mod:`apkaudit.bounded`, writing to every page they sit on). So code is
imported with the collector paused, and what it built is then frozen (``gc.freeze``: passes skip
it). At exit, what remains is frozen too: the interpreter's last passes would free nothing that
ending the process does not.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def loading() -> Iterator[None]:
    """Import code in this block with the collector paused; what it built is frozen after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def exiting() -> None:
    """Call when nothing is left to do but exit (files closed, output written)."""
    gc.freeze()
