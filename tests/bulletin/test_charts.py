"""The Chinese charts draw every glyph: no matplotlib "Glyph … missing" warning.

pytest already turns warnings into errors; these tests record them explicitly, and a control
shows the check can fail (DejaVu Sans, matplotlib's default, has no CJK glyphs).
"""

from __future__ import annotations

import io
import warnings

import pytest

from aircarbon.catalog import Catalog
from aircarbon.settings import Settings
from tests.bulletin.conftest import DAY

pytestmark = pytest.mark.integration


def _missing(seen: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in seen if "missing from font" in str(w.message)]


def test_zh_charts_have_every_glyph(lake_settings: tuple[Settings, Catalog]) -> None:
    from aircarbon.bulletin.charts import draw_charts
    from aircarbon.bulletin.data import build_context
    from aircarbon.bulletin.render import common, strings
    from warehouse.lake import connect

    settings, catalog = lake_settings
    con = connect(settings, read_only=True)
    try:
        ctx = build_context(con, settings, catalog, DAY)
    finally:
        con.close()
    labels = {code: zh for code, (zh, _) in ctx.names.items()}
    labels |= {**common()["pollutant"], "other": "其他"}
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        charts = draw_charts(ctx, "zh", strings("zh"), labels)
    assert set(charts) == {"calendar", "rose", "diurnal", "ofp", "pm"}
    assert _missing(seen) == []


def test_control_default_font_misses_cjk() -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.set_title("沈阳市空气质量", fontfamily="DejaVu Sans")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)
    assert _missing(seen)
