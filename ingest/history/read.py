"""Reading real history files: encodings, missing-value markers, numbers, local times.

What monitoring centres really export, and how each is handled:

- **Encodings**: UTF-8, UTF-8 with a byte-order mark (Excel's "CSV UTF-8"), UTF-16 with a
  BOM, and GBK/GB 18030 (Chinese Excel and platform exports). Bytes that are not UTF-8 are
  read as GB 18030, GBK's superset; the header and cells are then ordinary text.
- **Windows line endings** (CRLF) are read as line ends, never as part of the last cell.
- **Separators and decimal commas**: ``,``, ``;`` or tab, whichever the header line uses
  most (European Excel writes ``;``), and ``12,5`` is 12.5 (a decimal comma; a thousands
  separator never appears in exported measurements).
- **Missing-value markers**: an empty cell, ``—``/``–``/``-``/``--``, ``NA``, ``N/A``,
  ``NaN``, ``null``, ``None`` carry no reading: counted as skipped, not rejected.
- **Local times**: a timestamp with an offset (``2024-05-01T10:00:00+02:00``, ``…Z``) is
  exact. A naive one is wall-clock time in the file's zone (``--tz``, default the network's)
  and is resolved with these rules:

  * ``24:00`` is 00:00 of the next day (the end of the last hour of a day, as hour-ending
    exports write it);
  * a local time that **does not exist** (the hour skipped when clocks go forward, e.g.
    02:30 on the last Sunday of March in Europe/Berlin) is refused as ``bad_timestamp``;
  * a local time that **exists twice** (the hour repeated when clocks go back) is
    resolved by order in the file: the first row of a series (station, parameter) with
    that wall-clock time is the earlier instant (summer time), the next row the later one
    (winter time). A file that writes the repeated hour once gets the summer-time instant.
"""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Final

import polars as pl

from ingest.history.land import ImportRefused

__all__ = [
    "MARKERS",
    "decode_text",
    "is_marker",
    "parse_numbers",
    "read_table_file",
    "resolve_times",
]

#: Cells that say "no value" (compared after stripping, case-insensitively).
MARKERS: Final = frozenset(
    {"", "—", "–", "－", "-", "--", "---", "na", "n/a", "nan", "null", "none", "#n/a"}
)

# Naive timestamp layouts tried in order (the first that parses a value wins)
_NAIVE_FORMATS: Final = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%Y%m%d%H%M%S",
    "%Y%m%d%H%M",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
)
_AWARE_FORMATS: Final = (
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%dT%H:%M%z",
    "%Y-%m-%d %H:%M%z",
    "%Y-%m-%dT%H:%M:%S%.f%z",
)
_US_PER_DAY: Final = 86_400_000_000


def decode_text(data: bytes) -> bytes:
    """``data`` as UTF-8 without a byte-order mark (UTF-16 and GB 18030 transcoded)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16").encode("utf-8")
    try:
        _check_utf8(data)
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030").encode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImportRefused(f"neither UTF-8 nor GBK/GB 18030 text (byte {exc.start})") from None
    return data


def _check_utf8(data: bytes, chunk: int = 1 << 24) -> None:
    """Raise UnicodeDecodeError unless ``data`` is UTF-8, in 16 MB steps (a 1 GB export is
    not turned into a 1-4 GB Python string only to be checked)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    for start in range(0, len(data), chunk):
        decoder.decode(view[start : start + chunk], final=False)
    decoder.decode(b"", final=True)


def read_table_file(path: Path) -> tuple[pl.DataFrame, bool]:
    """A CSV (any of the encodings above; every cell a string) or a Parquet file (typed);
    and whether it was CSV. Column names are stripped of blanks."""
    if path.suffix.lower() in {".parquet", ".pq"}:
        try:
            frame = pl.read_parquet(path)
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise ImportRefused(f"{path.name}: not a readable Parquet file ({exc})") from None
        return frame.rename({c: c.strip() for c in frame.columns}), False
    try:
        text = decode_text(path.read_bytes())
    except ImportRefused as exc:
        raise ImportRefused(f"{path.name}: {exc}") from None
    if not text.strip():
        raise ImportRefused(f"{path.name}: the file is empty")
    try:
        frame = pl.read_csv(
            text,
            separator=_separator(text),
            infer_schema=False,
            truncate_ragged_lines=True,
            missing_columns="insert",
        )
    except pl.exceptions.PolarsError as exc:
        raise ImportRefused(f"{path.name}: not a CSV table ({str(exc).splitlines()[0]})") from None
    frame = frame.rename({c: c.strip().removesuffix("\r") for c in frame.columns})
    # a CRLF file read as LF-only would leave '\r' on the last column's cells
    last = frame.columns[-1] if frame.columns else None
    if last is not None and frame.schema[last] == pl.String:
        frame = frame.with_columns(pl.col(last).str.strip_suffix("\r"))
    return frame, True


