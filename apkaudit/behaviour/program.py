"""Program: the decoded code the behaviour stage reads, handed to it alongside AppFacts.

The dex files, the API catalogue and the attributor are readers and tables, not facts: only the
behaviour stage follows code, so only it receives them, explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

from apkaudit.code.attribution import Attributor
from apkaudit.code.catalogue import Catalogue
from apkaudit.code.index import DexSet


@dataclass(frozen=True, slots=True, kw_only=True)
class Program:
    dex: DexSet
    catalogue: Catalogue
    attributor: Attributor
    arsc: bytes | None = None  # resources.arsc: string resources a URL may come from
    # App View/Fragment subclasses named in resource XML: the layout inflater creates them.
    layout_classes: frozenset[str] = frozenset()
