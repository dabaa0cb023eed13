"""AndroidManifest.xml (as an lxml tree) -> ManifestFacts. Pure: no file I/O.

Hostile manifests are expected: an element with a missing or garbage attribute is skipped, never
fatal. Where Android's own package parser has a rule (defaults, name resolution, which elements
count), this module follows it, so facts describe what the device would actually do.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from apkaudit.manifest import arsc as arsc_table
from apkaudit.manifest.platform import protection_level
from apkaudit.model import (
    AppIdentity,
    Certificate,
    Component,
    IntentFilter,
    ManifestFacts,
    Permission,
)

ANDROID_NS = "http://schemas.android.com/apk/res/android"
COMPONENT_KINDS = ("activity", "activity-alias", "service", "receiver", "provider")
# uses-permission-sdk-m is the M-preview spelling that the platform parser still accepts.
PERMISSION_TAGS = ("uses-permission", "uses-permission-sdk-23", "uses-permission-sdk-m")
QUERY_ALL_PACKAGES = "android.permission.QUERY_ALL_PACKAGES"
_LAUNCHER = "android.intent.category.LAUNCHER"

# Errors our own parsing of one element can raise on garbage; the element is then skipped.
_BAD_ELEMENT = (ValueError, TypeError, AttributeError, KeyError, IndexError, OverflowError)


# --------------------------------------------------------------------------- small readers


def _local(el: etree._Element) -> str:
    # Android matches tags by local name (the binary XML keeps the namespace separately).
    tag = el.tag
    if not isinstance(tag, str):  # comments, processing instructions
        return ""
    return tag.rpartition("}")[2]


def _children(el: etree._Element, *names: str) -> Iterator[etree._Element]:
    for child in el:
        if _local(child) in names:
            yield child


def _attr(el: etree._Element, name: str) -> str | None:
    """The ``android:``-namespaced attribute ``name``.

    Only that namespace: an un-prefixed ``enabled="false"`` (seen in a real app) has no
    framework resource id and the platform ignores it, so it must not count here either.
    """
    return el.get(f"{{{ANDROID_NS}}}{name}")


def _to_int(value: str | None) -> int | None:
    """Decimal, ``0x`` hex (AXML prints TYPE_INT_HEX unsigned) or None for refs/garbage."""
    if value is None:
        return None
    text = value.strip()
    try:
        if text.lower().startswith(("0x", "-0x")):
            number = int(text, 16)
            return number - (1 << 32) if number >= 1 << 31 else number
        return int(text)
    except ValueError:
        return None


def _to_bool(value: str | None, arsc: bytes | None) -> bool | None:
    """``true``/``false``, ints (non-zero is true), or a ``@bool`` resource reference."""
    if value is None:
        return None
    text = value.strip()
    if text.startswith("@"):
        resolved = arsc_table.resolve_resource(text, arsc)
        if resolved is None or resolved.startswith("@"):
            return None
        text = resolved.strip()
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    number = _to_int(text)
    return None if number is None else number != 0


def _class_name(name: str | None, package: str) -> str | None:
    """Android's buildClassName: ``.Foo`` and ``Foo`` are relative to the package."""
    if name is None:
        return None
    name = name.strip()
    if not name:
        return None
    if name.startswith("."):
        return package + name if package else name[1:]
    if "." not in name:
        return f"{package}.{name}" if package else name
    return name


# --------------------------------------------------------------------------- parts


def _sdk_levels(root: etree._Element) -> tuple[int, int]:
    """(minSdk, targetSdk): minSdk defaults to 1, targetSdk to minSdk (platform defaults).

    A codename (preview build) or resource reference is treated as absent.
    """
    min_sdk = target_sdk = None
    for uses_sdk in _children(root, "uses-sdk"):
        min_sdk = _to_int(_attr(uses_sdk, "minSdkVersion"))
        target_sdk = _to_int(_attr(uses_sdk, "targetSdkVersion"))
        break
    min_sdk = min_sdk if min_sdk is not None and min_sdk > 0 else 1
    target_sdk = target_sdk if target_sdk is not None and target_sdk > 0 else min_sdk
    return min_sdk, target_sdk


def _permissions(root: etree._Element, target_sdk: int) -> tuple[Permission, ...]:
    found: dict[tuple[str, str], Permission] = {}
    for el in _children(root, *PERMISSION_TAGS):
        name = (_attr(el, "name") or "").strip()
        key = (name, _local(el))
        if not name or key in found:
            continue
        found[key] = Permission(
            name=name,
            protection_level=protection_level(name, target_sdk),
            element=_local(el),
            max_sdk=_to_int(_attr(el, "maxSdkVersion")),
        )
    return tuple(found.values())


