"""The HTML report in a real browser: Debian's headless Chromium driven by Playwright.

No browser is downloaded: Playwright drives ``/usr/bin/chromium`` (``apt-get install chromium``;
override with ``APKAUDIT_CHROMIUM``). Checks: the page makes no network request, logs no console
error, shows the headline above the fold of a 1280x900 window and of a 390 px phone, runs nothing
from a hostile label; for a real app with many findings, nothing is wider than a 390 px phone,
print-to-PDF gives at most 12 A4 pages, and page 1 holds the headline and "Where your data
goes"; the zh-CN edition has no English prose outside code elements (a word list) and has the
what-to-do section. Screenshots (and the PDFs) are saved under ``build/test-artifacts/`` (or
``$APKAUDIT_ARTIFACTS``); with ``APKAUDIT_UPDATE_SCREENSHOTS=1`` they also replace the
``docs/report-*.png`` of the same name.

Without Chromium or Playwright these tests are skipped locally and fail in CI.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import IN_CI, REPO, fixture_apk, report_of, require_real
from prose_words import ENGLISH

from apkaudit.report.formats import RenderOptions, render
from apkaudit.report.i18n import catalog

pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("APKAUDIT_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(os.environ.get("APKAUDIT_ARTIFACTS", REPO / "build" / "test-artifacts"))
DOCS = REPO / "docs"
WIDTH, HEIGHT = 1280, 900
PHONE = (390, 844)
DOC_SHOTS = {
    f"report-{kind}{lang}.png" for kind in ("", "phone-", "print-") for lang in ("en", "zh-CN")
}
# A4 (210 x 297 mm) minus the print margins of report.css (10 mm), in CSS px (96/in)
PRINT_WIDTH, PRINT_PAGE = round((210 - 20) / 25.4 * 96), round((297 - 20) / 25.4 * 96)
MAX_PAGES = 12
PROSE_JS = """() => { const skip = 'code, pre, samp, kbd, .mono, .app-label, script, style';
  const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT); const out = [];
  while (w.nextNode()) { const n = w.currentNode; if (n.parentElement.closest(skip)) continue;
    const s = n.textContent.trim(); if (s) out.push(s); } return out; }"""
WIDE_JS = """(limit) => [...document.querySelectorAll('body *')].filter(e => {
  const r = e.getBoundingClientRect(); return r.width > 0 && r.right > limit + 1; })
  .map(e => e.tagName + '.' + e.className).slice(0, 10)"""
# Safe as root in a container; no background traffic of Chromium's own; no DNS at all.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]
HOSTILE_LABEL = "<script>alert('label')</script><img src=x onerror=alert(1)>"
CJK_FONT = re.compile(r"CJK|Han Sans|PingFang|YaHei|Hei|Song|Ming|WenQuanYi|Fallback", re.I)


def _require_browser() -> None:
    problem = ""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "playwright is not installed (python3 -m pip install -e '.[test]')"
    if not problem and not CHROMIUM.is_file():
        problem = f"{CHROMIUM} not found (apt-get install -y chromium)"
    if problem:
        if IN_CI:
            pytest.fail(f"browser tests need a browser in CI: {problem}")
        pytest.skip(problem)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Chromium context with a fresh profile (``--user-data-dir``) for this module."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": WIDTH, "height": HEIGHT},
            device_scale_factor=1,
        )
        try:
            yield context
        finally:
            context.close()


@dataclass
class Visit:
    page: Any
    url: str
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    @property
    def console_errors(self) -> list[str]:
        return [text for kind, text in self.console if kind == "error"]

    @property
    def network(self) -> list[str]:
        """Every request other than the report file itself."""
        return [u for u in self.requests if u != self.url] + self.blocked


def visit(context: Any, path: Path) -> Visit:
    page = context.new_page()
    v = Visit(page, path.resolve().as_uri())

    def on_dialog(dialog: Any) -> None:
        v.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_route(route: Any) -> None:
        url = route.request.url
        if url == v.url:
            route.continue_()
        else:  # nothing else may load: record and refuse it
            v.blocked.append(url)
            route.abort()

    page.on("request", lambda r: v.requests.append(r.url))
    page.on("console", lambda m: v.console.append((m.type, m.text)))
    page.on("pageerror", lambda e: v.errors.append(str(e)))
    page.on("dialog", on_dialog)
    page.route("**/*", on_route)
    page.goto(v.url, wait_until="load")
    page.wait_for_timeout(250)  # an onerror handler or a late request would show by now
    return v


def write_report(tmp_path: Path, fixture: str | Path, lang: str, audit) -> Path:
    path = fixture if isinstance(fixture, Path) else fixture_apk(fixture)
    app = audit(path)
    out = tmp_path / f"{path.stem}-{lang}.html"
    out.write_text(render(report_of(app), "html", RenderOptions(lang=lang)), encoding="utf-8")
    return out


def save_screenshot(page: Any, name: str, clip: dict[str, float] | None = None) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / name
    page.screenshot(path=str(shot), clip=clip)  # the viewport: what a reader sees first
    if os.environ.get("APKAUDIT_UPDATE_SCREENSHOTS") == "1" and name in DOC_SHOTS:
        shutil.copyfile(shot, DOCS / name)
    return shot


def platform_fonts(page: Any, selector: str) -> list[dict[str, Any]]:
    """The fonts Chromium actually used to draw ``selector`` (DevTools CSS domain)."""
    cdp = page.context.new_cdp_session(page)
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    cdp.send("CSS.enable")
    fonts: list[dict[str, Any]] = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    cdp.detach()
    return fonts


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_bulk_sms_report_in_chromium(lang: str, browser: Any, tmp_path: Path, audit) -> None:
    v = visit(browser, write_report(tmp_path, "loan-bulk-sms", lang, audit))
    page = v.page
    try:
        assert v.network == [], "the report tried to load something"
        assert v.console_errors == [] and v.errors == [] and v.dialogs == []
        assert page.evaluate("document.documentElement.lang") == lang

        headline = page.locator("#app-1-headline")
        assert headline.is_visible()
        box = headline.bounding_box()
        assert box is not None and page.evaluate("window.scrollY") == 0
        assert box["y"] >= 0 and box["y"] + box["height"] <= HEIGHT, box  # above the fold
        expected = catalog(lang).t("headline.contacts_texted.third")
        assert expected in headline.inner_text()
        # the label is what the app calls itself, never the title of the verdict
        assert page.locator("h1 .app-label").inner_text() == "QuickCash Loan"
        assert page.locator("h1").inner_text() != "QuickCash Loan"

        if lang == "zh-CN":  # drawn with a font that has Chinese glyphs, not boxes
            fonts = platform_fonts(page, "#app-1-headline .headline-verdict")
            assert any(CJK_FONT.search(f["familyName"]) for f in fonts), fonts
        shot = save_screenshot(page, f"report-{lang}.png")
        assert shot.read_bytes().startswith(b"\x89PNG")
    finally:
        page.close()


def test_hostile_label_does_not_run(browser: Any, tmp_path: Path, audit) -> None:
    v = visit(browser, write_report(tmp_path, "hostile-label", "en", audit))
    page = v.page
    try:
        assert v.dialogs == [] and v.errors == [] and v.console_errors == []
        assert v.network == []  # <img src=x> would have requested ./x
        assert page.locator("h1 .app-label").inner_text() == HOSTILE_LABEL  # shown as text
        assert page.locator("script").count() == 0
        assert page.locator("img").count() == 0
        assert page.evaluate("document.title").endswith(HOSTILE_LABEL)
        save_screenshot(page, "report-hostile-label.png")
    finally:
        page.close()


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def test_report_prints_on_a4_summary_first(browser: Any, tmp_path: Path, audit) -> None:
    v = visit(browser, write_report(tmp_path, "loan-bulk-sms", "en", audit))
    page = v.page
    try:
        page.emulate_media(media="print")
        style = "e => getComputedStyle(e).breakBefore"
        assert page.eval_on_selector(".part-evidence", style) == "page"  # evidence: page 2 on
        assert page.eval_on_selector(".summary", style) != "page"
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "report-en.pdf").write_bytes(pdf)
        assert pdf.startswith(b"%PDF")
        assert 2 <= pdf_pages(pdf) <= MAX_PAGES
        box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
        assert box is not None
        width, height = float(box.group(1)), float(box.group(2))
        assert abs(width - 595.3) < 2 and abs(height - 841.9) < 2, (width, height)  # A4 in pt
    finally:
        page.close()


def _real(name: str) -> Path:
    return require_real() / name


@pytest.mark.real
@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_real_app_fits_a_phone_and_a_few_pages(lang: str, browser: Any, tmp_path: Path, audit):
    """A real app with many findings (an SMS worm: 15 findings, 31 data flows)."""
    v = visit(browser, write_report(tmp_path, _real("smsworm-anubis-fakecontact.apk"), lang, audit))
    page = v.page
    try:
        assert v.network == [] and v.console_errors == [] and v.errors == []
        page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
        page.evaluate("window.scrollTo(0, 0)")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
        assert page.evaluate(WIDE_JS, PHONE[0]) == []  # nothing wider than the phone
        for details in page.locator("details").all():  # opened, nothing is wider either
            details.evaluate("e => e.open = true")
        assert page.evaluate(WIDE_JS, PHONE[0]) == []
        page.reload()
        head = page.locator("#app-1-headline").bounding_box()
        assert head is not None and head["y"] + head["height"] <= PHONE[1]  # above the fold
        save_screenshot(page, f"report-phone-{lang}.png")

        page.set_viewport_size({"width": PRINT_WIDTH, "height": PRINT_PAGE})
        page.emulate_media(media="print")
        for part in ("#app-1-headline", "#app-1-where"):  # on page 1
            box = page.locator(part).bounding_box()
            assert box is not None and box["y"] + box["height"] <= PRINT_PAGE, (part, box)
        save_screenshot(page, f"report-print-{lang}.png")
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
        (ARTIFACTS / f"report-real-{lang}.pdf").write_bytes(pdf)
        assert pdf_pages(pdf) <= MAX_PAGES, pdf_pages(pdf)

        if lang == "zh-CN":
            prose = " ".join(page.evaluate(PROSE_JS))
            assert sorted(set(ENGLISH.findall(prose))) == []
            todo = page.locator("#app-1-todo")
            assert todo.is_visible()
            assert "12378" in todo.inner_text() and "12321" in todo.inner_text()
    finally:
        page.close()


@pytest.mark.real
def test_zh_report_of_a_harvester_is_chinese(browser: Any, tmp_path: Path, audit) -> None:
    v = visit(browser, write_report(tmp_path, _real("harvester-ahmyth.apk"), "zh-CN", audit))
    page = v.page
    try:
        prose = " ".join(page.evaluate(PROSE_JS))
        assert sorted(set(ENGLISH.findall(prose))) == []
        assert page.locator("#app-1-todo h2").inner_text() == catalog("zh-CN").t("ui.todo_heading")
        assert page.locator("#app-1-no-app").is_visible()
    finally:
        page.close()


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("report-en.png", (WIDTH, HEIGHT)),
        ("report-zh-CN.png", (WIDTH, HEIGHT)),
        ("report-phone-en.png", PHONE),
        ("report-phone-zh-CN.png", PHONE),
        ("report-print-en.png", (PRINT_WIDTH, PRINT_PAGE)),
        ("report-print-zh-CN.png", (PRINT_WIDTH, PRINT_PAGE)),
    ],
)
def test_docs_screenshots_are_committed(name: str, size: tuple[int, int]) -> None:
    shot = DOCS / name
    assert shot.is_file(), f"run APKAUDIT_UPDATE_SCREENSHOTS=1 pytest --all {__file__}"
    head = shot.read_bytes()[:24]
    assert head.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">II", head[16:24]) == size
    assert shot.stat().st_size < 400_000
