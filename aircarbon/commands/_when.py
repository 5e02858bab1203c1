"""Days and hours typed on the command line: one parser, one wording for every command.

Users type the same things to ``process``, ``airflow``, ``forecast``, ``bulletin`` and
``aqi``; a mistake should get the same answer from each. A day alone given where an hour is
expected is refused rather than read as midnight: ``--hour 2026-12-03`` has no hour in it,
and silently processing the hour ending at 00:00 is never what was meant.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from aircarbon.core.errors import AirCarbonError

__all__ = ["parse_day", "parse_hour_end"]

_DAY_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# "…T24:00" (with optional seconds and offset): the end of the day, as the importers read it
_HOUR_24 = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]24:00(?::00)?(.*)$")
_SHOWN = 40  # characters of a bad value echoed back in its one-line error
_YEARS = (1970, 2099)  # what the raw store holds (ingest refuses others)


def _shown(value: str) -> str:
    """The value as the error repeats it: quoted, and clipped so one line stays one line."""
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "…")


def _check_year(year: int, option: str, value: str) -> None:
    if not _YEARS[0] <= year <= _YEARS[1]:
        raise AirCarbonError(
            f"{option} must be in the years {_YEARS[0]} to {_YEARS[1]}, not {_shown(value)}"
        )


def parse_day(value: str, option: str = "--date") -> dt.date:
    """A local calendar day, ``YYYY-MM-DD``."""
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise AirCarbonError(f"{option} must be YYYY-MM-DD, not {_shown(value)}") from None
    _check_year(day.year, option, value)
    return day


def parse_hour_end(value: str, tz: str | dt.tzinfo, option: str = "--hour") -> dt.datetime:
    """The END of an hour, local time in ``tz`` unless the value carries an offset."""
    text = value.strip()
    if _DAY_ONLY.match(text):
        raise AirCarbonError(
            f"{option} must be the end of an hour with its time, e.g. {text}T01:00 for the "
            f"first hour of {text}, not {_shown(value)}"
        )
    next_day = _HOUR_24.match(text)
    if next_day:  # 24:00 ends the day: 00:00 of the next (HJ 212 logs and CNEMC tables use it)
        text = f"{next_day[1]}T00:00{next_day[2]}"
    try:
        parsed = dt.datetime.fromisoformat(text)
        if next_day:
            parsed += dt.timedelta(days=1)
    except ValueError:
        raise AirCarbonError(
            f"{option} must be ISO 8601, e.g. 2026-11-24T10:00 or 2026-11-24T10:00+08:00, "
            f"not {_shown(value)}"
        ) from None
    _check_year(parsed.year, option, value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz) if isinstance(tz, str) else tz)
    if (parsed.minute, parsed.second, parsed.microsecond) != (0, 0, 0):
        raise AirCarbonError(
            f"{option} must be the end of an hour (minutes :00), not {_shown(value)}"
        )
    return parsed
