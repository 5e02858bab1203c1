"""``aircarbon doctor``: what this machine lacks for AirCarbon, one line each, with the fix.

A new user's first failures are environmental (a font matplotlib cannot see, no mosquitto,
a data dir that is not writable, a lake that needs an extension download on an offline
site) and show up late, in the middle of other work. Each check here is cheap, runs the
real thing (loads the extensions, opens the lake read-only, asks matplotlib for the font)
and says what to do when it fails. Exit code 1 when a check needed by the demo fails;
"warn" lines are for optional parts (PDF bulletins, the test suite's broker).
"""

from __future__ import annotations

import errno
import importlib.metadata
import json
import os
import shutil
import socket
import sys
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from aircarbon.core.errors import AirCarbonError
from aircarbon.core.settings import Settings, load_settings

__all__ = ["Check", "run", "run_checks"]

Status = Literal["ok", "warn", "fail"]

#: Packages whose installed version must be the locked one (the stack the docs are about).
_LOCKED = ("duckdb", "polars", "apache-airflow", "great-expectations", "aiomqtt", "paho-mqtt")


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report: what was checked, how it went, what to do about it."""

    name: str
    status: Status
    detail: str
    fix: str = ""


def _project_root() -> Path | None:
    root = Path(__file__).resolve().parents[2]
    return root if (root / "uv.lock").is_file() else None


def check_environment() -> Check:
    root = _project_root()
    if root is None:
        return Check("environment", "ok", f"Python {sys.version.split()[0]} (installed package)")
    lock = tomllib.loads((root / "uv.lock").read_text(encoding="utf-8"))
    locked = {p["name"]: p.get("version") for p in lock.get("package", [])}
    wrong = []
    for name in _LOCKED:
        try:
            have = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            wrong.append(f"{name} missing")
            continue
        if locked.get(name) and have != locked[name]:
            wrong.append(f"{name} {have} (locked {locked[name]})")
    if wrong:
        return Check(
            "environment", "fail", "not the locked one: " + ", ".join(wrong), "run `make bootstrap`"
        )
    return Check("environment", "ok", f"Python {sys.version.split()[0]}, packages as in uv.lock")


def check_extensions() -> Check:
    """The DuckDB extensions load from the installed wheels, with downloads switched off."""
    import duckdb

    from aircarbon.core.duck import load_extension

    con = duckdb.connect(
        ":memory:",
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    try:
        for name in ("ducklake", "sqlite_scanner", "postgres_scanner", "httpfs"):
            load_extension(con, name)
    except AirCarbonError as exc:
        return Check("duckdb extensions", "fail", str(exc), "run `make bootstrap`")
    finally:
        con.close()
    return Check(
        "duckdb extensions",
        "ok",
        f"ducklake, sqlite, postgres, httpfs offline (DuckDB {duckdb.__version__})",
    )


def check_data_dir(settings: Settings) -> Check:
    path = settings.data_dir
    probe = path if path.exists() else next((p for p in path.parents if p.exists()), Path("/"))
    if path.exists() and not path.is_dir():
        return Check("data dir", "fail", f"{path} is a file", "set AIRCARBON_DATA_DIR to a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        return Check(
            "data dir", "fail", f"{path}: {probe} is not writable for this user",
            "chown the folder or set AIRCARBON_DATA_DIR elsewhere",
        )  # fmt: skip
    free = shutil.disk_usage(probe).free / 2**30
    status: Status = "warn" if free < 2 else "ok"
    fix = "free some disk: ingest stops acknowledging when writes fail" if status == "warn" else ""
    state = "exists" if path.exists() else "will be created"
    return Check("data dir", status, f"{path.resolve()} ({state}, {free:.1f} GiB free)", fix)


def check_network(settings: Settings) -> Check:
    from aircarbon.core.catalog import catalog_for

    try:
        catalog = catalog_for(settings)
    except AirCarbonError as exc:
        return Check("network", "fail", str(exc), "fix the network file or re-run network init")
    net = catalog.network
    own = (settings.network_file or settings.data_dir / "network.toml").is_file()
    detail = f"{net.name_en} ({net.timezone}), {len(catalog.stations)} stations"
    if own:
        return Check("network", "ok", detail)
    return Check(
        "network", "warn", detail + ": the Shenyang sample",
        "`aircarbon network init --city … --timezone …` then `aircarbon stations add …`",
    )  # fmt: skip


def check_lake(settings: Settings) -> Check:
    from warehouse.lake import connect

    sqlite = settings.lake_catalog.removeprefix("sqlite:")
    if settings.lake_catalog.startswith("sqlite:") and not Path(sqlite).is_file():
        return Check("warehouse", "ok", "none yet (the first `process` or `demo` creates it)")
    try:
        con = connect(settings, read_only=True)
    except AirCarbonError as exc:
        return Check("warehouse", "fail", str(exc), "see docs/warehouse.md")
    try:
        row = con.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('aircarbon')").fetchone()
    finally:
        con.close()
    return Check("warehouse", "ok", f"opens read-only, snapshot {row[0] if row else '?'}")


def check_fonts() -> Check:
    from aircarbon.bulletin.charts import cjk_font

    try:
        path = cjk_font()
    except AirCarbonError as exc:
        return Check("CJK font", "fail", str(exc), "sudo apt-get install fonts-noto-cjk")
    return Check("CJK font", "ok", f"matplotlib uses {path}")


def _which(name: str, why: str, fix: str) -> Callable[[], Check]:
    def check() -> Check:
        found = shutil.which(name)
        if found:
            return Check(name, "ok", found)
        return Check(name, "warn", f"not found ({why})", fix)

    return check


def check_chromium() -> Check:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return Check("chromium", "ok", found)
    return Check(
        "chromium", "warn", "not found (PDF bulletins and page screenshots need it)",
        "sudo apt-get install chromium",
    )  # fmt: skip


def check_port(settings: Settings) -> Check:
    host, port = settings.health_host, settings.health_port
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return Check(
                    "health port", "warn", f"{host}:{port} in use (a collector running?)",
                    "`aircarbon status` to ask it, or set AIRCARBON_HEALTH_PORT",
                )  # fmt: skip
            return Check(
                "health port", "fail", f"{host}:{port}: {exc.strerror}", "set AIRCARBON_HEALTH_PORT"
            )
    return Check("health port", "ok", f"{host}:{port} free")


def run_checks(settings: Settings) -> list[Check]:
    """Every check, in the order a new user meets the parts."""
    checks: list[Callable[[], Check]] = [
        check_environment,
        check_extensions,
        lambda: check_data_dir(settings),
        lambda: check_network(settings),
        lambda: check_lake(settings),
        check_fonts,
        check_chromium,
        _which(
            "mosquitto", "the test suite starts its own broker", "sudo apt-get install mosquitto"
        ),
        lambda: check_port(settings),
    ]
    out = []
    for check in checks:
        try:
            out.append(check())
        except Exception as exc:  # a check that breaks is itself a finding, not a crash
            name = getattr(check, "__name__", "check").removeprefix("check_")
            out.append(Check(name, "fail", f"{type(exc).__name__}: {exc}".splitlines()[0]))
    return out


def run(*, as_json: bool = False, data_dir: Path | None = None) -> int:
    settings = load_settings()
    if data_dir is not None:
        settings = settings.with_overrides(data_dir=data_dir)
    results = run_checks(settings)
    if as_json:
        print(json.dumps([asdict(c) for c in results], ensure_ascii=False))
    else:
        width = max(len(c.name) for c in results)
        for c in results:
            line = f"{c.status:<4}  {c.name:<{width}}  {c.detail}"
            print(line + (f"  → {c.fix}" if c.fix and c.status != "ok" else ""))
    return 1 if any(c.status == "fail" for c in results) else 0
