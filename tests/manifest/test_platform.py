"""The shipped platform table (manifest/platform_data.json, made by
tests/manifest/generate_platform_data.py) gives what androguard's data files gave through the old
adapter: every framework attribute name, and every permission's protection level at every API
level (clamped to the range with data; in a gap, the lower level with data)."""

from __future__ import annotations

import functools
import os

import pytest

from apkaudit.manifest import platform


@functools.cache
def _androguard_levels(level: int) -> dict[str, str]:
    from androguard.core import api_specific_resources as data

    table = data.load_permissions(level, "permissions")
    return {
        name: platform.normalise_level(str(info.get("protectionLevel") or ""))
        for name, info in table.items()
        if isinstance(info, dict)
    }


def _available() -> list[int]:
    from androguard.core import api_specific_resources as data

    folder = os.path.join(os.path.dirname(data.__file__), "aosp_permissions")
    names = (n[len("permissions_") : -len(".json")] for n in os.listdir(folder))
    return sorted(int(n) for n in names if n.isdigit())


def _androguard_level(permission: str, api_level: int | None) -> str:
    levels = _available()
    if api_level is None or api_level >= levels[-1]:
        level = levels[-1]
    else:
        level = max((lv for lv in levels if lv <= api_level), default=levels[0])
    return _androguard_levels(level).get(permission, "unknown")


def test_attribute_names_are_the_sdk_public_xml() -> None:
    from androguard.core.resources import public

    inverse = public.SYSTEM_RESOURCES["attributes"]["inverse"]
    assert platform.framework_attribute_names() == {int(k): str(v) for k, v in inverse.items()}


@pytest.mark.parametrize("api_level", [None, 0, 1, 3, 4, 10, 11, 12, 20, 22, 23, 33, 36, 99])
def test_protection_levels_are_the_aosp_data(api_level: int | None) -> None:
    names = set().union(*(_androguard_levels(lv) for lv in _available()))
    names |= {"com.example.CUSTOM", ""}
    differ = [
        n for n in sorted(names)
        if platform.protection_level(n, api_level) != _androguard_level(n, api_level)
    ]  # fmt: skip
    assert differ == []


def test_the_table_is_read_only_when_asked() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, apkaudit.manifest.platform as p; assert p._data.cache_info().currsize == 0;"
        "p.protection_level('android.permission.READ_SMS', 30);"
        "assert not any(m.startswith('androguard') for m in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
