"""The jinja2 templates of ``report_templates/``: where they are and how they are loaded.

Shared by the app report (``html.py``) and the corpus summary (``summary.py``); each adds its
own filters to the environment.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import jinja2


def template_root() -> Traversable:
    """The packaged templates; in a source checkout, the top-level ``report_templates/``."""
    try:
        return files("apkaudit.report_templates")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "report_templates"


def load_template(name: str) -> str | None:
    """A template or stylesheet by bare name; None for anything else (no paths)."""
    if "/" in name or "\\" in name or not name.endswith((".j2", ".css")):
        return None
    item = template_root().joinpath(name)
    return item.read_text(encoding="utf-8") if item.is_file() else None


def new_environment() -> jinja2.Environment:
    """Autoescaping, strict about undefined names, with the shared ``humanize`` filter."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(load_template),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["humanize"] = lambda s: str(s).replace("_", " ")
    return env
