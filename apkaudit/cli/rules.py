"""``apkaudit rules list`` and ``apkaudit rules show ID``: the packaged rules, for reading."""

from __future__ import annotations

import click


@click.group()
def rules() -> None:
    """List the rules or show one."""


@rules.command("list")
def rules_list() -> None:
    """One line per rule: id, severity, name, title."""
    from apkaudit.rules import load_rules

    for r in load_rules().rules:
        click.echo(f"{r.id}  {r.severity.value:<8}  {r.name:<34}  {r.title}")


@rules.command("show")
@click.argument("rule_id")
def rules_show(rule_id: str) -> None:
    """Everything about one rule."""
    from apkaudit.rules import load_rules

    try:
        r = load_rules().get(rule_id.upper())
    except KeyError:
        raise click.UsageError(f"no rule {rule_id!r}; see 'apkaudit rules list'") from None
    click.echo(f"{r.id} {r.name}: {r.title}")
    click.echo(f"severity: {r.severity.value}   behaviour: {r.behaviour}   match: {r.match_type}")
    click.echo(f"\n{r.rationale}\n\nRemediation: {r.remediation}\n\nReferences:")
    for ref in r.references:
        click.echo(f"  - {ref}")
    click.echo(f"\nFixtures: positive {r.positive}, negative {r.negative}")
