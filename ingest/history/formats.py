"""The importers: wide tables, long tables, CNEMC daily files and HJ 212 logger logs.

Each one only turns its file into a readings frame (``ingest.history.land.FRAME_SCHEMA``);
checking, de-duplication, landing, dead letters, the manifest and the report are shared
(``ingest.history.land.run_import``). The functions are the Python API (the benchmark and
``aircarbon import`` call them) and take the settings and the catalog explicitly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from aircarbon.core.catalog import Catalog
from aircarbon.core.errors import UnknownParameterError, UnknownStationError
from ingest.history.land import (
    FRAME_SCHEMA,
    ImportContext,
    ImportRefused,
    Prepared,
    run_import,
)
from ingest.history.read import is_marker, parse_numbers, read_table_file, resolve_times
from ingest.history.report import ImportReport

if TYPE_CHECKING:
    from aircarbon.core.settings import Settings

__all__ = [
    "CNEMC_DERIVED",
    "CNEMC_HOURLY",
    "CNEMC_TIMEZONE",
    "import_cnemc",
    "import_hj212",
    "import_long",
    "import_table",
]

TimeMarks = Literal["start", "end"]

#: CNEMC ``type`` rows that are hourly concentrations: (parameter, unit as published).
CNEMC_HOURLY: Final[Mapping[str, tuple[str, str]]] = {
    "PM2.5": ("pm25", "ug/m3"),
    "PM10": ("pm10", "ug/m3"),
    "SO2": ("so2", "ug/m3"),
    "NO2": ("no2", "ug/m3"),
    "O3": ("o3", "ug/m3"),
    "CO": ("co", "mg/m3"),
}
#: Rows derived from the hourly ones (the index and moving averages): skipped, counted.
CNEMC_DERIVED: Final = frozenset(
    {"AQI", "PM2.5_24h", "PM10_24h", "SO2_24h", "NO2_24h", "O3_24h", "O3_8h", "O3_8h_24h", "CO_24h"}
)
#: CNEMC publishes Beijing time, whatever the importing network's zone.
CNEMC_TIMEZONE: Final = "Asia/Shanghai"
# History has no late-data window: ~3,000 years, in seconds
_NO_MAX_AGE_S: Final = 10**11


def _check_zone(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ImportRefused(f"--tz {tz!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
    return tz


def _check_period(period_s: int) -> int:
    if not 1 <= period_s <= 86_400:
        raise ImportRefused(f"--period-s {period_s} is outside 1..86400")
    return period_s


def _frame(columns: Mapping[str, pl.Expr | Any], data: pl.DataFrame) -> pl.DataFrame:
    """``data`` selected into the readings frame's columns (missing ones null)."""
    exprs = []
    for name, dtype in FRAME_SCHEMA.items():
        expr = columns.get(name)
        if expr is None:
            exprs.append(pl.lit(None, dtype).alias(name))
        elif isinstance(expr, pl.Expr):
            exprs.append(expr.cast(dtype).alias(name))
        else:
            exprs.append(pl.lit(expr, dtype).alias(name))
    return data.select(exprs)


def _text_or_null(data: pl.DataFrame, column: str) -> pl.Expr:
    """A string column as it is; a typed one as null (its value is its text, made only for
    the few refused rows that need a detail)."""
    if data.schema[column] == pl.String:
        return pl.col(column)
    return pl.lit(None, pl.String)


def _value_columns(data: pl.DataFrame, cells: str) -> tuple[pl.DataFrame, int]:
    """Drop marker cells (counted) and add ``value`` (Float64) and ``value_raw``."""
    dtype = data.schema[cells]
    if dtype == pl.String:
        marker = is_marker(pl.col(cells))
        skipped = int(data.select(marker.sum()).item())
        kept = data.filter(~marker)
        return kept.with_columns(
            parse_numbers(pl.col(cells)).alias("value"),
            pl.col(cells).str.strip_chars().alias("value_raw"),
        ), skipped
    if dtype.is_numeric():
        skipped = int(data.select(pl.col(cells).is_null().sum()).item())
        kept = data.filter(pl.col(cells).is_not_null())
        return kept.with_columns(
            pl.col(cells).cast(pl.Float64).alias("value"),
            pl.lit(None, pl.String).alias("value_raw"),  # typed: the value is its own text
        ), skipped
    raise ImportRefused(f"column {cells!r} holds {dtype}, not numbers")


