"""Where a source may be called by name: the app's own methods that call ``Method.invoke``.

A framework source called through reflection (``Class.forName("android.telephony.
TelephonyManager").getMethod("getDeviceId").invoke(tm)``) is no reference the code index
watches, so nothing would start a flow there. These methods are seeds like the sources the
index finds; the interpreter resolves the class and method names (models/reflection.py: names
held in fields, folded by string operations or the emulator) and makes a source only when they
name one. Library code is left out (it reflects for its own reasons, and would seed the
neighbourhood of every large app), and the list is bounded.
"""

from __future__ import annotations

from collections.abc import Callable

from apkaudit.code.index import DexSet
from apkaudit.errors import DexFormatError

MethodKey = tuple[str, str]
METHOD = "Ljava/lang/reflect/Method;"
MAX_SEEDS = 32


def reflective_invokers(dexset: DexSet, include: Callable[[str], bool]) -> set[MethodKey]:
    """App methods (classes ``include`` accepts) that call ``Method.invoke``, at most
    ``MAX_SEEDS`` of them."""
    out: set[MethodKey] = set()
    for dex in dexset.files:
        ids = {i for i, r in dex.methods_of(METHOD) if r.name == "invoke"}
        if not ids:
            continue
        for caller in sorted(dex.invokers(ids)):
            try:
                ref = dex.method_ref(caller)
            except DexFormatError:
                continue
            if ref.class_name in dexset.classes and include(ref.class_name):
                out.add((ref.class_name, ref.signature))
                if len(out) >= MAX_SEEDS:
                    return out
    return out
