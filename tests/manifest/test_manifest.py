"""Manifest facts and the androguard adapter, on real third-party APKs and hand-written input.

The real APKs live outside the repository (../shared/real-apks, present in CI; some are live
malware: only parsed here). The manifest bytes are read with zipfile in the test itself: the
project's loader is tested elsewhere.
"""

from __future__ import annotations

import contextlib
import re
import zipfile
from pathlib import Path

import pytest
from conftest import require_real

from apkaudit.errors import InputError
from apkaudit.limits import DEFAULT_LIMITS
from apkaudit.load import signing
from apkaudit.load.zipscan import Archive, ArchiveError
from apkaudit.manifest import androguard_adapter as adapter
from apkaudit.manifest import arsc as arsc_table
from apkaudit.manifest import platform
from apkaudit.manifest.decode import manifest_xml
from apkaudit.manifest.parse import ANDROID_NS, parse_manifest
from apkaudit.model import Certificate, Component, ManifestFacts

HEX64 = re.compile(r"^[0-9a-f]{64}$")
P = "android.permission."
HARVEST_PERMISSIONS = (P + "READ_CONTACTS", P + "READ_SMS", P + "SEND_SMS", P + "READ_CALL_LOG")


def real_apk(name: str) -> Path:
    """A real APK by name: fails in CI when the folder is missing, skips elsewhere."""
    return require_real() / name


def file_certificates(path: str) -> tuple[Certificate, ...]:
    """The signers of an APK on disk, as the load stage reads them; () when it is no zip."""
    with open(path, "rb") as fh:
        try:
            return signing.certificates(Archive(fh, fh.seek(0, 2), DEFAULT_LIMITS))
        except ArchiveError:
            return ()


def entries(name: str) -> tuple[bytes, bytes | None]:
    with zipfile.ZipFile(real_apk(name)) as zf:
        names = set(zf.namelist())
        arsc = zf.read("resources.arsc") if "resources.arsc" in names else None
        return zf.read("AndroidManifest.xml"), arsc


def facts(name: str) -> ManifestFacts:
    raw, arsc = entries(name)
    path = str(real_apk(name))
    return parse_manifest(manifest_xml(raw, path), arsc=arsc, certificates=file_certificates(path))


def component(m: ManifestFacts, name: str) -> Component:
    found = [c for c in m.components if c.name == name]
    assert found, f"{name} not among {[c.name for c in m.components]}"
    return found[0]


# --------------------------------------------------------------------------- real APKs


@pytest.mark.real
def test_ahmyth_harvester_permissions_are_dangerous():
    m = facts("harvester-ahmyth.apk")
    assert m.identity.package == "ahmyth.mine.king.ahmyth"
    assert (m.identity.min_sdk, m.identity.target_sdk) == (10, 18)
    levels = {p.name: p.protection_level for p in m.permissions}
    for name in HARVEST_PERMISSIONS:
        assert levels[name] == "dangerous"
    receiver = component(m, "ahmyth.mine.king.ahmyth.MyReceiver")
    assert receiver.exported is True  # no attribute, but it has an intent filter
    assert component(m, "ahmyth.mine.king.ahmyth.MainService").exported is False


@pytest.mark.real
def test_label_resource_reference_is_resolved():
    raw, arsc = entries("harvester-ahmyth.apk")
    root = manifest_xml(raw, "ahmyth")
    app = root.find("application")
    assert app.get(f"{{{ANDROID_NS}}}label") == "@7F060000"
    assert arsc_table.resolve_label("@7F060000", arsc) == "AhMyth"
    assert parse_manifest(root, arsc=arsc).identity.label == "AhMyth"
    # Without the resource table (or for a framework reference) the raw value comes back.
    assert parse_manifest(root).identity.label == "@7F060000"
    assert arsc_table.resolve_label("@android:0104000A", arsc) == "@android:0104000A"
    assert arsc_table.resolve_label("Plain name", arsc) == "Plain name"


@pytest.mark.real
def test_unsigned_apk_has_no_certificates():
    assert file_certificates(str(real_apk("harvester-ahmyth.apk"))) == ()


@pytest.mark.real
def test_smssync_sms_received_receiver():
    m = facts("legit-smssync.apk")
    assert m.identity.package == "org.addhen.smssync"
    hits = m.receivers_for("android.provider.Telephony.SMS_RECEIVED")
    assert [(c.name, c.exported, f.priority) for c, f in hits] == [
        ("org.addhen.smssync.receivers.SmsReceiver", True, None)
    ]
    assert m.application_class == "org.addhen.smssync.MainApplication"
    assert m.debuggable is True
    # The manifest writes enabled="false" without the android: prefix; Android ignores it.
    assert component(m, "org.addhen.smssync.receivers.ConnectivityChangedReceiver").enabled