# --------------------------------------------------------------------------------------
# wide tables
# --------------------------------------------------------------------------------------


def import_table(
    path: Path,
    *,
    settings: Settings,
    catalog: Catalog,
    station: str | None = None,
    time_column: str,
    station_column: str | None = None,
    tz: str | None = None,
    period_s: int = 3600,
    time_marks: TimeMarks = "end",
    rename: Mapping[str, str] | None = None,
    skip: Sequence[str] = (),
    units: Mapping[str, str] | None = None,
    progress: bool = False,
    force: bool = False,
) -> ImportReport:
    """Import a wide CSV or Parquet file of one station: a time column and one column per
    parameter (named by its code, or renamed with ``rename={"PM2.5": "pm25"}``).

    ``station_column`` instead of ``station``: a platform export of several stations, the
    station id in that column (each row checked like a long file's: unknown stations and
    parameters a station does not measure are refused per row). One import of such a file
    writes one file per hour for all its stations; one file per station writes as many.

    ``tz`` is the zone of naive timestamps (default: the network's). ``time_marks="start"``
    says the file labels each period by its start (the raw store labels by the end).
    ``units`` gives a column's unit when it is not the parameter's canonical one. A column
    that is neither a parameter, renamed nor skipped is an error naming it, as is a
    parameter the station does not measure.
    """
    rename = dict(rename or {})
    units = dict(units or {})
    skipped_cols = list(skip)
    if (station is None) == (station_column is None):
        raise ImportRefused("give either --station ID or --station-column COL")
    if station is not None and station not in catalog.stations:
        raise UnknownStationError(station)
    measured = set(catalog.stations[station].params) if station is not None else None
    zone = _check_zone(tz or catalog.network.timezone)
    _check_period(period_s)
    if time_marks not in ("start", "end"):
        raise ImportRefused(f"--time-marks must be start or end, not {time_marks!r}")
    for param, unit in units.items():
        catalog.conversion(param, unit)  # one-line error for an unknown or refused unit
    for column, param in rename.items():
        if param not in catalog.parameters:
            raise UnknownParameterError(param, kind=f"parameter (in --rename {column}=…)")
    ctx = ImportContext.from_settings(settings, catalog, progress=progress)
    options = {
        "station": station,
        "station_column": station_column,
        "time_column": time_column,
        "tz": zone,
        "period_s": period_s,
        "time_marks": time_marks,
        "rename": rename,
        "skip": sorted(skipped_cols),
        "units": units,
    }

    def prepare(file: Path, source: str) -> Prepared:
        data, is_csv = read_table_file(file)
        if time_column not in data.columns:
            raise ImportRefused(
                f"{file.name}: no time column {time_column!r} (columns: {', '.join(data.columns)})"
            )
        if station_column is not None and station_column not in data.columns:
            raise ImportRefused(f"{file.name}: no station column {station_column!r}")
        mapping: dict[str, str] = {}
        for column in data.columns:
            if column in (time_column, station_column) or column in skipped_cols:
                continue
            param = rename.get(column, column)
            if param not in catalog.parameters:
                raise ImportRefused(
                    f"{file.name}: column {column!r} is neither a parameter, renamed "
                    f"(--rename {column}=PARAM) nor skipped (--skip {column})"
                )
            if measured is not None and param not in measured:
                raise ImportRefused(
                    f"{file.name}: station {station} does not measure {param} (column "
                    f"{column!r}); add it to the station or --skip {column}"
                )
            if param in mapping.values():
                raise ImportRefused(f"{file.name}: two columns land as {param}")
            mapping[column] = param
        if not mapping:
            raise ImportRefused(f"{file.name}: no parameter columns besides {time_column!r}")
        first_line = 2 if is_csv else 1
        station_of = (
            pl.col(station_column).cast(pl.String).str.strip_chars()
            if station_column is not None
            else pl.lit(station, pl.String)
        )
        wide = data.select(
            pl.col(time_column).alias("_ts_raw"), station_of.alias("_station"), *mapping
        ).with_row_index("line", offset=first_line)
        wide = wide.with_columns(
            pl.lit(None, pl.String).alias("reason"), pl.lit(None, pl.String).alias("detail")
        )
        wide = resolve_times(wide, "_ts_raw", zone, series=["_station"])
        if time_marks == "start":
            wide = wide.with_columns(pl.col("ts") + period_s * 1_000_000)
        cells = list(mapping)
        same = {wide.schema[c] for c in cells}
        if len(same) > 1:
            wide = wide.with_columns(pl.col(cells).cast(pl.String))
        long = wide.unpivot(
            index=["_ts_raw", "_station", "line", "ts", "reason", "detail"],
            on=cells,
            variable_name="_column",
            value_name="_cell",
        )
        long, markers = _value_columns(long, "_cell")
        param_of = pl.col("_column").replace_strict(mapping, return_dtype=pl.String)
        unit_of = param_of.replace_strict(units, default=None, return_dtype=pl.String)
        frame = _frame(
            {
                "station": pl.col("_station"),
                "param": param_of,
                "ts": pl.col("ts"),
                "ts_raw": _text_or_null(long, "_ts_raw"),
                "value": pl.col("value"),
                "value_raw": pl.col("value_raw"),
                "flag": "N",
                "unit": unit_of,
                "period_s": period_s,
                "line": pl.col("line"),
                "reason": pl.col("reason"),
                "detail": pl.col("detail"),
            },
            long,
        )
        return Prepared(frame, skipped_markers=markers)

    return run_import(
        ctx, path, kind="table", station=station, options=options, prepare=prepare, force=force
    )


