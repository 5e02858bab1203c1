"""A loader or a reader process for the concurrency smoke tests.

    python -m tests.warehouse.lake_worker load|query DATA_DIR SECONDS

Settings come from the environment (``AIRCARBON_WAREHOUSE_CATALOG`` selects PostgreSQL). Prints
one JSON object: operations done, errors (as one-line messages) and, for the reader, the
distinct hours it saw first and last.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

from aircarbon.core.errors import AirCarbonError
from aircarbon.core.settings import load_settings


def main(role: str, data_dir: str, seconds: float) -> None:
    import duckdb

    import warehouse
    from tests.warehouse.conftest import HOUR, hourly_frame

    settings = load_settings(data_dir=Path(data_dir))
    con = warehouse.connect(settings, read_only=role == "query")
    deadline = time.monotonic() + seconds  # after start-up, which is slow on a busy machine
    # a busy machine makes each operation slow: past the deadline, carry on (up to a cap) until
    # the loader has committed a few hours and the reader has watched new hours arrive
    cap = deadline + 90.0
    done, errors, seen = 0, list[str](), list[int]()

    def enough() -> bool:
        if role == "load":
            return done >= 3
        return done >= 5 and bool(seen) and seen[-1] > seen[0]

    while (now := time.monotonic()) < deadline or (not enough() and now < cap):
        try:
            if role == "load":
                hour = HOUR + dt.timedelta(hours=done)
                warehouse.load_hour(con, "hourly", hourly_frame(hour, stations=5), hour)
            else:
                row = con.execute("select count(distinct ts), count(*) from hourly").fetchone()
                assert row is not None
                if row[1] != 10 * row[0]:  # a half-visible load would break this
                    errors.append(f"torn read: {row}")
                seen.append(int(row[0]))
                time.sleep(0.02)
            done += 1
        except (AirCarbonError, duckdb.Error) as exc:
            errors.append(str(exc).splitlines()[0])
    print(json.dumps({"role": role, "done": done, "errors": errors,
                      "first": seen[0] if seen else None, "last": seen[-1] if seen else None,
                      "monotonic": seen == sorted(seen)}))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
