"""Fuzzing (issue 4, part 5): a short run of the harness in CI, and every crash found so far.

The harness (tests/fuzz/harness.py) mutates the fixture and real APKs, raw and structure-aware,
and feeds three targets: the whole audit of a file, the manifest decoders and the DEX reader.
Here hypothesis drives it for a few seconds (it shrinks any failure to a small input); the long
run is ``python -m tests.fuzz --runs 100000 --jobs 2`` (README "Inputs and limits").
"""

from __future__ import annotations

import struct
import time
import zipfile
from pathlib import Path

import pytest
from conftest import require_real
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import harness

REGRESSIONS = sorted((Path(__file__).parent / "fuzz" / "regressions").glob("*.bin"))
TIMEOUT = 20.0  # per input; far above any real input's time, far below a hang
EXAMPLES = {"container": 40, "manifest": 150, "dex": 60}


def _short_run(target: str):
    @settings(
        max_examples=EXAMPLES[target],
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(rng=st.randoms(use_true_random=False))
    def run(rng) -> None:
        data = harness.mutate(rng, target)
        problem = harness.check(target, data, TIMEOUT)
        assert problem is None, problem

    return run


@pytest.mark.parametrize("target", harness.TARGETS)
def test_short_fuzz_run(target: str) -> None:
    _short_run(target)()


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.name for p in REGRESSIONS])
def test_fuzz_regression(path: Path) -> None:
    # Each file once crashed a target (named by the file's prefix): struct.error/IndexError
    # escaping the DEX reader's lazy tables, mostly. They must now pass cleanly.
    target = path.name.split("-", 1)[0]
    assert harness.check(target, path.read_bytes(), TIMEOUT) is None


def test_inputs_are_reproducible_by_number() -> None:
    a = harness.input_for(3, 17, "container")
    assert a == harness.input_for(3, 17, "container")
    assert a != harness.input_for(3, 18, "container")


def test_damaged_code_sizes_cannot_make_indexing_quadratic() -> None:
    # Found by the fuzzer (a hang): code items whose insns_size was damaged overlapped, and the
    # invoke index scanned each span, i.e. the whole file once per method.
    from apkaudit.dex.reader import DexFile

    apk = require_real() / "harvester-ahmyth.apk"
    dex = bytearray(zipfile.ZipFile(apk).read("classes.dex"))
    offsets = {m.code_off for m in DexFile("classes.dex", bytes(dex)).defined_methods.values()}
    assert len(offsets) > 1000
    for off in offsets:
        if off:
            struct.pack_into("<I", dex, off + 12, 0x7FFFFFFF)
    t0 = time.perf_counter()
    assert harness.check("dex", bytes(dex), TIMEOUT) is None
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize(
    ("proto", "params"),
    [("(I[Ljava/lang/String;J)V", ("I", "[Ljava/lang/String;", "J")), ("(ILfoo)V", ("I", "Lfoo")),
     ("(I[)V", ("I", "[")), ("garbage", ()), ("()V", ())],
)  # fmt: skip
def test_split_params_survives_damaged_descriptors(proto: str, params: tuple[str, ...]) -> None:
    # Found by the fuzzer: a class name without its ";" in a damaged dex raised ValueError from
    # the behaviour stage.
    from apkaudit.dex.reader import split_params

    assert split_params(proto) == params
