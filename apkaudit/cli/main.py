"""The ``apkaudit`` click group and the console entry point: errors become exit codes.

The commands live in their own modules (:mod:`.scan`, :mod:`.batch`, :mod:`.rules`); this one
only puts them together, so no command module imports another. A command's module is imported
when that command runs (or help lists it): ``scan`` loads nothing of ``batch`` and its corpus,
store and Dask code.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from apkaudit import __version__
from apkaudit.cli.collector import exiting, loading
from apkaudit.cli.options import EXIT_INPUT, EXIT_INTERNAL, EXIT_USAGE
from apkaudit.errors import OutputError
from apkaudit.report.escape import terminal

# command name -> module holding the click command of that name
_COMMANDS = {
    "batch": "apkaudit.cli.batch",
    "rules": "apkaudit.cli.rules",
    "scan": "apkaudit.cli.scan",
}


class _LazyGroup(click.Group):
    """A group whose commands are imported when looked up, not when the group is built."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = _COMMANDS.get(cmd_name)
        if module is None:
            return None
        with loading():
            command = getattr(importlib.import_module(module), cmd_name)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="apkaudit")
def cli() -> None:
    """Static privacy auditor for Android lending apps."""


def main() -> None:
    """The process's entry point (not the click group tests invoke): it ends by exiting."""
    try:
        _run()
    finally:
        exiting()


def _run() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # usage errors and bad parameters
        exc.show()
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort:
        sys.exit(EXIT_USAGE)
    except SystemExit:
        raise
    except BrokenPipeError:  # `apkaudit scan app.apk | head`: the reader has gone, say nothing
        _silence_stdout()
        sys.exit(EXIT_INPUT)
    except OutputError as exc:  # a report could not be written: one line, nothing half-done
        click.echo(f"apkaudit: error: {terminal(str(exc))}", err=True)
        sys.exit(EXIT_INPUT)
    except Exception:  # a bug in apkaudit, not in the input
        import traceback

        click.echo("apkaudit: internal error (a bug; please report it with this trace):", err=True)
        traceback.print_exc()
        sys.exit(EXIT_INTERNAL)


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so the interpreter's last flush cannot fail too."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