# --------------------------------------------------------------------------------------
# long tables
# --------------------------------------------------------------------------------------

_LONG_REQUIRED: Final = ("station", "param", "ts", "value")
_LONG_OPTIONAL: Final = ("flag", "unit")


def import_long(
    path: Path,
    *,
    settings: Settings,
    catalog: Catalog,
    tz: str | None = None,
    period_s: int = 3600,
    time_marks: TimeMarks = "end",
    progress: bool = False,
    force: bool = False,
) -> ImportReport:
    """Import a long CSV or Parquet file: ``station,param,ts,value[,flag,unit]``, one
    reading per row, any stations and parameters (checked per row, refused rows to the
    dead-letter store). Naive ``ts`` are in ``tz`` (default: the network's zone)."""
    zone = _check_zone(tz or catalog.network.timezone)
    _check_period(period_s)
    if time_marks not in ("start", "end"):
        raise ImportRefused(f"--time-marks must be start or end, not {time_marks!r}")
    ctx = ImportContext.from_settings(settings, catalog, progress=progress)
    options = {"tz": zone, "period_s": period_s, "time_marks": time_marks}

    def prepare(file: Path, source: str) -> Prepared:
        data, is_csv = read_table_file(file)
        data = data.rename({c: c.lower() for c in data.columns})
        missing = [c for c in _LONG_REQUIRED if c not in data.columns]
        if missing:
            raise ImportRefused(
                f"{file.name}: missing column(s) {', '.join(missing)} "
                "(a long file is station,param,ts,value[,flag,unit])"
            )
        extra = [c for c in data.columns if c not in (*_LONG_REQUIRED, *_LONG_OPTIONAL)]
        if extra:
            raise ImportRefused(
                f"{file.name}: unknown column(s) {', '.join(extra)} "
                "(a long file is station,param,ts,value[,flag,unit])"
            )
        data = data.with_row_index("line", offset=2 if is_csv else 1).with_columns(
            pl.lit(None, pl.String).alias("reason"), pl.lit(None, pl.String).alias("detail")
        )
        data, markers = _value_columns(data, "value")
        for name in ("station", "param"):
            data = data.with_columns(pl.col(name).cast(pl.String).str.strip_chars())
        data = data.rename({"ts": "_ts_raw"})
        data = resolve_times(data, "_ts_raw", zone, series=["station", "param"])
        if time_marks == "start":
            data = data.with_columns(pl.col("ts") + period_s * 1_000_000)
        flag = (
            pl.col("flag").cast(pl.String).str.strip_chars()
            if "flag" in data.columns
            else pl.lit(None, pl.String)
        )
        unit = (
            pl.col("unit").cast(pl.String).str.strip_chars()
            if "unit" in data.columns
            else pl.lit(None, pl.String)
        )
        frame = _frame(
            {
                "station": pl.col("station"),
                "param": pl.col("param"),
                "ts": pl.col("ts"),
                "ts_raw": _text_or_null(data, "_ts_raw"),
                "value": pl.col("value"),
                "value_raw": pl.col("value_raw"),
                "flag": pl.when(flag.is_null() | (flag == "")).then(pl.lit("N")).otherwise(flag),
                "unit": pl.when(unit == "").then(None).otherwise(unit),
                "period_s": period_s,
                "line": pl.col("line"),
                "reason": pl.col("reason"),
                "detail": pl.col("detail"),
            },
            data,
        )
        return Prepared(frame, skipped_markers=markers)

    return run_import(
        ctx, path, kind="long", station=None, options=options, prepare=prepare, force=force
    )


