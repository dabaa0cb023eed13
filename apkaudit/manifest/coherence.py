"""A manifest that cannot be the one Android installs: the facts read hold no components or
no permissions, yet the app's own code uses APIs that only run with a permission. Either the
manifest was not read as the device reads it (a trick this reader does not know), or that code
never runs; the audit cannot tell which, so coverage is incomplete (``manifest_unreadable``).
"""

from __future__ import annotations

from collections.abc import Iterable

from apkaudit.model import BlindSpot, BlindSpotKind, CodeRef, ManifestFacts

# Catalogue tags (code/catalogue/apis.toml) of the APIs that need a dangerous permission.
GUARDED_TAGS = {
    "sms_send": "SEND_SMS",
    "sms_uri": "READ_SMS",
    "sms_intercept": "RECEIVE_SMS",
    "contacts_uri": "READ_CONTACTS",
    "call_log_uri": "READ_CALL_LOG",
    "calendar_uri": "READ_CALENDAR",
    "accounts": "GET_ACCOUNTS",
    "device_id": "READ_PHONE_STATE",
}


def unreadable_manifest(
    facts: ManifestFacts, refs: Iterable[CodeRef], tricks: tuple[str, ...] = ()
) -> tuple[BlindSpot, ...]:
    """A ``manifest_unreadable`` blind spot when 0 components or 0 permissions were read but
    code outside known SDKs references a permission-guarded API; () otherwise."""
    missing = [
        what
        for what, have in (
            ("no components", facts.components),
            ("no permissions", facts.permissions),
        )
        if not have
    ]
    if not missing:
        return ()
    guarded = [
        r for r in refs if not r.origin.startswith("sdk:") and not r.tags.isdisjoint(GUARDED_TAGS)
    ]
    if not guarded:
        return ()
    first = guarded[0]
    needs = sorted({GUARDED_TAGS[t] for r in guarded for t in r.tags if t in GUARDED_TAGS})
    where = f"{first.location.java_class}.{first.location.method.partition('(')[0]}"
    seen = f"; read the platform's way: {', '.join(tricks)}" if tricks else ""
    return (
        BlindSpot(
            BlindSpotKind.MANIFEST_UNREADABLE,
            f"AndroidManifest.xml was read into {' and '.join(missing)}, yet the app's code "
            f"uses {len(guarded)} API(s) that need {', '.join(needs)} ({first.api_id} in "
            f"{where}): the manifest may not be the one Android reads{seen}",
        ),
    )
