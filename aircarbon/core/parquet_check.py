"""Is this file a whole Parquet file? The one check both the collector's replay and the
raw-store readers use before opening a file someone may have truncated or replaced.

It lives on the ground floor (beside settings and errors) because ``ingest`` and
``transforms`` are sibling layers that must not import each other.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["parquet_intact"]

_MAGIC = b"PAR1"


def parquet_intact(path: Path) -> bool:
    """Magic at both ends and a footer that fits (two small reads, no decoding).

    Catches truncated and foreign files cheaply, so readers can skip and report them instead
    of failing a whole hour on one bad file; a file that passes may still fail to decode.
    """
    try:
        size = path.stat().st_size
        if size < 12:
            return False
        with path.open("rb") as fh:
            head = fh.read(4)
            fh.seek(size - 8)
            tail = fh.read(8)
    except OSError:
        return False
    footer = int.from_bytes(tail[:4], "little")
    return head == _MAGIC and tail[4:] == _MAGIC and 0 < footer <= size - 12
