"""AppFacts: what the earlier stages decoded about one app, as plain data.

The manifest facts, the code index (whose references carry their catalogue tags and origins)
and the coverage. No readers, catalogue or clock: the rules stage reads only these and
the behaviour stage's output, so rules can be evaluated on facts built by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from apkaudit.model import CodeIndex, CodeRef, Coverage, ManifestFacts


@dataclass(frozen=True, slots=True, kw_only=True)
class AppFacts:
    manifest: ManifestFacts
    code: CodeIndex
    coverage: Coverage

    def refs_tagged(self, *tags: str) -> tuple[CodeRef, ...]:
        """The code references whose catalogue item carries any of ``tags``."""
        wanted = frozenset(tags)
        return tuple(r for r in self.code.refs if not wanted.isdisjoint(r.tags))