@pytest.mark.real
def test_anubis_worm_is_a_default_sms_candidate_with_priority():
    m = facts("smsworm-anubis-fakecontact.apk")
    assert m.identity.label == "COVID-19"  # a literal label, not a reference
    assert m.default_sms_candidate is True
    hits = m.receivers_for("android.provider.Telephony.SMS_RECEIVED")
    assert [(c.name, f.priority) for c, f in hits] == [
        ("anubis.bot.myapplication.Receiver.ReceiverBoot", 999)
    ]
    deliver = m.receivers_for("android.provider.Telephony.SMS_DELIVER")
    assert [c.permission for c, _ in deliver] == ["android.permission.BROADCAST_SMS"]


@pytest.mark.real
def test_politedroid_requests_none_of_the_harvest_permissions():
    m = facts("negative-politedroid.apk")
    assert m.identity.package == "com.politedroid"
    assert m.identity.label == "Polite Droid"
    for name in HARVEST_PERMISSIONS:
        assert not m.has_permission(name)
    assert m.has_permission(P + "READ_CALENDAR")
    update = component(m, "com.politedroid.Update")
    assert ("content",) in [f.schemes for f in update.intent_filters]
    assert m.default_sms_candidate is False


@pytest.mark.real
def test_packed_dsencrypt_components():
    m = facts("packed-dsencrypt.apk")
    assert m.identity.package == "com.sdwiurse"
    assert m.identity.label == "googl app stoy"
    assert (m.identity.min_sdk, m.identity.target_sdk) == (1, 1)  # no <uses-sdk> at all
    assert m.application_class == "com.kbstar.kb.android.star.ProxyApp"
    assert m.debuggable is True
    assert m.allow_backup is True
    main = component(m, "com.kbstar.kb.android.star.MainA")
    assert main.kind == "activity"
    assert "android.intent.category.LAUNCHER" in main.intent_filters[0].categories
    receiver = component(m, "com.kbstar.kb.android.receiver.openActivityReceiver")
    assert receiver.intent_filters[0].priority == 2147483647
    assert "android.provider.Telephony.SMS_RECEIVED" in receiver.intent_filters[0].actions
    admin = component(m, "com.kbstar.kb.android.star.MDAR")
    assert admin.permission == "android.permission.BIND_DEVICE_ADMIN"
    levels = {p.name: p.protection_level for p in m.permissions}
    assert levels[P + "READ_CONTACTS"] == "dangerous"


@pytest.mark.real
def test_certificates_of_v1_signed_app():
    certs = file_certificates(str(real_apk("negative-politedroid.apk")))
    assert [c.scheme for c in certs] == ["v1"]
    cert = certs[0]
    assert HEX64.match(cert.sha256)
    assert cert.sha256 == "32a23624c201b949f085996ba5ed53d40f703aca4989476949cae891022e0ed6"
    assert len(cert.sha1) == 40
    assert cert.subject.startswith("CN=Hans-Christoph Steiner, ")
    assert cert.subject.endswith("C=US")
    assert cert.issuer == cert.subject  # self-signed


@pytest.mark.real
def test_certificates_v2_only_and_deduplicated_across_schemes():
    (v2,) = file_certificates(str(real_apk("legit-appium-settings.apk")))
    assert v2.scheme == "v2"
    # RFC 4514 order: the last RDN of the DER sequence first (this one is CN, O, C in DER).
    assert v2.subject == "C=US, O=Android, CN=Android Debug"
    # Signed with v1, v2 and v3 by the same key: one certificate, first seen in v1.
    (large,) = file_certificates(str(real_apk("large-uiautomator2-server.apk")))
    assert large.scheme == "v1"
    assert large.serial == "936eacbe07f201df"


@pytest.mark.real
@pytest.mark.parametrize("name", ["malformed-bare-dex.apk", "malformed-truncated.apk"])
def test_certificates_of_non_zip_are_empty(name):
    assert file_certificates(str(real_apk(name))) == ()


@pytest.mark.real
def test_queries_all_packages_and_max_sdk():
    m = facts("large-uiautomator2-server.apk")
    assert m.queries_all_packages is True
    bluetooth = [p for p in m.permissions if p.name == P + "BLUETOOTH"]
    assert [(p.max_sdk, p.protection_level) for p in bluetooth] == [(30, "normal")]


# --------------------------------------------------------------------------- permission data


def test_get_accounts_became_dangerous_in_api_23():
    assert platform.protection_level(P + "GET_ACCOUNTS", 22) == "normal"
    assert platform.protection_level(P + "GET_ACCOUNTS", 23) == "dangerous"
    assert platform.protection_level(P + "GET_ACCOUNTS", None) == "dangerous"


