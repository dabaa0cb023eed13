"""Regenerate apkaudit/manifest/platform_data.json: the platform facts the manifest stage needs,
from the data files androguard 4.1 ships (read as data; no androguard code is run):

- ``attributes``: framework attribute resource id -> name, from the SDK's
  ``platforms/android-?/data/res/values/public.xml`` (``<public type="attr" .../>``), which
  androguard copies to ``androguard/core/resources/public.xml``;
- ``permissions``: the protection level of every platform permission at every API level that
  has data, from AOSP's ``frameworks/base/core/res/AndroidManifest.xml`` as extracted by
  https://github.com/U039b/aosp_permissions_extraction into
  ``androguard/core/api_specific_resources/aosp_permissions/permissions_<api>.json``.
  Stored compactly: ``levels`` lists the API levels with data; each permission maps to
  ``[[first API level, raw protectionLevel], ...]``, one pair per change (a permission missing
  at a level has the level null there).

    python tests/manifest/generate_platform_data.py [ANDROGUARD_PACKAGE_DIR]
"""

from __future__ import annotations

import json
import os
import sys
from xml.etree import ElementTree

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
OUT = os.path.join(ROOT, "apkaudit", "manifest", "platform_data.json")


def main() -> None:
    if len(sys.argv) > 1:
        root = sys.argv[1]
    else:
        import importlib.util

        spec = importlib.util.find_spec("androguard")
        assert spec and spec.submodule_search_locations
        root = next(iter(spec.submodule_search_locations))
    public = ElementTree.parse(os.path.join(root, "core", "resources", "public.xml"))
    attributes: dict[str, str] = {}
    for el in public.iter("public"):
        if el.get("type") == "attr":
            attributes[f"{int(el.get('id') or '0', 16):08x}"] = el.get("name") or ""
    folder = os.path.join(root, "core", "api_specific_resources", "aosp_permissions")
    names = (n for n in os.listdir(folder) if n.startswith("permissions_") and n.endswith(".json"))
    levels = sorted(int(n[len("permissions_") : -len(".json")]) for n in names)
    history: dict[str, list[list[object]]] = {}
    for i, level in enumerate(levels):
        with open(os.path.join(folder, f"permissions_{level}.json"), encoding="utf-8") as fh:
            table = json.load(fh)["permissions"]
        seen = set()
        for name, info in table.items():
            if not isinstance(info, dict):
                continue
            raw = str(info.get("protectionLevel") or "")
            seen.add(name)
            steps = history.setdefault(name, [] if i == 0 else [[levels[0], None]])
            if not steps or steps[-1][1] != raw:
                steps.append([level, raw])
        for name, steps in history.items():
            if name not in seen and steps[-1][1] is not None:
                steps.append([level, None])
    data = {
        "source": "androguard 4.1 data files: public.xml (SDK) and aosp_permissions/*.json",
        "attributes": dict(sorted(attributes.items())),
        "levels": levels,
        "permissions": dict(sorted(history.items())),
    }
    with open(OUT, "w", encoding="utf-8") as fh:
        json.dump(data, fh, separators=(",", ":"), sort_keys=False)
        fh.write("\n")


if __name__ == "__main__":
    main()
