"""Who wrote a class: the app itself, a named third-party SDK, or unknown (obfuscated names)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from apkaudit.code.catalogue import Sdk, load_sdks
from apkaudit.model import descriptor_to_java


@dataclass(frozen=True)
class Attributor:
    app_prefixes: tuple[str, ...]  # java package prefixes of the app's own code, ending in "."
    sdk_prefixes: tuple[tuple[str, Sdk], ...]  # longest first

    @classmethod
    def for_app(cls, packages: Iterable[str], sdks: Iterable[Sdk] | None = None) -> Attributor:
        app = sorted(
            {p.rstrip(".") + "." for p in packages if p and "." in p}, key=len, reverse=True
        )
        table = [(p, s) for s in (sdks if sdks is not None else load_sdks()) for p in s.prefixes]
        table.sort(key=lambda t: len(t[0]), reverse=True)
        return cls(tuple(app), tuple(table))

    @cached_property
    def _any_sdk_prefix(self) -> tuple[str, ...]:
        return tuple(p for p, _ in self.sdk_prefixes)

    def sdk_of(self, class_name: str) -> Sdk | None:
        java = descriptor_to_java(class_name)
        if not java.startswith(self._any_sdk_prefix):  # one C-level test for most classes
            return None
        for prefix, sdk in self.sdk_prefixes:
            if java.startswith(prefix):
                return sdk
        return None

    def origin(self, class_name: str) -> str:
        """``app``, ``sdk:NAME`` or ``unknown``. An SDK prefix beats the app's own package."""
        sdk = self.sdk_of(class_name)
        if sdk is not None:
            return f"sdk:{sdk.name}"
        java = descriptor_to_java(class_name)
        if any(java.startswith(p) for p in self.app_prefixes):
            return "app"
        return "unknown"


def app_packages(package: str, component_names: Iterable[str]) -> tuple[str, ...]:
    """The manifest package plus the packages of its components (often a different namespace)."""
    pkgs = {package} if package else set()
    for name in component_names:
        if "." in name:
            pkgs.add(name.rsplit(".", 1)[0])
    return tuple(sorted(pkgs))
