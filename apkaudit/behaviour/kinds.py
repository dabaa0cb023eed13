"""The behaviour stage's vocabulary: what a URI resolves to, what a label, hop or chain is.

String enums, so they compare, hash, sort and serialise exactly as the strings the public
model (apkaudit.model: Chain, Hop, ProviderQuery) and the JSON report carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Provider(StrEnum):
    """What a content URI was resolved to (by its string, a catalogue field or data flow)."""

    CONTACTS = "contacts"
    SMS = "sms"
    CALL_LOG = "call_log"
    CALENDAR = "calendar"
    MEDIA = "media"  # MediaStore: photos, videos, audio, downloads
    SMSTO = "smsto"  # an sms:/smsto: URI: the SMS app, not a provider
    OTHER = "other"  # a content:// URI of no provider we know
    UNRESOLVED = "unresolved"  # the URI could not be followed


class Source(StrEnum):
    """Where the data of a chain comes from (issue 11's vocabulary, one table: SOURCES)."""

    CONTACTS = "contacts"
    SMS = "sms"
    CALL_LOG = "call_log"
    DEVICE_ID = "device_id"  # IMEI/MEID, IMSI, SIM serial, hardware serial, Android ID, MACs
    PHONE_NUMBER = "phone_number"  # the SIM's own number, the voicemail number
    LOCATION = "location"
    ACCOUNTS = "accounts"
    INSTALLED_APPS = "installed_apps"
    MEDIA = "media"  # MediaStore photos/videos/audio, EXIF
    CALENDAR = "calendar"
    CLIPBOARD = "clipboard"
    USER_INPUT = "user_input"  # text typed into a field (passwords included)
    NETWORK_RESPONSE = "network_response"
    REFLECTION = "reflection"  # a reflective SmsManager call (the chain is the call itself)


class Sink(StrEnum):
    """Where the data of a chain ends (one table: SINKS)."""

    NETWORK = "network"
    SMS_DESTINATION = "sms_destination"
    SMS_BODY = "sms_body"
    SMS_INTENT = "sms_intent"
    JS_BRIDGE = "js_bridge"
    FILE = "file"
    LOG = "log"
    IPC = "ipc"  # an Intent or result another app can receive
    SMS_SEND = "sms_send"  # a reflective send


class ChainKind(StrEnum):
    CONTACTS_TO_SMS_DESTINATION = "contacts_to_sms_destination"
    CALL_LOG_TO_SMS_DESTINATION = "call_log_to_sms_destination"
    NETWORK_TO_SMS = "network_to_sms"
    CONTACTS_TO_SMS_BODY = "contacts_to_sms_body"
    SMS_TO_SMS_BODY = "sms_to_sms_body"
    CONTACTS_TO_NETWORK = "contacts_to_network"
    SMS_TO_NETWORK = "sms_to_network"
    CALL_LOG_TO_NETWORK = "call_log_to_network"
    CONTACTS_TO_SMS_INTENT = "contacts_to_sms_intent"
    CONTACTS_TO_JS_BRIDGE = "contacts_to_js_bridge"
    SMS_TO_JS_BRIDGE = "sms_to_js_bridge"
    CALL_LOG_TO_JS_BRIDGE = "call_log_to_js_bridge"
    REFLECTION_SMS_SEND = "reflection_sms_send"


class HopRole(StrEnum):
    SOURCE = "source"
    TRANSFORM = "transform"
    CALL = "call"
    SINK = "sink"


class LabelKind(StrEnum):
    """What a label stands for: personal data, network data, or a method parameter."""

    CONTACTS = "contacts"
    SMS = "sms"
    CALL_LOG = "call_log"
    NETWORK = "network"
    DEVICE_ID = "device_id"
    PHONE_NUMBER = "phone_number"
    LOCATION = "location"
    ACCOUNTS = "accounts"
    INSTALLED_APPS = "installed_apps"
    MEDIA = "media"
    CALENDAR = "calendar"
    CLIPBOARD = "clipboard"
    USER_INPUT = "user_input"
    PARAM = "param"  # the value of parameter ``index`` of the method being summarised


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceInfo:
    label: LabelKind  # the taint label the data carries inside the analysis
    noun: str  # the data in words, as loop descriptions and hops name it
    personal: bool = True  # data about the user (network responses are not)


@dataclass(frozen=True, slots=True, kw_only=True)
class SinkInfo:
    noun: str
    leaves_phone: bool  # network, SMS, another app; False: stays on the device (file, log)


# The one table of the vocabulary: every chain source and sink kind, what it means.
SOURCES: dict[Source, SourceInfo] = {
    Source.CONTACTS: SourceInfo(label=LabelKind.CONTACTS, noun="the contact list"),
    Source.SMS: SourceInfo(label=LabelKind.SMS, noun="SMS messages"),
    Source.CALL_LOG: SourceInfo(label=LabelKind.CALL_LOG, noun="the call log"),
    Source.DEVICE_ID: SourceInfo(label=LabelKind.DEVICE_ID, noun="device identifiers"),
    Source.PHONE_NUMBER: SourceInfo(label=LabelKind.PHONE_NUMBER, noun="the phone number"),
    Source.LOCATION: SourceInfo(label=LabelKind.LOCATION, noun="the location"),
    Source.ACCOUNTS: SourceInfo(label=LabelKind.ACCOUNTS, noun="the accounts on the phone"),
    Source.INSTALLED_APPS: SourceInfo(
        label=LabelKind.INSTALLED_APPS, noun="the list of installed apps"
    ),
    Source.MEDIA: SourceInfo(label=LabelKind.MEDIA, noun="photos and media"),
    Source.CALENDAR: SourceInfo(label=LabelKind.CALENDAR, noun="the calendar"),
    Source.CLIPBOARD: SourceInfo(label=LabelKind.CLIPBOARD, noun="the clipboard"),
    Source.USER_INPUT: SourceInfo(label=LabelKind.USER_INPUT, noun="text typed by the user"),
    Source.NETWORK_RESPONSE: SourceInfo(
        label=LabelKind.NETWORK, noun="data from the network", personal=False
    ),
}
SINKS: dict[Sink, SinkInfo] = {
    Sink.NETWORK: SinkInfo(noun="the network", leaves_phone=True),
    Sink.SMS_DESTINATION: SinkInfo(noun="the destination of an SMS", leaves_phone=True),
    Sink.SMS_BODY: SinkInfo(noun="the text of an SMS", leaves_phone=True),
    Sink.SMS_INTENT: SinkInfo(noun="an SMS the user is asked to send", leaves_phone=True),
    Sink.JS_BRIDGE: SinkInfo(noun="a web page (JavaScript bridge)", leaves_phone=True),
    Sink.FILE: SinkInfo(noun="a file", leaves_phone=False),
    Sink.LOG: SinkInfo(noun="the system log", leaves_phone=False),
    Sink.IPC: SinkInfo(noun="another app (Intent)", leaves_phone=True),
}
SOURCE_OF_LABEL: dict[LabelKind, Source] = {info.label: s for s, info in SOURCES.items()}
