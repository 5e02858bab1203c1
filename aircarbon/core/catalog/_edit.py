"""Changes to the operator's network file: init, add stations, import a CSV, retire.

Every change is read–modify–write of the whole TOML document under an exclusive lock on
``<network file>.lock`` (two operators, or a script and an operator, must not lose each
other's station), validated by loading the result with the catalog loader before it
replaces the file (temp file + fsync + rename: a reader — the collector polls the file —
sees the old network or the new one, never half of one). Not the data directory's writer
lock: a back-fill holds that for hours, and onboarding a station must not wait for it.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import fcntl
import io
import os
import re
import tempfile
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from aircarbon.core.catalog._catalog import Catalog
from aircarbon.core.catalog._loader import (
    _load_stations,
    check_timezone,
    load_catalog,
)
from aircarbon.core.catalog._model import Station
from aircarbon.core.catalog._network import network_path, own_network_path, sample_network_path
from aircarbon.core.errors import CatalogError

if TYPE_CHECKING:
    from aircarbon.core.settings import Settings

__all__ = [
    "CSV_COLUMNS",
    "add_stations",
    "describe_network",
    "import_stations_csv",
    "init_network",
    "init_sample_network",
    "parse_params",
    "read_stations_csv",
    "retire_station",
    "station_row",
]

_HEADER = (
    "# The monitoring network of this AirCarbon installation: [network] (city, time zone),\n"
    "# [sets] (named parameter lists a station's params may use as '@name') and one\n"
    "# [[station]] per site. Written by `aircarbon network init` / `aircarbon stations ...`;\n"
    "# hand edits are fine (the commands rewrite the file, so comments are not kept).\n"
)

#: The columns of ``aircarbon stations import`` (= the options of ``stations add``).
CSV_COLUMNS = (
    "id",
    "type",
    "lat",
    "lon",
    "params",
    "name_zh",
    "name_en",
    "mn",
    "code",
    "hj212_version",
    "district",
    "from",
)
_CSV_ALIASES = {
    "national_code": "code",
    "valid_from": "from",
    "station": "id",
    "latitude": "lat",
    "longitude": "lon",
}
_SPLIT = re.compile(r"[,;|\s，；、]+")
_MN_KEEP = re.compile(r"[^A-Za-z0-9]")


def parse_params(text: str) -> list[str]:
    """``"so2,no2,@met"`` (commas, semicolons, bars, spaces, full-width commas) as a list."""
    return [p for p in _SPLIT.split(text.strip()) if p]


def parse_date(text: str, what: str) -> dt.date:
    """An ISO ``YYYY-MM-DD`` day; a one-line error naming ``what`` otherwise."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise CatalogError(f"{what}: {text!r} is not a date (YYYY-MM-DD)") from None


def _number(text: Any, what: str) -> float:
    try:
        return float(str(text).strip())
    except ValueError:
        raise CatalogError(f"{what}: {text!r} is not a number") from None


def station_row(
    station_id: str,
    *,
    type: str,
    lat: float | str,
    lon: float | str,
    params: str | Sequence[str],
    name_zh: str | None = None,
    name_en: str | None = None,
    mn: str | None = None,
    code: str | None = None,
    hj212_version: str | None = None,
    district: str | None = None,
    valid_from: dt.date | str | None = None,
) -> dict[str, Any]:
    """One ``[[station]]`` table from the options of ``stations add`` (unchecked yet).

    Without ``mn`` the station's HJ 212 device code is its id's letters and digits: a
    station that only ever receives imported history still needs one, and a logger can be
    configured to send it.
    """
    sid = station_id.strip()
    if not sid:
        raise CatalogError("a station needs an id")
    row: dict[str, Any] = {"id": sid, "type": type.strip()}
    row["name_zh"] = (name_zh or "").strip() or (name_en or "").strip() or sid
    row["name_en"] = (name_en or "").strip() or sid
    if district:
        row["district"] = district.strip()
    row["lat"] = _number(lat, f"station {sid!r} lat")
    row["lon"] = _number(lon, f"station {sid!r} lon")
    row["mn"] = (mn or "").strip() or _MN_KEEP.sub("", sid).upper()[:24]
    row["params"] = parse_params(params) if isinstance(params, str) else list(params)
    if not row["params"]:
        raise CatalogError(f"station {sid!r}: no parameters (--params a,b,c or @set)")
    if code and code.strip():
        row["national_code"] = code.strip()
    if hj212_version and hj212_version.strip():
        row["hj212_version"] = hj212_version.strip()
    if isinstance(valid_from, str) and valid_from.strip():
        row["valid_from"] = parse_date(valid_from, f"station {sid!r} from")
    elif isinstance(valid_from, dt.date):
        row["valid_from"] = valid_from
    return row


