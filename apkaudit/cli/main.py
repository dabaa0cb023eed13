"""The ``apkaudit`` click group and the console entry point: errors become exit codes.

The commands live in their own modules (:mod:`.scan`, :mod:`.batch`, :mod:`.rules`); this one
only puts them together, so no command module imports another.
"""

from __future__ import annotations

import os
import sys
import traceback

import click

from apkaudit import __version__
from apkaudit.cli.batch import batch
from apkaudit.cli.options import EXIT_INPUT, EXIT_INTERNAL, EXIT_USAGE
from apkaudit.cli.rules import rules
from apkaudit.cli.scan import scan
from apkaudit.errors import OutputError
from apkaudit.report.escape import terminal


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="apkaudit")
def cli() -> None:
    """Static privacy auditor for Android lending apps."""


cli.add_command(scan)
cli.add_command(rules)
cli.add_command(batch)


def main() -> None:
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
