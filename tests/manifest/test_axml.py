"""The binary-XML reader against the layouts Android accepts (issue 12): each trick must give
the permissions, components and identity that the device would see."""

from __future__ import annotations

import dataclasses
import time

import axmlgen
import pytest
from axmlgen import ANDROID_NS, Attr, El, Layout, app, encode

from apkaudit.errors import InputError
from apkaudit.manifest import platform as ag
from apkaudit.manifest.decode import decode
from apkaudit.manifest.parse import parse_manifest
from apkaudit.model import ManifestFacts

TRICKS = {
    "another-namespace": Layout(android_uri="http://schemas.android.com/apk/res/androidx"),
    "no-namespace": Layout(no_namespace=True),
    "stripped-names": Layout(strip_names=True),
    "stripped-names-no-namespace": Layout(strip_names=True, no_namespace=True),
    "big-node-header": Layout(node_header=24),
    "attribute-start-28": Layout(attribute_start=28),
    "attribute-size-24": Layout(attribute_size=24),
    "two-string-pools": Layout(decoy_pool=True),
    "two-resource-maps": Layout(decoy_map=True),
    "type-bytes-like-lt": Layout(root_type=0x003C),
    "pool-header-0x20": Layout(pool_header=0x20),
    "unknown-chunk-before-pool": Layout(unknown_chunk=True),
    "unknown-node-between-elements": Layout(pad_nodes=True),
    "utf8-pool": Layout(utf8=True),
}


def facts(raw: bytes) -> ManifestFacts:
    return parse_manifest(decode(raw, "trick.apk").xml)


def assert_real_facts(m: ManifestFacts) -> None:
    assert m.identity.package == "com.example.trick"
    assert (m.identity.version_code, m.identity.version_name) == ("7", "1.0")
    assert (m.identity.min_sdk, m.identity.target_sdk) == (21, 30)
    assert [p.name for p in m.permissions] == ["android.permission.READ_CONTACTS"]
    assert m.permissions[0].protection_level == "dangerous"
    comps = {(c.kind, c.name): c for c in m.components}
    assert set(comps) == {
        ("activity", "com.example.trick.Main"),
        ("receiver", "com.example.trick.SmsReceiver"),
    }
    main = comps["activity", "com.example.trick.Main"]
    assert main.exported and main.intent_filters[0].actions == ("android.intent.action.MAIN",)
    assert comps["receiver", "com.example.trick.SmsReceiver"].permission == "android.permission.X"
    assert m.identity.label == "Trick" and m.allow_backup is False


def test_plain_layout_reads_the_facts() -> None:
    assert_real_facts(facts(encode(app())))


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_trick_android_accepts_gives_the_real_facts(trick: str) -> None:
    assert_real_facts(facts(encode(app(), TRICKS[trick])))


@pytest.mark.parametrize(
    ("trick", "named"),
    [
        ("another-namespace", "under another namespace URI"),
        ("stripped-names", "names stripped or renamed"),
        ("two-string-pools", "2 string pools"),
        ("two-resource-maps", "2 resource maps"),
    ],
)
def test_trick_is_named(trick: str, named: str) -> None:
    got = decode(encode(app(), TRICKS[trick]), "trick.apk")
    assert not got.damaged
    assert any(named in t for t in got.tricks), got.tricks


def test_first_duplicate_attribute_wins() -> None:
    root = app()
    perm = root.children[1]
    perm.attrs = [
        Attr("name", "android.permission.SEND_SMS"),
        Attr("name", "android.permission.VIBRATE"),
    ]
    m = facts(encode(root))
    assert [p.name for p in m.permissions] == ["android.permission.SEND_SMS"]


def test_attribute_name_is_matched_by_resource_id_not_by_string() -> None:
    # "name" spelled "nomen" but carrying android:name's id: Android reads it as android:name;
    # "name" carrying an app attribute id (0x7f...) is not android:name.
    root = app(permissions=())
    root.children.insert(1, El("uses-permission", [Attr("nomen", "a.B", rid=0x01010003)]))
    root.children.insert(1, El("uses-permission", [Attr("name", "c.D", rid=0x7F010001)]))
    m = facts(encode(root))
    assert [p.name for p in m.permissions] == ["a.B"]


def test_string_values_come_from_the_typed_value() -> None:
    # TypedArray reads typedValue.data; a raw value pointing elsewhere is not what Android uses.
    root = app()
    perm = root.children[1]
    perm.attrs = [Attr("name", "android.permission.SEND_SMS", raw=False)]
    assert [p.name for p in facts(encode(root)).permissions] == ["android.permission.SEND_SMS"]


def test_element_header_below_16_bytes_is_damage_not_silence() -> None:
    raw = bytearray(encode(app()))
    # the first start-element node: type 0x0102 with header 16; Android requires >= 16.
    at = raw.index(b"\x02\x01\x10\x00")
    raw[at + 2] = 12
    got = decode(bytes(raw), "trick.apk")
    assert got.damaged and "Android" in got.problem


def test_text_and_protobuf_are_told_by_content() -> None:
    text = f'<manifest xmlns:android="{ANDROID_NS}" package="t.x"/>'.encode()
    assert decode(text, "t.apk").xml.get("package") == "t.x"
    binary_like_lt = encode(app(), Layout(root_type=0x003C))
    assert binary_like_lt[:1] == b"<"
    assert decode(binary_like_lt, "t.apk").xml.get("package") == "com.example.trick"
    binary_like_proto = encode(app(), Layout(root_type=0x000A))
    assert binary_like_proto[:1] == b"\x0a"
    assert decode(binary_like_proto, "t.apk").xml.get("package") == "com.example.trick"


def test_platform_refused_binary_falls_back_to_a_damaged_reading() -> None:
    raw = bytearray(encode(app()))
    at = raw.index(b"\x00\x01\x10\x00")  # the start-namespace node: header 16 -> 12
    raw[at + 2] = 12
    got = decode(bytes(raw), "t.apk")
    assert got.damaged and "refuses" in got.problem
    assert got.xml.get("package") == "com.example.trick"
    with pytest.raises(InputError):
        decode(b"\x03\x00\x08\x00" + b"\xff" * 64, "t.apk")


def test_deeply_nested_manifest_is_read_fast() -> None:
    raw = axmlgen.nest(app(), 120_000)
    assert len(raw) > 7_000_000
    t = time.process_time()  # CPU time: a loaded machine cannot fail it
    got = decode(raw, "deep.apk")
    elapsed = time.process_time() - t
    assert got.xml.get("package") == "com.example.trick" and not got.damaged
    assert [p.name for p in parse_manifest(got.xml).permissions] == [
        "android.permission.READ_CONTACTS"
    ]
    assert elapsed < 2.0  # ~0.3 s of CPU (240,000 nodes)


def test_framework_attribute_table_has_the_manifest_attributes() -> None:
    names = ag.framework_attribute_names()
    assert names[0x01010003] == "name" and names[0x01010010] == "exported"
    assert dataclasses.is_dataclass(Layout)


def test_characters_dropped_are_exactly_those_outside_xml_char() -> None:
    """axml_tree spells XML 1.0's Char production by its complement (it compiles in a fraction
    of the time): every code point is checked against the production itself."""
    from apkaudit.manifest.axml_tree import _NOT_XML

    def xml_char(c: int) -> bool:
        return c in (0x9, 0xA, 0xD) or 0x20 <= c <= 0xD7FF or 0xE000 <= c <= 0xFFFD or c >= 0x10000

    wrong = [c for c in range(0x110000) if bool(_NOT_XML.match(chr(c))) == xml_char(c)]
    assert not wrong
