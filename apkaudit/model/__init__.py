"""Shared vocabulary of every stage: enums and frozen dataclasses. No I/O here.

The pipeline passes these values from stage to stage (see docs/architecture.md):
loader -> ManifestFacts + CodeIndex -> Behaviours -> Findings -> AppResult
(-> apkaudit.report.document.Report, what the renderers read). answers.py (destinations, SMS
sends, lending app), coverage.py (blind spots) and icon.py are parts of this module,
re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from functools import cached_property
from typing import Any

from apkaudit.model.coverage import INPUT_DEFECT_KINDS as INPUT_DEFECT_KINDS
from apkaudit.model.coverage import BlindSpot, Coverage
from apkaudit.model.coverage import BlindSpotKind as BlindSpotKind
from apkaudit.model.icon import MAX_ICON_BYTES as MAX_ICON_BYTES
from apkaudit.model.icon import AppIcon
from apkaudit.model.icon import sniff_image as sniff_image

JsonDict = dict[str, Any]  # a JSON object, as the outputs and the batch codec build them


class _Ordered(StrEnum):
    """A string enum whose members are ordered as declared (weakest first)."""

    @property
    def rank(self) -> int:
        return list(type(self)).index(self)


class Severity(_Ordered):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Confidence(_Ordered):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Level(_Ordered):
    """Headline verdict level (JSON contract v1)."""

    NONE = "none"
    POSSIBLE = "possible"
    LIKELY = "likely"
    CONFIRMED = "confirmed"


class Stage(IntEnum):
    """The evidence ladder: how far the evidence for a finding goes.

    Confidence is derived from the rung (``rules.engine.confidence_for``), never hand-set per rule.
    """

    DECLARED = 1  # manifest only (a permission, a receiver)
    REFERENCED = 2  # the API/field/string is referenced in code
    REACHABLE = 3  # referenced from code reachable from a manifest component
    DATAFLOW = 4  # a value flows from the source to the sink
    LOOP = 5  # ... and the sink sits in a loop driven by the source


# --------------------------------------------------------------------------- input / identity


@dataclass(frozen=True)
class InputInfo:
    path: str
    sha256: str
    size: int
    container: str = "apk"  # apk | xapk | apks | apkm | dir | aab
    sha1: str = ""
    md5: str = ""


@dataclass(frozen=True)
class AppIdentity:
    package: str = ""
    label: str = ""
    version_name: str = ""
    version_code: str = ""
    min_sdk: int | None = None
    target_sdk: int | None = None


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class Permission:
    name: str
    protection_level: str  # dangerous | normal | signature | ... | unknown
    element: str = "uses-permission"  # or uses-permission-sdk-23
    max_sdk: int | None = None


@dataclass(frozen=True)
class IntentFilter:
    actions: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    schemes: tuple[str, ...] = ()
    mime_types: tuple[str, ...] = ()
    priority: int | None = None


@dataclass(frozen=True)
class Component:
    kind: str  # activity | activity-alias | service | receiver | provider
    name: str  # fully qualified Java name
    exported: bool
    permission: str | None = None
    intent_filters: tuple[IntentFilter, ...] = ()
    enabled: bool = True


@dataclass(frozen=True)
class Certificate:
    subject: str
    issuer: str
    sha256: str
    sha1: str
    serial: str = ""
    scheme: str = ""  # v1 | v2 | v3 (first seen)


@dataclass(frozen=True)
class ManifestFacts:
    identity: AppIdentity
    permissions: tuple[Permission, ...] = ()
    components: tuple[Component, ...] = ()
    application_class: str | None = None
    debuggable: bool = False
    allow_backup: bool | None = None
    uses_cleartext_traffic: bool | None = None
    certificates: tuple[Certificate, ...] = ()
    queries_all_packages: bool = False

    def has_permission(self, name: str) -> bool:
        return any(p.name == name for p in self.permissions)

    def receivers_for(self, action: str) -> tuple[tuple[Component, IntentFilter], ...]:
        return tuple(
            (c, f)
            for c in self.components
            if c.kind == "receiver"
            for f in c.intent_filters
            if action in f.actions
        )

    @property
    def default_sms_candidate(self) -> bool:
        """Has every component Android requires of a default SMS app.

        SMS_DELIVER and WAP_PUSH_DELIVER receivers, a RESPOND_VIA_MESSAGE service and a
        SENDTO activity for sms/smsto (developer.android.com default handlers).
        """
        actions = {a for c in self.components for f in c.intent_filters for a in f.actions}
        sendto = any(
            c.kind in ("activity", "activity-alias")
            and "android.intent.action.SENDTO" in f.actions
            and {"sms", "smsto"} & set(f.schemes)
            for c in self.components
            for f in c.intent_filters
        )
        return (
            "android.provider.Telephony.SMS_DELIVER" in actions
            and "android.provider.Telephony.WAP_PUSH_DELIVER" in actions
            and "android.intent.action.RESPOND_VIA_MESSAGE" in actions
            and sendto
        )


# --------------------------------------------------------------------------- code


@dataclass(frozen=True, order=True)
class CodeLocation:
    """One instruction: dex file, class (dex descriptor), method (name + proto), byte offset.

    ``offset`` counts bytes from the start of the method's instructions, as androguard does.
    ``dex`` is the entry name, prefixed with the split/asset path when not in the base APK
    (``split_feature.apk!classes.dex``).
    """

    dex: str
    class_name: str
    method: str
    offset: int

    @property
    def java_class(self) -> str:
        return descriptor_to_java(self.class_name)

    @property
    def short(self) -> str:
        name = self.method.split("(", 1)[0]
        return f"{self.java_class}.{name}@{self.offset:#x}"


def descriptor_to_java(desc: str) -> str:
    """``Lcom/foo/Bar$Baz;`` -> ``com.foo.Bar$Baz`` (other descriptors are returned as is)."""
    if desc.startswith("L") and desc.endswith(";"):
        return desc[1:-1].replace("/", ".")
    return desc


def java_to_descriptor(name: str) -> str:
    return "L" + name.replace(".", "/") + ";"


class RefKind(StrEnum):
    INVOKE = "invoke"
    FIELD = "field"
    STRING = "string"
    CLASS = "class"  # const-class / new-instance of a watched type


@dataclass(frozen=True)
class CodeRef:
    """A reference from app code to a catalogue item: a call site, field read or constant."""

    api_id: str  # catalogue id, e.g. "sms.send.sendTextMessage"
    kind: RefKind
    target: str  # the referenced descriptor or string value
    location: CodeLocation
    origin: str = "app"  # app | sdk:NAME | unknown
    tags: frozenset[str] = frozenset()  # the catalogue item's tags (sms_send, contacts_uri, ...)


@dataclass(frozen=True)
class CodeIndex:
    dex_files: tuple[str, ...]
    refs: tuple[CodeRef, ...]
    class_count: int = 0
    method_count: int = 0  # methods with code
    methods_decoded: int = 0

    def by_api(self, *api_ids: str) -> tuple[CodeRef, ...]:
        wanted = set(api_ids)
        return tuple(r for r in self.refs if r.api_id in wanted)


# --------------------------------------------------------------------------- behaviour


@dataclass(frozen=True)
class Hop:
    """One step of a behaviour chain: where, what role, and the code that shows it."""

    role: str  # source | transform | call | sink (behaviour.kinds.HopRole)
    description: str
    location: CodeLocation
    excerpt: tuple[str, ...] = ()


@dataclass(frozen=True)
class Chain:
    """A proven (or partly proven) path from a data source to a sink."""

    kind: str  # contacts_to_sms_destination, contacts_to_network, ... (behaviour.kinds.ChainKind)
    source: str  # contacts | sms | call_log | network | reflection (behaviour.kinds.Source)
    sink: str  # sms_destination | sms_body | network | js_bridge | sms_intent | sms_send
    hops: tuple[Hop, ...]
    in_loop: bool = False
    loop: str = ""  # what drives the loop: cursor | iterator | index | json_array
    stage: Stage = Stage.DATAFLOW
    reachable: bool | None = None  # None: not determined
    origin: str = "app"
    notes: tuple[str, ...] = ()
    destination: Destination | None = None  # network sinks: where the data goes
    trigger: Trigger | None = None  # SMS sinks: who makes the message go out


@dataclass(frozen=True, order=True, slots=True, kw_only=True)
class ProviderQuery:
    """A content-provider query site, the provider its URI resolved to, and the code there."""

    location: CodeLocation
    provider: str  # contacts | sms | call_log | calendar | smsto | other | unresolved
    uri: str = ""  # the URI text when known
    excerpt: tuple[str, ...] = ()  # disassembly around the site; the call is marked
    origin: str = "app"  # app | sdk:NAME | unknown


@dataclass(frozen=True)
class Verdicts:
    contacts_read: Level = Level.NONE
    sms_read: Level = Level.NONE
    call_log_read: Level = Level.NONE
    contacts_upload: Level = Level.NONE
    sms_send: Level = Level.NONE
    bulk_sms_to_contacts: Level = Level.NONE

    def as_dict(self) -> dict[str, str]:
        return {k: getattr(self, k).value for k in VERDICT_KEYS}


VERDICT_KEYS = (
    "contacts_read",
    "sms_read",
    "call_log_read",
    "contacts_upload",
    "sms_send",
    "bulk_sms_to_contacts",
)


@dataclass(frozen=True)
class Behaviours:
    """Output of the behaviour stage: verdicts, chains, and reachability of evidence methods."""

    verdicts: Verdicts
    chains: tuple[Chain, ...] = ()
    notes: tuple[str, ...] = ()
    # (class descriptor, name+proto, reachable) for the methods holding evidence; None: unknown
    reachability: tuple[tuple[str, str, bool | None], ...] = ()
    # every content-provider query site, in location order
    queries: tuple[ProviderQuery, ...] = ()
    # what the analysis bounds hid (a method too large to interpret): added to the coverage
    blind_spots: tuple[BlindSpot, ...] = ()
    # where the data goes (one entry per address), every SMS send site, is it a lending app
    destinations: tuple[Destination, ...] = ()
    sms_sends: tuple[SmsSend, ...] = ()
    lending_app: LendingApp | None = None

    def queries_of(self, *providers: str) -> tuple[ProviderQuery, ...]:
        return tuple(q for q in self.queries if q.provider in providers)

    @cached_property
    def _reach(self) -> dict[tuple[str, str], bool | None]:
        return {(c, m): r for c, m, r in self.reachability}

    def is_reachable(self, loc: CodeLocation) -> bool | None:
        return self._reach.get((loc.class_name, loc.method))

    def reachability_note(self, loc: CodeLocation) -> str:
        state = self.is_reachable(loc)
        if state is False:
            return "not reachable from any manifest component"
        return ""


# --------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Evidence:
    kind: str  # manifest | code | chain
    description: str
    location: CodeLocation | None = None
    excerpt: tuple[str, ...] = ()
    manifest_element: str | None = None


@dataclass(frozen=True)
class Finding:
    rule_id: str
    name: str
    title: str
    behaviour: str
    severity: Severity
    confidence: Confidence
    stage: Stage
    message: str
    evidence: tuple[Evidence, ...] = ()
    origin: str = "app"
    remediation: str = ""
    trigger: Trigger | None = None  # SMS findings: who triggers the sends they are about

    @property
    def fingerprint(self) -> str:
        """Stable across runs and tool versions as long as rule and locations are the same."""
        import hashlib

        locs = sorted(
            f"{e.location.class_name}->{e.location.method}@{e.location.offset}"
            if e.location
            else (e.manifest_element or e.description)
            for e in self.evidence
        )
        raw = "|".join([self.rule_id, *locs])
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Risk:
    level: Severity  # what the visible code shows
    score: int  # 0..100
    complete: bool = True  # False: code is hidden, the level covers the visible code only


@dataclass(frozen=True)
class AppResult:
    input: InputInfo
    status: str = "ok"  # ok | error
    error: str | None = None
    manifest: ManifestFacts | None = None
    code: CodeIndex | None = None
    behaviours: Behaviours | None = None
    findings: tuple[Finding, ...] = ()
    coverage: Coverage = field(default_factory=Coverage)
    risk: Risk = field(default_factory=lambda: Risk(Severity.INFO, 0))
    timings: tuple[tuple[str, float, float], ...] = ()  # (stage, wall s, CPU s) in order
    icon: AppIcon | None = None

    @property
    def identity(self) -> AppIdentity:
        return self.manifest.identity if self.manifest else AppIdentity()

    @property
    def verdicts(self) -> Verdicts:
        return self.behaviours.verdicts if self.behaviours else Verdicts()

    @property
    def input_defects(self) -> tuple[BlindSpot, ...]:
        """Blind spots that say the container itself is damaged or hostile (the app was
        salvaged, partly): the CLI reports these as an input error while keeping the report."""
        return tuple(b for b in self.coverage.blind_spots if b.kind in INPUT_DEFECT_KINDS)


# The answers to the borrower's questions (where the data goes, who sends the SMS, is it a
# lender) live in model/answers.py, which uses CodeLocation from above: imported last.
from apkaudit.model.answers import (  # noqa: E402, I001
    Destination as Destination,
    LendingApp as LendingApp,
    LendingSignal as LendingSignal,
    Resolution as Resolution,
    SmsSend as SmsSend,
    Trigger as Trigger,
)
