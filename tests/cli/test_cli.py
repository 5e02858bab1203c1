"""The ``aircarbon`` command line, run for real in a subprocess (docs/contract.md §2).

Each test starts ``python -m aircarbon`` with an environment stripped of ``AIRCARBON_*``
variables (so the developer's own settings cannot leak in) plus what the test sets.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ingest.hj212 import build_data_segment, build_frame

#: every test here runs `python -m aircarbon` in a subprocess
pytestmark = [pytest.mark.integration]

#: The keys the starting contract named (docs/contract.md §2.4 has more)
CONTRACT_STATION_KEYS = {"id", "name", "type", "lat", "lon", "params", "mn"}


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AIRCARBON_")}
    base.update({"PYTHONIOENCODING": "utf-8", "NO_COLOR": "1", "COLUMNS": "200"})
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "aircarbon", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=base,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# --------------------------------------------------------------------------------------
# messages for `decode`
# --------------------------------------------------------------------------------------


def now_json_line() -> str:
    ts = dt.datetime.now(ZoneInfo("Asia/Shanghai")).replace(microsecond=0)
    return json.dumps(
        {
            "station": "SY-TY-01",
            "ts": (ts - dt.timedelta(minutes=1)).isoformat(),
            "period_s": 60,
            "seq": 7,
            "readings": {"pm25": 35.2, "o3": 88.0, "toluene": 1.0},
            "units": {"toluene": "ug/m3"},
            "flags": {"o3": "C"},
        }
    )


def now_hj212_line(items: list[tuple[str, dict[str, str]]] | None = None) -> str:
    start = dt.datetime.now(ZoneInfo("Asia/Shanghai")).replace(second=0, microsecond=0)
    start -= dt.timedelta(minutes=2)
    segment = build_data_segment(
        qn=start.strftime("%Y%m%d%H%M%S") + "000",
        st="22",
        cn="2051",
        pw="123456",
        mn="210102TY0100000000000001",
        flag=4,
        datatime=start.strftime("%Y%m%d%H%M%S"),
        items=items
        or [
            ("a34004", {"Avg": "35.2", "Flag": "N"}),
            ("a01006", {"Min": "101.2", "Avg": "101.3", "Max": "101.4", "Flag": "N"}),
        ],
    )
    return build_frame(segment).decode("ascii").rstrip("\r\n")


# --------------------------------------------------------------------------------------
# help and stations
# --------------------------------------------------------------------------------------


def test_help_lists_commands() -> None:
    t0 = time.perf_counter()
    result = run_cli("--help")
    elapsed = time.perf_counter() - t0
    print(f"\n[info] aircarbon --help: {elapsed * 1000:.0f} ms wall")
    assert result.returncode == 0, result.stderr
    for command in ("stations", "decode"):
        assert command in result.stdout
    assert "Traceback" not in result.stderr


def test_no_args_shows_help() -> None:
    result = run_cli()
    assert "stations" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_stations_json() -> None:
    t0 = time.perf_counter()
    result = run_cli("stations", "--json")
    elapsed = time.perf_counter() - t0
    print(f"\n[info] aircarbon stations --json: {elapsed * 1000:.0f} ms wall")
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert isinstance(records, list)
    assert len(records) == 12
    for rec in records:
        assert rec.keys() >= CONTRACT_STATION_KEYS
        assert isinstance(rec["params"], list)
        assert rec["params"]
        assert isinstance(rec["lat"], float)
        assert isinstance(rec["lon"], float)
    by_id = {r["id"]: r for r in records}
    assert by_id["SY-TY-01"]["mn"] == "210102TY0100000000000001"
    assert by_id["SY-TY-01"]["type"] == "national"
    assert {r["type"] for r in records} == {
        "national",
        "voc",
        "ghg",
        "pm_component",
        "radiation",
        "ecological",
        "micro",
    }


def test_stations_table() -> None:
    result = run_cli("stations")
    assert result.returncode == 0, result.stderr
    assert "SY-TY-01" in result.stdout


# --------------------------------------------------------------------------------------
# decode
# --------------------------------------------------------------------------------------


def test_decode_file(tmp_path: Path) -> None:
    path = tmp_path / "messages.txt"
    path.write_text(
        "\n".join([now_json_line(), now_hj212_line(), "this is not a message"]) + "\n",
        encoding="utf-8",
    )
    result = run_cli("decode", str(path))
    assert result.returncode == 1, result.stderr
    out = json_lines(result.stdout)
    assert [r["ok"] for r in out] == [True, True, False]
    assert [r["reason"] for r in out] == [None, None, "malformed_json"]
    for r in out:
        assert {"ok", "reason", "detail"} <= r.keys()
    assert out[0]["detail"] is None
    assert out[2]["detail"]
    # JSON: readings in canonical units
    readings = {r["param"]: r for r in out[0]["readings"]}
    assert readings["o3"]["flag"] == "C"
    assert readings["toluene"]["unit"] == "ppbv"
    assert readings["toluene"]["value"] == pytest.approx(0.265524242, abs=1e-9)
    # HJ 212: mn, cn, datatime and every value field
    hj = out[1]
    assert hj["mn"] == "210102TY0100000000000001"
    assert hj["cn"] == "2051"
    assert len(hj["datatime"]) == 14
    values = {(v["code"], v["field"]): v for v in hj["values"]}
    assert set(values) == {
        ("a34004", "Avg"),
        ("a01006", "Min"),
        ("a01006", "Avg"),
        ("a01006", "Max"),
    }
    for v in hj["values"]:
        assert set(v) >= {"code", "param", "field", "value", "flag"}
    assert values[("a34004", "Avg")] == {
        "code": "a34004",
        "param": "pm25",
        "field": "Avg",
        "value": 35.2,
        "flag": "N",
    }
    assert values[("a01006", "Avg")]["param"] == "pressure"
    assert values[("a01006", "Avg")]["value"] == 101.3  # as sent (kPa)
    landed = {r["param"]: r["value"] for r in hj["readings"]}
    assert landed["pressure"] == pytest.approx(1013.0)  # stored in hPa


def test_decode_stdin() -> None:
    for args in (("decode", "-"), ("decode",)):
        result = run_cli(*args, stdin=now_json_line() + "\n\n" + now_hj212_line() + "\r\n")
        assert result.returncode == 0, result.stderr
        out = json_lines(result.stdout)
        assert [r["ok"] for r in out] == [True, True]  # the blank line is skipped


def test_decode_unknown_code_param_null() -> None:
    line = now_hj212_line([("a34004", {"Avg": "35.2"}), ("x77777", {"Avg": "1.5", "Flag": "N"})])
    result = run_cli("decode", "--format", "hj212", stdin=line + "\n")
    out = json_lines(result.stdout)
    assert len(out) == 1
    values = {v["code"]: v for v in out[0]["values"]}
    assert values["x77777"]["param"] is None
    assert values["x77777"]["value"] == 1.5
    assert values["x77777"]["flag"] == "N"
    assert values["a34004"]["param"] == "pm25"
    assert values["a34004"]["flag"] is None  # no -Flag sent
    # the unknown code would be dead-lettered by the collector: reported, siblings kept
    assert out[0]["ok"] is False
    assert out[0]["reason"] == "unknown_param"
    assert [r["param"] for r in out[0]["readings"]] == ["pm25"]
    assert result.returncode == 1


@pytest.mark.parametrize(
    ("line", "fmt", "reason"),
    [
        ("##0010garbage\r", "auto", "hj212_length"),
        ('{"station": "X", "ts": "2026-11-24T10:01:00", "readings": {}}', "json", "bad_timestamp"),
        ('{"station": "X"}', "json", "bad_schema"),
        (
            '{"station": "X", "ts": "2001-01-01T00:00:00+08:00", "readings": {}}',
            "json",
            "ts_too_old",
        ),
    ],
)
def test_decode_reasons(line: str, fmt: str, reason: str) -> None:
    result = run_cli("decode", "--format", fmt, stdin=line + "\n")
    out = json_lines(result.stdout)
    assert [r["reason"] for r in out] == [reason]
    assert result.returncode == 1


def test_decode_unknown_station_is_not_an_error() -> None:
    """Onboarding: a station not yet in the catalog still decodes."""
    line = now_json_line().replace("SY-TY-01", "NEW-STATION-01")
    result = run_cli("decode", stdin=line + "\n")
    out = json_lines(result.stdout)
    assert out[0]["ok"] is True
    assert out[0]["station"] == "NEW-STATION-01"


def test_decode_no_time_check_extreme_ts() -> None:
    """Even without time checks, years outside 1970–2099 are refused with a reason, never a
    traceback (their UTC instant may not even exist as a datetime)."""
    lines = [
        '{"station": "X", "ts": "0001-01-01T00:00:00+23:59", "readings": {"pm25": 1}}',
        '{"station": "X", "ts": "9999-12-31T23:59:59-23:59", "readings": {"pm25": 1}}',
    ]
    result = run_cli("decode", "--no-time-check", stdin="\n".join(lines) + "\n")
    assert "Traceback" not in result.stderr
    out = json_lines(result.stdout)
    assert [r["ok"] for r in out] == [False, False]
    assert [r["reason"] for r in out] == ["bad_timestamp", "bad_timestamp"]
    assert all("1970" in r["detail"] for r in out)


def test_decode_missing_file(tmp_path: Path) -> None:
    result = run_cli("decode", str(tmp_path / "nope.txt"))
    assert result.returncode == 2
    assert "nope.txt" in result.stderr
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------------------
# errors: one line, exit 2; a traceback only with --debug
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [("stations", "--json"), ("decode", "-")])
def test_bad_setting_one_line(command: tuple[str, ...]) -> None:
    result = run_cli(*command, env={"AIRCARBON_HEALTH_PORT": "abc"}, stdin="")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "AIRCARBON_HEALTH_PORT" in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_unknown_setting_one_line() -> None:
    result = run_cli("stations", "--json", env={"AIRCARBON_HEALTH_PROT": "1"})
    assert result.returncode == 2
    assert "AIRCARBON_HEALTH_PROT" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_setting_debug_traceback() -> None:
    result = run_cli("--debug", "stations", "--json", env={"AIRCARBON_HEALTH_PORT": "abc"})
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "AIRCARBON_HEALTH_PORT" in result.stderr


def test_debug_after_the_subcommand_works_too() -> None:
    """Users add --debug at the end of the line they just ran."""
    result = run_cli("stations", "--json", "--debug", env={"AIRCARBON_HEALTH_PORT": "abc"})
    assert result.returncode != 0
    assert "No such option" not in result.stderr
    assert "Traceback" in result.stderr
    assert "AIRCARBON_HEALTH_PORT" in result.stderr


def test_bad_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('timezone = "Mars/Base"\n', encoding="utf-8")
    result = run_cli("stations", "--json", env={"AIRCARBON_CONFIG": str(cfg)})
    assert result.returncode == 2
    assert "timezone" in result.stderr
    assert "Mars/Base" in result.stderr
    assert "Traceback" not in result.stderr


def test_stations_table_reads_at_80_columns() -> None:
    result = run_cli("stations", env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert rows
    assert all(len(line) <= 80 for line in result.stdout.splitlines())
    assert any(line.startswith("│ SY-TY-01 ") for line in rows)  # ids whole, not "SY-T…"
