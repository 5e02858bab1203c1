"""A network outside China, end to end: local days follow the network's own zone.

Chicago's network is created with the commands an operator runs (``network init``,
``stations add``), two simulated days are landed (the second is 2025-11-02, when US
daylight saving time ends: a 25-hour local day), and the hourly and daily steps run on
the real lake. The daily rows must be the means of the hours ending in
(Chicago midnight, next Chicago midnight] — not Shanghai's days — and AQI must come out.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aircarbon.core.catalog import catalog_for
from aircarbon.core.settings import load_settings
from aircarbon.simulator import iter_messages
from aircarbon.simulator.config import SimulationConfig
from ingest.decode import DecodeRules
from ingest.offline import land_messages
from tests.cli.test_cli import run_cli

CHICAGO = ZoneInfo("America/Chicago")
FIRST = dt.date(2025, 11, 1)
DST_END = dt.date(2025, 11, 2)  # 01:00-02:00 CDT, then 01:00-02:00 CST: 25 hours


def _cli(data: Path, *args: str) -> None:
    result = run_cli(*args, env={"AIRCARBON_DATA_DIR": str(data)})
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_chicago_days_and_aqi(tmp_path: Path) -> None:
    import warehouse
    from aircarbon.pipeline import process_day
    from aircarbon.pipeline.daily import day_bounds
    from aircarbon.pipeline.hourly import iter_process_hours

    data = tmp_path / "data"
    _cli(data, "network", "init", "--city", "chicago", "--timezone", "America/Chicago",
         "--center", "41.88,-87.63")  # fmt: skip
    for sid, lat in (("CH-01", 41.90), ("CH-02", 41.80)):
        _cli(data, "stations", "add", sid, "--type", "national", "--lat", str(lat),
             "--lon", "-87.65", "--params", "@criteria,@met")  # fmt: skip
    settings = load_settings({}, data_dir=data)
    catalog = catalog_for(settings)
    assert settings.timezone == "America/Chicago"
    assert sorted(catalog.stations) == ["CH-01", "CH-02"]

    config = SimulationConfig(
        seed=3, start=FIRST, days=2.5, format="json", timezone=settings.timezone
    )
    messages = ((m.topic, m.payload) for m in iter_messages(config, catalog=catalog))
    report = land_messages(messages, data, DecodeRules(catalog, check_time=False))
    assert report.readings > 0

    start, _ = day_bounds(FIRST, settings.timezone)
    _, end = day_bounds(DST_END, settings.timezone)
    hours = int((end - start) / dt.timedelta(hours=1))
    assert hours == 24 + 25
    ends = [start + dt.timedelta(hours=h) for h in range(1, hours + 1)]
    for _hour, result in iter_process_hours(settings, catalog, ends, validate=False):
        assert not isinstance(result, Exception), result
    for day in (FIRST, DST_END):
        process_day(settings, catalog, day, validate=False, build_docs=False)

    con = warehouse.connect(settings, read_only=True)
    try:
        dates = con.execute("SELECT DISTINCT date FROM daily ORDER BY date").fetchall()
        assert [d for (d,) in dates] == [FIRST, DST_END]
        midnight = dt.datetime.combine(DST_END, dt.time(0), tzinfo=CHICAGO)
        next_midnight = dt.datetime.combine(
            DST_END + dt.timedelta(days=1), dt.time(0), tzinfo=CHICAGO
        )
        hourly = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE valid), avg(value) FILTER (WHERE valid) "
            "FROM hourly WHERE station = 'CH-01' AND param = 'co' AND ts > ? AND ts <= ?",
            [midnight, next_midnight],
        ).fetchone()
        daily = con.execute(
            "SELECT value, n FROM daily WHERE station = 'CH-01' AND param = 'co' AND date = ?",
            [DST_END],
        ).fetchone()
        aqi = con.execute(
            "SELECT station, aqi FROM aqi_daily WHERE date = ? ORDER BY station", [DST_END]
        ).fetchall()
    finally:
        con.close()
    assert hourly is not None
    assert daily is not None
    assert hourly[0] == 25  # the hours of Chicago's 25-hour day, not Shanghai's 24
    assert daily[1] == hourly[1] >= 20  # the day's valid hours, all of them
    assert daily[0] == pytest.approx(hourly[2], abs=0.006)  # the day's mean, as published
    assert [s for s, _ in aqi] == ["CH-01", "CH-02"]
    assert all(isinstance(v, int) and v > 0 for _, v in aqi)
