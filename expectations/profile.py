"""Compact frames for GX: a big batch reduced in Polars to the rows that decide its checks.

GX's pandas engine costs ~8 s per million rows for a suite of ~35 expectations, and a day
of 1,000 stations x 30 parameters of minute data is ~43 M rows. Most per-row checks of the
``raw`` and ``readings`` suites are *set*, *null* and *range* checks, and for those a group
of rows with equal keys is decided by its extremes: every row of the group is in a set
exactly when the group's key is, and inside [lo, hi] exactly when the group's minimum and
maximum are. So the profile keeps, per group of equal (station, param, flag, source
[, valid, qc]), two rows:

* ``stat = "min"``: the minimum of each measured column (``value``, ``ts``, ...), or null
  when the group holds a null there, so not-null checks still see it;
* ``stat = "max"``: the maximum of each measured column;

plus ``rows`` (the group's size). Checks that are not about single rows are computed per
station-parameter stream and put on the stream's first profile row (null on the others,
which GX skips, so ``mostly`` counts streams): ``identity_duplicates`` (rows minus
distinct ``ts``) and ``valid_share`` (share of valid readings).

The ``hourly`` suite reads a profile too (keys station, param, valid: a month of history is
~1 M hourly rows, ~2.4 s of GX per suite run row by row): its uniqueness rule becomes
``identity_duplicates`` per stream, and its completeness warning ("most station-parameter-
hours valid", ``mostly`` over rows) becomes ``valid_share``, the batch's share of valid rows,
on the profile's first row only, so the check passes and fails exactly as before.

The reduction is exact for pass/fail; unexpected *counts* in the results are profile
rows, which the runner says (``counted = "profile rows"``). Nothing here reads the catalog:
the suites hold the rules, the profile only keeps what the rules need to see.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

__all__ = ["HOURLY_KEYS", "RAW_KEYS", "READINGS_KEYS", "for_pandas", "profile", "with_bounds"]

RAW_KEYS = ("station", "param", "flag", "source")
READINGS_KEYS = ("station", "param", "flag", "source", "valid", "qc")
HOURLY_KEYS = ("station", "param", "valid")
_STREAM = ("station", "param")
_KEYS = {"raw": RAW_KEYS, "readings": READINGS_KEYS, "hourly": HOURLY_KEYS}


def profile(frame: pl.DataFrame, suite: str) -> pl.DataFrame:
    """The profile of a ``raw``, ``readings`` or ``hourly`` batch (see the module docstring)."""
    keys = list(_KEYS[suite])
    measured = [c for c in frame.columns if c not in keys]
    lazy = frame.lazy()
    groups = lazy.group_by(keys).agg(
        pl.len().alias("rows"),
        *[
            pl.when(pl.col(c).null_count() > 0)
            .then(None)
            .otherwise(pl.col(c).min())
            .alias(f"{c}\0min")
            for c in measured
        ],
        *[pl.col(c).max().alias(f"{c}\0max") for c in measured],
    )
    parts = [
        groups.select(
            *keys,
            pl.lit(stat).alias("stat"),
            *[pl.col(f"{c}\0{stat}").alias(c) for c in measured],
            "rows",
        )
        for stat in ("min", "max")
    ]
    prof = pl.concat(parts).sort([*keys, "stat"], nulls_last=True)
    if suite in ("readings", "hourly"):
        streams = lazy.group_by(_STREAM).agg(
            (pl.len() - pl.col("ts").n_unique()).alias("identity_duplicates"),
            pl.col("valid").cast(pl.Float64).mean().alias("valid_share"),
        )
        first = pl.int_range(pl.len()).over(_STREAM) == 0
        prof = prof.join(streams, on=list(_STREAM), how="left", nulls_equal=True).with_columns(
            pl.when(first).then(pl.col("identity_duplicates")).alias("identity_duplicates"),
            pl.when(first).then(pl.col("valid_share")).alias("valid_share"),
        )
    if suite == "hourly":
        # the batch's share of valid rows among the decided ones (GX's ``mostly`` leaves
        # nulls out too; a null ``valid`` fails its own not-null check)
        share = frame.select(pl.col("valid").cast(pl.Float64).mean()).item()
        first_row = pl.int_range(pl.len()) == 0
        prof = prof.with_columns(pl.when(first_row).then(pl.lit(share)).alias("valid_share"))
    return for_pandas(prof.collect())


def for_pandas(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with List columns GX cannot compare turned into comma-joined strings.

    GX's pandas engine handles strings, numbers, booleans and (tz-aware) datetimes, but
    not list cells (``qc``): ``qc`` becomes ``"range,spike"``, an empty list ``""``.
    Struct columns are dropped (no suite checks them).
    """
    out = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.List):
            out.append(pl.col(name).cast(pl.List(pl.String)).list.join(","))
        elif isinstance(dtype, pl.Struct | pl.Array):
            continue
        else:
            out.append(pl.col(name))
    return frame.select(out)


def with_bounds(
    frame: pl.DataFrame, bounds: Mapping[str, Mapping[str, tuple[float, float]]]
) -> pl.DataFrame:
    """``frame`` plus ``<kind>_lo``/``<kind>_hi`` columns: the suite's range per ``param``.

    A vectorised lookup (a left join on a table of ~115 rows), so GX checks a range as a
    column pair whatever the number of parameters; unknown parameters get null bounds.
    """
    for kind, ranges in bounds.items():
        table = pl.DataFrame(
            {
                "param": list(ranges),
                f"{kind}_lo": [lo for lo, _ in ranges.values()],
                f"{kind}_hi": [hi for _, hi in ranges.values()],
            },
            schema={"param": pl.String, f"{kind}_lo": pl.Float64, f"{kind}_hi": pl.Float64},
        )
        frame = frame.join(table, on="param", how="left", maintain_order="left")
    return frame
