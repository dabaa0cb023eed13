"""Open an app safely: sniff the container, check limits before inflating anything, collect.

Inputs: an APK; a split bundle (``.xapk``, ``.apks``, ``.apkm``, or a folder of split APKs,
:mod:`.splits`); an Android App Bundle (``.aab``, :mod:`.aab`). The result is one
:class:`LoadedApp` (:mod:`.app`): the base manifest, the manifests of the other splits, the dex
files of every split and of code hidden in assets, every entry's name (for hidden-code
detection), and blind spots for whatever was odd or left out (:mod:`.collect`). This module is
the load stage's entry point: ``load_app``, ``LoadedApp``, ``ZipEntry``, ``read_entry(ies)``.
"""

from __future__ import annotations

import os

from apkaudit.errors import InputError
from apkaudit.limits import DEFAULT_LIMITS, Limits
from apkaudit.load import bundle, signing
from apkaudit.load.aab import add_aab
from apkaudit.load.app import LoadedApp, ZipEntry
from apkaudit.load.collect import Collector
from apkaudit.load.extras import read_entries, read_entry
from apkaudit.load.files import (
    file_size,
    hashes,
    no_manifest_reason,
    open_archive,
    open_regular,
)
from apkaudit.load.splits import add_bundle, load_dir
from apkaudit.model import InputInfo

__all__ = ["LoadedApp", "ZipEntry", "load_app", "read_entries", "read_entry"]


def load_app(
    path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS, *, legacy_digests: bool = True
) -> LoadedApp:
    """Load one app. Raises :class:`InputError` with a one-line reason on bad input.
    ``legacy_digests``: also the file's sha1 and md5 (else "")."""
    spath = os.fspath(path)
    if os.path.isdir(spath):
        return load_dir(spath, limits)
    size = file_size(spath, limits)
    with open_regular(spath) as fh:
        sha256, sha1, md5 = hashes(fh, legacy=legacy_digests)
        arch = open_archive(spath, fh, size, limits)
        kind = bundle.classify([e.name for e in arch.entries], spath)
        col = Collector(spath, limits)
        if kind == "apk":
            manifest, arsc = col.add_apk(arch, "", depth=0, role="base")
            col.parts.append(os.path.basename(spath))
            certs = signing.certificates(arch)
        elif kind == "aab":
            manifest, arsc, certs = add_aab(col, arch), None, signing.certificates(arch)
        elif kind in bundle.BUNDLE_KINDS:
            manifest, arsc, certs = add_bundle(col, arch, kind)
        else:
            raise InputError(spath, no_manifest_reason(arch))
    info = InputInfo(path=spath, sha256=sha256, size=size, container=kind, sha1=sha1, md5=md5)
    return col.finish(info, manifest, arsc, certs, "proto" if kind == "aab" else "axml")
