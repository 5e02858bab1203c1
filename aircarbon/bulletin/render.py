"""Render a :class:`BulletinContext` to HTML (self-contained), Markdown (+ images) and PDF.

One template set (``templates/``) for every language: the language only selects strings
from ``i18n.toml``. HTML is rendered with autoescape, its charts embedded as ``data:`` URIs
and its CSS inline, fonts named by family (no file or network fetch), so the page opens
offline anywhere. Markdown gets the same sentences with the PNGs written beside it.
"""

from __future__ import annotations

import base64
import re
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from aircarbon.core.errors import AirCarbonError

if TYPE_CHECKING:
    import jinja2

    from aircarbon.bulletin.model import BulletinContext, Outlook, StationDay

__all__ = ["LANGS", "render_html", "render_markdown", "strings", "write_pdf"]

LANGS: Final = ("zh", "en")
_HERE: Final = Path(__file__).parent
_MINUS: Final = "\u2212"
CHARTS: Final = ("calendar", "rose", "diurnal", "ofp", "pm")


@cache
def _i18n() -> dict[str, Any]:
    return tomllib.loads((_HERE / "i18n.toml").read_text(encoding="utf-8"))


def strings(lang: str) -> dict[str, Any]:
    """The strings of ``lang`` (``zh`` or ``en``); unknown → one-line error."""
    doc = _i18n()
    if lang not in LANGS or lang not in doc:
        raise AirCarbonError(f"unknown bulletin language {lang!r} (valid: {', '.join(LANGS)})")
    return dict(doc[lang])


def common() -> dict[str, dict[str, str]]:
    """Language-independent labels: pollutant codes and display units."""
    return dict(_i18n()["common"])


def _num(value: float | None, decimals: int = 1) -> str:
    if value is None:
        return "—"
    text = f"{value:.{decimals}f}"
    return text.replace("-", _MINUS) if text.startswith("-") else text


def _pct(value: float | None) -> str:
    if value is None:
        return "—"
    share = 100 * value
    return f"{share:.1f}%" if 0 < share < 10 else f"{share:.0f}%"


def _signed(value: int) -> str:
    return f"+{value}" if value > 0 else (f"{_MINUS}{-value}" if value < 0 else "±0")


def _signed_num(value: float | None, decimals: int = 1) -> str:
    if value is None:
        return "—"
    text = f"{abs(value):.{decimals}f}"
    return ("+" if value >= 0 else _MINUS) + text


def _signed_pct(value: float) -> str:
    return _signed_num(100 * value, 1) + "%"


def method_words(outlook: Outlook | None, t: Mapping[str, Any]) -> str:
    """The forecast's method in words of ``t`` with its measured skill; never the raw code.

    ``forecasts.method`` codes map to ``method_<code>`` strings (non-alphanumerics → ``_``:
    ``gbm+met_persistence`` → ``method_gbm_met_persistence``); a code without one reads as
    ``method_other``. Persistence is its own baseline (skill 0 by definition), so it states
    its rule instead of a skill; a model states its recorded day-1 AQI skill, or that none
    was measured.
    """
    if outlook is None or not outlook.method:
        return str(t["method_other"])
    key = "method_" + re.sub(r"[^a-z0-9]+", "_", outlook.method.lower()).strip("_")
    words = str(t.get(key, t["method_other"])).format(version=outlook.model_version or "—")
    if key == "method_persistence_fallback":
        return words
    if outlook.day1_skill is None:
        return str(t["method_skill_none"]).format(method=words)
    return str(t["method_skill"]).format(method=words, skill=_signed_num(outlook.day1_skill, 2))


