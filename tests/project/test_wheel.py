"""The installed wheel works on its own: templates, rules, catalogue and schema are shipped.

Builds a wheel from a clean copy of the source (so a stale ``build/`` folder cannot leak old
files into it), installs it without dependencies into a fresh venv that sees the running
interpreter's packages, and scans a fixture from a directory outside the repository.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import REPO, fixture_apk

pytestmark = pytest.mark.slow

SOURCE = ("pyproject.toml", "README.md", "LICENSE", "apkaudit", "report_templates")


def run(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
    return proc.stdout


def copy_source(dest: Path) -> Path:
    dest.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCE:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.is_file():
            shutil.copy2(src, dest / name)
    return dest


def make_venv(dest: Path) -> Path:
    """A venv whose own site-packages come first, then the running interpreter's."""
    run(
        sys.executable,
        "-m",
        "venv",
        "--system-site-packages",
        "--without-pip",
        dest,
        cwd=dest.parent,
    )
    python = dest / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=dest)
    # When the tests run inside a venv, --system-site-packages reaches only the base
    # interpreter; a .pth file adds the running environment's packages (after ours).
    parents = [*site.getsitepackages(), sysconfig.get_path("purelib")]
    Path(purelib.strip(), "outer-env.pth").write_text("\n".join(dict.fromkeys(parents)) + "\n")
    return python


def test_installed_wheel_scans_a_fixture(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    src = copy_source(tmp_path / "src")
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, ".", cwd=src, env=env)
    [wheel] = dist.glob("apkaudit-*.whl")

    python = make_venv(tmp_path / "venv")
    run(python, "-m", "pip", "install", "--no-deps", "-q", wheel, cwd=tmp_path, env=env)
    where = run(python, "-c", "import apkaudit; print(apkaudit.__file__)", cwd=tmp_path, env=env)
    assert Path(where.strip()).is_relative_to(tmp_path / "venv"), where

    work = tmp_path / "elsewhere"
    work.mkdir()
    script = python.parent / ("apkaudit.exe" if os.name == "nt" else "apkaudit")
    out = work / "out.html"
    run(script, "scan", fixture_apk("loan-bulk-sms"), "-o", out, cwd=work, env=env)
    html = out.read_text(encoding="utf-8")
    assert 'id="app-1-verdicts"' in html
    assert "This app reads your contact list." in html
    assert 'id="rule-CON001"' in html  # rule appendix: rules shipped


# Files of the source tree that a user's install needs (besides the Python modules).
DATA_PATTERNS = ("*.toml", "*.json", "*.j2", "*.css")


def _packages() -> set[str]:
    """Every package under apkaudit/ (a folder with __init__.py), as a wheel path."""
    return {p.parent.relative_to(REPO).as_posix() for p in (REPO / "apkaudit").rglob("__init__.py")}


def _expected_files() -> set[str]:
    out = {p.relative_to(REPO).as_posix() for p in (REPO / "apkaudit").rglob("*.py")}
    for pattern in DATA_PATTERNS:
        out |= {p.relative_to(REPO).as_posix() for p in (REPO / "apkaudit").rglob(pattern)}
    templates = REPO / "report_templates"
    out |= {
        f"apkaudit/report_templates/{p.name}"
        for p in templates.iterdir()
        if p.is_file() and (p.suffix in (".j2", ".css") or p.name == "__init__.py")
    }
    return {f for f in out if "__pycache__" not in f}


def test_build_makes_a_wheel_and_sdist_with_every_module_and_data_file(tmp_path: Path) -> None:
    """``python -m build`` (the README's release recipe): the wheel holds every package, module,
    rule/policy/catalogue/i18n file, the JSON schema and the templates; the sdist holds the
    same sources plus README and LICENSE, so a wheel built from it is the same."""
    pytest.importorskip("build", reason="the build package (test extra) is not installed")
    import tarfile
    import zipfile

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    src = copy_source(tmp_path / "src")
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "-q", "-o", dist, ".", cwd=src, env=env)
    [wheel] = dist.glob("apkaudit-*.whl")
    [sdist] = dist.glob("apkaudit-*.tar.gz")

    names = set(zipfile.ZipFile(wheel).namelist())
    expected = _expected_files()
    missing = sorted(expected - names)
    assert not missing, f"not in the wheel: {missing}"
    assert {f"{p}/__init__.py" for p in _packages()} <= names  # no package left out
    assert "apkaudit/report/schema/report-v1.schema.json" in names
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    meta = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "Requires-Python: >=3.11" in meta
    entry = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "apkaudit = apkaudit.cli.main:main" in zipfile.ZipFile(wheel).read(entry).decode()

    with tarfile.open(sdist) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        assert name in members, name
    in_sdist = {n.replace("report_templates/", "apkaudit/report_templates/", 1) for n in members}
    missing = sorted(f for f in expected if f not in in_sdist)
    assert not missing, f"not in the sdist: {missing}"
