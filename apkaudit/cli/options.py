"""What the commands share: exit codes, the report date, and the options ``scan`` and ``batch``
both take (``--fail-on``, ``--limit``, ``--quiet`` and the report options ``--policy``,
``--lang``, ``--no-redact``).

Exit codes (also in the README): 0 audited, nothing at or above --fail-on; 1 findings at or
above --fail-on; 2 usage error; 3 input or output error (a path that does not exist, not an
APK, corrupt, over a limit; a report that could not be written); 4 internal error.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from apkaudit.model import Severity

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3, 4

F = TypeVar("F", bound=Callable[..., Any])


def emit(text: str) -> None:
    """``text`` on standard output; a write that fails (``> /dev/full``) is an OutputError.
    A closed pipe is left to the entry point, which exits without a word."""
    from apkaudit.errors import OutputError

    try:
        click.echo(text, nl=False)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write to standard output: {exc.strerror}") from None


def now() -> str:
    """UTC time of the report; SOURCE_DATE_EPOCH makes it reproducible."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _limits(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[tuple[str, int], ...]:
    """``--limit max_dex_files=8 --limit max_seconds=60`` -> sorted (name, value) overrides."""
    from apkaudit.limits import DEFAULT_LIMITS, parse_overrides

    try:
        return tuple(sorted(parse_overrides(value).items()))
    except ValueError as exc:
        raise click.BadParameter(f"{exc} (known: {', '.join(DEFAULT_LIMITS.names())})") from None


def fail_on_option(help: str) -> Callable[[F], F]:
    return click.option(
        "--fail-on", type=click.Choice([s.value for s in Severity]), default=None, help=help
    )


def limit_option(help: str) -> Callable[[F], F]:
    """``--limit NAME=VALUE`` (repeatable): the overrides of apkaudit/limits.py, checked."""
    return click.option(
        "--limit", "limits", multiple=True, callback=_limits, metavar="NAME=VALUE", help=help
    )


def _policy_option(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[str, ...] | None:
    """``--policy google-play,rbi`` -> the policy ids (aliases expanded); None: all."""
    if value is None:
        return None
    from apkaudit.policies import load_policies

    names = [n for n in value.split(",") if n.strip()]
    try:
        return tuple(p.id for p in load_policies().select(names))
    except KeyError as exc:
        known = ", ".join(load_policies().ids)
        raise click.BadParameter(
            f"unknown policy {exc.args[0]!r}; choose from all, none, google-play, {known} "
            "(or a country name)"
        ) from None


def report_options(command: F) -> F:
    """``--policy``, ``--lang`` and ``--no-redact``: what shapes a report, in scan and batch."""
    from apkaudit.report.i18n import LANGUAGES

    command = click.option(
        "--no-redact",
        is_flag=True,
        help="Show phone numbers and e-mail addresses found in the app in full (HTML, Markdown, "
        "text).",
    )(command)
    command = click.option(
        "--lang",
        type=click.Choice(LANGUAGES),
        default="en",
        show_default=True,
        help="Language of the HTML, Markdown and text reports.",
    )(command)
    return click.option(
        "--policy",
        "policies",
        callback=_policy_option,
        default=None,
        metavar="LIST",
        help="Policies to check, comma-separated: ids or aliases such as google-play, rbi, china;"
        " 'none' for no policy check (default: all).",
    )(command)


def quiet_option(help: str) -> Callable[[F], F]:
    return click.option("-q", "--quiet", is_flag=True, help=help)
