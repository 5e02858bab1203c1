"""The bulletin's charts (matplotlib, Agg), drawn with an explicit CJK-covering font.

Chinese labels need a CJK font: the base image has none, and matplotlib's default DejaVu
draws boxes (with a "Glyph … missing" warning). :func:`cjk_font` finds one through
``matplotlib.font_manager`` (Noto Sans CJK from Debian's ``fonts-noto-cjk`` first) and every
text of every chart is drawn with it, in both languages, so one code path serves both.
No CJK font installed → one-line :class:`~aircarbon.core.errors.AirCarbonError` naming the package.
Each chart returns PNG bytes, or None when its data is missing (the section then says so).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from aircarbon.core.errors import AirCarbonError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from aircarbon.bulletin.model import BulletinContext

__all__ = ["CJK_FAMILIES", "cjk_font", "draw_charts"]

#: Font families tried in order; all cover CJK Unified Ideographs and Latin.
CJK_FAMILIES: Final = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
)
_SECTORS: Final = (
    "N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE",
    "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW",
)  # fmt: skip
_DPI: Final = 110
_INK: Final = "#1f2933"
_GRID: Final = "#d9dee3"
_SERIES: Final = {"pm25": "#c0392b", "o3": "#2471a3", "no2": "#7d3c98", "co2": "#1e8449"}
_COMPONENT_COLOURS: Final = (
    "#e4572e", "#29335c", "#f3a712", "#669bbc", "#2b2d42", "#a8c686",
    "#8d6a9f", "#c5d86d", "#ee964b", "#bfc0c0", "#dcdcdc",
)  # fmt: skip


#: File-name marks of CJK font files, for the scan that bypasses matplotlib's font cache.
_CJK_FILE_MARKS = ("cjk", "wqy", "sourcehansans", "notosanssc", "simhei", "msyh")


def _find_cjk_family() -> str | None:
    from matplotlib import font_manager

    for family in CJK_FAMILIES:
        try:
            path = font_manager.findfont(
                font_manager.FontProperties(family=family), fallback_to_default=False
            )
        except ValueError:
            continue
        return str(path)
    return None


@cache
def cjk_font() -> str:
    """Path of an installed font covering CJK (first of :data:`CJK_FAMILIES` found).

    matplotlib lists fonts from a cache written the first time it ran: fonts installed
    after that (``make demo`` installs fonts-noto-cjk on a fresh machine) are invisible to
    it, and neither re-running nor ``fc-cache`` helps. So when the cached list has no CJK
    font, the system font folders are scanned (by file name, cheap) and what is found is
    added to matplotlib's list before giving up.
    """
    from matplotlib import font_manager

    found = _find_cjk_family()
    if found is not None:
        return found
    for path in font_manager.findSystemFonts():
        name = Path(path).name.lower().replace("-", "").replace("_", "")
        if any(mark in name for mark in _CJK_FILE_MARKS):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
    found = _find_cjk_family()
    if found is not None:
        return found
    raise AirCarbonError(
        "no CJK font found for the Chinese bulletin charts: install fonts-noto-cjk "
        "(scripts/bootstrap.sh does) or fonts-wqy-microhei"
    )


def _setup() -> Any:
    """matplotlib with the Agg backend and the CJK font as the only sans-serif family."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import font_manager

    path = cjk_font()
    font_manager.fontManager.addfont(path)
    name = font_manager.FontProperties(fname=path).get_name()
    matplotlib.rcParams.update(
        {
            "font.family": "sans-serif",
            "font.sans-serif": [name],
            "axes.unicode_minus": False,  # the CJK font may lack U+2212
            "axes.edgecolor": _GRID,
            "axes.labelcolor": _INK,
            "xtick.color": _INK,
            "ytick.color": _INK,
            "text.color": _INK,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "svg.fonttype": "none",
        }
    )
    return matplotlib


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight", facecolor="white")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _text_colour(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#000000" if (0.299 * r + 0.587 * g + 0.114 * b) > 140 else "#ffffff"


def calendar_strip(ctx: BulletinContext, t: Mapping[str, str]) -> bytes | None:
    """City AQI of each day of the month so far, one HJ 633-coloured cell per day."""
    if not ctx.month:
        return None
    import calendar

    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    days = calendar.monthrange(ctx.day.year, ctx.day.month)[1]
    by_day = {c.date.day: c for c in ctx.month}
    fig, ax = plt.subplots(figsize=(9.2, 1.5))
    for d in range(1, days + 1):
        city = by_day.get(d)
        colour = city.category.color if city and city.category else "#f0f2f4"
        ax.add_patch(Rectangle((d - 1, 0), 0.92, 1, facecolor=colour, edgecolor="white"))
        ax.text(d - 0.54, -0.28, str(d), ha="center", va="center", fontsize=7)
        if city and city.aqi is not None:
            fg = _text_colour(colour)
            ax.text(d - 0.54, 0.5, str(city.aqi), ha="center", va="center", fontsize=7.5, color=fg)
    ax.set_xlim(0, days)
    ax.set_ylim(-0.5, 1.05)
    ax.axis("off")
    ax.set_title(t["chart_calendar"].format(year=ctx.day.year, month=ctx.day.month), fontsize=10)
    return _png(fig)