# --------------------------------------------------------------------------------------
# CNEMC daily files
# --------------------------------------------------------------------------------------


def import_cnemc(
    paths: Sequence[Path],
    *,
    settings: Settings,
    catalog: Catalog,
    progress: bool = False,
    force: bool = False,
) -> list[ImportReport]:
    """Import CNEMC's public hourly site files (``date,hour,type,<code>…``, one per day).

    ``hour`` h of ``date`` is the hour ENDING at h:00 Beijing time (CNEMC: "the hourly mean
    of 16 h is the mean of 15:00-16:00"), which is how the raw store labels hours; hour 0 is
    the last hour of the previous day. Only the hourly concentrations land (PM2.5, PM10,
    SO2, NO2, O3 in µg/m³, CO in mg/m³); AQI and the 24-hour and 8-hour averages are
    derived from them and skipped (counted). Station codes map to the network's stations
    through their ``national_code``; codes of other stations are counted, not errors.
    """
    codes = {s.national_code: s.id for s in catalog.stations.values() if s.national_code}
    ctx = ImportContext.from_settings(settings, catalog, progress=progress)
    reports = []
    for path in paths:

        def prepare(file: Path, source: str) -> Prepared:
            data, is_csv = read_table_file(file)
            data = data.rename(
                {c: c.lower() if c.lower() in ("date", "hour", "type") else c for c in data.columns}
            )
            missing = [c for c in ("date", "hour", "type") if c not in data.columns]
            if missing:
                raise ImportRefused(
                    f"{file.name}: missing column(s) {', '.join(missing)} "
                    "(a CNEMC file is date,hour,type,<station code>…)"
                )
            stations = [c for c in data.columns if c not in ("date", "hour", "type")]
            mine = [c for c in stations if c in codes]
            unmapped = [c for c in stations if c not in codes]
            if not mine:
                return Prepared(pl.DataFrame(schema=FRAME_SCHEMA), unmapped_codes=unmapped)
            data = data.select("date", "hour", "type", *mine).with_columns(
                pl.col("date", "hour", "type").cast(pl.String).str.strip_chars(),
                pl.col(mine).cast(pl.String),
            )
            data = data.with_row_index("line", offset=2 if is_csv else 1)
            long = data.unpivot(
                index=["date", "hour", "type", "line"],
                on=mine,
                variable_name="code",
                value_name="_cell",
            )
            long, markers = _value_columns(long, "_cell")
            derived = pl.col("type").is_in(list(CNEMC_DERIVED))
            n_derived = int(long.select(derived.sum()).item())
            long = long.filter(~derived)
            day = pl.coalesce(
                pl.col("date").str.to_date("%Y%m%d", strict=False),
                pl.col("date").str.to_date("%Y-%m-%d", strict=False),
            )
            hour = pl.col("hour").cast(pl.Int64, strict=False)
            good_hour = hour.is_between(0, 24)
            naive = day.cast(pl.Datetime("us")) + pl.duration(hours=hour)
            ts = (
                pl.when(good_hour)
                .then(naive)
                .otherwise(None)
                .dt.replace_time_zone(CNEMC_TIMEZONE, ambiguous="earliest", non_existent="null")
                .dt.convert_time_zone("UTC")
                .dt.cast_time_unit("us")
                .cast(pl.Int64)
            )
            param = pl.col("type").replace_strict(
                {k: v[0] for k, v in CNEMC_HOURLY.items()}, default=None, return_dtype=pl.String
            )
            unit = pl.col("type").replace_strict(
                {k: v[1] for k, v in CNEMC_HOURLY.items()}, default=None, return_dtype=pl.String
            )
            unknown_type = param.is_null()
            frame = _frame(
                {
                    "station": pl.col("code").replace_strict(codes, return_dtype=pl.String),
                    "param": pl.when(unknown_type).then(pl.col("type")).otherwise(param),
                    "ts": ts,
                    "ts_raw": pl.format("{} {}", pl.col("date"), pl.col("hour")),
                    "value": pl.col("value"),
                    "value_raw": pl.col("value_raw"),
                    "flag": "N",
                    "unit": unit,
                    "period_s": 3600,
                    "line": pl.col("line"),
                    "reason": pl.when(unknown_type).then(pl.lit("unknown_param")),
                    "detail": pl.when(unknown_type).then(
                        pl.format("CNEMC type '{}' is not an hourly concentration", pl.col("type"))
                    ),
                },
                long,
            )
            return Prepared(
                frame, skipped_markers=markers, skipped_derived=n_derived, unmapped_codes=unmapped
            )

        reports.append(
            run_import(
                ctx, path, kind="cnemc", station=None, options={}, prepare=prepare, force=force
            )
        )
    return reports


