"""The behaviour stage's vocabulary: what a URI resolves to, what a label, hop or chain is.

String enums, so they compare, hash, sort and serialise exactly as the strings the public
model (apkaudit.model: Chain, Hop, ProviderQuery) and the JSON report carry.
"""

from __future__ import annotations

from enum import StrEnum


class Provider(StrEnum):
    """What a content URI was resolved to (by its string, a catalogue field or data flow)."""

    CONTACTS = "contacts"
    SMS = "sms"
    CALL_LOG = "call_log"
    CALENDAR = "calendar"
    SMSTO = "smsto"  # an sms:/smsto: URI: the SMS app, not a provider
    OTHER = "other"  # a content:// URI of no provider we know
    UNRESOLVED = "unresolved"  # the URI could not be followed


class Source(StrEnum):
    """Where the data of a chain comes from."""

    CONTACTS = "contacts"
    SMS = "sms"
    CALL_LOG = "call_log"
    NETWORK = "network"
    REFLECTION = "reflection"  # a reflective SmsManager call (the chain is the call itself)


class Sink(StrEnum):
    """Where the data of a chain ends."""

    SMS_DESTINATION = "sms_destination"
    SMS_BODY = "sms_body"
    NETWORK = "network"
    JS_BRIDGE = "js_bridge"
    SMS_INTENT = "sms_intent"
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
    PARAM = "param"  # the value of parameter ``index`` of the method being summarised
