"""AppFacts: everything the analysis stages know about one app, gathered once."""

from __future__ import annotations

from dataclasses import dataclass

from apkaudit.code.attribution import Attributor
from apkaudit.code.catalogue import Catalogue
from apkaudit.code.index import DexSet
from apkaudit.limits import NO_DEADLINE, Deadline
from apkaudit.load.loader import LoadedApp
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
    deadline: Deadline = NO_DEADLINE  # polled by the behaviour stage's long loops

    def refs_tagged(self, *tags: str) -> tuple[CodeRef, ...]:
        ids = self.catalogue.tagged(*tags)
        return tuple(r for r in self.code.refs if r.api_id in ids)
