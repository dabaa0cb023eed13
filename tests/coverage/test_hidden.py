"""Hidden code as coverage (issue 4, part 2): packers, frameworks, native code, dynamic loading,
encrypted payloads and code hidden in assets, each a named blind spot; never a clean bill.

``packed-stub`` (fixtures/edge/src/packed-stub): the only dex is a StubApp that decrypts
``assets/payload.bin`` (a java.util.Random keystream over a dex) and opens it with
DexClassLoader; the manifest's MainActivity and SyncService are in no dex. ``asset-dex``: a plain
dex in ``assets/plugin.dex`` reads the contacts and is loaded at run time.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from conftest import REPO, fixture_apk, report_of

from apkaudit.audit import audit_app
from apkaudit.coverage.hidden import NOTICE_KINDS, load_markers
from apkaudit.model import AppResult
from apkaudit.report.html import render_html

EDGE = REPO / "fixtures" / "edge"
CLEAN = fixture_apk("clean")


def kinds(result: AppResult) -> list[str]:
    return [b.kind for b in result.coverage.blind_spots]


def detail(result: AppResult, kind: str) -> str:
    (found,) = [b.detail for b in result.coverage.blind_spots if b.kind == kind]
    return found


def with_entries(tmp_path: Path, extra: dict[str, bytes], base: Path = CLEAN) -> Path:
    path = tmp_path / "app.apk"
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info in src.infolist():
            zf.writestr(info.filename, src.read(info))
        for name, data in extra.items():
            zf.writestr(name, data)
    return path


# --------------------------------------------------------------------------- fixtures


def test_packed_stub_is_inconclusive_with_named_reasons(audit) -> None:
    result = audit(EDGE / "packed-stub.apk")
    assert result.status == "ok"
    assert kinds(result) == ["dynamic_code", "missing_class", "encrypted_asset"]
    assert "DexClassLoader at com.apkaudit.fixture.packedstub.StubApp.attachBaseContext" in (
        detail(result, "dynamic_code")
    )
    assert detail(result, "missing_class") == (
        "2 manifest component class(es) are in no dex file: "
        "com.apkaudit.fixture.packedstub.MainActivity, com.apkaudit.fixture.packedstub.SyncService"
    )
    assert detail(result, "encrypted_asset").startswith(
        "encrypted or obfuscated payload(s) assets/payload.bin (64 KiB)"
    )
    assert result.coverage.complete is False
    # Permissions alone: never "none", never "confirmed".
    v = result.verdicts.as_dict()
    assert v["sms_send"] == "possible" and v["contacts_read"] == "possible"


def test_packed_stub_html_says_inconclusive(audit) -> None:
    result = audit(EDGE / "packed-stub.apk")
    html = render_html(report_of(result))
    assert "Inconclusive: part of the code is hidden from analysis" in html
    assert "encrypted payload" in html and "assets/payload.bin" in html
    assert "No sign that this app" not in html


def test_plain_dex_in_assets_is_analysed_with_its_origin(audit) -> None:
    result = audit(EDGE / "asset-dex.apk")
    assert result.status == "ok"
    assert result.code.dex_files == ("classes.dex", "assets/plugin.dex")
    dexes = {r.location.dex for r in result.code.refs if r.api_id.startswith("contacts.")}
    assert dexes == {"assets/plugin.dex"}
    assert result.verdicts.contacts_read.value in ("likely", "confirmed")
    assert detail(result, "embedded_code") == "assets/plugin.dex: a dex file in the APK, analysed"
    assert "DexClassLoader" in detail(result, "dynamic_code")
    assert result.coverage.complete is False  # what DexClassLoader opens is decided at run time


def test_jar_in_assets_is_analysed_as_code(tmp_path: Path) -> None:
    dex = zipfile.ZipFile(fixture_apk("loan-bulk-sms")).read("classes.dex")
    jar = tmp_path / "x.jar"
    with zipfile.ZipFile(jar, "w") as zf:
        zf.writestr("classes.dex", dex)
    result = audit_app(with_entries(tmp_path, {"assets/sdk/x.jar": jar.read_bytes()}))
    sends = {r.location.dex for r in result.code.refs if r.api_id.startswith("sms.send.")}
    assert sends == {"assets/sdk/x.jar!classes.dex"}
    assert detail(result, "embedded_code") == (
        "assets/sdk/x.jar: a code archive in the APK; its dex analysed"
    )


def test_code_nested_too_deep_is_a_blind_spot(tmp_path: Path) -> None:
    dex = zipfile.ZipFile(fixture_apk("loan-bulk-sms")).read("classes.dex")
    inner, outer = tmp_path / "inner.jar", tmp_path / "outer.jar"
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("classes.dex", dex)
    with zipfile.ZipFile(outer, "w") as zf:
        zf.writestr("assets/inner.jar", inner.read_bytes())
    from apkaudit.audit import AuditOptions
    from apkaudit.limits import Limits

    path = with_entries(tmp_path, {"assets/outer.jar": outer.read_bytes()})
    shallow = audit_app(path, AuditOptions(limits=Limits().override(max_nesting=1)))
    assert detail(shallow, "limit") == (
        "assets/outer.jar!assets/inner.jar: code archive nested too deep (limit 1)"
    )
    deep = audit_app(path)  # default nesting 2: APK -> outer.jar -> inner.jar
    assert "assets/outer.jar!assets/inner.jar!classes.dex" in deep.code.dex_files


@pytest.mark.real
def test_dsencrypt_real_packed_app(audit) -> None:
    from conftest import require_real

    result = audit(require_real() / "packed-dsencrypt.apk")
    assert kinds(result) == [
        "missing_class",
        "encrypted_asset",
        "runtime_exec",
        "reflection_unresolved_other",
    ]
    assert "assets/ds (592 KiB)" in detail(result, "encrypted_asset")
    # The stub's shell helper (issue 12.3: Runtime.exec is a blind spot of its own).
    assert "DesUtils$CommandRun.run" in detail(result, "runtime_exec")
    assert result.coverage.complete is False


@pytest.mark.real
def test_sdk_class_loaders_are_a_notice(audit) -> None:
    from conftest import require_real

    result = audit(require_real() / "large-uiautomator2-server.apk")
    assert detail(result, "dynamic_code_sdk").startswith(
        "class loaders in SDK code only (AndroidX)"
    )
    assert result.coverage.complete  # MultiDex loads the app's own secondary dex files


# --------------------------------------------------------------------------- markers


@pytest.mark.parametrize(
    ("entry", "vendor"),
    [
        ("lib/arm64-v8a/libjiagu_a64.so", "360 Jiagu (Qihoo 360)"),
        ("assets/libjiagu.so", "360 Jiagu (Qihoo 360)"),
        ("lib/armeabi-v7a/libDexHelper.so", "Bangcle / SecNeo"),
        ("assets/classes0.jar", "Bangcle / SecNeo"),
        ("assets/ijiami.dat", "ijiami"),
        ("lib/arm64-v8a/libshella-4.1.0.27.so", "Tencent Legu"),
        ("lib/armeabi/libbaiduprotect.so", "Baidu"),
        ("assets/dp.arm-v7.so.dat", "DexProtector"),
    ],
)
def test_packer_file_markers(tmp_path: Path, entry: str, vendor: str) -> None:
    result = audit_app(with_entries(tmp_path, {entry: b"\x7fELF" + bytes(60)}))
    text = detail(result, "packer")
    assert text.startswith(f"{vendor} protector ({entry})")
    assert text.endswith("the app's real code is encrypted in the APK and unpacked at run time")
    assert result.coverage.complete is False
    assert "native_code" not in kinds(result)  # the packer's library is explained by the packer


def test_packer_class_marker_in_the_manifest(tmp_path: Path) -> None:
    # A Bangcle-style app: the application class is the wrapper, present in no dex.
    from apkaudit.code.index import open_dex_set
    from apkaudit.coverage.hidden import _ClassIndex
    from apkaudit.load.loader import load_app

    dexset, _ = open_dex_set(load_app(CLEAN).dex)
    index = _ClassIndex(dexset, "com.secneo.apkwrapper.ApplicationWrapper")
    assert index.has("com.secneo.apkwrapper.")
    assert not index.has("com.stub.StubApp")
    assert _ClassIndex(dexset, None).has("com.apkaudit.fixture.clean.MainActivity")


@pytest.mark.parametrize(
    ("entries", "kind", "words"),
    [
        ({"lib/arm64-v8a/libapp.so": b"", "lib/arm64-v8a/libflutter.so": b""}, "flutter",
         "Flutter: Dart code compiled to native code"),
        ({"assets/index.android.bundle": b"var x;"}, "js_bundle", "React Native: JavaScript"),
        ({"assets/www/cordova.js": b"//", "assets/www/index.html": b"<p>"}, "web_assets",
         "Cordova / PhoneGap"),
        ({"assets/apps/__UNI__1234567/www/app-service.js": b"//"}, "web_assets", "uni-app"),
        ({"assemblies/App.dll": b"MZ", "lib/x86/libmonodroid.so": b""}, "dotnet", "Xamarin"),
    ],
)  # fmt: skip
def test_framework_markers(tmp_path: Path, entries: dict, kind: str, words: str) -> None:
    result = audit_app(with_entries(tmp_path, entries))
    assert words in detail(result, kind)
    assert result.coverage.complete is False
    assert "native_code" not in kinds(result)


def test_native_libraries_known_and_unknown(tmp_path: Path) -> None:
    known = audit_app(with_entries(tmp_path, {"lib/arm64-v8a/libsqlcipher.so": b"\x7fELF"}))
    assert kinds(known) == ["native_code_known"]
    assert "libsqlcipher.so: SQLCipher" in detail(known, "native_code_known")
    assert known.coverage.complete
    extra = {"lib/arm64-v8a/libsqlcipher.so": b"", "lib/arm64-v8a/libloan.so": b"",
             "lib/armeabi-v7a/libloan.so": b""}  # fmt: skip
    unknown = audit_app(with_entries(tmp_path, extra))
    assert detail(unknown, "native_code") == (
        "1 native library (libloan.so): compiled code is not analysed; it can call any Java "
        "API through JNI"
    )
    assert unknown.coverage.complete is False


def test_encrypted_data_without_a_loader_is_a_notice(tmp_path: Path) -> None:
    import random

    blob = random.Random(7).randbytes(48 << 10)
    result = audit_app(with_entries(tmp_path, {"assets/config.bin": blob}))
    assert detail(result, "encrypted_data").startswith(
        "high-entropy data in no known file format (assets/config.bin (48 KiB))"
    )
    assert result.coverage.complete
    # Media in a known format is never a payload, however dense.
    png = b"\x89PNG\r\n\x1a\n" + blob
    assert "encrypted_data" not in kinds(audit_app(with_entries(tmp_path, {"assets/a.png": png})))


def test_markers_catalogue_is_sourced() -> None:
    markers = load_markers()
    assert {m.name for m in markers.packers} >= {
        "360 Jiagu (Qihoo 360)", "Bangcle / SecNeo", "ijiami", "Tencent Legu", "Baidu",
        "DexProtector",
    }  # fmt: skip
    for m in (*markers.packers, *markers.frameworks, *markers.libraries):
        assert m.sources and all(s in markers.sources for s in m.sources), m.name
    assert {m.kind for m in markers.frameworks} == {"flutter", "js_bundle", "web_assets", "dotnet"}
    assert {"native_code_known", "dynamic_code_sdk", "embedded_code"} <= NOTICE_KINDS
