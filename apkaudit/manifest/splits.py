"""The app's manifest facts: the base manifest decoded (binary or text XML, or an .aab's
protobuf), with the permissions and components of the other splits' manifests merged in
(feature splits declare their own components; a duplicate manifest copy counts like a split).

Takes the load stage's data, not its types, so the manifest stage does not depend on load.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from lxml import etree

from apkaudit.errors import InputError
from apkaudit.manifest.decode import Decoded
from apkaudit.manifest.decode import decode as decode_bytes
from apkaudit.manifest.parse import parse_manifest
from apkaudit.model import BlindSpot, BlindSpotKind, Certificate, ManifestFacts


@dataclass(frozen=True, slots=True, kw_only=True)
class AppManifest:
    """The base manifest's tree (for the icon), the merged facts, what could not be read, and
    the tricks read the platform's way (for :func:`coherence.unreadable_manifest`)."""

    xml: etree._Element
    facts: ManifestFacts
    blind_spots: tuple[BlindSpot, ...] = ()
    tricks: tuple[str, ...] = ()


def app_manifest(
    manifest: bytes,
    fmt: str,
    split_manifests: Sequence[tuple[str, bytes]],
    *,
    arsc: bytes | None,
    certificates: tuple[Certificate, ...],
    path: str,
    expired: Callable[[], bool] | None = None,
) -> AppManifest:
    """The base ``manifest`` (``fmt``: axml | proto) with every ``(name, bytes)`` of
    ``split_manifests`` merged. Raises :class:`InputError` if the base manifest is unreadable;
    an unreadable split manifest is a blind spot. ``expired`` (the deadline) is polled while
    binary XML is read."""
    base = decode_bytes(manifest, path, fmt=fmt, expired=expired)
    xml = base.xml
    facts = parse_manifest(xml, arsc=arsc, certificates=certificates)
    spots: list[BlindSpot] = []
    if base.damaged:
        spots.append(BlindSpot(BlindSpotKind.MANIFEST_DAMAGED, _damage(base, xml)))
    if base.tricks:
        spots.append(
            BlindSpot(
                BlindSpotKind.MANIFEST_TRICK,
                "AndroidManifest.xml read as Android reads it, past tricks that hide "
                f"attributes from other tools: {'; '.join(base.tricks)}",
            )
        )
    for name, raw in split_manifests:
        try:
            other = decode_bytes(raw, path, fmt=fmt, expired=expired)
        except InputError as exc:
            spots.append(BlindSpot(BlindSpotKind.UNREADABLE_SPLIT, f"{name}: {exc.reason}"))
            continue
        if other.damaged:
            spots.append(
                BlindSpot(
                    BlindSpotKind.MANIFEST_DAMAGED, f"{name}: its manifest breaks off part-way"
                )
            )
        facts = merge(facts, parse_manifest(other.xml, arsc=None))
    return AppManifest(xml=xml, facts=facts, blind_spots=tuple(spots), tricks=base.tricks)


def _damage(base: Decoded, xml: etree._Element) -> str:
    read = sum(1 for _ in xml.iter())
    if base.problem.startswith("a malformed node"):
        return (
            "AndroidManifest.xml breaks off part-way (a damaged or tampered chunk): "
            f"only the {read} elements before the damage were read"
        )
    return f"AndroidManifest.xml: {base.problem}; {read} elements read"


def decode(raw: bytes, fmt: str, path: str) -> tuple[etree._Element, bool]:
    """A manifest as an lxml tree (binary/text XML, or an .aab's protobuf) and whether its
    binary XML broke off part-way."""
    got = decode_bytes(raw, path, fmt=fmt)
    return got.xml, got.damaged


def merge(base: ManifestFacts, other: ManifestFacts) -> ManifestFacts:
    """``base`` with the permissions and components of ``other`` it does not already declare."""
    have = {p.name for p in base.permissions}
    perms = base.permissions + tuple(p for p in other.permissions if p.name not in have)
    known = {(c.kind, c.name) for c in base.components}
    comps = base.components + tuple(c for c in other.components if (c.kind, c.name) not in known)
    return replace(base, permissions=perms, components=comps)
