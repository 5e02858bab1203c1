"""The one exception tree of AirCarbon.

Lower layers (paho, DuckDB, GX, pydantic) are wrapped here with ``raise ... from exc``
so that the CLI can turn any of them into a one-line message, and so that callers
can catch *our* types without importing third-party ones::

    AirCarbonError
    ├── SettingsError            bad configuration (names the key)
    ├── CatalogError             the catalog data files are inconsistent
    │   ├── UnknownParameterError    a parameter code the catalog does not know
    │   ├── UnknownUnitError         a unit it cannot convert (names unit and parameter)
    │   └── UnknownStationError      a station id / HJ 212 MN it does not know
    ├── BrokerError              MQTT connection / protocol failures
    ├── WarehouseError           DuckDB / DuckLake failures
    │   └── ReadOnlyViolation        an analyst statement that is not a read (names it)
    ├── IntervalRefused          a step refused its interval (future, no data for a bulletin)
    │   └── ShrinkRefused            a reload would leave an interval with fewer rows
    ├── WriterLockHeld           another writer holds the data dir (names pid, command, since)
    └── ValidationFailed         a critical expectation failed (names it)
"""

from __future__ import annotations

__all__ = [
    "AirCarbonError",
    "BrokerError",
    "CatalogError",
    "IntervalRefused",
    "ReadOnlyViolation",
    "SettingsError",
    "ShrinkRefused",
    "UnknownParameterError",
    "UnknownStationError",
    "UnknownUnitError",
    "ValidationFailed",
    "WarehouseError",
    "WriterLockHeld",
]


class AirCarbonError(Exception):
    """Base of every error AirCarbon raises on purpose; its str() is a one-line message."""


class SettingsError(AirCarbonError):
    """A setting is missing or invalid; ``key`` names it as the user wrote it."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"setting {key}: {message}")


class CatalogError(AirCarbonError):
    """The catalog's data files are inconsistent, or a lookup failed."""


class UnknownParameterError(CatalogError):
    """A parameter code (or HJ 212 code) that the catalog does not define."""

    def __init__(self, code: str, *, kind: str = "parameter code") -> None:
        self.code = code
        super().__init__(f"unknown {kind} {code!r}")


class UnknownUnitError(CatalogError):
    """A unit the catalog cannot convert into a parameter's canonical unit."""

    def __init__(self, unit: str, param: str | None = None, *, why: str = "") -> None:
        self.unit = unit
        self.param = param
        target = f" for parameter {param!r}" if param else ""
        suffix = f" ({why})" if why else ""
        super().__init__(f"unknown unit {unit!r}{target}{suffix}")


class UnknownStationError(CatalogError):
    """A station id or HJ 212 MN that the catalog does not define."""

    def __init__(self, station: str, *, kind: str = "station") -> None:
        self.station = station
        super().__init__(f"unknown {kind} {station!r}")


class BrokerError(AirCarbonError):
    """The MQTT broker could not be reached, or refused us."""


class WarehouseError(AirCarbonError):
    """The DuckLake warehouse could not be opened, migrated or loaded."""


class ReadOnlyViolation(WarehouseError):  # noqa: N818 - reads as the event it reports
    """An analyst session was asked to run something other than a read; names the statement."""

    def __init__(self, statement: str, why: str = "") -> None:
        self.statement = statement
        more = f" ({why})" if why else ""
        super().__init__(f"refused: {statement} is not allowed in a read-only session{more}")


class IntervalRefused(AirCarbonError):  # noqa: N818 - reads as the event it reports
    """A step refused its interval: not ended yet, or nothing to publish for it.

    Not worth a retry: the same call refuses again until the interval (or its data) changes.
    """


class ShrinkRefused(IntervalRefused):
    """A reload would replace an interval's rows with fewer (its raw input is missing)."""

    def __init__(self, interval: str, rows_now: int, rows_after: int, *, table: str) -> None:
        self.interval = interval
        self.rows_now = rows_now
        self.rows_after = rows_after
        self.table = table
        super().__init__(
            f"refused to shrink {interval}: {table} has {rows_now:,} rows now and the reload "
            f"would leave {rows_after:,} (raw input missing?); pass --allow-shrink to replace"
        )


class WriterLockHeld(AirCarbonError):  # noqa: N818 - the brief's contract name
    """Another process (or thread) is writing the data directory; names who and since when."""

    def __init__(
        self,
        data_dir: object,
        *,
        pid: int | None = None,
        command: str | None = None,
        since: str | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.pid = pid
        self.command = command
        self.since = since
        if pid is None:
            who = "another process (no holder recorded)"
        else:
            who = f"pid {pid} (`{command}`)" + (f", since {since}" if since else "")
        super().__init__(f"data dir {data_dir} is being written by {who}")


class ValidationFailed(AirCarbonError):  # noqa: N818 - reads as the event it reports
    """A critical expectation failed, so the batch must not be loaded."""

    def __init__(self, suite: str, expectation: str, detail: str = "") -> None:
        self.suite = suite
        self.expectation = expectation
        more = f": {detail}" if detail else ""
        super().__init__(f"critical expectation {expectation!r} of suite {suite!r} failed{more}")
