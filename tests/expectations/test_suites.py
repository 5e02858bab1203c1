"""The GX suites: generated from the catalog, passing clean frames, naming what fails.

GX costs seconds to import and to set up a context, so every GX test shares one module-
scoped data directory (one file context); tests that need their own directory say why.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from aircarbon.core.catalog import DEFAULT_CATALOG_DIR, Catalog, load_catalog
from aircarbon.core.contracts import DAILY, HOURLY, RAW, READINGS
from aircarbon.core.errors import ValidationFailed
from expectations import (
    SUITE_NAMES,
    build_suite,
    raise_on_critical,
    read_validation_runs,
    validate,
    write_summary,
    write_validation_runs,
)
from expectations.runner import ValidationOutcome
from expectations.suites import suite_parameters

CATALOG = load_catalog()
START = dt.datetime(2026, 1, 14, 16, tzinfo=dt.UTC)  # 2026-01-15 00:00 Asia/Shanghai
HOUR = dt.timedelta(hours=1)
STATIONS = list(CATALOG.stations)[:4]
PARAMS = ["so2", "no2", "o3", "co", "pm25", "pm10"]


def _mid(code: str) -> float:
    lo, hi = CATALOG.parameter(code).plausible
    return lo + (hi - lo) / 10


def raw_frame(minutes: int = 60) -> pl.DataFrame:
    rows = [
        {
            "station": s,
            "param": p,
            "ts": START + dt.timedelta(minutes=m),
            "value": _mid(p),
            "flag": "N",
            "period_s": 60,
            "seq": m,
            "received_at": START + dt.timedelta(minutes=m, seconds=3),
            "source": "json",
        }
        for s in STATIONS
        for p in PARAMS
        for m in range(1, minutes + 1)
    ]
    return pl.DataFrame(rows, schema=RAW)


def readings_frame() -> pl.DataFrame:
    raw = raw_frame()
    return (
        raw.drop("seq")
        .with_columns(
            pl.lit(0, pl.UInt32).alias("revisions"),
            pl.lit([], pl.List(pl.String)).alias("qc"),
            pl.lit(True).alias("valid"),
        )
        .select(READINGS.names())
        .cast(READINGS)
    )


def hourly_frame(hours: int = 24) -> pl.DataFrame:
    rows = [
        {
            "station": s,
            "param": p,
            "ts": START + (h + 1) * HOUR,
            "value": _mid(p),
            "n": 60,
            "minutes": 60.0,
            "valid": True,
        }
        for s in STATIONS
        for p in PARAMS
        for h in range(hours)
    ]
    return pl.DataFrame(rows, schema=HOURLY)


def daily_frame() -> pl.DataFrame:
    day = dt.date(2026, 1, 15)
    rows = [
        {"station": s, "param": p, "date": day, "value": _mid("o3" if p.startswith("o3_") else p),
         "n": 17 if p == "o3_8h_max" else 24, "valid": True}
        for s in STATIONS
        for p in [*PARAMS, "o3_1h_max", "o3_8h_max"]
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=DAILY)


FRAMES = {
    "raw": raw_frame,
    "readings": readings_frame,
    "hourly": hourly_frame,
    "daily": daily_frame,
}
INTERVALS = {
    "raw": (START, START + HOUR),
    "readings": (START, START + HOUR),
    "hourly": (START, START + 24 * HOUR),
    "daily": (START, START + 24 * HOUR),
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gx-data")


def run(
    frame: pl.DataFrame, suite: str, data_dir: Path, *, catalog: Catalog = CATALOG, **kw: object
) -> ValidationOutcome:
    return validate(
        frame,
        suite,
        batch_id=f"test-{suite}",
        interval=INTERVALS[suite],
        catalog=catalog,
        data_dir=data_dir,
        **kw,  # type: ignore[arg-type]
    )


def _failed(outcome: ValidationOutcome) -> set[tuple[str, str]]:
    return {(f.expectation, ",".join(f.columns)) for f in outcome.failed}


# --------------------------------------------------------------------------------------
# suites as data (no GX import)
# --------------------------------------------------------------------------------------


def test_suites_are_generated_from_the_catalog(tmp_path: Path) -> None:
    copy = tmp_path / "catalog"
    shutil.copytree(DEFAULT_CATALOG_DIR, copy)
    toml = copy / "parameters.toml"
    text = toml.read_text(encoding="utf-8")
    assert "physical = [-50.0, 30000.0]\nplausible = [0.0, 2620.0]" in text  # so2
    toml.write_text(
        text.replace(
            "physical = [-50.0, 30000.0]\nplausible = [0.0, 2620.0]",
            "physical = [-50.0, 900.0]\nplausible = [0.0, 500.0]",
            1,
        ),
        encoding="utf-8",
    )
    changed = load_catalog(copy)
    for name in SUITE_NAMES:
        before, after = build_suite(name, CATALOG), build_suite(name, changed)
        assert before.expectations == after.expectations  # rules are the same ...
        assert before.bounds != after.bounds  # ... the catalog's ranges are not
    raw = build_suite("raw", changed)
    assert raw.bounds["physical"]["so2"] == (-50.0, 900.0)
    # the plausible floor is widened by the instrument noise (so2: 5 µg/m³), as QC keeps
    # negatives within noise valid
    assert raw.bounds["plausible"]["so2"] == (-5.0, 500.0)
    assert set(raw.bounds["physical"]) == set(CATALOG.parameters)
    station_set = next(e for e in raw.expectations if e.columns == ("station",) and
                       "value_set" in e.kwargs)  # fmt: skip
    assert station_set.kwargs["value_set"] == sorted(CATALOG.stations)
    hourly = build_suite("hourly", CATALOG)
    minutes = [e for e in hourly.expectations if e.columns == ("minutes",) and e.where]
    assert minutes[0].kwargs["min_value"] == CATALOG.validity.hourly_min_minutes


def test_every_expectation_has_a_severity_and_a_reason() -> None:
    for name in SUITE_NAMES:
        suite = build_suite(name, CATALOG)
        severities = {e.severity.value for e in suite.expectations}
        assert severities == {"critical", "warning"}, name
        assert all(e.why for e in suite.expectations)
        assert build_suite(name, CATALOG, interval=False).parameters == ()


def test_daily_parameters_are_local_days() -> None:
    suite = build_suite("daily", CATALOG)
    params = suite_parameters(suite, INTERVALS["daily"], CATALOG.network.timezone)
    assert params == {
        "date_first": dt.datetime(2026, 1, 15),
        "date_last": dt.datetime(2026, 1, 15),
    }
    with pytest.raises(ValueError, match="needs the batch interval"):
        suite_parameters(suite, None, "UTC")


def test_a_frame_breaking_its_column_contract_fails_before_gx(tmp_path: Path) -> None:
    outcome = run(hourly_frame().drop("minutes"), "hourly", tmp_path, build_docs=False)
    assert not outcome.success
    assert outcome.critical_failures[0].columns == ("minutes",)
    assert not (tmp_path / "gx").exists()  # GX never ran
    with pytest.raises(ValidationFailed, match="minutes"):
        raise_on_critical(outcome)


# --------------------------------------------------------------------------------------
# GX runs
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITE_NAMES)
def test_clean_frames_pass(suite: str, data_dir: Path) -> None:
    outcome = run(FRAMES[suite](), suite, data_dir)
    assert outcome.failed == (), [f.label for f in outcome.failed]
    assert outcome.success
    assert outcome.evaluated == outcome.successful == len(build_suite(suite, CATALOG).expectations)
    assert outcome.docs_path is not None
    assert outcome.docs_path.exists()
    assert (data_dir / "gx/uncommitted/data_docs/local_site/index.html").exists()
    raise_on_critical(outcome)  # does not raise
    row = outcome.to_row()
    assert row["success"] is True
    assert row["severity_max"] is None
    assert json.loads(str(row["failed_expectations"])) == []


def test_a_corrupted_batch_fails_and_names_its_expectations(data_dir: Path) -> None:
    good = readings_frame()
    bad = pl.concat(
        [
            good,
            good.head(1).with_columns(station=pl.lit("SY-NOPE-99")),  # unknown station
            good.slice(10, 1).with_columns(value=pl.lit(1e7)),  # a duplicate identity ...
        ]
    )  # ... whose value is also beyond so2's physical range
    outcome = run(bad, "readings", data_dir)
    assert not outcome.success
    failed = _failed(outcome)
    assert ("expect_column_values_to_be_in_set", "station") in failed
    assert ("expect_column_values_to_be_between", "identity_duplicates") in failed
    assert ("expect_column_pair_values_a_to_be_greater_than_b", "physical_hi,value") in failed
    assert all(f.severity.value == "critical" for f in outcome.critical_failures)
    station = next(f for f in outcome.failed if f.columns == ("station",))
    assert station.unexpected_count == 2  # the min and max rows of the unknown station's group

    row = outcome.to_row()
    assert row["success"] is False
    assert row["severity_max"] == "critical"
    listed = json.loads(str(row["failed_expectations"]))
    assert {"expectation": "expect_column_values_to_be_in_set", "column": "station",
            "condition": None, "severity": "critical", "unexpected_count": 2,
            "unexpected_percent": station.unexpected_percent} in listed  # fmt: skip
    assert row["unsuccessful"] == len(listed) == outcome.unsuccessful

    with pytest.raises(ValidationFailed) as info:
        raise_on_critical(outcome)
    assert info.value.suite == "readings"
    assert info.value.expectation == outcome.critical_failures[0].label
    assert "unexpected" in str(info.value)


def test_an_invalid_flag_marked_valid_breaks_the_qc_contract(data_dir: Path) -> None:
    bad = readings_frame().with_columns(flag=pl.lit("M"))  # maintenance, yet valid
    outcome = run(bad, "readings", data_dir, build_docs=False)
    assert ("expect_column_values_to_be_in_set", "flag") in _failed(outcome)
    assert "valid == True" in outcome.critical_failures[0].condition


def test_sources_of_tolerant_hj212_decodes_pass_and_unknown_sources_fail(data_dir: Path) -> None:
    """Readings of a non-conforming logger name their quirks in ``source``; they are data."""
    sources = ["json", "hj212", "hj212-2005", "hj212;quirks=mn_punct,pw_long"]
    raw = raw_frame()
    quirky = raw.with_columns(
        source=pl.Series([sources[i % len(sources)] for i in range(raw.height)])
    )
    assert not run(quirky, "raw", data_dir, build_docs=False).failed
    unknown = raw.with_columns(source=pl.lit("hj212;quirks=")).vstack(raw)
    failed = _failed(run(unknown, "raw", data_dir, build_docs=False))
    assert ("expect_column_values_to_match_regex", "source") in failed


def test_sources_of_history_imports_pass_and_malformed_ones_fail(data_dir: Path) -> None:
    """Imported history names its importer and file in ``source`` (ingest.history)."""
    sources = [
        "import:table;file=site 1.csv",
        "import:long;file=history.parquet",
        "import:cnemc;file=china_sites_20240101.csv",
        "import:hj212;quirks=mn_punct;file=logger.log",
        "import:hj212-2005;file=old.log",
    ]
    raw = raw_frame()
    imported = raw.with_columns(
        source=pl.Series([sources[i % len(sources)] for i in range(raw.height)])
    )
    assert not run(imported, "raw", data_dir, build_docs=False).failed
    for bad in (
        "import:table",
        "import:table;file=",
        "import:excel;file=a.csv",
        "import:long;file=a;b",
    ):
        frame = raw.with_columns(source=pl.lit(bad)).vstack(raw)
        failed = _failed(run(frame, "raw", data_dir, build_docs=False))
        assert ("expect_column_values_to_match_regex", "source") in failed, bad


def test_low_completeness_is_a_warning_only(data_dir: Path) -> None:
    hourly = hourly_frame().with_columns(
        valid=pl.col("ts") <= START + 4 * HOUR,  # 4 of 24 hours valid
        minutes=pl.when(pl.col("ts") <= START + 4 * HOUR).then(60.0).otherwise(10.0),
    )
    outcome = run(hourly, "hourly", data_dir)
    assert outcome.success
    assert outcome.critical_failures == ()
    assert [(f.expectation, f.columns) for f in outcome.warnings] == [
        ("expect_column_values_to_be_between", ("valid_share",))
    ]
    assert outcome.to_row()["severity_max"] == "warning"
    raise_on_critical(outcome)  # warnings never raise


@pytest.mark.parametrize(("valid_hours", "warned"), [(18, False), (17, True)])
def test_hourly_completeness_is_the_batch_share_of_valid_hours(
    valid_hours: int, warned: bool, data_dir: Path
) -> None:
    """The profile's ``valid_share`` says what ``mostly = 0.75`` over rows said: 18 of 24."""
    hourly = hourly_frame().with_columns(valid=pl.col("ts") <= START + valid_hours * HOUR)
    outcome = run(hourly, "hourly", data_dir, build_docs=False)
    assert outcome.success
    assert bool(outcome.warnings) is warned


