"""Blind-spot kinds are one enum: every constructor names a member, every table uses members."""

from __future__ import annotations

import ast
import tomllib
from importlib.resources import files
from pathlib import Path

import pytest

from apkaudit.coverage.hidden import NOTICE_KINDS, coverage_of, load_markers
from apkaudit.model import INPUT_DEFECT_KINDS, BlindSpot, BlindSpotKind

PKG = Path(__file__).resolve().parents[2] / "apkaudit"


def _kind_arguments() -> list[tuple[str, ast.expr]]:
    """The first argument of every ``BlindSpot(...)`` and ``....spot(...)`` call in apkaudit/."""
    found = []
    for path in sorted(PKG.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            f = node.func
            name = (
                f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            )
            if name in ("BlindSpot", "spot"):
                found.append((f"{path.relative_to(PKG)}:{node.lineno}", node.args[0]))
    return found


def test_constructors_name_enum_members() -> None:
    args = _kind_arguments()
    assert len(args) > 40  # the scan does find the constructors
    literal = [where for where, arg in args if isinstance(arg, ast.Constant)]
    assert literal == [], "blind spots built from a string literal instead of a BlindSpotKind"
    for where, arg in args:
        for node in ast.walk(arg):
            if _is_kind_member(node):
                assert isinstance(node, ast.Attribute)
                assert node.attr in BlindSpotKind.__members__, where


def _is_kind_member(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "BlindSpotKind"
    )


def test_kind_tables_hold_members() -> None:
    for table in (NOTICE_KINDS, INPUT_DEFECT_KINDS):
        assert all(type(k) is BlindSpotKind for k in table)


def test_framework_markers_name_blind_spot_kinds() -> None:
    kinds = {m.kind for m in load_markers().frameworks}
    assert kinds and all(BlindSpotKind(k) for k in kinds)


def test_report_labels_are_for_known_kinds() -> None:
    for locale in ("en", "zh-CN"):
        text = files("apkaudit.report.i18n").joinpath(f"{locale}.toml").read_text("utf-8")
        unknown = set(tomllib.loads(text)["blind"]) - {k.value for k in BlindSpotKind}
        assert unknown == set(), locale


@pytest.mark.parametrize("kind", [BlindSpotKind.ZIP_BOMB, BlindSpotKind.PACKER])
def test_kind_is_its_string_in_outputs(kind: BlindSpotKind) -> None:
    # StrEnum members are their value wherever a report shows or compares them.
    spot = BlindSpot(kind, "x")
    assert f"{spot.kind}" == kind.value and spot.kind == kind.value
    assert coverage_of([spot]).complete is (kind in NOTICE_KINDS)
