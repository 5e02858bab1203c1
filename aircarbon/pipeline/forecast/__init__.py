"""The forecast step and its files (docs/forecast.md).

* :mod:`.run` — ``forecast_day``: one issue read from the lake, stored back, published;
* :mod:`.artefacts` — the met-forecast input per origin and the stored models;
* :mod:`.met` — the documented met-forecast file format (a real NWP feed drops files here);
* :mod:`.publish` — the warnings' retained MQTT message.

``forecast_day`` is re-exported: the DAG, the CLI and the demo import it from here.
"""

from aircarbon.pipeline.forecast.run import ForecastResult, forecast_day, latest_model

__all__ = ["ForecastResult", "forecast_day", "latest_model"]