def test_a_duplicated_hour_fails_the_hourly_suite(data_dir: Path) -> None:
    good = hourly_frame()
    outcome = run(pl.concat([good, good.slice(5, 1)]), "hourly", data_dir, build_docs=False)
    assert not outcome.success
    assert ("expect_column_values_to_be_between", "identity_duplicates") in _failed(outcome)
    implausible = good.with_columns(value=pl.when(pl.col("ts") == START + 3 * HOUR)
                                    .then(1e6).otherwise(pl.col("value")))  # fmt: skip
    failed = _failed(run(implausible, "hourly", data_dir, build_docs=False))
    assert ("expect_column_pair_values_a_to_be_greater_than_b", "plausible_hi,value") in failed


def test_daily_o3_mda8_rule(data_dir: Path) -> None:
    daily = daily_frame()
    few = pl.col("param") == "o3_8h_max"
    passing = daily.with_columns(
        n=pl.when(few).then(10).otherwise(pl.col("n")).cast(pl.UInt32),
        value=pl.when(few).then(170.0).otherwise(pl.col("value")),  # exceeds: still valid
    )
    assert run(passing, "daily", data_dir, build_docs=False).failed == ()
    failing = passing.with_columns(value=pl.when(few).then(100.0).otherwise(pl.col("value")))
    outcome = run(failing, "daily", data_dir, build_docs=False)
    assert [(f.columns, f.severity.value) for f in outcome.failed] == [(("n",), "critical")]
    assert "o3_8h_max" in outcome.failed[0].condition