def _intent_filter(el: etree._Element) -> IntentFilter:
    def values(tag: str, attribute: str) -> tuple[str, ...]:
        vals = (_attr(child, attribute) for child in _children(el, tag))
        return tuple(dict.fromkeys(v.strip() for v in vals if v and v.strip()))

    return IntentFilter(
        actions=values("action", "name"),
        categories=values("category", "name"),
        schemes=values("data", "scheme"),
        mime_types=values("data", "mimeType"),
        priority=_to_int(_attr(el, "priority")),
    )


def _exported(kind: str, explicit: bool | None, has_filters: bool, target_sdk: int) -> bool:
    """Android's default for ``android:exported`` when the attribute is absent.

    - the explicit attribute always wins;
    - activity, activity-alias, service, receiver: exported iff it has an intent filter (a
      filter without any <action> is dropped by the platform parser and does not count);
    - provider: intent filters are irrelevant; exported by default only for apps targeting
      API < 17 (JELLY_BEAN_MR1), where the platform default was true.
    """
    if explicit is not None:
        return explicit
    if kind == "provider":
        return target_sdk < 17
    return has_filters


def _component(
    el: etree._Element,
    package: str,
    target_sdk: int,
    app_permission: str | None,
    app_enabled: bool,
    arsc: bytes | None,
) -> Component | None:
    kind = _local(el)
    name = _class_name(_attr(el, "name"), package)
    if name is None:
        return None  # the platform refuses a component without a class name
    filters = tuple(
        f for f in (_intent_filter(child) for child in _children(el, "intent-filter")) if f.actions
    )
    enabled = _to_bool(_attr(el, "enabled"), arsc)
    permission = (_attr(el, "permission") or "").strip() or app_permission
    return Component(
        kind=kind,
        name=name,
        exported=_exported(kind, _to_bool(_attr(el, "exported"), arsc), bool(filters), target_sdk),
        # Components inherit <application android:permission> when they set none.
        permission=permission,
        intent_filters=filters,
        # A disabled <application> disables every component in it.
        enabled=app_enabled and enabled is not False,
    )


def _components(
    app: etree._Element | None, package: str, target_sdk: int, arsc: bytes | None
) -> tuple[Component, ...]:
    if app is None:
        return ()
    app_permission = (_attr(app, "permission") or "").strip() or None
    app_enabled = _to_bool(_attr(app, "enabled"), arsc) is not False
    out: list[Component] = []
    for el in _children(app, *COMPONENT_KINDS):
        try:
            comp = _component(el, package, target_sdk, app_permission, app_enabled, arsc)
        except _BAD_ELEMENT:
            continue
        if comp is not None:
            out.append(comp)
    return tuple(out)


def _label(app: etree._Element | None, arsc: bytes | None) -> str:
    """The application label, else the launcher activity's (as the launcher shows it)."""
    if app is None:
        return ""
    raw = _attr(app, "label")
    if not raw:
        for activity in _children(app, "activity", "activity-alias"):
            cats = {
                _attr(c, "name")
                for f in _children(activity, "intent-filter")
                for c in _children(f, "category")
            }
            if _LAUNCHER in cats and _attr(activity, "label"):
                raw = _attr(activity, "label")
                break
    return arsc_table.resolve_label(raw.strip(), arsc) if raw else ""


# --------------------------------------------------------------------------- entry point


def parse_manifest(
    xml: etree._Element,
    *,
    arsc: bytes | None = None,
    certificates: tuple[Certificate, ...] = (),
) -> ManifestFacts:
    """Extract the manifest facts the audit needs. Never raises on a hostile manifest."""
    root = xml.getroot() if isinstance(xml, etree._ElementTree) else xml
    if not isinstance(root, etree._Element) or not isinstance(root.tag, str):
        return ManifestFacts(identity=AppIdentity(), certificates=certificates)

    package = (root.get("package") or "").strip()  # the one un-namespaced attribute we read
    min_sdk, target_sdk = _sdk_levels(root)
    app = next(_children(root, "application"), None)

    version_name = (_attr(root, "versionName") or "").strip()
    if version_name.startswith("@"):
        version_name = arsc_table.resolve_label(version_name, arsc)
    raw_code = (_attr(root, "versionCode") or "").strip()
    version_code = _to_int(raw_code)

    def app_flag(name: str) -> bool | None:
        return None if app is None else _to_bool(_attr(app, name), arsc)

    permissions = _permissions(root, target_sdk)
    return ManifestFacts(
        identity=AppIdentity(
            package=package,
            label=_label(app, arsc),
            version_name=version_name,
            version_code=raw_code if version_code is None else str(version_code),
            min_sdk=min_sdk,
            target_sdk=target_sdk,
        ),
        permissions=permissions,
        components=_components(app, package, target_sdk, arsc),
        application_class=_class_name(_attr(app, "name"), package) if app is not None else None,
        debuggable=app_flag("debuggable") is True,
        allow_backup=app_flag("allowBackup"),
        uses_cleartext_traffic=app_flag("usesCleartextTraffic"),
        certificates=certificates,
        queries_all_packages=any(p.name == QUERY_ALL_PACKAGES for p in permissions),
    )
