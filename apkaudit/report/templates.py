"""The jinja2 templates of ``report_templates/``: where they are and how they are loaded.

Shared by the app report (``html.py``) and the corpus summary (``summary.py``); each adds its
own filters to the environment.

Compiling the templates is most of an HTML report's cost (~0.2 s of CPU for the app report), so
compiled templates are kept in apkaudit's per-user cache (:mod:`apkaudit.cache`: written only
when Python may write bytecode). jinja2 checks each entry against its template's source, and its
own version and Python's, so a changed template is compiled again.
"""

from __future__ import annotations

import sys
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import jinja2

from apkaudit.cache import folder


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


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if not sys.dont_write_bytecode:
            super().dump_bytecode(bucket)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    where = folder(f"jinja2-{jinja2.__version__}")
    return None if where is None else _BytecodeCache(where)


def new_environment() -> jinja2.Environment:
    """Autoescaping, strict about undefined names, with the shared ``humanize`` filter."""
    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(load_template),
        bytecode_cache=_bytecode_cache(),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["humanize"] = lambda s: str(s).replace("_", " ")
    return env
