"""GX Data Docs work with no network: local assets, every link resolves, the runs listed.

Built from real validations (real GX, a file context in a temporary data directory); the
page checks parse the HTML GX and ``expectations.data_docs_offline`` wrote, and a headless
Chromium opens the site with every request outside ``file://`` refused.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import polars as pl
import pytest

from aircarbon.bulletin.samples import CHROMIUM, CHROMIUM_ARGS
from expectations import validate
from expectations._gx import docs_index
from expectations.data_docs_offline import VENDOR, make_offline
from expectations.runner import ValidationOutcome
from tests.expectations.test_suites import CATALOG, FRAMES, INTERVALS, hourly_frame

README = VENDOR.parent / "README.md"


def _run(frame: pl.DataFrame, suite: str, data_dir: Path, batch: str) -> ValidationOutcome:
    return validate(
        frame,
        suite,
        batch_id=batch,
        interval=INTERVALS[suite],
        catalog=CATALOG,
        data_dir=data_dir,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ValidationOutcome]]:
    """Three runs of two suites, one failing (its page shows failure icons and values)."""
    data_dir = tmp_path_factory.mktemp("gx-docs")
    bad = hourly_frame().with_columns(
        minutes=pl.when(pl.col("station") == pl.col("station").first())
        .then(pl.lit(5.0))
        .otherwise(pl.col("minutes"))
    )  # valid hours with 5 minutes of data
    outcomes = [
        _run(FRAMES["hourly"](), "hourly", data_dir, "clean-hour"),
        _run(FRAMES["daily"](), "daily", data_dir, "clean-day"),
        _run(bad, "hourly", data_dir, "short-hours"),
    ]
    assert not outcomes[2].success or outcomes[2].warnings, "the bad frame must fail something"
    return docs_index(data_dir).parent, outcomes


class _Refs(HTMLParser):
    """(tag, attribute, value) of every src/href, and the text of <style> blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href", "data-href"):
            value = values.get(name)
            if value is not None:
                self.refs.append((tag, name, value, values))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def _pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if "static" not in p.relative_to(site).parts)


def _parse(page: Path) -> _Refs:
    parser = _Refs()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def _is_asset(tag: str, attrs: dict[str, str | None]) -> bool:
    rel = attrs.get("rel") or ""
    return tag in ("script", "img", "source") or (tag == "link" and rel != "")


@pytest.mark.slow
def test_no_page_loads_anything_from_the_network(
    runs: tuple[Path, list[ValidationOutcome]],
) -> None:
    site, _ = runs
    pages = _pages(site)
    assert len(pages) >= 6  # index, 2 suite pages, 3 result pages
    for page in pages:
        refs = _parse(page)
        external = [
            value
            for tag, name, value, attrs in refs.refs
            if name in ("src", "href")
            and _is_asset(tag, attrs)
            and re.match(r"(https?:)?//", value)
        ]
        assert external == [], f"{page.relative_to(site)} loads {external}"
        css_urls = re.findall(r"url\(\s*['\"]?([^)'\"]+)", "".join(refs.styles))
        assert [u for u in css_urls if re.match(r"(https?:)?//", u)] == [], page
        assert "vega" not in page.read_text(encoding="utf-8")  # no chart: vega not vendored


def _target(page: Path, value: str) -> Path | None:
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path:  # external, mailto:, "#anchor"
        return None
    return (page.parent / unquote(parts.path)).resolve()


@pytest.mark.slow
def test_every_relative_link_resolves(runs: tuple[Path, list[ValidationOutcome]]) -> None:
    site, _ = runs
    checked = 0
    for page in _pages(site):
        text = page.read_text(encoding="utf-8")
        values = [value for _, _, value, _ in _parse(page).refs]
        # links inside the index's table data (rendered by bootstrap-table in the browser)
        values += re.findall(r"href=\\?\"([^\"\\]+)", text)
        values += re.findall(r"'_table_row_link_path': '([^']+)'", text)
        for value in values:
            target = _target(page, value)
            if target is None:
                continue
            assert target.is_file(), f"{page.relative_to(site)} → {value} does not exist"
            assert target.is_relative_to(site.resolve()), value  # the site stays one folder
            checked += 1
    assert checked > 30


@pytest.mark.slow
def test_vendored_css_finds_its_fonts(runs: tuple[Path, list[ValidationOutcome]]) -> None:
    site, _ = runs
    for css in (site / "static" / "vendor").rglob("*.css"):
        text = css.read_text(encoding="utf-8")
        # a browser uses the first format it reads; every one reads woff2, the first entry
        for src in re.findall(r"src:\s*url\(([^)]+)\)", text):
            assert (css.parent / src.strip("'\"")).resolve().is_file(), (css.name, src)
        for url in re.findall(r"url\(([^)]+)\)", text):
            assert not re.match(r"['\"]?(https?:)?//", url), (css.name, url)


