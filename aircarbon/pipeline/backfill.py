"""Back-fills over months or years: batches, and a journal that lets a crashed run resume.

Why batches: an hour is one raw scan, one QC pass, three validations and one lake
transaction; three years of hours one by one is 26,000 of each, and the fixed costs
dominate. :func:`plan_hour_batches` groups the hours of whole local days into batches
that never cross a local month and stay under a raw-row budget (a month of a 100-station
hourly history is one batch; a day of a big minute-data network is one batch), and the
daily step does the same with days (``process_days``).

Why a journal: ``kill -9``, an out-of-memory kill or a reboot half-way through three years
must not cost the finished half. Every batch the lake has committed is appended (and
fsynced) to ``<data dir>/backfill/<kind>-<key>.jsonl``, keyed by the command's range; the
same command run again skips those batches and continues with the first unfinished one.
A run that completes removes its journal, so running the command again later re-processes
the range as it always did (late data, a fixed transform); ``--redo`` forgets the journal
of an interrupted run. Nothing else uses the journal: the lake's load log stays the record
of what was loaded, the journal only says what this command already did.

Why the journal also records the options (:func:`backfill_options`): a batch done without
validation, under another network file (stations, time zone) or another catalog (limits,
AQI standards) holds another result than the same batch done now. Resuming is only right
with the options the journal was written under; a run whose options differ is refused
with a message naming them (``--redo`` processes the whole range with the new options)
rather than silently keeping batches an operator believes were redone. Options that only
change how the work is cut or guarded (batch sizes, ``--allow-shrink``) are not recorded:
a batch that landed holds the same rows whatever they were.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar
from zoneinfo import ZoneInfo

from aircarbon.core.errors import AirCarbonError
from aircarbon.core.settings import Settings

if TYPE_CHECKING:
    import duckdb

    from aircarbon.core.catalog import Catalog

__all__ = [
    "BACKFILL_MEMORY",
    "HOURLY_ROW_BUDGET",
    "RAW_ROW_BUDGET",
    "Journal",
    "JournalMismatchError",
    "Plan",
    "backfill_options",
    "consecutive_runs",
    "open_lake",
    "plan_day_batches",
    "plan_hour_batches",
]

#: Raw rows (every delivery) one hourly batch may read: its QC pass holds them about twice
#: (each hour's window repeats the half hour before it), ~1 GB at this size.
RAW_ROW_BUDGET = 2_000_000
#: Hourly rows one daily batch may read (its days plus the windows looking back).
HOURLY_ROW_BUDGET = 2_000_000
#: DuckDB's memory cap on a back-fill's lake connection (its inserts are a batch at a time).
BACKFILL_MEMORY = "2GB"
_HOUR = dt.timedelta(hours=1)
T = TypeVar("T")
JOURNAL_DIR = "backfill"


@contextlib.contextmanager
def open_lake(
    settings: Settings,
    catalog: Catalog,
    con: duckdb.DuckDBPyConnection | None = None,
    *,
    memory_limit: str | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """``con`` when a back-fill already holds the lake open, else a fresh writer connection.

    Opening the lake (connect, migrations check, dimension tables) costs about a second;
    a back-fill opens it once for all its batches instead of once per batch, and caps
    DuckDB's memory (``memory_limit``): its default, 80 % of RAM, lets a connection that
    lives through years of batches keep gigabytes of buffers it will not read again.
    """
    if con is not None:
        yield con
        return
    from aircarbon.pipeline.common import lake

    with lake(settings, catalog) as opened:
        if memory_limit is not None:
            opened.execute(f"SET memory_limit = '{memory_limit}'")
        yield opened


#: catalog files a back-fill's result depends on (by suffix), and those it never reads: the
#: sample network (the network file in use has a digest of its own), the forecast's and the
#: bulletin's settings (a forecast tuning must not stop a back-fill from resuming)
_CATALOG_FILES = (".toml", ".csv")
_NOT_PROCESSING = frozenset({"stations.toml", "forecast.toml", "targets.toml"})


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def backfill_options(settings: Settings, *, validate: bool) -> dict[str, str]:
    """What a back-fill's batches were done under, as short digests (a journal's key).

    Only what changes the rows a batch writes: validation (a batch a critical expectation
    stops does not land; without it, it does), the network file (stations, time zone,
    hence local days), the catalog's files (parameters, limits, AQI standards, validity)
    and a remote raw store. Digests of content, not of paths or mtimes, so a touched but
    unchanged file resumes.
    """
    from aircarbon.core.catalog import network_path, sample_network_path

    catalog_dir = sample_network_path(settings).parent
    catalog = hashlib.sha256()
    for path in sorted(catalog_dir.iterdir()):
        if path.is_file() and path.name not in _NOT_PROCESSING and path.suffix in _CATALOG_FILES:
            catalog.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return {
        "validate": "on" if validate else "off",
        "network": _digest(network_path(settings, quiet=True).read_bytes()),
        "catalog": catalog.hexdigest()[:16],
        "raw_source": _digest((settings.raw_source_url or "").encode()),
    }


@dataclass
class Plan(Generic[T]):
    """A back-fill ready to run: what is left of it, in batches, and its journal."""

    journal: Journal | None
    batches: list[list[T]]
    #: items (hours, days) a previous run of the same command already committed
    skipped: int
    #: items in the command's whole range
    total: int
    #: whether the batches run the Great Expectations suites (part of the journal's key)
    validate: bool = True


class JournalMismatchError(AirCarbonError):
    """A journal of the same range exists, written under other options (see module doc)."""


@dataclass
class Journal:
    """The batches a back-fill command has committed, one JSON line each (append-only).

    A line is written (and fsynced) only after the batch's lake transaction committed, so
    a batch in the journal is in the lake; a batch whose commit happened just before a
    crash is not in the journal and is simply done again (its load is idempotent). Each
    line carries the run's options (:func:`backfill_options`) and their digest: only
    lines with the current digest count as done.
    """

    path: Path
    command: str
    done: list[tuple[str, str]] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The options' stable digest (canonical JSON, sorted keys)."""
        return _digest(json.dumps(self.options, sort_keys=True).encode())

    @classmethod
    def open(
        cls,
        data_dir: Path,
        kind: str,
        first: str,
        last: str,
        *,
        redo: bool,
        options: dict[str, str] | None = None,
    ) -> Journal:
        """The journal of ``kind`` over ``[first, last]`` under ``options``.

        ``redo`` forgets what it holds. Without ``redo``, a journal holding batches done
        under other options (or by a version that did not record them) is refused with
        :class:`JournalMismatchError`: resuming would keep results of other options.
        """
        command = f"{kind} {first}..{last}"
        key = hashlib.sha256(command.encode()).hexdigest()[:16]
        path = data_dir / JOURNAL_DIR / f"{kind}-{key}.jsonl"
        journal = cls(path, command, options=dict(options or {}))
        if redo:
            path.unlink(missing_ok=True)
            return journal
        if not path.is_file():
            return journal
        other: dict[str, object] | None = None
        # bytes that are not UTF-8, a line that is not JSON (JSONDecodeError) or holds a
        # number too long to convert (ValueError): a line torn by a crash or a damaged file;
        # its batch is simply done again
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not isinstance(entry, dict) or entry.get("command") != command:
                continue
            if "first" not in entry or "last" not in entry:
                continue
            if entry.get("key") == journal.key:
                journal.done.append((str(entry["first"]), str(entry["last"])))
            elif other is None:
                recorded = entry.get("options")
                other = recorded if isinstance(recorded, dict) else {}
        if other is not None:
            raise JournalMismatchError(
                f"an interrupted back-fill of {command} was done with other options "
                f"({journal.differences(other)}); add --redo to process the whole range "
                "with these options, or run it with the options it had to resume"
            )
        return journal

    def differences(self, other: dict[str, object]) -> str:
        """``other`` against this journal's options, e.g. ``validate off → on, network changed``."""
        if not other:
            return "not recorded by the version that wrote it"
        said: list[str] = []
        for name in sorted(set(self.options) | set(other)):
            was, now = str(other.get(name, "?")), self.options.get(name, "?")
            if was == now:
                continue
            said.append(f"{name} {was} → {now}" if name == "validate" else f"{name} changed")
        return ", ".join(said) or "options changed"

    def record(self, first: str, last: str) -> None:
        """Append a committed batch ``[first, last]`` (durably)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        entry = {"command": self.command, "first": first, "last": last}
        line = json.dumps(entry | {"key": self.key, "options": self.options})
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.done.append((first, last))

    def covers(self, item: str) -> bool:
        """Whether ``item`` (an ISO hour end or day, as recorded) lies in a finished batch."""
        return any(first <= item <= last for first, last in self.done)

    def finish(self) -> None:
        """The whole range is done: the next run of the command processes it again."""
        self.path.unlink(missing_ok=True)


def consecutive_runs(
    items: Sequence[dt.datetime] | Sequence[dt.date], step: dt.timedelta
) -> list[list[dt.datetime]] | list[list[dt.date]]:
    """``items`` (sorted) cut wherever two neighbours are not ``step`` apart."""
    runs: list[list[object]] = []
    for item in items:
        if runs and item - runs[-1][-1] == step:  # type: ignore[operator]
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs  # type: ignore[return-value]


def _local_day(end: dt.datetime, zone: ZoneInfo) -> dt.date:
    # an hour belongs to the local day it starts in (the hour ending 00:00 is hour 24)
    return (end - _HOUR).astimezone(zone).date()


def plan_hour_batches(
    settings: Settings,
    ends: Sequence[dt.datetime],
    *,
    batch_hours: int | None = None,
    rows_of_day: Callable[[dt.date, list[dt.datetime]], int] | None = None,
    budget: int = RAW_ROW_BUDGET,
) -> list[list[dt.datetime]]:
    """Consecutive UTC hour ends → batches for ``process_hours``.

    With ``batch_hours`` the hours are cut every ``batch_hours`` (the old fixed batches).
    Otherwise a batch is whole local days, never crossing a local month, while the raw rows
    of its days (``rows_of_day``; default: counted from the local raw files' footers) stay
    within ``budget``; a day over the budget on its own is still one batch.
    """
    if not ends:
        return []
    if batch_hours is not None:
        n = max(1, batch_hours)
        return [list(ends[i : i + n]) for i in range(0, len(ends), n)]
    zone = ZoneInfo(settings.timezone)
    count = rows_of_day or _raw_rows_counter(settings)
    days: list[tuple[dt.date, list[dt.datetime]]] = []
    for end in ends:
        day = _local_day(end, zone)
        if days and days[-1][0] == day:
            days[-1][1].append(end)
        else:
            days.append((day, [end]))
    batches: list[list[dt.datetime]] = []
    month: tuple[int, int] | None = None
    rows = 0
    for day, hours in days:
        n = count(day, hours)
        same_month = month == (day.year, day.month)
        if batches and same_month and rows + n <= budget:
            batches[-1].extend(hours)
            rows += n
        else:
            batches.append(list(hours))
            rows = n
        month = (day.year, day.month)
    return batches


def _raw_rows_counter(settings: Settings) -> Callable[[dt.date, list[dt.datetime]], int]:
    """Rows of the raw files of some hours, from their Parquet footers (no data read).

    A remote raw store is not listed here: each of its days counts as the whole budget, so
    its batches are single days (what back-fills always were).
    """
    if settings.raw_source_url:
        return lambda _day, _hours: RAW_ROW_BUDGET
    import pyarrow.parquet as pq

    from transforms.raw import raw_files

    def count(_day: dt.date, hours: list[dt.datetime]) -> int:
        total = 0
        for path in raw_files(settings.data_dir, hours[0] - _HOUR, hours[-1]):
            try:
                total += pq.read_metadata(path).num_rows
            except (OSError, ValueError):
                continue  # unreadable: the step itself skips it with a warning
        return total

    return count


def plan_day_batches(
    days: Sequence[dt.date],
    *,
    batch_days: int | None = None,
    rows_of_day: Callable[[dt.date], int] | None = None,
    budget: int = HOURLY_ROW_BUDGET,
) -> list[list[dt.date]]:
    """Consecutive local days → batches for ``process_days``: whole months at most.

    ``batch_days`` cuts fixed batches; otherwise a batch grows within one calendar month
    while the hourly rows of its days (``rows_of_day``, default 0) stay within ``budget``.
    """
    if batch_days is not None:
        n = max(1, batch_days)
        return [list(days[i : i + n]) for i in range(0, len(days), n)]
    batches: list[list[dt.date]] = []
    rows = 0
    for day in days:
        n = rows_of_day(day) if rows_of_day is not None else 0
        prev = batches[-1][-1] if batches else None
        same = (
            prev is not None
            and (prev.year, prev.month) == (day.year, day.month)
            and day - prev == dt.timedelta(days=1)
        )
        if same and rows + n <= budget:
            batches[-1].append(day)
            rows += n
        else:
            batches.append([day])
            rows = n
    return batches
