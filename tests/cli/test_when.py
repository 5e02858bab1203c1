"""Days and hours on the command line: one wording everywhere, no silent midnight."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from aircarbon.commands._when import parse_day, parse_hour_end
from aircarbon.core.errors import AirCarbonError
from tests.cli.test_cli import run_cli


def test_hour_end_local_and_with_offset() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    assert parse_hour_end("2026-12-03T01:00", "Asia/Shanghai") == dt.datetime(
        2026, 12, 3, 1, tzinfo=tz
    )
    assert parse_hour_end("2026-12-03 01:00+00:00", tz).utcoffset() == dt.timedelta(0)


def test_hour_24_ends_the_day_as_the_importers_read_it() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    midnight = dt.datetime(2026, 12, 4, 0, tzinfo=tz)
    assert parse_hour_end("2026-12-03T24:00", tz) == midnight
    assert parse_hour_end("2026-12-03 24:00:00", tz) == midnight
    assert parse_hour_end("2026-12-31T24:00+00:00", tz) == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(AirCarbonError, match="must be ISO 8601"):
        parse_hour_end("2026-12-03T24:30", tz)


def test_a_huge_value_is_clipped_in_its_one_line_error() -> None:
    value = "9" * 1_000_000
    for parse in (lambda: parse_day(value), lambda: parse_hour_end(value, "UTC")):
        with pytest.raises(AirCarbonError) as info:
            parse()
        message = str(info.value)
        assert "\n" not in message
        assert len(message) < 200
        assert "…" in message


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("2026-12-03", "2026-12-03T01:00"),  # a day alone is not read as midnight
        ("2026-12-03T10:30", "end of an hour (minutes :00)"),
        ("yesterday", "must be ISO 8601"),
        ("0001-01-01T00:00", "1970 to 2099"),
    ],
)
def test_hour_end_refusals(value: str, says: str) -> None:
    with pytest.raises(AirCarbonError, match=r"^--hour must ") as info:
        parse_hour_end(value, "UTC")
    assert says in str(info.value)


@pytest.mark.parametrize("value", ["2026-13-01", "03/12/2026", "9999-01-01"])
def test_day_refusals_one_wording(value: str) -> None:
    with pytest.raises(AirCarbonError, match=r"^--until must "):
        parse_day(value, "--until")


@pytest.mark.parametrize(
    "args",
    [
        ("process", "daily", "--date", "03/12/2026"),
        ("bulletin", "--date", "03/12/2026"),
        ("forecast", "--date", "03/12/2026"),
        ("aqi", "--date", "03/12/2026", "pm25=35"),
    ],
)
@pytest.mark.integration
def test_every_command_words_a_bad_date_alike(args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    assert "aircarbon: error: --date must be YYYY-MM-DD, not '03/12/2026'" in result.stderr


@pytest.mark.integration
def test_process_hourly_refuses_a_day_alone(tmp_path: object) -> None:
    result = run_cli("process", "hourly", "--hour", "2026-12-03")
    assert result.returncode == 2
    assert "2026-12-03T01:00" in result.stderr
