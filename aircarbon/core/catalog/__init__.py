"""The domain catalog: parameters, units, stations, flags and AQI rules, as data.

One source of truth for ingest, transforms, GX suites and SQL. The data files under
``data/`` carry a source for every number; ``load_catalog()`` checks them and caches
the result, so callers may call it freely.
"""

from aircarbon.core.catalog._catalog import Catalog
from aircarbon.core.catalog._edit import (
    add_stations,
    describe_network,
    import_stations_csv,
    init_network,
    init_sample_network,
    read_stations_csv,
    retire_station,
    station_row,
)
from aircarbon.core.catalog._loader import DEFAULT_CATALOG_DIR, load_catalog
from aircarbon.core.catalog._model import (
    AqiCategory,
    AqiStandard,
    CoexceedanceLimits,
    DataFlag,
    EventRules,
    Fingerprint,
    Hj212LegacyCode,
    HJ212Version,
    IndicatorRules,
    Network,
    Parameter,
    ParamGroup,
    Station,
    StationType,
    Validity,
)
from aircarbon.core.catalog._network import (
    NETWORK_FILE_NAME,
    catalog_for,
    network_path,
    network_timezone,
    own_network_path,
    sample_network_path,
)
from aircarbon.core.catalog._units import Conversion, UnitRegistry

__all__ = [
    "DEFAULT_CATALOG_DIR",
    "NETWORK_FILE_NAME",
    "AqiCategory",
    "AqiStandard",
    "Catalog",
    "CoexceedanceLimits",
    "Conversion",
    "DataFlag",
    "EventRules",
    "Fingerprint",
    "HJ212Version",
    "Hj212LegacyCode",
    "IndicatorRules",
    "Network",
    "ParamGroup",
    "Parameter",
    "Station",
    "StationType",
    "UnitRegistry",
    "Validity",
    "add_stations",
    "catalog_for",
    "describe_network",
    "import_stations_csv",
    "init_network",
    "init_sample_network",
    "load_catalog",
    "network_path",
    "network_timezone",
    "own_network_path",
    "read_stations_csv",
    "retire_station",
    "sample_network_path",
    "station_row",
]
