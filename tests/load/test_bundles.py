"""Split bundles and app bundles (issue 4, part 1): every split analysed as one app.

The ``split-sms`` fixtures (fixtures/make_edge.py) hold a base APK whose only code is a
MainActivity calling ``sms.Reminder.remindAll``, a feature split holding that class (contacts ->
SMS loop) and a receiver declared only in the split's manifest, and an arm64 config split with a
native library. The SMS code is in the feature split alone.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import REPO

from apkaudit.audit import AuditOptions, audit_app
from apkaudit.limits import Limits
from apkaudit.load.loader import load_app, read_entry
from apkaudit.model import AppResult

EDGE = REPO / "fixtures" / "edge"
PKG = "com.apkaudit.fixture.splitsms"
FEATURE_DEX = {
    "split-sms.xapk": "split_feature_sms.apk!classes.dex",
    "split-sms.apks": "splits/feature_sms-master.apk!classes.dex",
    "split-sms.apkm": "split_feature_sms.apk!classes.dex",
    "split-sms-dir": "split_feature_sms.apk!classes.dex",
    "split-sms.aab": "feature_sms/dex/classes.dex",
}
CONTAINER = {"split-sms.xapk": "xapk", "split-sms.apks": "apks", "split-sms.apkm": "apkm",
             "split-sms-dir": "dir", "split-sms.aab": "aab"}  # fmt: skip


def run(path: Path, limits: Limits | None = None) -> AppResult:
    return audit_app(path, AuditOptions(limits=limits or Limits()))


@pytest.mark.parametrize("name", sorted(FEATURE_DEX))
def test_sms_code_in_a_split_is_found_and_located(name: str, audit) -> None:
    result = audit(EDGE / name)
    assert result.status == "ok", result.error
    assert result.input.container == CONTAINER[name]
    assert result.identity.package == PKG
    v = result.verdicts.as_dict()
    assert v["sms_send"] == "confirmed"
    assert v["bulk_sms_to_contacts"] == "confirmed"
    assert v["contacts_read"] == "confirmed"
    sends = {r.location.dex for r in result.code.refs if r.api_id.startswith("sms.send.")}
    assert sends == {FEATURE_DEX[name]}  # the evidence names the split
    chain_dexes = {h.location.dex for c in result.behaviours.chains for h in c.hops}
    assert FEATURE_DEX[name] in chain_dexes
    assert result.coverage.complete, result.coverage.blind_spots


@pytest.mark.parametrize("name", sorted(FEATURE_DEX))
def test_feature_split_manifest_is_merged(name: str, audit) -> None:
    result = audit(EDGE / name)
    names = {c.name for c in result.manifest.components}
    assert f"{PKG}.MainActivity" in names  # base
    assert f"{PKG}.sms.ReminderReceiver" in names  # only in the feature split's manifest
    assert result.manifest.has_permission("android.permission.SEND_SMS")
    assert result.identity.label == "SplitLoan"  # from the base manifest


@pytest.mark.parametrize("name", ["split-sms.xapk", "split-sms.apks", "split-sms-dir"])
def test_config_split_native_library_is_listed_with_its_split(name: str, audit) -> None:
    result = audit(EDGE / name)
    (known,) = [b for b in result.coverage.blind_spots if b.kind == "native_code_known"]
    assert "libc++_shared.so" in known.detail
    entries = [e.name for e in load_app(EDGE / name).entries if e.name.endswith(".so")]
    assert len(entries) == 1 and entries[0].endswith("!lib/arm64-v8a/libc++_shared.so")


def test_base_apk_alone_shows_no_sms_code() -> None:
    # The same base without its split: the SMS code and the receiver are missing.
    folder = EDGE / "split-sms-dir"
    result = audit_app(folder / "base.apk")
    assert result.status == "ok"
    assert result.verdicts.sms_send.value == "possible"  # SEND_SMS declared, no code visible
    assert not [r for r in result.code.refs if r.api_id.startswith("sms.send.")]


def test_parts_base_first_and_certificates_from_the_base() -> None:
    loaded = load_app(EDGE / "split-sms.xapk")
    assert loaded.parts == (f"{PKG}.apk", "config.arm64_v8a.apk", "split_feature_sms.apk")
    assert [c.subject for c in loaded.certificates] == ["CN=apkaudit fixture"]
    xapk = audit_app(EDGE / "split-sms.xapk")
    assert any(b.kind == "obb" for b in xapk.coverage.blind_spots)
    assert xapk.coverage.complete  # an OBB is data: listed, not hiding code


def test_aab_reads_the_protobuf_manifest() -> None:
    loaded = load_app(EDGE / "split-sms.aab")
    assert loaded.manifest_format == "proto"
    assert loaded.parts == ("base", "feature_sms")
    result = audit_app(EDGE / "split-sms.aab")
    ident = result.identity
    assert (ident.package, ident.version_code, ident.min_sdk, ident.target_sdk) == (
        PKG, "1", 26, 33
    )  # fmt: skip
    exported = {c.name: c.exported for c in result.manifest.components}
    assert exported == {f"{PKG}.MainActivity": True, f"{PKG}.sms.ReminderReceiver": False}


def test_aab_without_a_base_module_is_refused(tmp_path: Path) -> None:
    src = zipfile.ZipFile(EDGE / "split-sms.aab")
    path = tmp_path / "nobase.aab"
    with zipfile.ZipFile(path, "w") as zf:
        for info in src.infolist():
            if not info.filename.startswith("base/"):
                zf.writestr(info.filename.replace("feature_sms/", "other/"), src.read(info))
    result = audit_app(path)
    assert result.status == "error"
    assert result.error == f"{path}: Android App Bundle has no base module"


def test_bundle_of_splits_only_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nobase.xapk"
    with zipfile.ZipFile(path, "w") as zf:
        for name in ("split_feature_sms.apk", "split_config.arm64_v8a.apk"):
            zf.writestr(name, (EDGE / "split-sms-dir" / name).read_bytes())
    result = audit_app(path)
    assert result.status == "error"
    assert result.error == (
        f"{path}: xapk bundle has no readable base APK (2 APK(s), all splits or unreadable)"
    )  # both APKs read fine: no reasons to add, and not an "encrypted" hint (not an .apkm)


def test_encrypted_apkm_says_why(tmp_path: Path) -> None:
    # Older APKMirror bundles encrypt each APK: the error names every unreadable APK and says
    # encrypted .apkm files are not supported, rather than a bare "no base APK".
    path = tmp_path / "enc.apkm"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("info.json", '{"pname": "x"}')
        zf.writestr("base.apk", bytes(range(256)) * 64)
    result = audit_app(path)
    assert result.status == "error"
    assert result.error == (
        f"{path}: apkm bundle has no readable base APK (1 APK(s), all splits or unreadable: "
        "base.apk: not an APK: no zip archive structure found); "
        "encrypted .apkm files are not supported"
    )


def test_unreadable_split_is_a_blind_spot(tmp_path: Path) -> None:
    folder = tmp_path / "app"
    shutil.copytree(EDGE / "split-sms-dir", folder)
    (folder / "split_feature_sms.apk").write_bytes(b"PK\x03\x04 not really")
    result = audit_app(folder)
    assert result.status == "ok"
    spots = {b.kind: b.detail for b in result.coverage.blind_spots}
    assert spots["unreadable_split"].startswith("split_feature_sms.apk: ")
    assert result.coverage.complete is False
    assert result.verdicts.sms_send.value == "possible"


def test_nested_apk_over_the_entry_limit_is_a_blind_spot(tmp_path: Path) -> None:
    # .apkm stores its APKs deflated, so they are read into memory: bounded by the entry limit.
    src = zipfile.ZipFile(EDGE / "split-sms.apkm")
    path = tmp_path / "big-split.apkm"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "split_feature_sms.apk":
                data += bytes(range(256)) * 80  # bytes after the end record: still a valid zip
            zf.writestr(info.filename, data)
    result = run(path, Limits().override(max_entry_uncompressed=20_000))
    assert result.status == "ok", result.error
    spots = [b.detail for b in result.coverage.blind_spots if b.kind == "unreadable_split"]
    assert spots == [
        "split_feature_sms.apk: entry split_feature_sms.apk is 28.3 KiB, over the 19.5 KiB limit"
    ]
    assert result.coverage.complete is False
    assert result.verdicts.sms_send.value == "possible"
    everything = run(EDGE / "split-sms.apkm", Limits().override(max_entry_uncompressed=6000))
    error = everything.error or ""
    assert "apkm bundle has no readable base APK (3 APK(s), all splits or unreadable: " in error
    assert "over the 5.9 KiB limit" in error and "encrypted" not in error  # a limit, not crypto


def test_empty_folder_is_refused(tmp_path: Path) -> None:
    result = audit_app(tmp_path)
    assert result.status == "error"
    assert result.error == f"{tmp_path}: folder holds no .apk files"


def test_zip_without_apks_or_manifest_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.xapk"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    result = audit_app(path)
    assert result.error == f"{path}: zip archive has no AndroidManifest.xml: not an APK"


def test_read_entry_reaches_into_bundles() -> None:
    dex = read_entry(EDGE / "split-sms.xapk", "classes.dex", 1 << 20)
    assert dex is not None and dex.startswith(b"dex\n")
    assert read_entry(EDGE / "split-sms-dir", "lib/arm64-v8a/libc++_shared.so", 1 << 20)
    assert read_entry(EDGE / "split-sms.xapk", "no/such/entry", 1 << 20) is None
    assert read_entry(EDGE / "split-sms.xapk", "classes.dex", 10) is None  # over the limit


def test_standalone_apks_are_ignored_when_splits_exist(tmp_path: Path) -> None:
    # bundletool puts full pre-Lollipop APKs in standalones/; the splits describe the same app.
    src = zipfile.ZipFile(EDGE / "split-sms.apks")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for info in src.infolist():
            zf.writestr(info, src.read(info))
        zf.writestr("standalones/standalone-arm64_v8a.apk", src.read("splits/base-master.apk"))
    path = tmp_path / "with-standalone.apks"
    path.write_bytes(buf.getvalue())
    assert load_app(path).parts == (
        "splits/base-master.apk", "splits/base-arm64_v8a.apk", "splits/feature_sms-master.apk"
    )  # fmt: skip
