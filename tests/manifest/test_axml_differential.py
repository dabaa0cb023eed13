"""apkaudit's binary-XML reader against a model of the platform's parsing rules
(aosp_model.py), on generated mutants (mutants.py): chunk types, header sizes and sizes,
attribute offsets, strides and counts, attribute fields, string-pool headers, resource maps,
repeated pools and maps, inserted chunks, duplicates, cuts. Both must refuse the same files and
give the same elements, framework attributes, package and outcome."""

from __future__ import annotations

import random

import aosp_model
import axmlgen
import mutants
import pytest

from apkaudit.manifest import platform as ag


def _agree(count: int, seed: str) -> list[str]:
    problems = []
    for i in range(count):
        raw = mutants.mutant(random.Random(f"{seed}:{i}"))
        problem = mutants.disagreement(raw)
        if problem:
            problems.append(f"{seed}:{i}: {problem}")
        mutants.parse_all(raw)  # the whole decode path never raises beyond InputError
    return problems


def test_reader_agrees_with_the_platform_model_on_mutants() -> None:
    assert _agree(400, "ci") == []


@pytest.mark.slow
def test_reader_agrees_with_the_platform_model_on_many_mutants() -> None:
    assert _agree(5000, "slow") == []


def test_mutants_reach_every_outcome() -> None:
    seen = set()
    for i in range(400):
        v = aosp_model.view(mutants.mutant(random.Random(f"ci:{i}")), {0x01010003: "name"})
        seen.add("refused" if v.refused else v.outcome)
    assert seen == {"refused", "bad", "end"}


@pytest.mark.parametrize(
    "layout",
    [
        axmlgen.Layout(),
        axmlgen.Layout(utf8=True, pool_header=32, node_header=24),
        axmlgen.Layout(attribute_start=32, attribute_size=24, decoy_pool=True, decoy_map=True),
        axmlgen.Layout(strip_names=True, no_namespace=True, unknown_chunk=True, pad_nodes=True),
    ],
)
def test_model_and_reader_read_the_tricks_alike(layout: axmlgen.Layout) -> None:
    raw = axmlgen.encode(axmlgen.app(), layout)
    view = aosp_model.view(raw, ag.framework_attribute_names())
    assert not view.refused and view.outcome == "end"
    assert view.elements[0][3] == "com.example.trick"
    names = [attrs.get("name") for _, tag, attrs, _ in view.elements if tag == "uses-permission"]
    assert names == ["android.permission.READ_CONTACTS"]
    assert mutants.disagreement(raw) is None


def test_the_oracle_notices_a_reader_that_takes_the_last_duplicate(monkeypatch) -> None:
    from apkaudit.manifest import axml_tree
    from apkaudit.manifest.axml import Start

    original = axml_tree._Builder.attributes

    def last_wins(self, start):
        return original(self, Start(start.ns, start.name, tuple(reversed(start.attributes))))

    monkeypatch.setattr(axml_tree._Builder, "attributes", last_wins)
    assert len(_agree(200, "ci")) > 10
