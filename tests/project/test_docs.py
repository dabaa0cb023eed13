"""docs/rules.md is generated from the rule data; it must not go stale, and each rule's help
URI (SARIF helpUri) must land on its section."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from apkaudit.rules import load_rules
from apkaudit.rules.registry import DOCS_URL

REPO = Path(__file__).resolve().parents[2]


def test_rules_doc_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "docs" / "gen_rules.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, (result.stdout + result.stderr) or "run docs/gen_rules.py"


def _github_slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_rule_help_uri_lands_on_its_section() -> None:
    text = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    anchors = {_github_slug(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}
    assert DOCS_URL.endswith("/docs/rules.md")
    for rule in load_rules().rules:
        base, _, fragment = rule.help_uri.partition("#")
        assert base == DOCS_URL
        assert fragment in anchors, f"{rule.id}: no heading with anchor #{fragment}"
