"""Load stage: open an input safely and hand its parts on.

Owns container sniffing (:mod:`.bundle`: apk, xapk, apks, apkm, folder, aab), the bounded zip
reader (:mod:`.zipscan`), the outer file's checks and hashes (:mod:`.files`), the collection of
one app's manifests, dex files and entries with every limit applied before anything is inflated
(:mod:`.collect`, :mod:`.entries`), split bundles and folders (:mod:`.splits`), app bundles
(:mod:`.aab`), small extra entries (:mod:`.extras`) and the launcher icon (:mod:`.icon`). The
entry point is :mod:`.loader`: ``load_app`` returns a :class:`~apkaudit.load.app.LoadedApp`.
"""
