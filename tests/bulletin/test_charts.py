"""The Chinese charts draw every glyph: no matplotlib "Glyph … missing" warning.

pytest already turns warnings into errors; these tests record them explicitly, and a control
shows the check can fail (DejaVu Sans, matplotlib's default, has no CJK glyphs).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from aircarbon.core.catalog import Catalog
from aircarbon.core.settings import Settings
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


_STALE_CACHE = """
import matplotlib
from pathlib import Path
from matplotlib import font_manager as fm
keep = [f for f in fm.fontManager.ttflist if "cjk" not in f.fname.lower()]
assert len(keep) < len(fm.fontManager.ttflist), "no CJK font installed to hide"
fm.fontManager.ttflist = keep
cache = Path(matplotlib.get_cachedir()) / f"fontlist-v{fm.FontManager.__version__}.json"
fm.json_dump(fm.fontManager, cache)
"""

_FIND = """
from matplotlib import font_manager as fm
from aircarbon.bulletin import charts
hidden = True
for family in charts.CJK_FAMILIES:
    try:
        fm.findfont(fm.FontProperties(family=family), fallback_to_default=False)
        hidden = False
    except ValueError:
        pass
assert hidden, "the stale cache should not list a CJK font"
print(charts.cjk_font())
"""


def test_cjk_font_found_although_matplotlib_cached_its_list_before_the_font(
    tmp_path: Path,
) -> None:
    """A font list cached before fonts-noto-cjk arrived (a fresh machine's `make demo`)."""
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / "mpl")}
    subprocess.run([sys.executable, "-c", _STALE_CACHE], env=env, check=True, timeout=120)
    found = subprocess.run(
        [sys.executable, "-c", _FIND],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert found.returncode == 0, found.stderr[-2000:]
    path = Path(found.stdout.strip().splitlines()[-1])
    assert path.is_file()
    assert "cjk" in path.name.lower()
