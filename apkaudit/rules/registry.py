"""The one registry of rule identities and of the tables that must agree with the rule files.

Rule codes live in one table (ruff's lesson): :data:`CODES` maps every id ever issued to the
rule's name. A new rule takes the next free id of its family here; a removed rule stays here
and its id is added to :data:`RETIRED`, so it is never issued again.

:func:`apkaudit.rules.load_rules` refuses rule files that disagree with this module (an id
missing here, a name that changed, a family that is not registered, a verdict naming a rule
that does not exist), and tests hold the other tables to it: the policy packs, the scoring
floors, the report catalogs, the verdicts and chain kinds of the behaviour stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

# Where each rule is documented: docs/rules.md has one "### ID" section per rule, whose anchor
# (GitHub's heading slug) is the lower-case id. docs/gen_rules.py links to the same anchors.
DOCS_URL = "https://github.com/apkaudit/apkaudit/blob/main/docs/rules.md"


def anchor(rule_id: str) -> str:
    """The rule's anchor in docs/rules.md (the slug of its ``### ID`` heading)."""
    return rule_id.lower()


def help_uri(rule_id: str) -> str:
    return f"{DOCS_URL}#{anchor(rule_id)}"


@dataclass(frozen=True, slots=True)
class Family:
    code: str  # the three letters every id of the family starts with
    file: str  # apkaudit/rules/<file>, whose header declares ``family`` and ``behaviour``
    behaviour: str  # the behaviour its findings report (a key of the catalogs' [behaviour])
    title: str  # the heading in docs/rules.md


FAMILIES: Mapping[str, Family] = MappingProxyType(
    {
        f.code: f
        for f in (
            Family("ACC", "accounts.toml", "accounts", "Accounts"),
            Family("APP", "hygiene.toml", "app_hygiene", "App build hygiene"),
            Family("APS", "installed_apps.toml", "installed_apps", "Installed apps"),
            Family("CAL", "calendar.toml", "calendar", "Calendar"),
            Family("CLG", "call_log.toml", "call_log", "Call log"),
            Family("CLP", "clipboard.toml", "clipboard", "Clipboard"),
            Family("CON", "contacts.toml", "contacts", "Contacts"),
            Family("DEV", "device_id.toml", "device_id", "Device identifiers"),
            Family("HRV", "harvesting.toml", "harvesting", "Other device data harvesting"),
            Family("INP", "user_input.toml", "user_input", "Text the user types"),
            Family("INT", "interception.toml", "sms_interception", "SMS interception"),
            Family("LOC", "location.toml", "location", "Location"),
            Family("MED", "media.toml", "media", "Photos and media"),
            Family("NET", "network.toml", "network", "Network"),
            Family("PHN", "phone_number.toml", "phone_number", "Phone number"),
            Family("PRV", "providers.toml", "providers", "Other content providers"),
            Family("SMR", "sms_read.toml", "sms_read", "Reading SMS"),
            Family("SMS", "sms_send.toml", "sms_send", "Sending SMS and contact-list messaging"),
        )
    }
)

# Every rule id issued, with the name of its rule. Ids are stable: never renumbered, never
# reused, and a rule keeps its name (reports, baselines and SARIF consumers key on both).
CODES: Mapping[str, str] = MappingProxyType(
    {
        "ACC001": "accounts-leave-phone",
        "APP001": "debuggable",
        "APP002": "allow-backup",
        "APP003": "personal-data-logged",
        "APS001": "installed-apps-leave-phone",
        "CAL001": "calendar-leaves-phone",
        "CLG001": "call-log-read",
        "CLG002": "call-log-permission-unused",
        "CLG003": "call-log-code-without-permission",
        "CLG004": "call-log-upload",
        "CLP001": "clipboard-read",
        "CLP002": "clipboard-leaves-phone",
        "CON001": "contacts-read",
        "CON002": "contacts-permission-unused",
        "CON003": "contacts-code-without-permission",
        "CON004": "contacts-upload",
        "CON005": "contacts-js-bridge",
        "DEV001": "device-id-leaves-phone",
        "HRV001": "installed-apps",
        "HRV002": "accounts",
        "HRV003": "device-identifiers",
        "HRV004": "query-all-packages",
        "INP001": "typed-text-by-sms-or-web-page",
        "INT001": "sms-received-receiver",
        "INT002": "sms-parse-incoming",
        "INT003": "sms-broadcast-abort",
        "INT004": "sms-role-request",
        "INT005": "default-sms-candidate",
        "LOC001": "location-read",
        "LOC002": "location-leaves-phone",
        "MED001": "media-read",
        "MED002": "media-leaves-phone",
        "NET001": "network-send",
        "NET002": "cleartext-traffic",
        "PHN001": "phone-number-leaves-phone",
        "PRV001": "provider-query-unresolved",
        "PRV002": "calendar-read",
        "SMR001": "sms-read",
        "SMR002": "sms-read-permission-unused",
        "SMR003": "sms-read-code-without-permission",
        "SMR004": "sms-upload",
        "SMS001": "sms-send",
        "SMS002": "sms-send-hidden",
        "SMS003": "send-sms-permission-unused",
        "SMS004": "sms-send-code-without-permission",
        "SMS005": "sms-user-mediated",
        "SMS006": "sms-send-reflection",
        "SMS007": "sms-send-user-action",
        "SMS010": "bulk-sms-to-contacts",
        "SMS011": "server-controlled-sms",
        "SMS012": "sms-to-contacts-user-mediated",
        "SMS013": "contact-data-in-sms-text",
        "SMS014": "sms-forwarding",
    }
)
# Ids (in CODES) of rules that were removed: never shipped again. None so far.
RETIRED: frozenset[str] = frozenset()

# The findings that show each headline verdict (in the order of apkaudit.model.VERDICT_KEYS): the
# policy engine lists them behind a verdict-based violation, and tags SARIF rules with the
# policies that cite those verdicts.
VERDICT_RULES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "contacts_read": ("CON001", "CON005"),
        "sms_read": ("SMR001", "SMR004", "INT002"),
        "call_log_read": ("CLG001", "CLG004"),
        "contacts_upload": ("CON004", "CON005"),
        "sms_send": (
            "SMS001",
            "SMS002",
            "SMS006",
            "SMS007",
            "SMS010",
            "SMS011",
            "SMS013",
            "SMS014",
        ),
        "bulk_sms_to_contacts": ("SMS010", "SMS013"),
    }
)
