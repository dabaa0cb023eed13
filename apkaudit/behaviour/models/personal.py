"""Sources of the personal data kinds beyond the content providers: device identifiers, the
phone number, location, accounts, the installed-app list, photos' EXIF data, the clipboard and
text the user types.

One table (``RETURNS``): the API whose result is the data, the kind, and how a hop describes
it. Descriptors from the Android SDK reference (developer.android.com/reference); which APIs
count follows the data types of Google Play's Data safety form and the identifiers of
source.android.com/docs/core/connect/device-identifiers.
"""

from __future__ import annotations

from apkaudit.behaviour.apis import cls_short
from apkaudit.behaviour.call import Call
from apkaudit.behaviour.kinds import HopRole, LabelKind
from apkaudit.behaviour.values import Value, source

K = LabelKind
TM = "Landroid/telephony/TelephonyManager;"
LOCATION = "Landroid/location/Location;"
EXIF = ("Landroid/media/ExifInterface;", "Landroidx/exifinterface/media/ExifInterface;")
EDIT_TEXTS = (
    "Landroid/widget/EditText;",
    "Landroid/widget/AutoCompleteTextView;",
    "Landroid/widget/MultiAutoCompleteTextView;",
    "Lcom/google/android/material/textfield/TextInputEditText;",
    "Landroidx/appcompat/widget/AppCompatEditText;",
)

# (class, method) -> (kind, what the hop says). The result of the call is the data.
RETURNS: dict[tuple[str, str], tuple[LabelKind, str]] = {
    (TM, "getDeviceId"): (K.DEVICE_ID, "reads the IMEI/MEID"),
    (TM, "getImei"): (K.DEVICE_ID, "reads the IMEI"),
    (TM, "getMeid"): (K.DEVICE_ID, "reads the MEID"),
    (TM, "getSubscriberId"): (K.DEVICE_ID, "reads the IMSI (subscriber ID)"),
    (TM, "getSimSerialNumber"): (K.DEVICE_ID, "reads the SIM serial number"),
    (TM, "getLine1Number"): (K.PHONE_NUMBER, "reads the SIM's phone number"),
    (TM, "getVoiceMailNumber"): (K.PHONE_NUMBER, "reads the voicemail number"),
    (TM, "getCellLocation"): (K.LOCATION, "reads the cell location"),
    (TM, "getAllCellInfo"): (K.LOCATION, "reads the cell towers in range"),
    ("Landroid/telephony/SubscriptionInfo;", "getNumber"): (
        K.PHONE_NUMBER,
        "reads the SIM's phone number",
    ),
    ("Landroid/telephony/SubscriptionInfo;", "getIccId"): (K.DEVICE_ID, "reads the SIM ICCID"),
    ("Landroid/os/Build;", "getSerial"): (K.DEVICE_ID, "reads the hardware serial number"),
    ("Landroid/net/wifi/WifiInfo;", "getMacAddress"): (K.DEVICE_ID, "reads the Wi-Fi MAC"),
    ("Landroid/bluetooth/BluetoothAdapter;", "getAddress"): (
        K.DEVICE_ID,
        "reads the Bluetooth MAC",
    ),
    ("Landroid/location/LocationManager;", "getLastKnownLocation"): (
        K.LOCATION,
        "reads the last known location",
    ),
    ("Lcom/google/android/gms/location/LocationResult;", "getLastLocation"): (
        K.LOCATION,
        "receives a location fix",
    ),
    ("Lcom/google/android/gms/location/LocationResult;", "getLocations"): (
        K.LOCATION,
        "receives location fixes",
    ),
    ("Landroid/accounts/AccountManager;", "getAccounts"): (K.ACCOUNTS, "lists the accounts"),
    ("Landroid/accounts/AccountManager;", "getAccountsByType"): (
        K.ACCOUNTS,
        "lists the accounts",
    ),
    ("Landroid/accounts/AccountManager;", "getAccountsByTypeAndFeatures"): (
        K.ACCOUNTS,
        "lists the accounts",
    ),
    ("Landroid/content/pm/PackageManager;", "getInstalledPackages"): (
        K.INSTALLED_APPS,
        "lists the installed apps",
    ),
    ("Landroid/content/pm/PackageManager;", "getInstalledApplications"): (
        K.INSTALLED_APPS,
        "lists the installed apps",
    ),
    ("Landroid/content/pm/PackageManager;", "getPackagesHoldingPermissions"): (
        K.INSTALLED_APPS,
        "lists the installed apps",
    ),
    ("Landroid/content/ClipboardManager;", "getPrimaryClip"): (
        K.CLIPBOARD,
        "reads the clipboard",
    ),
    ("Landroid/content/ClipboardManager;", "getText"): (K.CLIPBOARD, "reads the clipboard"),
    ("Landroid/text/ClipboardManager;", "getText"): (K.CLIPBOARD, "reads the clipboard"),
}
for _m in ("getAttribute", "getLatLong", "getAttributeDouble", "getAttributeInt", "getThumbnail"):
    for _c in EXIF:
        RETURNS[(_c, _m)] = (K.MEDIA, "reads a photo's EXIF data")
for _c in EDIT_TEXTS:
    RETURNS[(_c, "getText")] = (K.USER_INPUT, "reads the text typed into a field")
# Getters of a Location object that no source labelled (a listener's parameter).
LOCATION_GETTERS = frozenset(
    {"getLatitude", "getLongitude", "getAltitude", "getAccuracy", "getSpeed", "getBearing"}
)
ANDROID_ID = "android_id"
SETTINGS = ("Landroid/provider/Settings$Secure;", "Landroid/provider/Settings$System;")

NAMES = frozenset({m for _, m in RETURNS} | LOCATION_GETTERS | {"getString"})


def _data(c: Call, kind: LabelKind, what: str) -> Value:
    step = c.step(HopRole.SOURCE, f"{what} ({cls_short(c.ref.class_name)}.{c.ref.name})")
    labels = frozenset({source(kind, step)})
    if c.args and not c.static:  # the receiver's own taint stays on the result
        labels |= c.args[0].labels
    return Value(labels, c.result_objs)


def returns(c: Call) -> Value | None:
    """A call whose result is personal data."""
    ref = c.ref
    hit = RETURNS.get((ref.class_name, ref.name))
    if hit is not None:
        return _data(c, *hit)
    if ref.class_name == LOCATION and ref.name in LOCATION_GETTERS and c.args:
        if any(lb.kind is K.LOCATION for lb in c.args[0].labels):
            return None  # already location data: default propagation keeps its path
        return _data(c, K.LOCATION, "reads a location fix")
    if ref.class_name in SETTINGS and len(c.args) > 1 and c.args[1].const == ANDROID_ID:
        return _data(c, K.DEVICE_ID, "reads the Android ID")
    return None
