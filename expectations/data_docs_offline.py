"""Make GX's Data Docs site render with no network: local CSS/JS, logo and favicon.

Why: a monitoring centre's network is often air-gapped, and GX 1.24's page templates load
Bootstrap, jQuery, bootstrap-table, Font Awesome and vega from public CDNs and the logo from
S3. Offline the pages render unstyled and the index's "Validation Results" table stays empty
(its rows are data that bootstrap-table renders in JavaScript). GX offers no setting for
this: custom views are looked up *after* its packaged templates, so they cannot replace
them. So every page is post-processed right after each build (:func:`make_offline`):

- ``expectations/data_docs_static/vendor/`` (in the repository and the wheel; provenance in
  its README) is copied into the site as ``static/vendor/``, so the site stays one folder
  that can be copied or served as a whole;
- each CDN ``<script>``/``<link>`` is replaced by tags for the vendored files, relative to
  the page (no ``integrity``/``crossorigin``: Chromium refuses CORS-mode loads of ``file://``
  scripts); vega's three scripts are dropped, as no page of our suites draws a chart;
- the S3 logo becomes the site's own ``static/images/logo-long.png`` (GX copies it there),
  the S3 dark-mode logo is dropped, the favicon link is given the page's real depth (GX
  counts one ``../`` too few on validation pages) and the newsletter footer is removed.

Idempotent and pure text: a page already rewritten is left untouched, so every build can
sweep the whole site (pages rendered before this module existed get fixed too).
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

__all__ = ["VENDOR", "external_assets", "make_offline", "rewrite_page"]

log = logging.getLogger("aircarbon.expectations")

#: The vendored files, shipped with the package.
VENDOR = Path(__file__).parent / "data_docs_static" / "vendor"

#: CDN URL in GX 1.24's templates → vendored files (relative to ``VENDOR``) that replace it;
#: an empty tuple drops the tag.
_CDN: dict[str, tuple[str, ...]] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "bootstrap-4.3.1/bootstrap.min.css",
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "bootstrap-4.3.1/bootstrap.min.js",
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": ("jquery-3.7.1/jquery.min.js",),
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
        "popper.js-1.12.9/popper.min.js",
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "bootstrap-table-1.19.1/bootstrap-table.min.css",
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "bootstrap-table-1.19.1/bootstrap-table.min.js",
    ),
    # GX links the 1.19.0 CSS (.css on pages, .min.css on the index): same rules as 1.19.1
    (
        "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
        "bootstrap-table-filter-control.css"
    ): ("bootstrap-table-1.19.1/bootstrap-table-filter-control.min.css",),
    (
        "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
        "bootstrap-table-filter-control.min.css"
    ): ("bootstrap-table-1.19.1/bootstrap-table-filter-control.min.css",),
    (
        "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
        "bootstrap-table-filter-control.min.js"
    ): ("bootstrap-table-1.19.1/bootstrap-table-filter-control.min.js",),
    (
        "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
        "bootstrap-datepicker.min.css"
    ): ("bootstrap-datepicker-1.9.0/bootstrap-datepicker.min.css",),
    (
        "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
        "bootstrap-datepicker.min.js"
    ): ("bootstrap-datepicker-1.9.0/bootstrap-datepicker.min.js",),
    # the pages use solid ("fas") icons only: the core CSS and the solid style, not all.min.css
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "fontawesome-free-6.6.0/css/fontawesome.min.css",
        "fontawesome-free-6.6.0/css/solid.min.css",
    ),
    (
        "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/"
        "bootstrap-prefers-dark.css"
    ): ("bootstrap-dark-1.1.0/bootstrap-prefers-dark.min.css",),
    # charts only (profiling, distribution expectations): ~1 MB that no page of ours uses
    "https://cdn.jsdelivr.net/npm/vega@5": (),
    "https://cdn.jsdelivr.net/npm/vega-lite@5": (),
    "https://cdn.jsdelivr.net/npm/vega-embed@6": (),
}

_SCRIPT = re.compile(r'<script\b[^>]*\bsrc="(https?://[^"]+)"[^>]*>\s*</script>')
_STYLESHEET = re.compile(r'<link\b[^>]*\bhref="(https?://[^"]+)"[^>]*>')
_S3 = r"https://great-expectations-web-assets\.s3\.[a-z0-9-]+\.amazonaws\.com/"
_S3_IMG = re.compile(r'src="' + _S3 + r'([A-Za-z0-9_.-]+)(?:\?[^"]*)?"')
_S3_CSS_URL = re.compile(r"url\(\s*['\"]?" + _S3 + r"[^)'\"]*['\"]?\s*\)")
_FAVICON = re.compile(r'<link rel="shortcut icon" href="[^"]*"')
_NEWSLETTER = re.compile(r"<footer>(?:(?!</footer>).)*?newsletter.*?</footer>\s*", re.S)
_EXTERNAL_ASSET = re.compile(
    r'<(?:script|img|source|link)\b[^>]*\b(?:src|href)="(https?://[^"]+)"|url\(\s*[\'"]?(https?://[^)\'"]+)'
)
_MARK = "<!-- aircarbon: offline -->"
# the dark theme hid the logo <img> to show an S3 background image instead: show ours
_DARK_LOGO = (
    "<style>@media (prefers-color-scheme: dark){.navbar-brand a img{visibility:visible!important;"
    "background:#f8f9fa;border-radius:4px;padding:2px}}</style>"
)


def _tags(url: str, prefix: str, original: str) -> str:
    files = _CDN.get(url)
    if files is None:
        return original  # unknown: left as GX wrote it (external_assets() reports it)
    out = []
    for name in files:
        href = f"{prefix}static/vendor/{name}"
        if name.endswith(".css"):
            out.append(f'<link rel="stylesheet" href="{href}"/>')
        else:
            out.append(f'<script src="{href}"></script>')
    return "\n".join(out)


def rewrite_page(text: str, prefix: str, images: set[str]) -> str:
    """``text`` with local assets; ``prefix`` leads from the page to the site root.

    ``images`` are the file names under the site's ``static/images/`` (the S3 logo is swapped
    for its local copy only when there is one).
    """
    text = _SCRIPT.sub(lambda m: _tags(m.group(1), prefix, m.group(0)), text)
    text = _STYLESHEET.sub(
        lambda m: (
            _tags(m.group(1), prefix, m.group(0)) if "stylesheet" in m.group(0) else m.group(0)
        ),
        text,
    )

    def _image(m: re.Match[str]) -> str:
        name = m.group(1)
        return f'src="{prefix}static/images/{name}"' if name in images else m.group(0)

    text = _S3_IMG.sub(_image, text)
    text = _S3_CSS_URL.sub("none", text)
    text = _FAVICON.sub(f'<link rel="shortcut icon" href="{prefix}static/images/favicon.ico"', text)
    text = _NEWSLETTER.sub("", text)
    if _MARK not in text:
        text = text.replace("</head>", f"{_DARK_LOGO}{_MARK}\n</head>", 1)
    return text


def external_assets(text: str) -> list[str]:
    """URLs a page would fetch from the network (scripts, stylesheets, images, CSS url())."""
    found = []
    for m in _EXTERNAL_ASSET.finditer(text):
        tag = m.group(0)
        if tag.startswith("<link") and "stylesheet" not in tag and "icon" not in tag:
            continue  # a plain <link> to a page is not loaded
        found.append(m.group(1) or m.group(2))
    return found


def _copy_vendor(site: Path) -> None:
    target = site / "static" / "vendor"
    for source in VENDOR.rglob("*"):
        if not source.is_file():
            continue
        dest = target / source.relative_to(VENDOR)
        if dest.is_file() and dest.stat().st_size == source.stat().st_size:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)


def make_offline(site: Path) -> int:
    """Vendor the assets into ``site`` and rewrite every page that needs it; pages changed.

    Call after each ``build_data_docs()``: GX rewrites the index (and the pages it rendered)
    with CDN links every time.
    """
    if not (site / "index.html").is_file():
        return 0
    _copy_vendor(site)
    images_dir = site / "static" / "images"
    images = {p.name for p in images_dir.iterdir()} if images_dir.is_dir() else set()
    changed = 0
    unknown: set[str] = set()
    for page in site.rglob("*.html"):
        if page.is_relative_to(site / "static"):
            continue
        text = page.read_text(encoding="utf-8")
        if _MARK in text:
            continue  # rewritten by an earlier build (GX re-renders only what it builds)
        depth = len(page.relative_to(site).parts) - 1
        new = rewrite_page(text, "../" * depth, images)
        unknown.update(external_assets(new))
        if new != text:
            tmp = page.with_name(page.name + ".tmp")
            tmp.write_text(new, encoding="utf-8")
            tmp.replace(page)
            changed += 1
    if unknown:
        log.warning(
            "Data Docs still load %d asset(s) from the network (offline they fail): %s",
            len(unknown),
            ", ".join(sorted(unknown)),
        )
    return changed
