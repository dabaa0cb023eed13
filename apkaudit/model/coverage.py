"""Coverage: what the audit could not see (blind spots), part of :mod:`apkaudit.model`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class BlindSpotKind(StrEnum):
    """What a blind spot is about (labels: report/i18n ``[blind]``; kinds that leave coverage
    complete: ``coverage.hidden.NOTICE_KINDS``; a damaged container: INPUT_DEFECT_KINDS)."""

    ZIP_DAMAGED = "zip_damaged"  # load: the container
    ZIP_ANOMALY = "zip_anomaly"
    ZIP_BOMB = "zip_bomb"
    ZIP_DUPLICATE_ENTRY = "zip_duplicate_entry"
    ZIP_ENCRYPTION_FLAG = "zip_encryption_flag"
    ZIP_PATH_TRAVERSAL = "zip_path_traversal"
    ZIP_PREPENDED_DATA = "zip_prepended_data"
    UNREADABLE_SPLIT = "unreadable_split"
    BUNDLE_EXTRA_APK = "bundle_extra_apk"
    OBB = "obb"
    EMBEDDED_CODE = "embedded_code"
    LIMIT = "limit"
    SHADOWED_CLASSES = "shadowed_classes"  # code: a later dex redefining a class (dead code)
    MANIFEST_DAMAGED = "manifest_damaged"  # manifest
    MANIFEST_TRICK = "manifest_trick"
    MANIFEST_UNREADABLE = "manifest_unreadable"
    NO_DEX = "no_dex"  # code
    UNREADABLE_DEX = "unreadable_dex"
    UNREADABLE_METHOD = "unreadable_method"
    TIME_LIMIT = "time_limit"
    PACKER = "packer"  # coverage: hidden code
    FLUTTER = "flutter"
    JS_BUNDLE = "js_bundle"
    WEB_ASSETS = "web_assets"
    DOTNET = "dotnet"
    NATIVE_CODE = "native_code"
    NATIVE_CODE_KNOWN = "native_code_known"
    DYNAMIC_CODE = "dynamic_code"
    DYNAMIC_CODE_SDK = "dynamic_code_sdk"
    MISSING_CLASS = "missing_class"
    ENCRYPTED_ASSET = "encrypted_asset"
    ENCRYPTED_DATA = "encrypted_data"
    REFLECTION_UNRESOLVED = "reflection_unresolved"  # behaviour: reflection where data is
    REFLECTION_UNRESOLVED_OTHER = "reflection_unresolved_other"  # ... and elsewhere (a notice)
    OBFUSCATED_NAMES = "obfuscated_names"  # coverage/obfuscation.py: obfuscation
    STRING_DECRYPTOR = "string_decryptor"
    REFLECTION_DENSE = "reflection_dense"
    RUNTIME_EXEC = "runtime_exec"
    ENCODED_PAYLOAD = "encoded_payload"  # load/encoded.py: Base64, hex or XOR of dex/zip


@dataclass(frozen=True)
class BlindSpot:
    kind: BlindSpotKind
    detail: str


# Blind-spot kinds that mean "this input is damaged or built to break analysers".
INPUT_DEFECT_KINDS = frozenset(
    {
        BlindSpotKind.ZIP_DAMAGED,
        BlindSpotKind.ZIP_BOMB,
        BlindSpotKind.ZIP_PATH_TRAVERSAL,
        BlindSpotKind.ZIP_ANOMALY,
        BlindSpotKind.ZIP_DUPLICATE_ENTRY,
        BlindSpotKind.ZIP_PREPENDED_DATA,
        BlindSpotKind.MANIFEST_DAMAGED,
    }
)


@dataclass(frozen=True)
class Coverage:
    complete: bool = True
    blind_spots: tuple[BlindSpot, ...] = ()