def test_rows_outside_the_interval_fail(data_dir: Path) -> None:
    late = raw_frame().with_columns(ts=pl.col("ts") + HOUR)
    outcome = run(late, "raw", data_dir, build_docs=False)
    assert ("expect_column_values_to_be_between", "ts") in _failed(outcome)


def test_runs_are_recorded_and_summarised_offline(data_dir: Path, tmp_path: Path) -> None:
    outcomes = [run(FRAMES[s](), s, data_dir, build_docs=False) for s in ("hourly", "daily")]
    path = write_validation_runs([o.to_row() for o in outcomes], tmp_path)
    assert path is not None
    assert path.suffix == ".parquet"
    write_validation_runs([outcomes[0].to_row()], tmp_path)
    runs = read_validation_runs(tmp_path)
    assert runs.height == 3
    assert runs["lake_snapshot"].null_count() == 3
    summary = write_summary(tmp_path)
    assert summary == tmp_path / "gx" / "summary.html"
    html = summary.read_text(encoding="utf-8")
    assert "hourly" in html
    assert "daily" in html
    assert "http://" not in html
    assert "https://" not in html
    assert "<script" not in html


@pytest.mark.slow
def test_retention_keeps_the_newest_results(tmp_path: Path) -> None:
    # its own directory: counting result files needs a directory no other test writes to
    for i in range(4):
        outcome = run(daily_frame(), "daily", tmp_path, keep_results=2)
        assert outcome.success, i
    results = list((tmp_path / "gx/uncommitted/validations/daily").rglob("*.json"))
    pages = list(
        (tmp_path / "gx/uncommitted/data_docs/local_site/validations/daily").rglob("*.html")
    )
    assert len(results) == 2
    assert len(pages) == 2
    assert outcome.docs_path in pages


@pytest.mark.slow
def test_a_catalog_change_changes_the_verdict(tmp_path: Path, data_dir: Path) -> None:
    copy = tmp_path / "catalog"
    shutil.copytree(DEFAULT_CATALOG_DIR, copy)
    toml = copy / "parameters.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace(
            "physical = [-50.0, 30000.0]\nplausible = [0.0, 2620.0]",
            "physical = [-50.0, 100.0]\nplausible = [0.0, 90.0]",
            1,
        ),
        encoding="utf-8",
    )
    narrow = load_catalog(copy)
    frame = raw_frame().with_columns(
        value=pl.when(pl.col("param") == "so2").then(200.0).otherwise(pl.col("value"))
    )
    assert run(frame, "raw", data_dir, build_docs=False).success
    outcome = run(frame, "raw", data_dir, catalog=narrow, build_docs=False)
    assert ("expect_column_pair_values_a_to_be_greater_than_b", "physical_hi,value") in _failed(
        outcome
    )