def pollution_rose(ctx: BulletinContext, t: Mapping[str, str], pollutant: str) -> bytes | None:
    """Mean concentration by wind sector at the station of the day's highest value."""
    if not ctx.rose:
        return None
    import matplotlib.pyplot as plt

    stats = {s.sector: s for s in ctx.rose}
    width = 2 * math.pi / len(_SECTORS)
    fig = plt.figure(figsize=(4.2, 4.2))
    ax: Any = fig.add_subplot(projection="polar")  # PolarAxes (typed as Axes)
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(-1)
    top = max(s.mean for s in ctx.rose)
    cmap = plt.get_cmap("YlOrRd")
    for i, name in enumerate(_SECTORS):
        s = stats.get(name)
        if s is None:
            continue
        ax.bar(
            i * width, s.mean, width=width * 0.9, color=cmap(0.25 + 0.75 * s.mean / top),
            edgecolor="white",
        )  # fmt: skip
        ax.text(i * width, s.mean * 1.08, f"{s.mean:.0f}", ha="center", fontsize=7)
    ax.set_xticks([i * width for i in range(0, 16, 2)])
    ax.set_xticklabels([t[f"dir_{d}"] for d in _SECTORS[::2]], fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_ylim(0, top * 1.25)
    ax.set_title(t["chart_rose"].format(pollutant=pollutant), fontsize=10, pad=14)
    return _png(fig)


def diurnal(ctx: BulletinContext, t: Mapping[str, str], labels: Mapping[str, str]) -> bytes | None:
    """The day's hourly city means: PM2.5, O3, NO2 (µg/m³, left) and CO2 (ppm, right)."""
    series = {p: v for p, v in ctx.diurnal.items() if v}
    if not series:
        return None
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.6, 3.0))
    for p in ("pm25", "o3", "no2"):
        if p in series:
            hours, values = zip(*sorted(series[p]), strict=True)
            ax.plot(hours, values, marker="o", ms=2.5, lw=1.6, color=_SERIES[p], label=labels[p])
    ax.set_xlabel(t["chart_hour"])
    ax.set_ylabel("µg/m³")
    ax.set_xlim(0.5, 24.5)
    ax.set_xticks(range(1, 25, 2))
    ax.grid(axis="y", color=_GRID, lw=0.6)
    handles, names = ax.get_legend_handles_labels()
    if "co2" in series:
        ax2 = ax.twinx()
        hours, values = zip(*sorted(series["co2"]), strict=True)
        ax2.plot(hours, values, ls="--", lw=1.6, color=_SERIES["co2"], label=labels["co2"])
        ax2.set_ylabel("ppm")
        ax2.spines["right"].set_visible(True)
        h2, n2 = ax2.get_legend_handles_labels()
        handles, names = handles + h2, names + n2
    ax.legend(handles, names, loc="upper center", ncol=4, fontsize=8, frameon=False,
              bbox_to_anchor=(0.5, 1.16))  # fmt: skip
    return _png(fig)


def ofp_bar(ctx: BulletinContext, t: Mapping[str, str], lang: str) -> bytes | None:
    """Top VOC species by ozone-formation potential at the (first) VOC station."""
    voc = next((v for v in ctx.voc if v.top), None)
    if voc is None:
        return None
    import matplotlib.pyplot as plt

    rows = list(reversed(voc.top))
    names = [r[1] if lang == "zh" else r[2] for r in rows]
    values = [r[4] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 0.32 * len(rows) + 0.9))
    ax.barh(names, values, color="#2471a3")
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.1f}", va="center", fontsize=7.5)
    ax.set_xlabel(t["chart_ofp_axis"])
    ax.set_xlim(0, max(values) * 1.18)
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="x", color=_GRID, lw=0.6)
    return _png(fig)


def pm_donut(ctx: BulletinContext, t: Mapping[str, str], labels: Mapping[str, str]) -> bytes | None:
    """PM2.5 composition at the (first) component super site."""
    pm = next((p for p in ctx.pm if p.composition), None)
    if pm is None:
        return None
    import matplotlib.pyplot as plt

    items = sorted(pm.composition.items(), key=lambda kv: (kv[0] == "other", -kv[1]))
    total = sum(v for _, v in items)
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    wedges, _ = ax.pie(
        [v for _, v in items],
        colors=_COMPONENT_COLOURS[: len(items)],
        startangle=90,
        counterclock=False,
        wedgeprops={"width": 0.42, "edgecolor": "white"},
    )
    legend = [f"{labels.get(k, k)}  {v:.1f} ({100 * v / total:.0f}%)" for k, v in items]
    ax.legend(wedges, legend, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
              frameon=False)  # fmt: skip
    if pm.pm25_ug_m3 is not None:
        ax.text(0, 0, f"PM2.5\n{pm.pm25_ug_m3:.1f}\nµg/m³", ha="center", va="center", fontsize=9)
    ax.set_title(t["chart_pm"], fontsize=10)
    return _png(fig)


def draw_charts(
    ctx: BulletinContext, lang: str, t: Mapping[str, str], labels: Mapping[str, str]
) -> dict[str, bytes]:
    """Every chart with data, by name (calendar, rose, diurnal, ofp, pm), for one language."""
    _setup()
    rose_label = labels.get(ctx.rose_param or "", ctx.rose_param or "")
    plan: dict[str, Callable[[], bytes | None]] = {
        "calendar": lambda: calendar_strip(ctx, t),
        "rose": lambda: pollution_rose(ctx, t, rose_label),
        "diurnal": lambda: diurnal(ctx, t, labels),
        "ofp": lambda: ofp_bar(ctx, t, lang),
        "pm": lambda: pm_donut(ctx, t, labels),
    }
    out: dict[str, bytes] = {}
    for name, draw in plan.items():
        png = draw()
        if png is not None:
            out[name] = png
    return out
