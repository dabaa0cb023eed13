"""What the commands share: exit codes, the report date, and the options ``scan`` and ``batch``
both take (``--fail-on``, ``--limit``, ``--quiet``).

Exit codes (also in the README): 0 audited, nothing at or above --fail-on; 1 findings at or
above --fail-on; 2 usage error; 3 input error (not an APK, corrupt, over a limit);
4 internal error.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from apkaudit.model import Severity

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3, 4

F = TypeVar("F", bound=Callable[..., Any])


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


def quiet_option(help: str) -> Callable[[F], F]:
    return click.option("-q", "--quiet", is_flag=True, help=help)
