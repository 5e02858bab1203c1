"""History imports: years of a centre's own data into the same raw store as live data.

``aircarbon import table|long|cnemc|hj212`` and the Python API below read real exports
(UTF-8 with BOM, GBK, ``—``/``NA`` markers, duplicate rows, DST changes, ``24:00`` hours),
apply the live decoders' checks to whole columns, land the readings in
``raw/date=…/hour=…/`` with ``source = import:<kind>;file=<name>``, the refused ones in the
dead-letter store with their reason and line, and record each file in
``<data_dir>/imports/`` so that importing it again lands nothing new.
"""

from ingest.history.formats import import_cnemc, import_hj212, import_long, import_table
from ingest.history.land import ImportRefused, check_readings
from ingest.history.report import ImportReport

__all__ = [
    "ImportRefused",
    "ImportReport",
    "check_readings",
    "import_cnemc",
    "import_hj212",
    "import_long",
    "import_table",
]