def _separator(text: bytes) -> str:
    """The header line's most frequent separator among ``,``, ``;`` and tab."""
    header = text[: text.find(b"\n")] if b"\n" in text else text
    counts = {sep: header.count(sep.encode()) for sep in (",", ";", "\t")}
    return max(counts, key=lambda sep: counts[sep]) if any(counts.values()) else ","


def is_marker(cell: pl.Expr) -> pl.Expr:
    """True where a string cell carries no value (null included)."""
    return cell.is_null() | cell.str.strip_chars().str.to_lowercase().is_in(list(MARKERS))


def parse_numbers(cell: pl.Expr) -> pl.Expr:
    """Float64 of a string cell (null where it is not a number); ``12,5`` is 12.5."""
    text = cell.str.strip_chars()
    comma = text.str.replace(r"^([+-]?\d+),(\d+)$", "${1}.${2}")
    return text.cast(pl.Float64, strict=False).fill_null(comma.cast(pl.Float64, strict=False))


def _naive_times(text: pl.Expr) -> pl.Expr:
    parsed = [text.str.to_datetime(f, strict=False, time_unit="us") for f in _NAIVE_FORMATS]
    return pl.coalesce(parsed)


def _aware_times(text: pl.Expr) -> pl.Expr:
    parsed = [
        text.str.to_datetime(f, strict=False, time_unit="us", time_zone="UTC")
        for f in _AWARE_FORMATS
    ]
    return pl.coalesce(parsed)


def resolve_times(frame: pl.DataFrame, column: str, tz: str, *, series: list[str]) -> pl.DataFrame:
    """``frame`` with ``ts`` (µs UTC) from ``column`` under the rules of the module docstring,
    and ``reason``/``detail`` set where the local time does not exist.

    Only the file's distinct timestamps are parsed (a 3-year hourly file has 26,280 of
    them whatever its row count); ``series`` names the columns that make a series, for the
    order rule of a repeated local hour.
    """
    dtype = frame.schema[column]
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        return frame.with_columns(
            pl.col(column)
            .dt.convert_time_zone("UTC")
            .dt.cast_time_unit("us")
            .cast(pl.Int64)
            .alias("ts")
        )
    distinct = frame.select(pl.col(column).unique())
    if isinstance(dtype, pl.Datetime):
        table = distinct.with_columns(
            pl.lit(None, pl.Datetime("us", "UTC")).alias("_aware"),
            pl.col(column).dt.cast_time_unit("us").alias("_naive"),
        )
    elif dtype == pl.String:
        text = pl.col(column).str.strip_chars()
        midnight = text.str.contains(r"[ T]24:00(:00)?$")
        cleaned = text.str.replace(r"([ T])24:00((:00)?)$", "${1}00:00${2}")
        table = distinct.with_columns(
            _aware_times(text).alias("_aware"),
            (
                _naive_times(cleaned)
                + pl.when(midnight).then(pl.duration(days=1)).otherwise(pl.duration(days=0))
            ).alias("_naive"),
        )
    else:
        raise ImportRefused(f"time column {column!r} holds {dtype}, not timestamps")
    table = table.with_columns(
        pl.col("_naive")
        .dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .dt.cast_time_unit("us")
        .cast(pl.Int64)
        .alias("_early"),
        pl.col("_naive")
        .dt.replace_time_zone(tz, ambiguous="latest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .dt.cast_time_unit("us")
        .cast(pl.Int64)
        .alias("_late"),
        pl.col("_aware").dt.cast_time_unit("us").cast(pl.Int64).alias("_exact"),
    )
    # file order matters (the repeated-hour rule, the later line winning): keep it
    out = frame.join(table, on=column, how="left", nulls_equal=True, maintain_order="left")
    ambiguous = pl.col("_early") != pl.col("_late")
    if out.select(ambiguous.fill_null(False).any()).item():
        order = pl.int_range(pl.len()).over([*series, column])
        local = (
            pl.when(ambiguous.fill_null(False) & (order > 0))
            .then(pl.col("_late"))
            .otherwise(pl.col("_early"))
        )
    else:
        local = pl.col("_early")
    gap = pl.col("_exact").is_null() & pl.col("_naive").is_not_null() & pl.col("_early").is_null()
    out = out.with_columns(
        pl.coalesce(pl.col("_exact"), local).alias("ts"),
        pl.when(gap).then(pl.lit("bad_timestamp")).otherwise(pl.col("reason")).alias("reason"),
        pl.when(gap)
        .then(
            pl.format(
                "local time {} does not exist in {} (clocks went forward)",
                pl.col(column).cast(pl.String),
                pl.lit(tz),
            )
        )
        .otherwise(pl.col("detail"))
        .alias("detail"),
    )
    return out.drop("_aware", "_naive", "_early", "_late", "_exact")


def day_start_us(days: pl.Expr) -> pl.Expr:
    """µs of a count of days since the epoch (helper for date columns)."""
    return days.cast(pl.Int64) * _US_PER_DAY
