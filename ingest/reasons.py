"""Machine-readable reasons a message (or part of one) is rejected.

One enum shared by the decoders, the collector's dead-letter store, the health
counters and ``aircarbon decode``: a reason code written into a dead-letter row
is a stable contract with operators' scripts, so values never change meaning.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["RejectReason"]


class RejectReason(StrEnum):
    """Why a message, or one reading of it, did not land.

    Message-level reasons reject the whole payload; reading-level reasons
    (marked *per reading*) reject one value and let its siblings land.
    """

    # --- transport / envelope -------------------------------------------------
    OVERSIZED = "oversized"  # payload longer than the configured limit
    BAD_TOPIC = "bad_topic"  # topic outside aircarbon/v1/{station}/{kind}
    BAD_ENCODING = "bad_encoding"  # not UTF-8 (JSON) / not ASCII (HJ 212)
    # --- JSON v1 ----------------------------------------------------------------
    MALFORMED_JSON = "malformed_json"  # not parseable JSON at all
    BAD_SCHEMA = "bad_schema"  # JSON, but missing/ill-typed envelope fields
    TOPIC_MISMATCH = "topic_mismatch"  # payload station != topic station (or MN)
    UNKNOWN_STATION = "unknown_station"  # station id / MN not in the catalog
    STATION_RETIRED = "station_retired"  # measured after the station's valid_to (retired)
    # --- timestamps --------------------------------------------------------------
    BAD_TIMESTAMP = "bad_timestamp"  # unparseable, or without a UTC offset
    TS_FUTURE = "ts_future"  # further in the future than the allowed skew
    TS_TOO_OLD = "ts_too_old"  # older than the accepted late-data window
    # --- per reading -------------------------------------------------------------
    UNKNOWN_PARAM = "unknown_param"  # per reading: code not in the catalog
    UNKNOWN_UNIT = "unknown_unit"  # per reading: unit not convertible to canonical
    NON_NUMERIC = "non_numeric"  # per reading: value is not a finite number
    OUT_OF_RANGE = "out_of_range"  # per reading: outside physical plausibility
    UNKNOWN_FLAG = "unknown_flag"  # per reading: data flag not an HJ 212 letter
    # --- HJ 212-2017 -------------------------------------------------------------
    HJ212_FRAMING = "hj212_framing"  # no '##' header, CRLF tail or CRC field
    HJ212_LENGTH = "hj212_length"  # length field disagrees with the data segment
    HJ212_CRC = "hj212_crc"  # CRC16 (Appendix A) mismatch
    HJ212_FIELD = "hj212_field"  # a header/CP field breaks the standard's syntax
    HJ212_COMMAND = "hj212_command"  # CN not a data upload we ingest (2011/2051/2061/2031)
    HJ212_PACKETISED = "hj212_packetised"  # multi-packet (Flag D bit) upload, not reassembled
    # --- status -----------------------------------------------------------------
    BAD_STATUS = "bad_status"  # status message with an unknown state or shape
    # --- robustness (issue 14) ----------------------------------------------------
    DECODE_ERROR = "decode_error"  # the decoder itself failed on it (detail: exception class)
    TOO_MANY_READINGS = "too_many_readings"  # more readings than max_readings_per_message
    POISON = "poison"  # in flight at two collector crashes: quarantined unread, then acked
    WRITE_ERROR = "write_error"  # a row the raw store could not write (isolated by bisection)
    # --- history imports (issue 17) -------------------------------------------------
    PARAM_NOT_MEASURED = "param_not_measured"  # per reading: not in the station's params

    @property
    def per_reading(self) -> bool:
        """True when the reason rejects a single reading, not the whole message."""
        return self in _PER_READING


_PER_READING = frozenset(
    {
        RejectReason.UNKNOWN_PARAM,
        RejectReason.UNKNOWN_UNIT,
        RejectReason.NON_NUMERIC,
        RejectReason.OUT_OF_RANGE,
        RejectReason.UNKNOWN_FLAG,
        RejectReason.PARAM_NOT_MEASURED,
    }
)
