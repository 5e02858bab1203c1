"""``aircarbon airflow``: config editing, interval arithmetic and argument errors (no Airflow)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aircarbon.commands import airflow as command
from aircarbon.core.errors import AirCarbonError
from aircarbon.core.settings import load_settings

SHANGHAI = dt.timezone(dt.timedelta(hours=8))

GENERATED = """\
[core]
# The folder where your airflow pipelines live
#
# Variable: AIRFLOW__CORE__DAGS_FOLDER
#
dags_folder = /home/me/airflow/dags

# Example: load_examples = False
load_examples = True
fernet_key = abc%%def

[api_auth]
jwt_secret = s3cret
"""


def test_set_options_keeps_comments_and_secrets() -> None:
    values = {
        ("core", "dags_folder"): "/repo/dags",
        ("core", "load_examples"): "False",
        ("core", "parallelism"): "4",
        ("database", "sql_alchemy_conn"): "sqlite:////h/airflow.db?timeout=30",
    }
    text = command.set_options(GENERATED, values)
    lines = text.splitlines()
    assert "# The folder where your airflow pipelines live" in lines
    assert "# Example: load_examples = False" in lines  # a comment, not an option line
    assert lines.count("dags_folder = /repo/dags") == 1
    assert "dags_folder = /home/me/airflow/dags" not in lines
    assert "load_examples = True" not in lines
    assert "load_examples = False" in lines
    assert "parallelism = 4" in lines
    assert "fernet_key = abc%%def" in lines  # untouched, %% and all
    assert "jwt_secret = s3cret" in lines
    assert lines[-2:] == ["[database]", "sql_alchemy_conn = sqlite:////h/airflow.db?timeout=30"]
    assert command.set_options(text, values) == text  # idempotent


def test_hourly_backfill_covers_the_local_days() -> None:
    settings = load_settings({}, data_dir=Path("/tmp/x"))
    first, last = command._hourly_logical_range(
        dt.date(2026, 11, 16), dt.date(2026, 11, 22), settings
    )
    # logical dates are interval starts: the first hour ends 01:00, the last at midnight
    assert first == dt.datetime(2026, 11, 16, 0, tzinfo=SHANGHAI)
    assert last == dt.datetime(2026, 11, 22, 23, tzinfo=SHANGHAI)
    assert (last - first) / dt.timedelta(hours=1) + 1 == 7 * 24


def test_hour_end_is_local_unless_an_offset_is_given() -> None:
    settings = load_settings({}, data_dir=Path("/tmp/x"))
    local = command.parse_hour_end("2026-11-24T10:00", settings.tz)
    assert local == dt.datetime(2026, 11, 24, 2, tzinfo=dt.UTC)
    assert command.parse_hour_end("2026-11-24T02:00Z", settings.tz) == local
    with pytest.raises(AirCarbonError, match="end of an hour"):
        command.parse_hour_end("2026-11-24T10:30", settings.tz)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["reprocess"], "exactly one of --hour and --day"),
        (["reprocess", "--hour", "2026-11-24T10:00", "--day", "2026-11-24"], "exactly one"),
        (["backfill", "--start", "2026-11-24", "--end", "2026-11-20"], "before --start"),
        (["backfill", "--start", "2026-11-24", "--end", "2026-11-24", "--dag", "x"], "--dag"),
        (["backfill", "--start", "24.11.2026", "--end", "2026-11-24"], "YYYY-MM-DD"),
    ],
)
def test_argument_errors_are_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(command.app, args)
    assert isinstance(result.exception, AirCarbonError)
    assert message in str(result.exception)
    assert "\n" not in str(result.exception)


def test_commands_need_init_first(tmp_path: Path) -> None:
    args = ["backfill", "--start", "2026-11-24", "--end", "2026-11-24"]
    result = CliRunner().invoke(command.app, [*args, "--home", str(tmp_path / "nowhere")])
    assert isinstance(result.exception, AirCarbonError)
    assert "aircarbon airflow init" in str(result.exception)


def test_operations_guide_mentions_every_command() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    for name in ("init", "standalone", "backfill", "reprocess"):
        assert f"aircarbon airflow {name}" in guide
