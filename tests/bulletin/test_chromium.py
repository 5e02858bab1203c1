"""Both HTML bulletins in headless Chromium: no network, no broken image, CJK text drawn
with a CJK font, and a full-page PNG screenshot."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aircarbon.bulletin.charts import CJK_FAMILIES
from aircarbon.bulletin.samples import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is not installed"),
]
ARGS = list(CHROMIUM_ARGS)  # the samples' launch flags: no background network, no sync
# Chinese text nodes checked for their rendering font
CJK_SELECTORS = ("h1", "h2", "#headline p", "th", "figcaption", "#methods li")


def test_rendered_in_chromium(written: tuple[dict[str, object], Path], tmp_path: Path) -> None:
    from playwright.sync_api import Request, sync_playwright

    folder = written[1]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for lang in ("zh", "en"):
                page = browser.new_page(viewport={"width": 1024, "height": 900})
                url = (folder / f"bulletin.{lang}.html").as_uri()
                requests: list[str] = []

                def record(request: Request, seen: list[str] = requests) -> None:
                    seen.append(request.url)

                page.on("request", record)
                page.goto(url, wait_until="load")
                foreign = [u for u in requests if u != url and not u.startswith("data:")]
                assert foreign == [], f"{lang}: the page fetched {foreign}"
                sizes = page.eval_on_selector_all(
                    "img", "imgs => imgs.map(i => [i.complete, i.naturalWidth])"
                )
                assert len(sizes) >= 4, f"{lang}: charts missing"
                assert all(done and width > 0 for done, width in sizes), sizes
                if lang == "zh":
                    _assert_cjk_fonts(page)
                shot = tmp_path / f"bulletin.{lang}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.read_bytes()[:4] == b"\x89PNG"
                page.close()
        finally:
            browser.close()


def _assert_cjk_fonts(page: object) -> None:
    """Every checked element renders its glyphs with a font covering CJK (CDP)."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    checked = 0
    for selector in CJK_SELECTORS:
        nodes = cdp.send("DOM.querySelectorAll", {"nodeId": root, "selector": selector})
        for node in nodes["nodeIds"][:5]:
            fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
            if not fonts:
                continue
            names = {f["familyName"] for f in fonts}
            assert names & set(CJK_FAMILIES), f"{selector}: drawn with {names}"
            checked += 1
    assert checked >= 10
