"""Poison-message quarantine: a message the collector died on twice is never decoded again.

The decode boundary (:func:`ingest.decode.decode_message`) turns any *exception* into a
dead letter. A crash it cannot catch (a segfault in a C decoder, the kernel's OOM killer,
an ``os._exit``) would otherwise become a crash loop: the message was never acknowledged,
the broker re-delivers it on every restart, and the collector dies on it again.

So the collector keeps a tiny journal per writer id in ``<data_dir>/collector/``:

- ``<writer>.inflight``: a fixed 512-byte memory-mapped record of the message being decoded
  *right now* (a flag, the message's 16-byte digest of topic and payload, its topic). It is
  set before each decode and cleared after, by plain memory stores into a shared file
  mapping: no system call on the hot path, and the page cache keeps the last store when the
  process dies however it dies (a power cut loses it, but a power cut is not a poison
  message).
- ``<writer>.suspects.json``: messages that were being decoded at a crash, with the number
  of crashes each was in flight at. At start-up a set flag in ``.inflight`` means the last
  run died inside a decode: that digest's count goes up by one and the file is rewritten
  atomically.

A suspect that is decoded without a crash is forgotten again. A message whose count has
reached ``threshold`` (setting ``poison_crashes``, default 2) is,
when the broker re-delivers it, dead-lettered with reason ``poison`` without being decoded,
and acknowledged with its batch like any other dead letter. Its payload is kept whole in the
dead-letter store; ``replay-dead-letters`` leaves ``poison`` rows alone unless asked for them
by ``--reason poison`` (replaying it may crash the replay the same way).
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
from pathlib import Path

from ingest.raw_store import fsync_dir

__all__ = ["PoisonJournal", "message_digest"]

log = logging.getLogger("aircarbon.poison")

_RECORD = 512
_DIGEST = 16
_TOPIC_MAX = _RECORD - 1 - _DIGEST - 2
_MAX_SUSPECTS = 256  # oldest forgotten first: the journal stays a few KB whatever happens
_IN_DECODE = 1


def message_digest(topic: str, payload: bytes) -> bytes:
    """16-byte identity of a message (topic and payload) across re-deliveries."""
    digest = hashlib.blake2b(digest_size=_DIGEST)
    digest.update(topic.encode("utf-8", "surrogateescape"))
    digest.update(b"\0")
    digest.update(payload)
    return digest.digest()


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


class PoisonJournal:
    """The in-flight record and the crash counts of one collector (see module doc)."""

    def __init__(self, directory: Path, writer_id: str, *, threshold: int = 2) -> None:
        self.threshold = threshold
        self.directory = directory
        self._inflight_path = directory / f"{writer_id}.inflight"
        self._suspects_path = directory / f"{writer_id}.suspects.json"
        self.suspects: dict[str, dict[str, object]] = {}
        self._counts: dict[bytes, int] = {}
        self._map: mmap.mmap | None = None
        self._fd: int | None = None

    # --- start-up and shutdown -----------------------------------------------------------
    def open(self) -> str | None:
        """Read what the last run left, count a crash inside a decode, map the record.

        Returns a one-line description of the message a crash was found in, or None.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        self.suspects = self._read_suspects()
        found: str | None = None
        fd = os.open(self._inflight_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size != _RECORD:
                os.ftruncate(fd, _RECORD)
            record = os.pread(fd, _RECORD, 0)
            if record[0] == _IN_DECODE:
                digest = record[1 : 1 + _DIGEST].hex()
                n = int.from_bytes(record[1 + _DIGEST : 3 + _DIGEST], "big")
                topic = record[3 + _DIGEST : 3 + _DIGEST + min(n, _TOPIC_MAX)]
                entry = self.suspects.pop(digest, {"crashes": 0})
                crashes = int(str(entry.get("crashes", 0))) + 1
                self.suspects[digest] = {
                    "crashes": crashes,
                    "topic": topic.decode("utf-8", "replace"),
                }
                while len(self.suspects) > _MAX_SUSPECTS:
                    del self.suspects[next(iter(self.suspects))]
                self._write_suspects()
                verdict = (
                    "it is quarantined as poison when re-delivered"
                    if crashes >= self.threshold
                    else f"quarantined as poison at {self.threshold} crashes"
                )
                found = (
                    f"the collector died while decoding a message on "
                    f"{topic.decode('utf-8', 'replace')!r} (digest {digest}): crash {crashes}, "
                    f"{verdict}"
                )
            os.pwrite(fd, bytes(_RECORD), 0)
            self._map = mmap.mmap(fd, _RECORD, flags=mmap.MAP_SHARED)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._counts = {
            bytes.fromhex(k): int(str(v.get("crashes", 0))) for k, v in self.suspects.items()
        }
        return found

    def close(self) -> None:
        """Unmap the record (a clean stop leaves it cleared)."""
        if self._map is not None:
            self._map[0] = 0
            self._map.close()
            self._map = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # --- the hot path --------------------------------------------------------------------
    def is_poison(self, digest: bytes) -> bool:
        """True when this message was in flight at ``threshold`` crashes already."""
        return bool(self._counts) and self._counts.get(digest, 0) >= self.threshold

    def crashes(self, digest: bytes) -> int:
        return self._counts.get(digest, 0)

    def enter(self, digest: bytes, topic: str) -> None:
        """Mark ``digest`` as being decoded (before the decoder runs)."""
        m = self._map
        if m is None:
            return
        raw = topic.encode("utf-8", "surrogateescape")[:_TOPIC_MAX]
        m[1 : 1 + _DIGEST] = digest
        m[1 + _DIGEST : 3 + _DIGEST] = len(raw).to_bytes(2, "big")
        m[3 + _DIGEST : 3 + _DIGEST + len(raw)] = raw
        m[0] = _IN_DECODE  # last: a torn record is never read as set

    def leave(self, digest: bytes) -> None:
        """The decode returned: nothing is in flight in the decoder any more.

        A suspect that decoded fine was not what killed the process (a restart that happened
        to fall on it, a retained status decoded at every start): it is forgotten, so only
        crashes on the same message with no good decode between them add up.
        """
        if self._map is not None:
            self._map[0] = 0
        if self._counts and digest in self._counts:
            del self._counts[digest]
            self.suspects.pop(digest.hex(), None)
            self._write_suspects()

    # --- the suspects file ---------------------------------------------------------------
    def _read_suspects(self) -> dict[str, dict[str, object]]:
        try:
            doc = json.loads(self._suspects_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring an unreadable poison journal %s (%s)", self._suspects_path, exc)
            return {}
        suspects = doc.get("suspects") if isinstance(doc, dict) else None
        if not isinstance(suspects, dict):
            return {}
        return {
            str(k): v
            for k, v in suspects.items()
            if isinstance(v, dict) and len(str(k)) == 2 * _DIGEST and _is_hex(str(k))
        }

    def _write_suspects(self) -> None:
        tmp = self._suspects_path.with_name(f".{self._suspects_path.name}.tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump({"suspects": self.suspects}, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self._suspects_path)
        fsync_dir(self.directory)
