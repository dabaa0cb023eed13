"""Who makes each SMS go out: the app by itself, the user pressing a button, or the user in
their own SMS app.

Every send site (SmsManager send calls, reflective sends, smsto:/ACTION_SENDTO intents) is
followed backwards to where the platform enters the app, with the caller search reachability
uses (callers of the method on its class and app supertypes/subtypes; for methods the framework
calls on an object — Runnable.run, AsyncTask.doInBackground, listeners — the places the object
is created). A path ends at:

- a UI callback (onClick, onItemClick, onOptionsItemSelected, onActivityResult, a layout
  ``android:onClick`` handler...): the user pressed something;
- a component's own entry (a receiver's onReceive, a service's onStartCommand, a job, an
  Application or a screen opening — Activity.onCreate/onResume): no user action;
- nothing (no caller found: dead code or reflection).

``automatic``: any path without UI, or a loop over the contact list or a server's list, or a
fixed number (the user chose no recipient). ``user_action``: every path comes from the UI and
the number is typed (or picked) by the user. ``user_mediated``: the system SMS app sends.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from apkaudit.behaviour.apis import cls_short
from apkaudit.behaviour.destinations import sms_args
from apkaudit.behaviour.program import Program
from apkaudit.behaviour.reachability import Hierarchy, find_callers
from apkaudit.behaviour.resolver import Resolver
from apkaudit.facts import AppFacts
from apkaudit.model import Chain, CodeLocation, SmsSend, Trigger, java_to_descriptor

MAX_NODES = 300  # methods explored backwards per send site
MAX_DEPTH = 12

UI_CALLBACKS = frozenset(
    {
        "onClick",
        "onLongClick",
        "onItemClick",
        "onItemLongClick",
        "onItemSelected",
        "onMenuItemClick",
        "onOptionsItemSelected",
        "onContextItemSelected",
        "onMenuItemSelected",
        "onNavigationItemSelected",
        "onEditorAction",
        "onCheckedChanged",
        "onPreferenceClick",
        "onPreferenceChange",
        "onKey",
        "onKeyDown",
        "onKeyUp",
        "onTouch",
        "onTouchEvent",
        "onDateSet",
        "onTimeSet",
        "onQueryTextSubmit",
        "onActivityResult",
        "onBackPressed",
        "onSwipe",
        "onRefresh",
        "onDialogPositiveClick",
        "onPositiveButtonClicked",
    }
)
# Entry methods of components: the platform calls them with no user action on the path.
_LIFECYCLE = {
    "receiver": frozenset({"onReceive"}),
    "service": frozenset(
        {
            "onStartCommand",
            "onStart",
            "onCreate",
            "onHandleIntent",
            "onBind",
            "onRebind",
            "onUnbind",
            "onStartJob",
            "onStopJob",
            "onDestroy",
            "onTaskRemoved",
            "onMessageReceived",
            "onNewToken",
            "onAccessibilityEvent",
            "onServiceConnected",
            "onNotificationPosted",
            "onListenerConnected",
            "onInterrupt",
        }
    ),
    "provider": frozenset({"onCreate", "query", "insert", "update", "delete", "call"}),
    "application": frozenset({"onCreate", "attachBaseContext", "onTerminate"}),
    "activity": frozenset(
        {
            "onCreate",
            "onStart",
            "onResume",
            "onPostCreate",
            "onPostResume",
            "onRestart",
            "onNewIntent",
            "onAttachedToWindow",
            "onWindowFocusChanged",
            "onStop",
            "onPause",
            "onDestroy",
            "onRequestPermissionsResult",
            "attachBaseContext",
        }
    ),
}
# Chain sources whose numbers the user did not choose (network_response: a server's list).
_HARVESTED = {"contacts", "call_log", "network_response"}


@dataclass(frozen=True, slots=True)
class PathEnd:
    kind: str  # ui | entry | none
    method: tuple[str, str]
    component: str = ""  # activity | service | receiver | application | provider


def component_kinds(facts: AppFacts) -> dict[str, str]:
    kinds = {java_to_descriptor(c.name): c.kind for c in facts.manifest.components}
    if facts.manifest.application_class:
        kinds[java_to_descriptor(facts.manifest.application_class)] = "application"
    return {k: ("activity" if v == "activity-alias" else v) for k, v in kinds.items()}


class EntrySearch:
    """Backward search from a method to the places the platform enters the app."""

    def __init__(self, facts: AppFacts, program: Program) -> None:
        self.dex = program.dex
        self.hier = Hierarchy.of(program.dex)
        self.components = component_kinds(facts)
        self._kind_cache: dict[str, str] = {}
        self._ends: dict[tuple[str, str], tuple[PathEnd, ...]] = {}
        self._caller_cache: dict[tuple[str, str], set[tuple[str, str]]] = {}

    def component_of(self, cls: str) -> str:
        if cls not in self._kind_cache:
            kind = self.components.get(cls, "")
            if not kind:  # a base class of a component (BaseActivity.onCreate)
                for sub in self.hier.descendants(cls):
                    if sub in self.components:
                        kind = self.components[sub]
                        break
            self._kind_cache[cls] = kind
        return self._kind_cache[cls]

    def classify(self, node: tuple[str, str]) -> str:
        """ui | entry | '' (keep searching)."""
        cls, sig = node
        name = sig.split("(", 1)[0]
        if name in UI_CALLBACKS:
            return "ui"
        kind = self.component_of(cls)
        if kind:
            if name in _LIFECYCLE.get(kind, ()):
                return "entry"
            if kind == "activity" and sig.endswith("(Landroid/view/View;)V"):
                return "ui"  # a layout android:onClick handler (called by the framework)
        return ""

    def ends(self, start: tuple[str, str]) -> tuple[PathEnd, ...]:
        if start in self._ends:
            return self._ends[start]
        ends: list[PathEnd] = []
        seen = {start}
        todo: deque[tuple[tuple[str, str], int]] = deque([(start, 0)])
        explored = 0
        while todo and explored < MAX_NODES:
            node, depth = todo.popleft()
            explored += 1
            kind = self.classify(node)
            if kind:
                ends.append(PathEnd(kind, node, self.component_of(node[0])))
                continue
            callers = self._callers(node) if depth < MAX_DEPTH else set()
            if not callers:
                ends.append(PathEnd("none", node))
            for c in sorted(callers):
                if c not in seen:
                    seen.add(c)
                    todo.append((c, depth + 1))
        out = tuple(dict.fromkeys(ends))
        self._ends[start] = out
        return out

    def _callers(self, node: tuple[str, str]) -> set[tuple[str, str]]:
        if node not in self._caller_cache:
            self._caller_cache[node] = self._find_callers(node)
        return self._caller_cache[node]

    def _find_callers(self, node: tuple[str, str]) -> set[tuple[str, str]]:
        cls, sig = node
        app = self.dex.classes.keys()
        refs = {
            (c, sig)
            for c in (cls, *self.hier.ancestors(cls), *self.hier.descendants(cls))
            if c in app
        }
        if not sig.startswith("<init>") and _overridable(self.dex, node):
            for c in (cls, *self.hier.descendants(cls)):
                refs |= {(c, sig) for sig in self.dex.constructors(c)}
        found = find_callers(self.dex, refs, verify=False)
        return {m for ms in found.values() for m in ms if m != node}


def _overridable(dex, node: tuple[str, str]) -> bool:
    found = dex.defined_method(*node)
    if found is None:
        return False
    d, idx = found
    return not d.defined_methods[idx].access & (0x2 | 0x8 | 0x10000)


def _name(node: tuple[str, str]) -> str:
    return f"{cls_short(node[0])}.{node[1].split('(', 1)[0]}"


def classify_send(
    search: EntrySearch,
    loc: CodeLocation,
    recipients: str,
    harvest_loop: str,
) -> tuple[Trigger, str, str]:
    """(trigger, reason, entry) of one in-app send."""
    ends = search.ends((loc.class_name, loc.method))
    entries = [e for e in ends if e.kind == "entry"]
    uis = [e for e in ends if e.kind == "ui"]
    if entries:
        e = entries[0]
        what = {
            "receiver": "a broadcast receiver",
            "service": "a background service",
            "application": "the app's start-up",
            "provider": "a content provider",
            "activity": "a screen opening",
        }.get(e.component, "the platform")
        return (
            Trigger.AUTOMATIC,
            f"runs from {what} ({_name(e.method)}), with no button on the path",
            _name(e.method),
        )
    entry = _name(uis[0].method) if uis else ""
    if harvest_loop:
        return Trigger.AUTOMATIC, f"one action sends to every entry of {harvest_loop}", entry
    if recipients in _HARVESTED:
        return Trigger.AUTOMATIC, f"the numbers come from {_NOUNS[recipients]}, not the user", entry
    if recipients == "constant":
        return Trigger.AUTOMATIC, "sends to a fixed number the user did not choose", entry
    if uis:
        who = "a number the user typed" if recipients == "user_input" else "the number on screen"
        return (
            Trigger.USER_ACTION,
            f"sent when the user presses a button ({entry}), to {who}",
            entry,
        )
    first = next((e for e in ends if e.kind == "none"), None)
    return (
        Trigger.AUTOMATIC,
        "no button on any path found: the code is reached from "
        f"{_name(first.method) if first else 'nowhere visible'}, which nothing in the app "
        "calls (a platform callback, reflection or dead code)",
        "",
    )


_NOUNS = {
    "contacts": "the contact list",
    "call_log": "the call log",
    "network_response": "a server",
}


def sms_sends(
    facts: AppFacts, program: Program, resolver: Resolver, chains: tuple[Chain, ...]
) -> tuple[SmsSend, ...]:
    """Every send site with its trigger, recipients and texts."""
    sites: dict[CodeLocation, tuple[str, str]] = {}  # location -> (api, origin)
    for r in facts.refs_tagged("sms_send"):
        sites.setdefault(
            r.location, (f"SmsManager.{r.target.split('->', 1)[-1].split('(')[0]}", r.origin)
        )
    for c in chains:
        if c.kind == "reflection_sms_send":
            sites.setdefault(c.hops[-1].location, ("SmsManager (reflection)", c.origin))
    search = EntrySearch(facts, program)
    out: list[SmsSend] = []
    for loc, (api, origin) in sorted(sites.items()):
        linked = tuple(i for i, c in enumerate(chains) if c.hops[-1].location == loc)
        dest_chains = [chains[i] for i in linked if chains[i].sink == "sms_destination"]
        args = sms_args(resolver, loc)
        recipients = "unknown"
        if dest_chains:
            recipients = sorted({c.source for c in dest_chains})[0]
        elif args and args.user_input:
            recipients = "user_input"
        elif args and args.constant:
            recipients = "constant"
        loop = next(
            (
                _NOUNS.get(c.source, c.source)
                for c in dest_chains
                if c.in_loop and c.source in _HARVESTED
            ),
            "",
        )
        trigger, reason, entry = classify_send(search, loc, recipients, loop)
        out.append(
            SmsSend(
                location=loc,
                api=api,
                trigger=trigger,
                reason=reason,
                entry=entry,
                recipients=recipients,
                numbers=args.numbers if args else (),
                texts=args.texts if args else (),
                chains=linked,
                origin=origin,
            )
        )
    out.extend(_user_mediated(facts, chains))
    return tuple(out)


def _user_mediated(facts: AppFacts, chains: tuple[Chain, ...]) -> list[SmsSend]:
    """smsto:/sms: intents (ACTION_SENDTO): one entry per method that builds one."""
    out: list[SmsSend] = []
    seen: set[tuple[str, str]] = set()
    for i, c in enumerate(chains):
        if c.sink == "sms_intent":
            loc = c.hops[-1].location
            seen.add((loc.class_name, loc.method))
            out.append(_mediated(loc, c.source, (i,), c.origin))
    for r in facts.refs_tagged("sms_intent_uri"):
        key = (r.location.class_name, r.location.method)
        if key not in seen:
            seen.add(key)
            out.append(_mediated(r.location, "unknown", (), r.origin))
    return out


def _mediated(loc: CodeLocation, recipients: str, linked: tuple[int, ...], origin: str) -> SmsSend:
    return SmsSend(
        location=loc,
        api="ACTION_SENDTO",
        trigger=Trigger.USER_MEDIATED,
        reason="opens the user's own SMS app with a draft; the user decides whether to send",
        recipients=recipients,
        chains=linked,
        origin=origin,
    )


def chain_triggers(chains: tuple[Chain, ...], sends: tuple[SmsSend, ...]) -> tuple[Chain, ...]:
    """Chains ending at an SMS sink get the trigger of that send."""
    from dataclasses import replace

    by_loc = {s.location: s.trigger for s in sends}
    out = []
    for c in chains:
        t = None
        if c.sink == "sms_intent":
            t = Trigger.USER_MEDIATED
        elif c.sink in ("sms_destination", "sms_body", "sms_send"):
            t = by_loc.get(c.hops[-1].location)
        out.append(replace(c, trigger=t) if t else c)
    return tuple(out)
