"""AndroidManifest.xml bytes -> an lxml tree, with the format told by content, not by name.

Order: binary XML read as Android reads it (``axml``, ``axml_tree``); if Android would refuse
the bytes as binary XML, a text manifest (hand-made fixtures), then an .aab's protobuf; and
last, for binary XML the platform refuses (it cannot be installed, but malware samples are
still worth auditing), androguard's lenient reader, with the result marked damaged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

from apkaudit.errors import InputError
from apkaudit.manifest import androguard_adapter as ag
from apkaudit.manifest.axml import AxmlRefused, Document
from apkaudit.manifest.axml_tree import build
from apkaudit.manifest.platform import framework_attribute_names
from apkaudit.manifest.protoxml import ProtoError, looks_like_proto_manifest, proto_manifest

# Text XML parser for hand-made manifests: no entities, no network, no DTD, no huge trees.
_SAFE_XML = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    huge_tree=False,
    load_dtd=False,
    dtd_validation=False,
    remove_comments=True,
    remove_pis=True,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Decoded:
    """The tree; ``damaged``: elements after a broken chunk are missing (or the platform would
    refuse the file); ``problem``: why, one line; ``tricks``: what was read the platform's way
    that other readers miss."""

    xml: etree._Element
    damaged: bool = False
    problem: str = ""
    tricks: tuple[str, ...] = ()


def looks_like_text_xml(raw: bytes) -> bool:
    head = raw[:64].lstrip()
    return head.startswith((b"<", b"\xef\xbb\xbf<", b"\xff\xfe<\x00", b"\xfe\xff\x00<"))


def decode(
    raw: bytes, path: str, *, fmt: str = "axml", expired: Callable[[], bool] | None = None
) -> Decoded:
    """Decode a manifest (``fmt``: axml | proto); :class:`InputError` if nothing is readable."""
    if fmt == "proto":
        return _proto(raw, path)
    try:
        doc = Document(raw)
    except AxmlRefused as exc:
        refused = str(exc)
    else:
        tree = build(doc, framework_attribute_names(), expired)
        if tree is not None:
            problem = {
                "bad": f"a malformed node at offset {doc.bad_at}; Android refuses this manifest",
                "expired": "the time limit was reached while reading it",
            }.get(tree.outcome, "")
            return Decoded(
                xml=tree.root, damaged=bool(problem), problem=problem, tricks=tree.tricks
            )
        refused = "no element"
    if looks_like_text_xml(raw):
        try:
            return Decoded(xml=etree.fromstring(raw, parser=_SAFE_XML))
        except (etree.XMLSyntaxError, ValueError) as exc:
            raise InputError(path, f"AndroidManifest.xml is not well-formed XML: {exc}") from None
    if looks_like_proto_manifest(raw):
        try:
            return _proto(raw, path)
        except InputError:
            pass
    root = ag.lenient_manifest(raw)
    if root is None:
        raise InputError(path, "AndroidManifest.xml is not valid binary XML")
    return Decoded(xml=root, damaged=True, problem=f"Android refuses it as binary XML ({refused})")


def _proto(raw: bytes, path: str) -> Decoded:
    try:
        return Decoded(xml=proto_manifest(raw))
    except ProtoError as exc:
        raise InputError(path, f"AndroidManifest.xml (protobuf) is unreadable: {exc}") from None


def manifest_xml(raw: bytes, path: str) -> etree._Element:
    """The manifest's root element (binary, text or protobuf XML); InputError if unreadable."""
    return decode(raw, path).xml
