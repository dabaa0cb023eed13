"""docs/rules.md is generated from the rule data; it must not go stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_rules_doc_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "docs" / "gen_rules.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, (result.stdout + result.stderr) or "run docs/gen_rules.py"
