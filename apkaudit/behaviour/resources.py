"""String resources as constants: ``getString(R.string.x)`` in the code is the resource's text.

Names looked up by reflection, URLs and message templates are often kept in ``strings.xml``.
A read is ``getString(int)``/``getText(int)`` on a Context or Resources, or on an app class that
inherits it (an Activity, a Service, the Application) without defining its own.
"""

from __future__ import annotations

from collections.abc import Callable

from apkaudit.behaviour.program import Program
from apkaudit.behaviour.resolve import Resolver

OWNERS = ("Landroid/content/", "Landroid/app/")  # Context, Activity, Service, Resources ...
APP_ID = 0x7F  # the package id of the app's own resources


def reader(program: Program) -> Callable[[int], str | None]:
    """A string resource's default text by id (memoised: one table read per app)."""
    memo: dict[int, str | None] = {}

    def text(rid: int) -> str | None:
        if rid not in memo:
            memo[rid] = None
            if program.arsc and (rid >> 24) & 0xFF == APP_ID:
                from apkaudit.manifest.arsc import resolve_resource

                memo[rid] = resolve_resource(f"@{rid & 0xFFFFFFFF:08x}", program.arsc)
        return memo[rid]

    return text


def is_read(calls: Resolver, cls: str, sig: str) -> bool:
    """Whether ``cls.sig`` (a getString/getText(int) call) reads a string resource."""
    if not calls.is_app_class(cls):
        return cls.startswith(OWNERS)
    return calls.resolve(cls, sig) is None and any(
        a.startswith(OWNERS) for a in calls.hier.ancestors(cls)
    )
