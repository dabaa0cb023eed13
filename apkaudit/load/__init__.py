"""Load stage: open an input safely and hand its parts on.

Owns container sniffing (:mod:`.bundle`: apk, xapk, apks, apkm, folder, aab), the bounded zip
reader (:mod:`.zipscan`), the assembly of one :class:`~apkaudit.load.loader.LoadedApp` from an
APK or a bundle with every limit applied before anything is inflated (:mod:`.loader`), and the
launcher icon (:mod:`.icon`).
"""
