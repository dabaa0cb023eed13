"""The launcher icon as read from the APK, and the magic-number check behind it."""

from __future__ import annotations

from dataclasses import dataclass

MAX_ICON_BYTES = 64 * 1024  # an icon larger than this is never read nor shown


def sniff_image(data: bytes) -> str | None:
    """The MIME type of PNG, WebP or JPEG bytes by their magic numbers; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


@dataclass(frozen=True)
class AppIcon:
    """The launcher icon, as read from the APK: a raster image whose magic bytes were checked
    (:func:`sniff_image`; the HTML report checks them again before it embeds the image)."""

    mime: str  # image/png | image/webp | image/jpeg
    data: bytes
    entry: str  # the zip entry it came from