def _fg(colour: str) -> str:
    """Black or white text, whichever reads on an HJ 633 category colour."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#000" if (0.299 * r + 0.587 * g + 0.114 * b) > 140 else "#fff"


@cache
def _env(html: bool) -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _namespace(
    ctx: BulletinContext, lang: str, charts: Mapping[str, str], *, html: bool
) -> dict[str, Any]:
    """Helpers the templates call: strings, number formats and names in ``lang``."""
    from markupsafe import Markup, escape

    t = strings(lang)
    labels = common()
    idx = 0 if lang == "zh" else 1

    def f(key: str, **kwargs: Any) -> str:
        if html:
            return Markup(escape(t[key])).format(**kwargs)
        return str(t[key]).format(**kwargs)

    def station_name(sid: str | None) -> str:
        if sid is None:
            return "—"
        return ctx.station_names.get(sid, (sid, sid))[idx]

    def species_name(row: tuple[Any, ...]) -> str:
        return str(row[1] if lang == "zh" else row[2])

    def target_value(item: Mapping[str, Any]) -> str:
        value = float(item["value"])
        text = (_signed_num(value, 1) if "baseline_year" in item else f"{value:g}") + " %"
        qualifier = item.get("qualifier")
        if qualifier == "below":
            return (
                f"{t['qualifier_below']} {text}"
                if lang == "en"
                else f"{text}{t['qualifier_below']}"
            )
        if qualifier == "or more":
            return f"{text} {t['qualifier_or_more']}"
        return text

    def pol(code: str | None) -> str:
        """A pollutant code as printed; VOC groups by their name in the language."""
        if not code:
            return "—"
        return str(t.get(f"group_{code}") or labels["pollutant"].get(code, code))

    def incomplete_item(st: StationDay) -> str:
        """A station short of the daily minimum: name, id, valid hours of 24, which pollutant."""
        return str(t["incomplete_item"]).format(
            name=st.name_zh if lang == "zh" else st.name_en,
            id=st.station,
            valid=st.valid_hours if st.valid_hours is not None else 0,
            expected=st.expected_hours,
            pollutant=pol(st.short_param) if st.short_param else t["incomplete_nothing"],
        )

    city = ctx.city_zh if lang == "zh" else ctx.city_en
    day = ctx.day
    lim = ctx.coexceed_limits
    stations = t["list_sep"].join(station_name(s) for s in ctx.assessment_stations) or "—"
    methods = [
        m.format(
            standard=ctx.standard,
            stations=stations,
            pm=_num(lim[0], 0),
            o3=_num(lim[1], 0),
            **ctx.method_values,
        )
        for m in t["methods"]
    ]
    env = _env(html)
    env.filters["station_name"] = station_name
    env.filters["species_name"] = species_name
    env.filters["incomplete_item"] = incomplete_item
    return {
        "ctx": ctx,
        "lang": lang,
        "t": t,
        "f": f,
        "n": _num,
        "pct": _pct,
        "signed": _signed,
        "signed_num": _signed_num,
        "signed_pct": _signed_pct,
        "fg": _fg,
        "pol": pol,
        "unit": lambda code: labels["unit"].get(code or "", ""),
        "station_name": station_name,
        "target_value": target_value,
        "category_colour": lambda name: next(
            (c.color for c in ctx.categories if name in (c.name_en, c.name_zh)), None
        ),
        "city": city,
        "date_long": t["date_long"].format(year=day.year, month=day.month, day=day.day),
        "methods": methods,
        "method_words": method_words(ctx.outlook, t),
        "mv": ctx.method_values,
        # every chart name present (None when not drawn): the template tests, never guesses
        "charts": {name: charts.get(name) for name in CHARTS},
    }


def render_html(ctx: BulletinContext, lang: str, charts: Mapping[str, bytes]) -> str:
    """The self-contained HTML bulletin: charts inline as ``data:image/png`` URIs."""
    uris = {k: "data:image/png;base64," + base64.b64encode(v).decode() for k, v in charts.items()}
    ns = _namespace(ctx, lang, uris, html=True)
    return _env(True).get_template("bulletin.html.j2").render(**ns)


def render_markdown(ctx: BulletinContext, lang: str, images: Mapping[str, str]) -> str:
    """The Markdown twin; ``images`` maps chart names to file names beside the ``.md``."""
    ns = _namespace(ctx, lang, images, html=False)
    text = _env(False).get_template("bulletin.md.j2").render(**ns)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    # a list item or table row followed by a blank line and another of its kind is one block
    lines = text.splitlines()
    keep = [
        line
        for i, line in enumerate(lines)
        if line or not (0 < i < len(lines) - 1) or not (_same_block(lines[i - 1], lines[i + 1]))
    ]
    return "\n".join(keep).strip() + "\n"


def _same_block(before: str, after: str) -> bool:
    return any(before.startswith(p) and after.startswith(p) for p in ("- ", "| "))


def write_pdf(html_path: Path, pdf_path: Path) -> None:
    """PDF of the HTML bulletin with WeasyPrint: fonts by family name, images are data: URIs,
    so nothing is fetched."""
    try:
        import weasyprint  # type: ignore[import-untyped]  # ships no type information
    except ImportError as exc:  # pragma: no cover - weasyprint is in the lock
        raise AirCarbonError("--pdf needs weasyprint installed") from exc
    weasyprint.HTML(filename=str(html_path)).write_pdf(str(pdf_path))
