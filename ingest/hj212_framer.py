"""Cuts a data logger's TCP byte stream into HJ 212 frames.

TCP has no message boundaries: one ``read()`` may hold half a frame, three frames, or an
HTTP scanner's request between two frames (all seen in real receiver logs). The framer
finds ``##`` + 4 decimal digits, trusts the length field only up to the standard's 1024-byte
data segment, and hands out the bytes from ``##`` through the 4 CRC characters (plus the
CR LF when the logger sent one). It never validates the CRC or the fields: that is
:func:`ingest.hj212.parse_packet`'s job, and a frame the parser refuses is still reported
with its bytes so the gateway can dead-letter it.

Memory is bounded: the buffer never holds more than one maximal frame plus one read, since
bytes that cannot start a frame are released (as ``garbage``) as soon as they are seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from ingest.hj212 import MAX_SEGMENT_LENGTH

__all__ = ["Chunk", "Framer"]

_HEADER: Final = b"##"
_HEADER_LEN: Final = 6  # "##" + 4-digit length
_CRC_LEN: Final = 4
_HEX: Final = frozenset(b"0123456789abcdefABCDEF")
_DIGITS: Final = frozenset(b"0123456789")
_BLANK: Final = b" \t\r\n"

ChunkKind = Literal["frame", "garbage", "bad"]


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of the stream: a delimited ``frame``, ``garbage`` between frames, or a
    ``bad`` frame header whose length field leads nowhere (``detail`` says why)."""

    kind: ChunkKind
    data: bytes
    detail: str = ""


class Framer:
    """Incremental frame splitter for one connection (not thread-safe, no I/O)."""

    __slots__ = ("_buf", "_pending")

    def __init__(self) -> None:
        self._buf = bytearray()
        #: a complete frame waiting to see whether CR LF follows (see :meth:`flush`)
        self._pending: bytes | None = None

    @property
    def pending(self) -> bool:
        """True when a complete frame is held back waiting for its CR LF."""
        return self._pending is not None

    @property
    def buffered(self) -> int:
        """Bytes held (an incomplete frame), for tests and metrics."""
        return len(self._buf) + (len(self._pending) if self._pending else 0)

    def feed(self, data: bytes) -> list[Chunk]:
        """Append ``data`` and return every chunk it completes, in stream order."""
        out: list[Chunk] = []
        buf = self._buf
        buf += data
        if self._pending is not None:
            if not buf:
                return out
            if buf.startswith(b"\r\n"):
                out.append(Chunk("frame", self._pending + b"\r\n"))
                del buf[:2]
            elif buf == b"\r":
                return out  # CR now, LF in the next read
            else:
                out.append(Chunk("frame", self._pending))
            self._pending = None
        self._scan(out)
        return out

    def flush(self) -> list[Chunk]:
        """Release a frame held for its CR LF (the logger sends none), e.g. after a pause,
        and whatever non-blank bytes remain as garbage (end of stream)."""
        out: list[Chunk] = []
        if self._pending is not None:
            out.append(Chunk("frame", self._pending))
            self._pending = None
            if self._buf == b"\r":
                self._buf.clear()
        return out

    def close(self) -> list[Chunk]:
        """End of stream: the held frame and any leftover bytes (an incomplete frame)."""
        out = self.flush()
        rest = bytes(self._buf).strip(_BLANK)
        self._buf.clear()
        if rest:
            kind: ChunkKind = "bad" if rest.startswith(_HEADER) else "garbage"
            detail = "stream ended inside a frame" if kind == "bad" else ""
            out.append(Chunk(kind, rest, detail))
        return out

    def _garbage(self, out: list[Chunk], end: int) -> None:
        """Release ``buf[:end]``; blank bytes (stray CR LF between frames) are not reported."""
        junk = bytes(self._buf[:end])
        del self._buf[:end]
        if junk.strip(_BLANK):
            out.append(Chunk("garbage", junk))

    def _scan(self, out: list[Chunk]) -> None:
        buf = self._buf
        while buf:
            start = buf.find(_HEADER)
            if start < 0:
                # keep a trailing '#': it may be the first half of the next "##"
                self._garbage(out, len(buf) - 1 if buf.endswith(b"#") else len(buf))
                return
            if start:
                self._garbage(out, start)
            if len(buf) < _HEADER_LEN:
                return
            digits = buf[2:_HEADER_LEN]
            if not _DIGITS.issuperset(digits):
                # "##" not followed by a length: drop one '#' and look again ("###0101…")
                self._garbage_or_bad(out, 1, "")
                continue
            declared = int(digits)
            if declared > MAX_SEGMENT_LENGTH:
                self._garbage_or_bad(
                    out,
                    _HEADER_LEN,
                    f"length field {declared} above the standard's {MAX_SEGMENT_LENGTH}",
                )
                continue
            end = _HEADER_LEN + declared + _CRC_LEN
            inner = self._inner_header(min(end, len(buf)))
            if inner > 0:
                # another frame starts inside this one, so the length field overshoots (and
                # a CRC's 4 characters may even be digits of the next frame): resynchronise
                self._garbage_or_bad(
                    out, inner, f"length field says {declared} but a new frame starts inside"
                )
                continue
            if len(buf) < end:
                return  # wait for the rest of the frame
            if not _HEX.issuperset(buf[end - _CRC_LEN : end]):
                # the length field does not lead to a CRC: resynchronise at the next "##"
                nxt = buf.find(_HEADER, 2)
                cut = nxt if nxt >= 0 else len(buf)
                detail = f"length field says {declared} but no 4-hex CRC follows that many bytes"
                self._garbage_or_bad(out, cut, detail)
                continue
            frame = bytes(buf[:end])
            if buf.startswith(b"\r\n", end):
                out.append(Chunk("frame", frame + b"\r\n"))
                del buf[: end + 2]
            elif len(buf) == end or buf[end:] == b"\r":
                self._pending = frame  # CR LF may still be on its way
                del buf[:end]
                return
            else:
                out.append(Chunk("frame", frame))
                del buf[:end]

    def _inner_header(self, end: int) -> int:
        """Offset of a ``##dddd`` header inside ``buf[2:end]``, or -1.

        A real segment has no ``##``: MN and PW are letters and digits, CP values numbers.
        """
        buf = self._buf
        at = buf.find(_HEADER, 2, end)
        while at >= 0:
            if _DIGITS.issuperset(buf[at + 2 : at + _HEADER_LEN]) and at + _HEADER_LEN <= len(buf):
                return at
            at = buf.find(_HEADER, at + 1, end)
        return -1

    def _garbage_or_bad(self, out: list[Chunk], end: int, detail: str) -> None:
        part = bytes(self._buf[:end])
        del self._buf[:end]
        out.append(Chunk("bad" if detail else "garbage", part, detail))
