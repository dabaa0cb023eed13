"""Corpus summary page of ``apkaudit batch``: one self-contained HTML file.

Inline CSS, inline SVG charts, no external URL. The apps table is sorted by risk (highest first)
in the HTML itself; a tiny inline script, allowed by its hash in the Content-Security-Policy and
by nothing else, lets a reader re-sort it by any column. Without the script the page is complete.

Works on :class:`~apkaudit.model.AppResult` values (fresh or from the results store).
Everything from the APKs is escaped by Jinja's autoescape.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from apkaudit.model import VERDICT_KEYS, AppResult, Level, Severity
from apkaudit.report.risk import risk_label
from apkaudit.report.templates import new_environment

TEMPLATE = "summary.html.j2"

VERDICT_SHORT = {
    "contacts_read": "contacts read",
    "sms_read": "SMS read",
    "call_log_read": "call log read",
    "contacts_upload": "contacts upload",
    "sms_send": "SMS send",
    "bulk_sms_to_contacts": "bulk SMS to contacts",
}
# Levels in chart order, most serious first; "inconclusive" is "none" with hidden code.
CHART_LEVELS = ("confirmed", "likely", "possible", "inconclusive", "none")
LEVEL_SORT = {"confirmed": 4, "likely": 3, "possible": 2, "inconclusive": 1, "none": 0}
# critical .. info, then "unknown" (low or info with code hidden: never shown as low)
RISK_LEVELS = (*reversed([s.value for s in Severity]), "unknown")
TOP_PERMISSIONS = 20

# Re-sorts #apps by the clicked column: numbers by data-v, text otherwise; nothing else.
SORT_SCRIPT = (
    "(function(){var t=document.getElementById('apps');if(!t||!t.tHead)return;"
    "var hs=t.tHead.rows[0].cells,b=t.tBodies[0];"
    "Array.prototype.forEach.call(hs,function(th,i){var k=document.createElement('button');"
    "k.type='button';k.className='sort';k.textContent=th.textContent;th.textContent='';"
    "th.appendChild(k);k.addEventListener('click',function(){"
    "var up=th.getAttribute('aria-sort')!=='ascending';"
    "Array.prototype.forEach.call(hs,function(h){h.removeAttribute('aria-sort');});"
    "th.setAttribute('aria-sort',up?'ascending':'descending');"
    "var rs=Array.prototype.slice.call(b.rows);rs.sort(function(x,y){"
    "var p=x.cells[i].getAttribute('data-v')||x.cells[i].textContent,"
    "q=y.cells[i].getAttribute('data-v')||y.cells[i].textContent,"
    "m=parseFloat(p),n=parseFloat(q),r=(!isNaN(m)&&!isNaN(n))?m-n:p.localeCompare(q);"
    "return up?r:-r;});rs.forEach(function(r){b.appendChild(r);});});});})();"
)


def script_csp_hash(script: str = SORT_SCRIPT) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


# --------------------------------------------------------------------------- view model


@dataclass(frozen=True)
class AppLine:
    app: AppResult
    href: str | None  # relative link to the app's own report
    new_findings: int | None = None  # findings that fail the gate (None: no gate)


@dataclass(frozen=True)
class RowView:
    href: str | None
    title: str
    package: str
    version: str
    ok: bool
    error: str
    damaged: str  # a salvaged damaged input: the first defect ("zip_damaged: ..."); "" if none
    risk_level: str
    risk_score: int
    verdicts: tuple[tuple[str, str], ...]  # (key, shown level)
    findings: int
    new_findings: int | None
    complete: bool | None
    size: int
    path: str
    container: str


@dataclass(frozen=True)
class Segment:
    x: float
    width: float
    cls: str
    value: int
    tip: str


@dataclass(frozen=True)
class ChartRow:
    label: str
    y: float
    segments: tuple[Segment, ...]
    total: int


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    width: int
    height: int
    label_width: int
    rows: tuple[ChartRow, ...]
    legend: tuple[tuple[str, str], ...] = ()  # (css class, text)


ROW_H, ROW_GAP, LABEL_W, BAR_W, TOP = 18, 8, 190, 420, 6


def _shown_level(app: AppResult, key: str) -> str:
    level: Level = getattr(app.verdicts, key)
    return "inconclusive" if level is Level.NONE and not app.coverage.complete else level.value


_RESOURCE_REF = re.compile(r"@(?:0x)?[0-9A-Fa-f]{8}")


def _title(app: AppResult) -> str:
    ident, path = app.identity, app.input.path
    label = ident.label if ident.label and not _RESOURCE_REF.fullmatch(ident.label) else ""
    return label or ident.package or Path(path).name or path


def _damage(app: AppResult) -> str:
    defects = app.input_defects
    if not defects:
        return ""
    more = f" (+{len(defects) - 1} more)" if len(defects) > 1 else ""
    return f"{defects[0].kind}: {' '.join(defects[0].detail.split())}{more}"


def _error_reason(app: AppResult) -> str:
    reason = " ".join((app.error or "unknown error").split())
    return reason.removeprefix(f"{app.input.path}: ") or "unknown error"


def row_view(line: AppLine) -> RowView:
    app = line.app
    ok = app.status == "ok"
    ident = app.identity
    version = ident.version_name
    if ident.version_code:
        version = f"{version} ({ident.version_code})" if version else f"({ident.version_code})"
    return RowView(
        href=line.href,
        title=_title(app),
        package=ident.package,
        version=version,
        ok=ok,
        error="" if ok else _error_reason(app),
        damaged=_damage(app) if ok else "",
        risk_level=risk_label(app.risk) if ok else "error",
        risk_score=app.risk.score if ok else -1,
        verdicts=tuple((k, _shown_level(app, k) if ok else "error") for k in VERDICT_KEYS),
        findings=len(app.findings),
        new_findings=line.new_findings,
        complete=app.coverage.complete if ok else None,
        size=app.input.size,
        path=app.input.path,
        container=app.input.container,
    )


def _bar_chart(
    chart_id: str,
    title: str,
    rows: Sequence[tuple[str, Sequence[tuple[str, int, str]]]],
    scale_to: int,
    legend: tuple[tuple[str, str], ...] = (),
) -> Chart:
    """Horizontal (stacked) bars: rows of (label, [(css class, value, tooltip)])."""
    unit = BAR_W / max(1, scale_to)
    out = []
    for n, (label, parts) in enumerate(rows):
        x = float(LABEL_W)
        segs = []
        for cls, value, tip in parts:
            if value <= 0:
                continue
            w = round(value * unit, 2)
            segs.append(Segment(round(x, 2), w, cls, value, tip))
            x += w
        out.append(
            ChartRow(label, TOP + n * (ROW_H + ROW_GAP), tuple(segs), sum(p[1] for p in parts))
        )
    height = TOP * 2 + len(rows) * (ROW_H + ROW_GAP)
    return Chart(chart_id, title, LABEL_W + BAR_W + 60, height, LABEL_W, tuple(out), legend)


def verdict_counts(apps: Sequence[AppResult]) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = {k: Counter() for k in VERDICT_KEYS}
    for app in apps:
        if app.status == "ok":
            for k in VERDICT_KEYS:
                counts[k][_shown_level(app, k)] += 1
    return counts


def permission_counts(apps: Sequence[AppResult]) -> list[tuple[str, int, bool]]:
    """(permission, apps requesting it, dangerous), most requested first."""
    counts: Counter[str] = Counter()
    dangerous: set[str] = set()
    for app in apps:
        if app.status != "ok" or app.manifest is None:
            continue
        names = set()
        for p in app.manifest.permissions:
            names.add(p.name)
            if p.protection_level == "dangerous":
                dangerous.add(p.name)
        counts.update(names)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(name, n, name in dangerous) for name, n in ranked]


def charts(apps: Sequence[AppResult]) -> list[Chart]:
    ok = [a for a in apps if a.status == "ok"]
    vc = verdict_counts(apps)
    verdict_rows = [
        (
            VERDICT_SHORT[k],
            [
                (f"lvl-{lvl}", vc[k][lvl], f"{VERDICT_SHORT[k]}: {vc[k][lvl]} {lvl}")
                for lvl in CHART_LEVELS
            ],
        )
        for k in VERDICT_KEYS
    ]
    risk = Counter(risk_label(a.risk) for a in ok)
    errors = len(apps) - len(ok)
    risk_rows = [
        (lvl, [(f"sev-{lvl}", risk[lvl], f"risk {lvl}: {risk[lvl]}")]) for lvl in RISK_LEVELS
    ]
    risk_rows.append(("could not audit", [("sev-error", errors, f"could not audit: {errors}")]))
    perms = permission_counts(apps)[:TOP_PERMISSIONS]
    perm_rows = [
        (
            name.removeprefix("android.permission."),
            [("perm-dangerous" if dangerous else "perm", n, f"{name}: {n} app(s)")],
        )
        for name, n, dangerous in perms
    ]
    legend = tuple((f"lvl-{lvl}", lvl) for lvl in CHART_LEVELS)
    out = [
        _bar_chart("chart-verdicts", "Verdicts across the corpus", verdict_rows, len(ok), legend),
        _bar_chart("chart-risk", "Overall risk", risk_rows, max([errors, *risk.values(), 1])),
    ]
    if perm_rows:
        out.append(
            _bar_chart(
                "chart-permissions",
                f"Most requested permissions (top {len(perm_rows)}, apps requesting each)",
                perm_rows,
                max(1, len(ok)),
                (("perm-dangerous", "dangerous"), ("perm", "other")),
            )
        )
    return out


def render_summary(
    lines: Sequence[AppLine],
    *,
    tool_version: str,
    rules_version: str,
    generated_at: str,
    run_note: str = "",
    gate_note: str = "",
) -> str:
    """The corpus summary page for ``lines`` (one per input, in any order)."""
    apps = [line.app for line in lines]
    views = sorted(
        (row_view(line) for line in lines),
        key=lambda r: (not r.ok, -r.risk_score, -r.findings, r.path),
    )
    ok = [a for a in apps if a.status == "ok"]
    counts = {
        "apps": len(apps),
        "ok": len(ok),
        "errors": len(apps) - len(ok),
        "incomplete": sum(1 for a in ok if not a.coverage.complete),
        "with_findings": sum(1 for a in ok if a.findings),
        "flagged": sum(
            1 for a in ok if any(v != Level.NONE.value for v in a.verdicts.as_dict().values())
        ),
    }
    vc = verdict_counts(apps)
    template = _environment().get_template(TEMPLATE)
    return template.render(
        rows=views,
        counts=counts,
        charts=charts(apps),
        verdict_keys=VERDICT_KEYS,
        verdict_short=VERDICT_SHORT,
        verdict_counts=vc,
        chart_levels=CHART_LEVELS,
        level_sort=LEVEL_SORT,
        tool_version=tool_version,
        rules_version=rules_version,
        generated_at=generated_at,
        run_note=run_note,
        gate_note=gate_note,
        gated=any(line.new_findings is not None for line in lines),
        script=Markup(SORT_SCRIPT),  # our constant, never APK data
        script_hash=script_csp_hash(),
    )


# --------------------------------------------------------------------------- templates


def _filesize(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB"):
        if size < 1024:
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


@cache
def _environment() -> jinja2.Environment:
    env = new_environment()
    env.filters["filesize"] = _filesize
    return env