# --------------------------------------------------------------------------------------
# HJ 212 logs
# --------------------------------------------------------------------------------------


def import_hj212(
    path: Path,
    *,
    settings: Settings,
    catalog: Catalog,
    progress: bool = False,
    force: bool = False,
) -> ImportReport:
    """Import a data logger's or platform's log of HJ 212 frames, one per line, each
    optionally after a time prefix (``2024-05-01 10:00:01 ##0123QN=…``; the prefix is the
    log's, not the data's). Every frame goes through the live HJ 212 decoder
    (``ingest.decode.decode_hj212``: framing, CRC, MN → station, codes, units, flags),
    without the late-data limit; lines without a frame are counted as skipped."""
    from ingest.batch import ReadingBatch
    from ingest.decode import DecodeRules, decode_payload

    ctx = ImportContext.from_settings(settings, catalog, progress=progress)
    rules = DecodeRules(
        catalog,
        check_station=True,
        check_time=True,
        max_payload_bytes=settings.max_payload_bytes,
        max_age_s=_NO_MAX_AGE_S,
        max_future_s=settings.max_future_s,
        hj212_datatime=settings.hj212_datatime,
        hj212_strict=settings.hj212_strict,
    )
    options = {"hj212_datatime": settings.hj212_datatime, "hj212_strict": settings.hj212_strict}

    def prepare(file: Path, source: str) -> Prepared:
        rows: dict[str, list[Any]] = {name: [] for name in FRAME_SCHEMA}
        skipped = 0
        batch = ReadingBatch()
        prefix = source.removeprefix("import:hj212")
        for number, raw in enumerate(file.read_bytes().splitlines(), start=1):
            at = raw.find(b"##")
            if at < 0:
                skipped += bool(raw.strip())
                continue
            frame = raw[at:].rstrip() + b"\r\n"
            mark = len(batch)
            decoded = decode_payload("hj212", frame, None, rules, ctx.now_us, batch)
            text = frame.decode("ascii", "backslashreplace").rstrip()
            for i in range(mark, len(batch)):
                _hj_row(rows, batch, i, number, f"import:{batch.source[i]}{prefix}")
            for rej in decoded.rejections:
                ts_raw = _iso_us(decoded.ts_us) if decoded.ts_us is not None else None
                for name, value in (
                    ("station", decoded.station),
                    ("param", rej.param),
                    ("ts", decoded.ts_us),
                    ("ts_raw", ts_raw),
                    ("value", None),
                    ("value_raw", None),
                    ("flag", "N"),
                    ("unit", None),
                    ("period_s", decoded.period_s or 0),
                    ("line", number),
                    ("reason", rej.reason.value),
                    ("detail", rej.detail),
                    ("source", source),
                    ("payload", text),
                ):
                    rows[name].append(value)
        frame_ = pl.DataFrame(rows, schema=FRAME_SCHEMA)
        return Prepared(frame_, skipped_lines=skipped)

    return run_import(
        ctx, path, kind="hj212", station=None, options=options, prepare=prepare, force=force
    )


def _hj_row(rows: dict[str, list[Any]], batch: Any, i: int, line: int, source: str) -> None:
    for name, value in (
        ("station", batch.station[i]),
        ("param", batch.param[i]),
        ("ts", batch.ts[i]),
        ("ts_raw", _iso_us(batch.ts[i])),
        ("value", batch.value[i]),
        ("value_raw", repr(batch.value[i])),
        ("flag", batch.flag[i]),
        ("unit", None),
        ("period_s", batch.period_s[i]),
        ("line", line),
        ("reason", None),
        ("detail", None),
        ("source", source),
        ("payload", None),
    ):
        rows[name].append(value)


def _iso_us(us: int) -> str:
    return (dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)).isoformat()
