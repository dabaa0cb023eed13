"""Packaged data: watched code items (apis.toml) and third-party SDK prefixes (sdks.toml)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from apkaudit.cache import cached_toml
from apkaudit.errors import RuleError

_KINDS = {"invoke", "field", "string", "class"}
_MATCHES = {"exact", "prefix", "contains"}


@dataclass(frozen=True)
class WatchedItem:
    id: str
    kind: str  # invoke | field | string | class
    tags: frozenset[str]
    class_name: str = ""
    name: str = ""
    proto: str | None = None  # None: every overload
    value: str = ""
    match: str = "exact"

    def matches_string(self, s: str) -> bool:
        if self.match == "prefix":
            return s.startswith(self.value)
        if self.match == "contains":
            return self.value in s
        return s == self.value


@dataclass(frozen=True)
class Catalogue:
    items: tuple[WatchedItem, ...]

    def tagged(self, *tags: str) -> frozenset[str]:
        """Ids of the items that carry any of ``tags``."""
        wanted = set(tags)
        return frozenset(i.id for i in self.items if i.tags & wanted)

    def by_id(self, item_id: str) -> WatchedItem:
        return self._index[item_id]

    @property
    def _index(self) -> dict[str, WatchedItem]:
        return {i.id: i for i in self.items}


@dataclass(frozen=True)
class Sdk:
    name: str
    category: str
    prefixes: tuple[str, ...]
    source: str


def _read(name: str) -> dict:
    return cached_toml(files(__package__).joinpath(name).read_text("utf-8"))


@cache
def load_catalogue() -> Catalogue:
    items = []
    seen: set[str] = set()
    for raw in _read("apis.toml")["item"]:
        item = WatchedItem(
            id=raw["id"],
            kind=raw["kind"],
            tags=frozenset(raw["tags"]),
            class_name=raw.get("class", ""),
            name=raw.get("name", ""),
            proto=raw.get("proto"),
            value=raw.get("value", ""),
            match=raw.get("match", "exact"),
        )
        if item.id in seen:
            raise RuleError(f"apis.toml: duplicate id {item.id}")
        if item.kind not in _KINDS or item.match not in _MATCHES or not item.tags:
            raise RuleError(f"apis.toml: bad kind/match/tags in {item.id}")
        if item.kind in ("invoke", "field", "class") and not item.class_name.endswith(";"):
            raise RuleError(f"apis.toml: {item.id} needs a dex class descriptor")
        if item.kind == "string" and not item.value:
            raise RuleError(f"apis.toml: {item.id} needs a value")
        seen.add(item.id)
        items.append(item)
    return Catalogue(tuple(items))


@cache
def load_sdks() -> tuple[Sdk, ...]:
    return tuple(
        Sdk(s["name"], s["category"], tuple(s["prefixes"]), s["source"])
        for s in _read("sdks.toml")["sdk"]
    )