def test_protection_level_spelling_and_clamping():
    # AOSP data spells this "signatureOrSystem" / "system|signature" in old releases.
    assert platform.protection_level(P + "INSTALL_PACKAGES", 19) == "signature|privileged"
    assert platform.protection_level(P + "INSTALL_PACKAGES", 34) == "signature|privileged"
    # "dangerous|instant" in the data: the instant-app flag is dropped.
    assert platform.protection_level(P + "READ_PHONE_NUMBERS", 34) == "dangerous"
    assert platform.protection_level("com.example.CUSTOM", 30) == "unknown"
    # Out of range and in gaps: the nearest lower data set (lowest for very old levels).
    assert platform.protection_level(P + "READ_SMS", 1) == "dangerous"
    assert platform.protection_level(P + "READ_SMS", 10_000) == "dangerous"
    assert platform.protection_level(P + "READ_PHONE_NUMBERS", 11) == "unknown"


# --------------------------------------------------------------------------- hand-written input

HAND_MANIFEST = b"""<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android"
    xmlns:tools="http://schemas.android.com/tools"
    package="com.example.lend" android:versionCode="0x10" android:versionName="2.1">
  <uses-sdk android:minSdkVersion="16" />
  <uses-permission android:name="android.permission.READ_CONTACTS" />
  <uses-permission-sdk-23 android:name="android.permission.READ_CALL_LOG" />
  <uses-permission android:name="android.permission.WRITE_EXTERNAL_STORAGE"
      android:maxSdkVersion="18" />
  <uses-permission />
  <uses-permission android:name="android.permission.GET_ACCOUNTS" />
  <uses-permission android:name="android.permission.QUERY_ALL_PACKAGES" />
  <application android:name=".LendApp" android:label="Quick Loan"
      android:allowBackup="false" android:usesCleartextTraffic="true">
    <activity android:name=".Main">
      <intent-filter>
        <action android:name="android.intent.action.MAIN" />
        <category android:name="android.intent.category.LAUNCHER" />
      </intent-filter>
    </activity>
    <activity android:name="ComposeSms" android:exported="false">
      <intent-filter>
        <action android:name="android.intent.action.SENDTO" />
        <data android:scheme="sms" />
        <data android:scheme="smsto" />
      </intent-filter>
    </activity>
    <activity android:name="com.other.Empty">
      <intent-filter><category android:name="android.intent.category.DEFAULT" /></intent-filter>
    </activity>
    <receiver android:name=".sms.Deliver" android:permission="android.permission.BROADCAST_SMS">
      <intent-filter android:priority="999">
        <action android:name="android.provider.Telephony.SMS_DELIVER" />
      </intent-filter>
    </receiver>
    <receiver android:name=".sms.Wap" android:enabled="false">
      <intent-filter android:priority="high">
        <action android:name="android.provider.Telephony.WAP_PUSH_DELIVER" />
        <data android:mimeType="application/vnd.wap.mms-message" />
      </intent-filter>
    </receiver>
    <service android:name=".sms.Respond" android:exported="maybe">
      <intent-filter>
        <action android:name="android.intent.action.RESPOND_VIA_MESSAGE" />
      </intent-filter>
    </service>
    <service android:name=".Quiet" />
    <provider android:name=".Files" android:authorities="com.example.lend.files" />
    <receiver android:label="no class name, skipped" />
    <receiver android:name="" />
    <!-- a comment among the components -->
    <unknown-element android:name=".Nothing" />
  </application>
</manifest>
"""


def hand_facts(text: bytes = HAND_MANIFEST) -> ManifestFacts:
    return parse_manifest(manifest_xml(text, "hand.xml"))


def test_hand_manifest_identity_and_flags():
    m = hand_facts()
    assert m.identity.package == "com.example.lend"
    assert m.identity.label == "Quick Loan"
    assert (m.identity.version_code, m.identity.version_name) == ("16", "2.1")
    assert (m.identity.min_sdk, m.identity.target_sdk) == (16, 16)  # target defaults to min
    assert m.application_class == "com.example.lend.LendApp"
    assert (m.debuggable, m.allow_backup, m.uses_cleartext_traffic) == (False, False, True)
    assert m.queries_all_packages is True


def test_hand_manifest_permissions():
    perms = {p.name: p for p in hand_facts().permissions}
    assert "" not in perms  # the nameless <uses-permission/> is skipped
    call_log = perms[P + "READ_CALL_LOG"]
    assert (call_log.element, call_log.protection_level) == ("uses-permission-sdk-23", "dangerous")
    assert perms[P + "WRITE_EXTERNAL_STORAGE"].max_sdk == 18
    assert perms[P + "READ_CONTACTS"].element == "uses-permission"
    assert perms[P + "GET_ACCOUNTS"].protection_level == "normal"  # targetSdk 16