@pytest.mark.slow
def test_the_index_lists_every_run_and_its_suite(
    runs: tuple[Path, list[ValidationOutcome]],
) -> None:
    site, outcomes = runs
    index = (site / "index.html").read_text(encoding="utf-8")
    for outcome in outcomes:
        assert outcome.docs_path is not None
        assert outcome.docs_path.is_file()
        row_link = outcome.docs_path.relative_to(site).as_posix()
        assert f"'_table_row_link_path': '{row_link}'" in index
        assert f"'_expectation_suite_name_sort': '{outcome.suite}'" in index
        assert (site / "expectations" / f"{outcome.suite}.html").is_file()
    assert index.count("'_table_row_link_path': 'validations/") == len(outcomes)
    for suite in {o.suite for o in outcomes}:  # the suites' tab links their pages
        assert f"'_table_row_link_path': 'expectations/{suite}.html'" in index
    assert "Expectation-Suites" in index  # the suites' tab, now that their pages exist
    assert "newsletter" not in index
    assert 'id="ge-cta-footer"' not in index  # the online tutorials footer is switched off


@pytest.mark.slow
def test_rewriting_is_idempotent(runs: tuple[Path, list[ValidationOutcome]]) -> None:
    site, _ = runs
    before = {p: p.read_bytes() for p in _pages(site)}
    assert make_offline(site) == 0
    assert {p: p.read_bytes() for p in _pages(site)} == before


def test_vendored_files_match_their_recorded_provenance() -> None:
    table = re.findall(
        r"^\| [^|]+ \| [^|]+ \| ([^ |]+) \| ([0-9a-f]{64}) \|$",
        README.read_text(encoding="utf-8"),
        re.M,
    )
    recorded = dict(table)
    shipped = {
        p.relative_to(VENDOR).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in VENDOR.rglob("*")
        if p.is_file() and not p.name.startswith("LICENSE")
    }
    assert shipped == recorded
    for folder in VENDOR.iterdir():
        assert any(p.name.startswith("LICENSE") for p in folder.iterdir()), folder.name


@pytest.mark.integration
@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is not installed")
@pytest.mark.slow
def test_styled_and_filled_in_chromium_offline(
    runs: tuple[Path, list[ValidationOutcome]],
) -> None:
    from playwright.sync_api import Route, sync_playwright

    site, outcomes = runs
    failing = next(o for o in outcomes if not o.success or o.warnings)
    assert failing.docs_path is not None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            refused: list[str] = []
            failed: list[str] = []

            def gate(route: Route) -> None:
                if route.request.url.startswith(("file://", "data:")):
                    route.continue_()
                else:
                    refused.append(route.request.url)
                    route.abort()

            context.route("**/*", gate)
            page = context.new_page()
            page.on("requestfailed", lambda r: failed.append(r.url))
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            for url in ((site / "index.html").as_uri(), failing.docs_path.as_uri()):
                page.goto(url, wait_until="load")
                page.evaluate("document.fonts.ready")
                # Bootstrap's .alert-secondary has a grey background; unstyled it is transparent
                background = page.eval_on_selector(
                    ".alert-secondary", "e => getComputedStyle(e).backgroundColor"
                )
                assert background == "rgb(226, 227, 229)", (url, background)
                logo = page.eval_on_selector(
                    ".navbar-brand img", "i => [i.complete, i.naturalWidth]"
                )
                assert logo[0] is True, (url, logo)
                assert logo[1] > 0, (url, logo)
                # Font Awesome's solid face drew the status icons
                assert page.evaluate("document.fonts.check('900 16px \"Font Awesome 6 Free\"')"), (
                    url
                )
                assert page.evaluate(
                    "[...document.fonts].some(f => f.family.includes('Font Awesome')"
                    " && f.status === 'loaded')"
                ), url
                if url.endswith("index.html"):
                    rows = page.eval_on_selector_all(
                        ".ge-index-page-validation-results-table tbody tr[data-href]",
                        "rows => rows.map(r => r.getAttribute('data-href'))",
                    )
                    expected = {
                        o.docs_path.relative_to(site).as_posix()
                        for o in outcomes
                        if o.docs_path is not None
                    }
                    assert set(rows) == expected
            assert refused == []
            assert failed == []
            assert errors == []
        finally:
            browser.close()


def test_a_batched_range_renders_its_page(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A back-fill batch ``D1..D2``: GX parses run names as times, and this one used to
    parse into a -31 h UTC offset that broke rendering of the batch's page."""
    batch = "2023-01-01..2023-01-31"
    with caplog.at_level("ERROR"):
        outcome = _run(FRAMES["daily"](), "daily", tmp_path, batch)
    assert not [r for r in caplog.records if "data docs rendering" in r.getMessage()]
    assert outcome.docs_path is not None
    pages = list((docs_index(tmp_path).parent / "validations" / "daily").rglob("*.html"))
    assert [p for p in pages if "2023-01-01_to_2023-01-31" in str(p)], pages