# --- the file ---------------------------------------------------------------------------


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Exclusive lock on ``<path>.lock`` for one read–modify–write of the network file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_name(path.name + ".lock").open("a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise CatalogError(
            f"no network file at {path}: create it with "
            "`aircarbon network init --city C --timezone TZ`"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: {exc}") from exc


def _write(path: Path, doc: Mapping[str, Any], catalog_dir: Path | None) -> Catalog:
    """Write ``doc`` to ``path`` atomically, after the loader has accepted it."""
    text = _HEADER + "\n" + tomli_w.dumps(dict(doc))
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide it from a collector of another user
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        catalog = load_catalog(catalog_dir, network_file=tmp)  # raises: the file stays as it was
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # the rename itself durable (best effort)
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    del catalog
    return load_catalog(catalog_dir, network_file=path)


def _sample_sets(settings: Settings) -> dict[str, list[str]]:
    with sample_network_path(settings).open("rb") as fh:
        return dict(tomllib.load(fh).get("sets", {}))


def init_network(
    settings: Settings,
    *,
    city: str,
    timezone: str,
    name_zh: str | None = None,
    name_en: str | None = None,
    center: tuple[float, float] | None = None,
    force: bool = False,
) -> tuple[Path, Catalog]:
    """Create the installation's own network (no stations yet; the sample's parameter sets).

    With ``force`` an existing network keeps its sets and stations and gets the new
    ``[network]`` table (a city moving its zone, a corrected name); without it, an
    existing file is an error rather than silently emptied.
    """
    path = own_network_path(settings)
    city = city.strip()
    if not city:
        raise CatalogError("--city must not be empty")
    check_timezone(timezone, "--timezone")
    net: dict[str, Any] = {
        "city": city,
        "name_zh": (name_zh or "").strip() or (name_en or "").strip() or city,
        "name_en": (name_en or "").strip() or city,
        "timezone": timezone,
    }
    if center is not None:
        net["center"] = [float(center[0]), float(center[1])]
    with _locked(path):
        if path.exists():
            if not force:
                raise CatalogError(
                    f"{path} already exists (--force replaces its [network] table and keeps "
                    "its stations)"
                )
            doc = _read(path)
        else:
            doc = {"sets": _sample_sets(settings), "station": []}
        new = {"network": net, "sets": doc.get("sets", {}), "station": doc.get("station", [])}
        return path, _write(path, new, settings.catalog_dir)


def init_sample_network(settings: Settings) -> Path:
    """Copy the Shenyang sample into the data directory as its own network (the demo's).

    Copied verbatim (comments included); an existing network file is left alone.
    """
    path = own_network_path(settings)
    with _locked(path):
        if not path.exists():
            text = sample_network_path(settings).read_text(encoding="utf-8")
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            os.fchmod(fd, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            Path(tmp).replace(path)
    return path


def _own_doc(settings: Settings) -> tuple[Path, dict[str, Any]]:
    path = own_network_path(settings)
    if not path.exists():
        raise CatalogError(
            f"{settings.data_dir} has no network of its own to add to: create it first with "
            "`aircarbon network init --city C --timezone TZ`"
        )
    return path, _read(path)


def _check_rows(
    doc: Mapping[str, Any], rows: Sequence[tuple[str, dict[str, Any]]], catalog: Catalog
) -> list[str]:
    """Every problem of ``rows`` (labelled) against ``doc``'s stations and each other."""
    problems: list[str] = []
    ids: dict[str, str] = {}
    mns: dict[str, str] = {}
    codes: dict[str, str] = {}
    for st in doc.get("station", []):
        ids[str(st["id"])] = "the network"
        mns[str(st["mn"])] = str(st["id"])
        if st.get("national_code"):
            codes[str(st["national_code"])] = str(st["id"])
    for label, row in rows:
        alone = {"network": doc["network"], "sets": doc.get("sets", {}), "station": [row]}
        try:
            _load_stations(alone, catalog.parameters, catalog.sources, where=label)
        except CatalogError as exc:  # the loader names "<label> station 'X'": once is enough
            problems.append(str(exc).replace(f"{label} station {row['id']!r}", label, 1))
            continue
        sid, mn, code = row["id"], row["mn"], row.get("national_code")
        if sid in ids:
            problems.append(f"{label}: station id {sid!r} already in {ids[sid]}")
        elif mn in mns:
            problems.append(f"{label}: HJ 212 MN {mn!r} already used by {mns[mn]!r}")
        elif code and code in codes:
            problems.append(f"{label}: national code {code!r} already used by {codes[code]!r}")
        else:
            ids[sid] = label
            mns[mn] = sid
            if code:
                codes[code] = sid
    return problems


def add_stations(
    settings: Settings,
    rows: Sequence[tuple[str, dict[str, Any]]],
    *,
    problems: Sequence[str] = (),
    source: str | None = None,
) -> tuple[list[Station], Catalog]:
    """Add ``rows`` (label, station table) to the network: all of them, or none.

    Every bad row is named in the one-line error (``row 3 ('X'): unknown parameter 'pm2'``;
    ...), so a CSV of a hundred stations is fixed in one pass, not one error per run.
    ``problems`` are rows the caller could not even parse (named in the same message, in
    row order); ``source`` names the file they came from.
    """
    path, doc = _own_doc(settings)
    with _locked(path):
        path, doc = _own_doc(settings)  # re-read under the lock
        base = load_catalog(settings.catalog_dir, network_file=path)
        found = sorted([*problems, *_check_rows(doc, rows, base)], key=_row_number)
        if len(found) == 1 and len(rows) == 1 and not problems and source is None:
            raise CatalogError(found[0])
        if found:
            where = f" in {source}, nothing imported" if source else ", nothing added"
            raise CatalogError(f"{len(found)} bad station row(s){where}: " + "; ".join(found))
        if not rows:
            raise CatalogError(f"no station rows{f' in {source}' if source else ''}")
        doc.setdefault("station", []).extend(row for _, row in rows)
        catalog = _write(path, doc, settings.catalog_dir)
    return [catalog.station(row["id"]) for _, row in rows], catalog


_ROW_NUMBER = re.compile(r"\brow (\d+)\b")


def _row_number(problem: str) -> int:
    match = _ROW_NUMBER.search(problem)
    return int(match.group(1)) if match else 0


def import_stations_csv(settings: Settings, path: Path) -> tuple[list[Station], Catalog]:
    """``aircarbon stations import``: every row of the CSV, or none, every bad row named."""
    rows, problems = _parse_csv(path)
    return add_stations(settings, rows, problems=problems, source=path.name)


def retire_station(settings: Settings, station_id: str, day: dt.date) -> Station:
    """Mark ``station_id`` retired: its last reporting local day is ``day``.

    The station stays in the network (its history stays queryable and keeps its name);
    readings after ``day`` are dead-lettered as ``station_retired``. Retiring again on
    the same day is a no-op; on another day, an error (un-retire by editing the file).
    """
    path, _ = _own_doc(settings)
    with _locked(path):
        _, doc = _own_doc(settings)
        for st in doc.get("station", []):
            if str(st["id"]) != station_id:
                continue
            old = st.get("valid_to")
            if old is not None and str(old) != day.isoformat():
                raise CatalogError(f"station {station_id!r} was already retired on {old}")
            start = st.get("valid_from")
            if start is not None and str(start) > day.isoformat():
                raise CatalogError(
                    f"station {station_id!r} opened on {start}: cannot retire it on {day}"
                )
            st["valid_to"] = day
            return _write(path, doc, settings.catalog_dir).station(station_id)
    raise CatalogError(f"unknown station {station_id!r} (see `aircarbon stations`)")


# --- CSV ----------------------------------------------------------------------------------


def _decode(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM), else GB 18030 (a superset of GBK): what offices export."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CatalogError(f"{name}: neither UTF-8 nor GBK text")


def read_stations_csv(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """The rows of a stations CSV as (label, station table); every bad row named at once."""
    rows, problems = _parse_csv(path)
    if problems:
        raise CatalogError(
            f"{len(problems)} bad row(s) in {path.name}, nothing imported: " + "; ".join(problems)
        )
    return rows


def _parse_csv(path: Path) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """The parseable rows of a stations CSV, and a problem per row that is not.

    Columns are the options of ``stations add`` (``id,type,lat,lon,params,name_zh,
    name_en,mn,code,hj212_version,district,from``; ``national_code``/``valid_from`` also
    accepted); blank cells mean "not given". An unknown column is an error naming it.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CatalogError(f"{path}: no such file") from None
    text = _decode(data, path.name)
    first = text.split("\n", 1)[0]
    # the header decides the delimiter (a sniffer guesses wrong on "so2;no2" cells)
    delimiter = "\t" if "\t" in first else ";" if ";" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise CatalogError(f"{path.name}: empty file") from None
    names = [h.strip().lower().lstrip("-").replace("-", "_") for h in header]  # --name-zh too
    columns = [_CSV_ALIASES.get(n, n) for n in names]
    unknown = [h for h, c in zip(header, columns, strict=True) if c not in CSV_COLUMNS]
    if unknown:
        raise CatalogError(
            f"{path.name}: unknown column(s) {', '.join(map(repr, unknown))} "
            f"(columns: {', '.join(CSV_COLUMNS)})"
        )
    missing = [c for c in ("id", "type", "lat", "lon", "params") if c not in columns]
    if missing:
        raise CatalogError(f"{path.name}: missing column(s) {', '.join(missing)}")
    rows: list[tuple[str, dict[str, Any]]] = []
    problems: list[str] = []
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue  # blank line
        values = {c: v.strip() for c, v in zip(columns, cells, strict=False)}
        label = f"{path.name} row {number} ({values.get('id', '')!r})"
        if len(cells) > len(columns):
            problems.append(f"{label}: {len(cells)} cells, header has {len(columns)}")
            continue
        try:
            row = station_row(
                values.get("id", ""),
                type=values.get("type", ""),
                lat=values.get("lat", ""),
                lon=values.get("lon", ""),
                params=values.get("params", ""),
                name_zh=values.get("name_zh"),
                name_en=values.get("name_en"),
                mn=values.get("mn"),
                code=values.get("code"),
                hj212_version=values.get("hj212_version"),
                district=values.get("district"),
                valid_from=values.get("from"),
            )
        except CatalogError as exc:
            problems.append(f"{label}: {exc}")
            continue
        rows.append((label, row))
    if not rows and not problems:
        raise CatalogError(f"{path.name}: no station rows")
    return rows, problems


def describe_network(settings: Settings) -> dict[str, Any]:
    """What ``aircarbon network show`` prints: the file, whether it is the sample, the network."""
    path = network_path(settings, quiet=True)
    own = own_network_path(settings)
    catalog = load_catalog(settings.catalog_dir, network_file=path)
    net = catalog.network
    retired = [s.id for s in catalog.stations.values() if s.valid_to is not None]
    return {
        "file": str(path),
        "sample": path != own,
        "city": net.city,
        "name_zh": net.name_zh,
        "name_en": net.name_en,
        "timezone": net.timezone,
        "center": list(net.center),
        "stations": len(catalog.stations),
        "retired": retired,
        "sets": {k: list(v) for k, v in catalog.station_sets.items()},
    }
