"""What one import did: the numbers an operator checks and a script reads (``--json``).

Every reading a file offers ends in exactly one bucket: ``landed``, ``rejected`` (by reason,
each one a dead-letter row) or ``duplicates`` (the same identity again in the file: landed
once). Cells that carry no reading at all (blank, ``—``, ``NA``…) are ``skipped_markers``;
CNEMC's derived rows (AQI, 24-hour and 8-hour averages) are ``skipped_derived``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["ImportReport", "ImportStatus"]

ImportStatus = Literal["imported", "already_imported", "replaced"]


@dataclass
class ImportReport:
    """Counts and outputs of importing one file (``status`` says whether anything landed)."""

    file: Path
    kind: str
    source: str
    status: ImportStatus = "imported"
    sha256: str = ""
    readings: int = 0  # readings offered by the file (markers and derived rows excluded)
    landed: int = 0
    duplicates: int = 0  # same (station, param, ts) again in the file; landed once
    conflicts: int = 0  # of those, with a different value: the later line wins
    rejected: Counter[str] = field(default_factory=Counter)
    skipped_markers: int = 0  # blank / — / NA / - / -- cells
    skipped_derived: int = 0  # CNEMC AQI, *_24h and O3_8h* cells
    skipped_lines: int = 0  # HJ 212 logs: lines without a frame
    unmapped_codes: list[str] = field(default_factory=list)  # CNEMC codes not in the network
    first_ts: str | None = None  # UTC, ISO 8601, of the landed readings
    last_ts: str | None = None
    files: list[Path] = field(default_factory=list)  # raw-store files written
    dead_letter_files: list[Path] = field(default_factory=list)
    removed_files: list[Path] = field(default_factory=list)  # --force: the earlier landing's
    seconds: float = 0.0

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def to_json(self) -> dict[str, Any]:
        """The report as one JSON-ready dict (``aircarbon import … --json``)."""
        return {
            "file": str(self.file),
            "kind": self.kind,
            "source": self.source,
            "status": self.status,
            "sha256": self.sha256,
            "readings": self.readings,
            "landed": self.landed,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "rejected": dict(sorted(self.rejected.items())),
            "rejected_total": self.rejected_total,
            "skipped_markers": self.skipped_markers,
            "skipped_derived": self.skipped_derived,
            "skipped_lines": self.skipped_lines,
            "unmapped_codes": sorted(self.unmapped_codes),
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "files": [str(p) for p in self.files],
            "dead_letter_files": [str(p) for p in self.dead_letter_files],
            "removed_files": [str(p) for p in self.removed_files],
            "seconds": round(self.seconds, 3),
        }
