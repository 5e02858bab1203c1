"""Where the operator's network lives, and the one way entry points get their catalog.

The shipped catalog (parameters, units, standards) belongs to the package; the network
(city, time zone, station sets, stations) belongs to the operator and lives in the data
directory (``network.toml``) or wherever ``network_file`` points. A data directory without
a network of its own runs on the Shenyang sample, and says so once on stderr, so nobody
mistakes the sample for their city.
"""

from __future__ import annotations

import sys
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from aircarbon.core.catalog._catalog import Catalog
from aircarbon.core.catalog._loader import DEFAULT_CATALOG_DIR, check_timezone, load_catalog
from aircarbon.core.errors import CatalogError

if TYPE_CHECKING:
    from aircarbon.core.settings import Settings

__all__ = [
    "NETWORK_FILE_NAME",
    "catalog_for",
    "network_path",
    "network_timezone",
    "own_network_path",
    "sample_network_path",
]

#: The network file's name inside the data directory.
NETWORK_FILE_NAME = "network.toml"

#: Data directories (resolved) already told they run on the sample: the notice is said once.
_told: set[Path] = set()


def own_network_path(settings: Settings) -> Path:
    """Where this installation's own network is (or would be) kept."""
    if settings.network_file is not None:
        return settings.network_file
    return settings.data_dir / NETWORK_FILE_NAME


def sample_network_path(settings: Settings) -> Path:
    """The sample network shipped next to the catalog in use (Shenyang by default)."""
    return (settings.catalog_dir or DEFAULT_CATALOG_DIR) / "stations.toml"


def network_path(settings: Settings, *, quiet: bool = False) -> Path:
    """The network file the settings run on: the operator's own, else the sample.

    A ``network_file`` setting that names a missing file is an error (a typo must not
    silently run the sample); a data directory without ``network.toml`` runs the sample
    and says so on stderr once per process and data directory (unless ``quiet``).
    """
    own = own_network_path(settings)
    if own.is_file():
        return own
    if settings.network_file is not None:
        raise CatalogError(
            f"network file {str(own)!r} (setting network_file) does not exist; "
            "create it with `aircarbon network init --city C --timezone TZ`"
        )
    if not quiet:
        _say_sample_once(settings)
    return sample_network_path(settings)


def _say_sample_once(settings: Settings) -> None:
    key = settings.data_dir.resolve()
    if key in _told:
        return
    _told.add(key)
    print(
        f"aircarbon: {settings.data_dir} has no network of its own, using the Shenyang "
        "sample network; set yours with `aircarbon network init --city C --timezone TZ` "
        "and `aircarbon stations add`",
        file=sys.stderr,
    )


def catalog_for(settings: Settings) -> Catalog:
    """The catalog every entry point uses: the shipped catalog with the settings' network.

    Cached by the network file's path and modification time, so a changed network file
    gives a fresh catalog on the next call (the collector relies on this to reload).
    """
    return load_catalog(settings.catalog_dir, network_file=network_path(settings))


def network_timezone(settings: Settings) -> str:
    """The network's IANA time zone: the one zone local days are counted in."""
    path = network_path(settings)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise CatalogError(f"network file missing: {path}") from None
    return _zone_of(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=16)
def _zone_of(path: Path, mtime_ns: int, size: int) -> str:
    """Only the ``[network]`` zone of a network file (cheaper than the whole catalog)."""
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path.name}: {exc}") from exc
    net = doc.get("network")
    if not isinstance(net, dict) or "timezone" not in net:
        raise CatalogError(f"{path.name}: [network] has no timezone")
    return check_timezone(str(net["timezone"]), f"{path.name} network")
