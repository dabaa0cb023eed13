"""Code stage: the lean DEX reader and the index of watched API references.

Owns the dex reader (:mod:`.dex`), the watched-API catalogue (:mod:`.catalogue`, data), the
code index built from it (:mod:`.index`: ``DexSet`` and ``CodeIndex``) and attribution of
classes to the app or a named SDK (:mod:`.attribution`).
"""
