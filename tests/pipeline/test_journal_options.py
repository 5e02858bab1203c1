"""A resumed back-fill keeps only batches done under the options it runs with.

The journal of ``process hourly|daily --until`` used to be keyed by the range alone: a run
of the same range without validation, or before the network file changed, left batches the
next run skipped although they hold another result. These tests plan back-fills (no lake
needed: planning reads only the journal and the raw files' footers) and check the refusal
through the real CLI.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from aircarbon.core.catalog import sample_network_path
from aircarbon.core.settings import Settings, load_settings
from aircarbon.pipeline.backfill import Journal, JournalMismatchError, backfill_options
from aircarbon.pipeline.daily import plan_days
from aircarbon.pipeline.hourly import hour_key, plan_hours
from tests.cli.test_cli import run_cli

ZONE = ZoneInfo("Asia/Shanghai")
#: two local days of hour ends (the sample network's zone)
HOURS = [dt.datetime(2025, 3, 3, tzinfo=ZONE) + dt.timedelta(hours=h) for h in range(1, 49)]
DAYS = [dt.date(2025, 3, 3), dt.date(2025, 3, 4)]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A data directory with its own network file (a copy of the sample)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    shutil.copy(sample_network_path(load_settings({})), data_dir / "network.toml")
    return load_settings({}, data_dir=data_dir)


def _interrupted_hours(settings: Settings, *, validate: bool) -> None:
    """A back-fill that committed its first day, then died (its journal, one batch)."""
    plan = plan_hours(settings, HOURS, batch_hours=24, validate=validate)
    assert plan.journal is not None
    first = plan.batches[0]
    plan.journal.record(hour_key(first[0]), hour_key(first[-1]))


def test_same_options_resume(settings: Settings) -> None:
    _interrupted_hours(settings, validate=False)
    again = plan_hours(settings, HOURS, validate=False)
    assert (again.skipped, again.total) == (24, 48)
    assert [len(b) for b in again.batches] == [24]
    # how the work is cut is not an option of the result: other batches still resume
    assert plan_hours(settings, HOURS, batch_hours=4, validate=False).skipped == 24


def test_other_validation_is_refused_and_redo_redoes(settings: Settings) -> None:
    _interrupted_hours(settings, validate=False)
    with pytest.raises(JournalMismatchError) as refused:
        plan_hours(settings, HOURS, validate=True)
    message = str(refused.value)
    assert "\n" not in message
    assert "--redo" in message
    assert "validate off → on" in message
    redone = plan_hours(settings, HOURS, validate=True, redo=True)
    assert (redone.skipped, redone.total) == (0, 48)
    # the old journal is gone: the next run under these options starts afresh too
    assert plan_hours(settings, HOURS, validate=True).skipped == 0


def test_a_changed_network_is_refused(settings: Settings) -> None:
    _interrupted_hours(settings, validate=True)
    network = settings.data_dir / "network.toml"
    network.write_text(network.read_text().replace("Shenyang", "Shenyang (renamed)", 1))
    before = backfill_options(settings, validate=True)
    with pytest.raises(JournalMismatchError, match="network changed"):
        plan_hours(settings, HOURS, validate=True)
    # a touched but unchanged file is no change: content, not mtime, is the key
    network.write_text(network.read_text())
    assert backfill_options(settings, validate=True) == before


def test_a_journal_without_options_is_refused(settings: Settings) -> None:
    """A journal written before options were recorded cannot say what its batches were."""
    first, last = DAYS[0].isoformat(), DAYS[-1].isoformat()
    path = Journal.open(settings.data_dir, "daily", first, last, redo=False).path
    path.parent.mkdir()
    path.write_text(json.dumps({"command": f"daily {first}..{last}", "first": first,
                                "last": first}) + "\n")  # fmt: skip
    with pytest.raises(JournalMismatchError, match="not recorded"):
        plan_days(settings, DAYS)
    assert plan_days(settings, DAYS, redo=True).skipped == 0


@pytest.mark.integration
def test_the_cli_refuses_to_resume_with_other_options(settings: Settings) -> None:
    _interrupted_hours(settings, validate=False)
    args = ["--hour", HOURS[0].isoformat(), "--until", HOURS[-1].isoformat()]
    result = run_cli("process", "hourly", *args, env={"AIRCARBON_DATA_DIR": str(settings.data_dir)})
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if "--redo" in ln]
    assert len(lines) == 1, result.stderr
    assert "validate off → on" in lines[0]
    assert result.stdout == ""  # nothing processed


def test_the_catalog_files_that_shape_results_are_in_the_key(tmp_path: Path) -> None:
    """A changed limit or standard is another result; a forecast tuning is not."""
    from aircarbon.core.catalog import DEFAULT_CATALOG_DIR

    catalog_dir = tmp_path / "catalog"
    shutil.copytree(DEFAULT_CATALOG_DIR, catalog_dir)
    settings = load_settings({}, data_dir=tmp_path / "data", catalog_dir=catalog_dir)
    before = backfill_options(settings, validate=True)
    with (catalog_dir / "forecast.toml").open("a") as fh:
        fh.write("\n# tuned\n")
    assert backfill_options(settings, validate=True) == before
    with (catalog_dir / "validity.toml").open("a") as fh:
        fh.write("\n# a changed rule\n")
    after = backfill_options(settings, validate=True)
    assert after["catalog"] != before["catalog"]
    assert {k: v for k, v in after.items() if k != "catalog"} == {
        k: v for k, v in before.items() if k != "catalog"
    }


def test_damaged_journal_lines_are_done_again_not_a_traceback(settings: Settings) -> None:
    """Bytes that are not UTF-8, a number too long for int(), a line without its batch: each
    is a torn or damaged line, skipped (its batch runs again); the good line still counts."""
    _interrupted_hours(settings, validate=False)
    plan = plan_hours(settings, HOURS, validate=False)
    assert plan.journal is not None
    command = plan.journal.command
    damaged = [
        b"\xff\xfe torn",
        b"9" * 100_000,
        json.dumps({"command": command, "key": plan.journal.key}).encode(),
    ]
    with plan.journal.path.open("ab") as fh:
        fh.write(b"\n".join(damaged) + b"\n")
    again = plan_hours(settings, HOURS, validate=False)
    assert (again.skipped, again.total) == (24, 48)
