"""An activity's (or fragment's) saved instance state: the Bundle the framework hands back.

What ``onSaveInstanceState(Bundle)`` puts into its Bundle, the platform gives back to the same
class when the activity (fragment) is recreated: to ``onCreate(Bundle)``,
``onRestoreInstanceState(Bundle)``, ``onPostCreate(Bundle)`` (fragments:
``onViewStateRestored``, ``onActivityCreated``, ``onCreateView``'s third argument). The Bundle
parameters of these methods are one object per class (``("saved", class)``); its puts and gets
(containers.py) go to a store keyed by (class, key) (delivered.py), as for an Intent's extras.
Android reference: Activity#onSaveInstanceState, Activity#onRestoreInstanceState,
Fragment#onSaveInstanceState.
"""

from __future__ import annotations

from apkaudit.behaviour.values import Obj

MethodKey = tuple[str, str]
BUNDLE = "Landroid/os/Bundle;"
SAVED = "saved"  # the object kind of the saved-state Bundle
# signature -> the (logical) index of its saved-state Bundle parameter
SAVES = {
    "onSaveInstanceState(Landroid/os/Bundle;)V": 1,
    "onSaveInstanceState(Landroid/os/Bundle;Landroid/os/PersistableBundle;)V": 1,
}
RESTORES = {
    "onCreate(Landroid/os/Bundle;)V": 1,
    "onCreate(Landroid/os/Bundle;Landroid/os/PersistableBundle;)V": 1,
    "onRestoreInstanceState(Landroid/os/Bundle;)V": 1,
    "onRestoreInstanceState(Landroid/os/Bundle;Landroid/os/PersistableBundle;)V": 1,
    "onPostCreate(Landroid/os/Bundle;)V": 1,
    "onPostCreate(Landroid/os/Bundle;Landroid/os/PersistableBundle;)V": 1,
    "onViewStateRestored(Landroid/os/Bundle;)V": 1,
    "onActivityCreated(Landroid/os/Bundle;)V": 1,
    "onCreateView(Landroid/view/LayoutInflater;Landroid/view/ViewGroup;Landroid/os/Bundle;)"
    "Landroid/view/View;": 3,
}


def entry_objs(key: MethodKey) -> dict[int, frozenset[Obj]]:
    """The saved-state Bundle parameter of a save or restore method (instance methods only:
    the signatures are the framework's overrides)."""
    cls, sig = key
    i = SAVES.get(sig) or RESTORES.get(sig)
    return {i: frozenset({(SAVED, cls)})} if i is not None else {}


def partners(methods: set[MethodKey]) -> set[MethodKey]:
    """The save methods of the classes whose restore methods are in ``methods`` and the other
    way round: the two ends of the saved state (they need not be near each other in the call
    graph; the framework calls both)."""
    classes = {cls for cls, sig in methods if sig in SAVES or sig in RESTORES}
    return {(c, s) for c in classes for s in (*SAVES, *RESTORES)} - methods
