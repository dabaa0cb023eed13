"""Objects the framework delivers to a method, whose contents live in whole-app stores: the
Intent a component's entry method receives (``("intent", component)``: what senders put into
it, the ICC store of icc.py) and an activity's saved-state Bundle (``("saved", class)``,
saved_state.py). The keyed reads of the method itself (containers.py) and of the helpers it
hands the object to (heap.deref, applying a callee's summary) read the same store.
"""

from __future__ import annotations

from apkaudit.behaviour.context import Frame
from apkaudit.behaviour.values import EMPTY, Label, Obj

KINDS = ("intent", "saved")
_ANY = "k:*"  # heap.ANY_KEY: a put under a key that is not a constant


def store_key(o: Obj, key: str) -> str:
    """The store of what ``o`` holds under ``key`` (``"k:NAME"``)."""
    prefix = "icc" if o[0] == "intent" else "saved"
    return f"{prefix}:{o[1]}:{key}"


def read(m: Frame, o: Obj, key: str) -> frozenset[Label]:
    """What a delivered object holds under ``key`` (and under keys not known as constants)."""
    if not o or o[0] not in KINDS:
        return EMPTY
    got = m.ctx.read_field(store_key(o, key)).labels
    if key != _ANY:
        got = got | m.ctx.read_field(store_key(o, _ANY)).labels
    return got
