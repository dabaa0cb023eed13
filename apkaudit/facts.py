"""AppFacts: everything the analysis stages know about one app, gathered once."""

from __future__ import annotations

from dataclasses import dataclass

from apkaudit.attribution import Attributor
from apkaudit.catalogue import Catalogue
from apkaudit.codeindex import DexSet
from apkaudit.loader import LoadedApp
from apkaudit.model import CodeIndex, CodeRef, Coverage, ManifestFacts


@dataclass(frozen=True)
class AppFacts:
    loaded: LoadedApp
    manifest: ManifestFacts
    code: CodeIndex
    dex: DexSet
    catalogue: Catalogue
    attributor: Attributor
    coverage: Coverage

    def refs_tagged(self, *tags: str) -> tuple[CodeRef, ...]:
        ids = self.catalogue.tagged(*tags)
        return tuple(r for r in self.code.refs if r.api_id in ids)