def test_hand_manifest_components_and_exported_defaults():
    m = hand_facts()
    names = {c.name for c in m.components}
    assert "com.example.lend.Main" in names  # leading dot
    assert "com.example.lend.ComposeSms" in names  # bare name
    assert "com.other.Empty" in names  # fully qualified kept
    assert not any("Nothing" in n for n in names)  # unknown element kinds are not components
    assert "" not in names

    assert component(m, "com.example.lend.Main").exported is True  # filter, no attribute
    assert component(m, "com.example.lend.ComposeSms").exported is False  # explicit wins
    # A filter without <action> is dropped by the platform: no filter, so not exported.
    empty = component(m, "com.other.Empty")
    assert (empty.exported, empty.intent_filters) == (False, ())
    assert component(m, "com.example.lend.Quiet").exported is False
    # targetSdk 16 < 17: providers are exported by default.
    assert component(m, "com.example.lend.Files").exported is True
    # "maybe" is no boolean: the default applies (it has a filter).
    assert component(m, "com.example.lend.sms.Respond").exported is True

    deliver = component(m, "com.example.lend.sms.Deliver")
    assert deliver.permission == "android.permission.BROADCAST_SMS"
    assert deliver.intent_filters[0].priority == 999
    wap = component(m, "com.example.lend.sms.Wap")
    assert wap.enabled is False
    assert wap.intent_filters[0].priority is None  # "high" is no integer
    assert wap.intent_filters[0].mime_types == ("application/vnd.wap.mms-message",)
    assert m.default_sms_candidate is True


def test_provider_default_not_exported_from_api_17():
    text = HAND_MANIFEST.replace(
        b'<uses-sdk android:minSdkVersion="16" />',
        b'<uses-sdk android:minSdkVersion="16" android:targetSdkVersion="30" />',
    )
    m = hand_facts(text)
    assert m.identity.target_sdk == 30
    assert component(m, "com.example.lend.Files").exported is False
    assert {p.name: p.protection_level for p in m.permissions}[P + "GET_ACCOUNTS"] == "dangerous"


def test_default_sms_candidate_needs_every_component():
    text = HAND_MANIFEST.replace(b"android.intent.action.RESPOND_VIA_MESSAGE", b"x.OTHER")
    assert hand_facts(text).default_sms_candidate is False


def test_application_permission_and_enabled_are_inherited():
    text = HAND_MANIFEST.replace(
        b'<application android:name=".LendApp"',
        b'<application android:enabled="false" android:permission="com.example.GUARD"'
        b' android:name=".LendApp"',
    )
    m = hand_facts(text)
    main = component(m, "com.example.lend.Main")
    assert (main.permission, main.enabled) == ("com.example.GUARD", False)
    deliver = component(m, "com.example.lend.sms.Deliver")
    assert deliver.permission == "android.permission.BROADCAST_SMS"


# --------------------------------------------------------------------------- hostile input


def test_text_manifest_entities_are_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    text = (
        f'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<manifest package="p.q"><application '
        'xmlns:android="http://schemas.android.com/apk/res/android" android:label="&x;"/>'
        "</manifest>"
    ).encode()
    try:
        m = hand_facts(text)
    except InputError:
        return  # refusing the document is as good as not resolving the entity
    assert "TOP-SECRET" not in m.identity.label


@pytest.mark.parametrize("raw", [b"", b"\x03\x00", b"\x03\x00\x08\x00" + b"\xff" * 64, b"<man"])
def test_garbage_manifest_is_an_input_error(raw):
    with pytest.raises(InputError) as info:
        manifest_xml(raw, "bad.apk")
    assert info.value.path == "bad.apk"
    assert "\n" not in str(info.value)


@pytest.mark.real
def test_truncated_binary_manifest_gives_partial_facts_or_input_error():
    raw, _ = entries("legit-smssync.apk")
    for cut in range(0, len(raw), 97):
        try:
            root = manifest_xml(raw[:cut], "cut.apk")
        except InputError:
            continue
        m = parse_manifest(root)  # must not raise
        assert m.identity.package in ("", "org.addhen.smssync")


@pytest.mark.real
def test_reading_corrupt_resources_and_signatures_stays_silent(capfd):
    adapter.quiet()  # as the lenient manifest path does before it first uses androguard
    raw, arsc = entries("harvester-ahmyth.apk")
    assert arsc is not None
    broken = bytearray(arsc)
    broken[1098] = 0xFF  # made androguard's ARSCComplex print() "out of bound"
    arsc_table.resolve_label("@7F060000", bytes(broken))
    file_certificates(str(real_apk("malformed-truncated.apk")))
    for cut in (100, 1000, 3000):
        with contextlib.suppress(InputError):
            manifest_xml(raw[:cut], "cut.apk")
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
