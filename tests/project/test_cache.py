"""apkaudit.cache: parsed TOML and compiled templates kept per user, like Python's bytecode:
the same data back, written only when bytecode may be written, never read from a folder that
others may write to."""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

import pytest

from apkaudit import cache
from apkaudit.rules import load_rules

TEXT = 'title = "x"\n[[rule]]\nid = "A"\nn = 1\nf = 1.5\nok = true\nlist = ["a", "b"]\n'


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    cache.folder.cache_clear()
    yield tmp_path
    cache.folder.cache_clear()


def test_cached_toml_is_tomllib(home: Path) -> None:
    first = cache.cached_toml(TEXT)
    (entry,) = (home / "apkaudit").glob("toml-*/*.marshal")
    assert first == tomllib.loads(TEXT)
    assert cache.cached_toml(TEXT) == first  # now from the file
    entry.write_bytes(b"not marshal")
    assert cache.cached_toml(TEXT) == first  # a damaged entry is parsed again


def test_nothing_is_written_without_bytecode_writing(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    cache.folder.cache_clear()
    assert cache.cached_toml(TEXT) == tomllib.loads(TEXT)
    assert not (home / "apkaudit").exists()


def test_a_folder_others_may_write_is_not_used(home: Path) -> None:
    shared = home / "apkaudit" / "toml-shared"
    shared.mkdir(parents=True)
    os.chmod(shared, 0o777)
    assert cache.folder("toml-shared") is None


def test_dates_are_parsed_not_cached(home: Path) -> None:
    assert cache.cached_toml("when = 1979-05-27\n") == tomllib.loads("when = 1979-05-27\n")
    assert not list((home / "apkaudit").glob("toml-*/*.marshal"))


def test_rules_loaded_through_the_cache_are_the_same(home: Path) -> None:
    load_rules.cache_clear()
    first = load_rules()
    load_rules.cache_clear()
    assert load_rules() == first


def test_html_from_cached_templates_is_the_same(home: Path, audit) -> None:
    from conftest import fixture_apk, report_of

    from apkaudit.report import html

    report = report_of(audit(fixture_apk("loan-bulk-sms")))
    html._environment.cache_clear()
    written = html.render_html(report)
    assert list((home / "apkaudit").glob("jinja2-*/*"))  # compiled templates were kept
    html._environment.cache_clear()
    assert html.render_html(report) == written  # rendered from the kept ones
