"""The app's launcher icon for the report: a small raster image from the APK, checked by magic.

The manifest names the icon as a resource (``@mipmap/ic_launcher``); ``resources.arsc`` maps it
to one file per screen density. Adaptive icons (``mipmap-anydpi-v26/*.xml``) and vector
drawables are XML and are never embedded: a raster density of the same resource is used instead,
or no icon at all. Only PNG, WebP and JPEG bytes whose magic numbers match are accepted, up to
``MAX_ICON_BYTES``; SVG, XML and anything else are refused. Nothing here raises: a missing,
oversized or odd icon is simply left out.
"""

from __future__ import annotations

from lxml import etree

from apkaudit.load.extras import read_entries
from apkaudit.manifest.arsc import resource_files
from apkaudit.model import MAX_ICON_BYTES, AppIcon, sniff_image

PREFERRED_DENSITY = 320  # xhdpi: 96 px launcher icons, shown at 48 CSS px on a 2x screen
_RASTER = (".png", ".webp", ".jpg", ".jpeg")
ANDROID_NS = "{http://schemas.android.com/apk/res/android}"


def _candidates(files: tuple[tuple[str, int], ...]) -> list[str]:
    """Raster files first, the density nearest xhdpi first (higher before lower on ties)."""
    raster = [(name, d) for name, d in files if name.lower().endswith(_RASTER)]

    def key(item: tuple[str, int]) -> tuple[int, int]:
        density = item[1] if 0 < item[1] < 0xFFFE else 160  # default/any/no dpi: count as mdpi
        return (abs(density - PREFERRED_DENSITY), -density)

    return [name for name, _ in sorted(raster, key=key)]


def read_icon(path: str, manifest_root: etree._Element, arsc: bytes | None) -> AppIcon | None:
    """The launcher icon of the APK at ``path`` (its parsed manifest and resource table)."""
    try:
        app = manifest_root.find("application")
        value = app.get(f"{ANDROID_NS}icon") if app is not None else None
        if not value:
            return None
        candidates = _candidates(resource_files(value, arsc))
        found = read_entries(path, candidates, MAX_ICON_BYTES)  # one pass over the archive
        for entry in candidates:
            data = found.get(entry)
            mime = sniff_image(data) if data else None
            if data and mime:
                return AppIcon(mime, data, entry)
    except Exception:  # an icon is a nicety: never let it fail an audit
        return None
    return None
