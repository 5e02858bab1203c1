"""The small items of issue 14: ids that name files, secrets in messages, rates, one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aircarbon.core.catalog import load_catalog
from aircarbon.core.errors import SettingsError
from aircarbon.core.settings import load_settings, redact_url
from ingest.health import IngestStats
from ingest.health_server import evaluate_health


@pytest.mark.parametrize("client_id", ["../..", "a/b", "..", "a\\b", "", "x" * 65, "é"])
def test_client_id_cannot_name_a_path(client_id: str) -> None:
    with pytest.raises(SettingsError, match="AIRCARBON_CLIENT_ID"):
        load_settings({"AIRCARBON_CLIENT_ID": client_id})


def test_plain_client_ids_pass() -> None:
    assert load_settings({"AIRCARBON_CLIENT_ID": "collector-2.b_x"}).client_id == "collector-2.b_x"


@pytest.mark.parametrize(
    "url",
    [
        "mqtt://user:s3cret-pw@host:12x",
        "http://user:s3cret-pw@host:1883",
        "mqtt://user:s3cret-pw@:1883",
        "mqtt://user:s3cret-pw@[::1:1883",
    ],
)
def test_a_bad_broker_url_never_repeats_its_password(url: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"AIRCARBON_BROKER_URL": url})
    assert "s3cret-pw" not in str(caught.value)
    assert "user:***@" in str(caught.value)


def test_redact_url() -> None:
    assert redact_url("mqtts://a:b@h:1") == "mqtts://a:***@h:1"
    assert redact_url("mqtt://a@h") == "mqtt://a@h"
    assert redact_url("mqtt://h:1") == "mqtt://h:1"


def test_data_dir_that_is_a_file_is_a_settings_error(tmp_path: Path) -> None:
    file = tmp_path / "data"
    file.write_text("not a directory")
    with pytest.raises(SettingsError, match="is a file"):
        load_settings({"AIRCARBON_DATA_DIR": str(file)})


def test_dead_letter_rate_counts_messages_and_stays_within_100_percent() -> None:
    stats = IngestStats(load_catalog())
    for _ in range(10):
        stats.observe_message("SY-TY-01", 1_000_000, 2, None, None, 60)
        # each message has three refused readings: rows are not messages
        for k in range(3):
            stats.observe_rejection("SY-TY-01", "unknown_param", False, first=k == 0)
    h = stats.stations["SY-TY-01"]
    [alert] = [a for a in stats.alerts_for(h, 2_000_000) if a.rule == "dead_letter_rate"]
    assert alert.message == "dead-letter rate 100%"
    stats.observe_message("SY-TY-01", 1_000_000, 2, None, None, 60)
    [alert] = [a for a in stats.alerts_for(h, 2_000_000) if a.rule == "dead_letter_rate"]
    assert alert.message == "dead-letter rate 91%"


def test_a_failing_writer_degrades_healthz() -> None:
    stats = IngestStats(load_catalog())
    stats.connected = True
    stats.write_failures = 3
    stats.write_error = "OSError: [Errno 28] No space left on device"
    rules = {r["rule"] for r in evaluate_health(stats, 1, since_us=0)}
    assert "write_failing" in rules
    stats.write_failures = 0
    assert "write_failing" not in {r["rule"] for r in evaluate_health(stats, 1, since_us=0)}


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aircarbon", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


@pytest.mark.parametrize(
    ("hour", "message"),
    [
        ("2026-11-24T10:30+08:00", "end of an hour"),
        ("0001-01-01T00:00+00:00", "1970 to 2099"),
        ("9999-12-31T23:00+00:00", "1970 to 2099"),
    ],
)
def test_process_hour_errors_are_one_line(hour: str, message: str, tmp_path: Path) -> None:
    result = _cli("process", "hourly", "--hour", hour, env=_env(tmp_path))
    assert result.returncode == 2
    # the data dir has no network of its own: the sample's one-line notice comes first
    lines = [x for x in result.stderr.strip().splitlines() if "no network of its own" not in x]
    assert len(lines) == 1, result.stderr
    assert message in lines[0]


def test_collect_into_a_file_is_one_line(tmp_path: Path) -> None:
    file = tmp_path / "data"
    file.write_text("x")
    result = _cli("collect", "--data-dir", str(file), env=_env(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"aircarbon: error: setting data_dir: {str(file)!r} is a file, not a directory"
    ]


def _env(tmp_path: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRCARBON_")}
    env["AIRCARBON_DATA_DIR"] = str(tmp_path / "dd")
    return env
