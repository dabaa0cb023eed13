"""JSON v1 extension keys for the answers of issue 10: ``destinations``, ``sms_sends`` and
``lending_app`` of an app row, ``destination`` and ``trigger`` of a chain, ``trigger`` of a
finding. Described in report-v1.schema.json ($defs destination, sms_send, lending_app)."""

from __future__ import annotations

from apkaudit.model import CodeLocation, Destination, JsonDict, LendingApp, SmsSend


def _loc(loc: CodeLocation | None) -> JsonDict | None:
    if loc is None:
        return None
    return {"dex": loc.dex, "class": loc.java_class, "method": loc.method, "offset": loc.offset}


def destination_to_dict(d: Destination, *, app_level: bool = False) -> JsonDict:
    """A sink's address. ``host``, ``scheme``, ``path`` and ``url`` are null when unknown;
    at app level, ``data`` (the data kinds that reach it) and ``chains`` (indices into the
    row's ``chains``) say what goes there."""
    out: JsonDict = {
        "url": d.url or None,
        "scheme": d.scheme or None,
        "host": d.host or None,
        "port": d.port,
        "path": d.path or None,
        "resolution": d.resolution.value,
        "api": d.api or None,
        "payload_keys": list(d.payload_keys),
        "alternatives": list(d.alternatives),
        "evidence": [_loc(e) for e in d.evidence],
        "location": _loc(d.location),
        "origin": d.origin,
    }
    if app_level:
        out["data"] = list(d.data)
        out["chains"] = list(d.chains)
    return out


def sms_send_to_dict(s: SmsSend) -> JsonDict:
    return {
        "location": _loc(s.location),
        "api": s.api,
        "trigger": s.trigger.value,
        "reason": s.reason,
        "entry": s.entry or None,
        "recipients": s.recipients,
        "numbers": list(s.numbers),
        "texts": list(s.texts),
        "chains": list(s.chains),
        "origin": s.origin,
    }


def lending_to_dict(la: LendingApp | None) -> JsonDict | None:
    if la is None:
        return None
    return {
        "value": la.value,
        "signals": [
            {"kind": s.kind, "value": s.value, "strength": s.strength, "detail": s.detail}
            for s in la.signals
        ],
    }
