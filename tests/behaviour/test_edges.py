"""The framework hand-off table (behaviour/edges.py): well-formed rows and their resolution."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest
from conftest import REPO

from apkaudit.behaviour import edges
from apkaudit.behaviour.reachability import Hierarchy
from apkaudit.model import Level

DESC = re.compile(r"^\[*L[\w/$]+;$")


@pytest.mark.parametrize("edge", edges.EDGES, ids=lambda e: e.name)
def test_rows_are_well_formed(edge: edges.Edge) -> None:
    assert edge.calls and edge.targets and edge.args
    assert all(DESC.match(t) for t in (*edge.owner, edge.base))
    assert edge.args[0] in (0, 1, -1, None)  # the override's `this`
    assert "{target}" in edge.desc
    for name in edge.calls:
        assert edge in edges.edges_for(name)


def test_names_are_unique() -> None:
    names = [e.name for e in edges.EDGES]
    assert len(names) == len(set(names))


@dataclass
class _Classes:
    """A tiny class world: app classes with their supertypes and methods."""

    supers: dict[str, tuple[str, ...]]
    methods: dict[str, tuple[str, ...]]
    hier: Hierarchy = field(init=False)

    def __post_init__(self) -> None:
        subs: dict[str, list[str]] = {}
        for c, ps in self.supers.items():
            for p in ps:
                subs.setdefault(p, []).append(c)
        self.hier = Hierarchy(self.supers, {k: tuple(v) for k, v in subs.items()})

    def is_app_class(self, name: str) -> bool:
        return name in self.supers

    def methods_named(self, cls: str, name: str) -> list[tuple[str, str]]:
        return [(cls, f"{name}()V")] if name in self.methods.get(cls, ()) else []


TASK, RUNNER, HANDLER = "Lapp/Task;", "Lapp/Runner;", "Lapp/Ui;"
WORLD = _Classes(
    supers={
        TASK: ("Landroid/os/AsyncTask;",),
        RUNNER: ("Ljava/lang/Object;", "Ljava/lang/Runnable;"),
        HANDLER: ("Landroid/os/Handler;",),
    },
    methods={
        TASK: ("doInBackground", "onPostExecute", "onProgressUpdate"),
        RUNNER: ("run",),
        HANDLER: ("handleMessage",),
    },
)


def _resolve(owner: str, name: str, params: tuple[str, ...], objs: dict[int, set]):
    found = edges.resolve(WORLD, owner, name, params, lambda i: frozenset(objs.get(i, ())))
    return sorted((e.name, key[0], key[1].split("(")[0]) for e, key, _on in found)


def test_execute_runs_do_in_background_then_on_post_execute() -> None:
    got = _resolve(TASK, "execute", ("[Ljava/lang/Object;",), {})
    assert ("asynctask.execute", TASK, "doInBackground") in got
    (execute,) = [e for e in edges.EDGES if e.name == "asynctask.execute"]
    assert execute.then == "onPostExecute" and execute.carries_data


def test_a_runnable_is_found_by_its_allocation() -> None:
    new = {("new", 4, RUNNER)}
    got = _resolve("Ljava/util/concurrent/ExecutorService;", "execute",
                   ("Ljava/lang/Runnable;",), {1: new})  # fmt: skip
    assert got == [("executor.execute", RUNNER, "run")]
    # The same call on an app class that is not an executor is no hand-off of the table.
    assert _resolve(TASK, "submit", ("Ljava/lang/Runnable;",), {1: new}) == []


def test_a_message_to_a_framework_handler_reaches_the_app_handlers() -> None:
    got = _resolve("Landroid/os/Handler;", "sendMessage", ("Landroid/os/Message;",), {})
    assert got == [("handler.sendMessage", HANDLER, "handleMessage")]


def test_a_runnable_hand_off_carries_no_data() -> None:
    (post,) = [e for e in edges.EDGES if e.name == "handler.post"]
    assert not post.carries_data  # the Runnable reads its fields: no neighbourhood edge
    assert "handleMessage" in edges.target_names() and "run" not in edges.target_names()


def test_unreachable_loop_stays_likely_when_the_running_copy_is_uncertain(audit) -> None:
    """A duplicate classes.dex: which copy of MainActivity runs is not proven, so the bulk
    loop that only the second copy calls is not proven unreachable."""
    result = audit(REPO / "fixtures" / "edge" / "duplicate-dex.apk")
    assert result.verdicts.bulk_sms_to_contacts is Level.LIKELY
