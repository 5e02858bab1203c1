"""The processing steps the DAGs and ``aircarbon process`` share.

Each step is a transaction on its interval: read the raw store (or the lake), transform with
pure functions from ``transforms/``, validate with the catalog-generated suites of
``expectations/``, and replace the interval's partitions in the DuckLake (``warehouse/``).
Re-running a step replaces what it wrote before; it never appends twice.
"""

from aircarbon.pipeline.daily import DayResult, missing_hours, process_day
from aircarbon.pipeline.hourly import HourResult, process_hour, process_hours

__all__ = [
    "DayResult",
    "HourResult",
    "missing_hours",
    "process_day",
    "process_hour",
    "process_hours",
]
