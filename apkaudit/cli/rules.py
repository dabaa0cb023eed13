"""``apkaudit rules list`` and ``apkaudit rules show ID``: the packaged rules, for reading or,
with ``--format json``, for tooling (one JSON document on standard output).

JSON of ``rules list``: ``{"rules_version": ..., "rules": [RULE, ...]}``; of ``rules show``:
one RULE. A RULE holds ``id``, ``name``, ``title``, ``family``, ``behaviour``, ``severity``,
``match`` (``type`` and the keys the rule was written with), ``rationale``, ``remediation``,
``references``, ``fixtures`` (``positive``, ``negative``) and ``help_uri``. Keys are only
ever added.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from apkaudit.cli.options import emit

if TYPE_CHECKING:
    from apkaudit.rules import Rule

_FORMAT = click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="text for reading, json for tooling.",
)


def rule_to_dict(r: Rule) -> dict[str, Any]:
    from apkaudit.rules.schema import match_fields

    match = {"type": r.match.type, **match_fields(r.match)}
    return {
        "id": r.id,
        "name": r.name,
        "title": r.title,
        "family": r.family,
        "behaviour": r.behaviour,
        "severity": r.severity.value,
        "match": {k: list(v) if isinstance(v, tuple) else v for k, v in match.items()},
        "rationale": r.rationale,
        "remediation": r.remediation,
        "references": list(r.references),
        "fixtures": {"positive": r.positive, "negative": r.negative},
        "help_uri": r.help_uri,
    }


def _json(doc: object) -> None:
    emit(json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


@click.group()
def rules() -> None:
    """List the rules or show one."""


@rules.command("list")
@_FORMAT
def rules_list(fmt: str) -> None:
    """One line per rule: id, severity, name, title."""
    from apkaudit.rules import load_rules

    ruleset = load_rules()
    if fmt == "json":
        _json({"rules_version": ruleset.version, "rules": [rule_to_dict(r) for r in ruleset.rules]})
        return
    for r in ruleset.rules:
        click.echo(f"{r.id}  {r.severity.value:<8}  {r.name:<34}  {r.title}")


@rules.command("show")
@click.argument("rule_id")
@_FORMAT
def rules_show(rule_id: str, fmt: str) -> None:
    """Everything about one rule."""
    from apkaudit.rules import load_rules

    try:
        r = load_rules().get(rule_id.upper())
    except KeyError:
        raise click.UsageError(f"no rule {rule_id!r}; see 'apkaudit rules list'") from None
    if fmt == "json":
        _json(rule_to_dict(r))
        return
    click.echo(f"{r.id} {r.name}: {r.title}")
    click.echo(f"severity: {r.severity.value}   behaviour: {r.behaviour}   match: {r.match_type}")
    click.echo(f"\n{r.rationale}\n\nRemediation: {r.remediation}\n\nReferences:")
    for ref in r.references:
        click.echo(f"  - {ref}")
    click.echo(f"\nFixtures: positive {r.positive}, negative {r.negative}")
    click.echo(f"Documentation: {r.help_uri}")
