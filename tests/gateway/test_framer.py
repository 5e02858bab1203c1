"""The framer: any split of a stream gives the same frames, garbage never hides a frame."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ingest.hj212 import build_frame, parse_packet
from ingest.hj212_framer import Chunk, Framer

CORPUS = [
    json.loads(line)
    for line in (Path(__file__).parents[1] / "ingest" / "corpus" / "hj212_packets.jsonl")
    .read_text()
    .splitlines()
]
REAL = [c["frame"].encode() for c in CORPUS]


def segment(i: int, pad: int = 0) -> str:
    return (
        f"QN=20261125100000{i % 1000:03d};ST=22;CN=2011;PW=123456;MN=SYTX{i:04d};Flag=5;"
        f"CP=&&DataTime=20261125100000;a34004-Rtd={i}.5{'0' * pad},a34004-Flag=N&&"
    )


def frames_of(chunks: list[Chunk]) -> list[bytes]:
    return [c.data for c in chunks if c.kind == "frame"]


def run(stream: bytes, cuts: list[int]) -> list[Chunk]:
    """Feed ``stream`` in pieces cut at ``cuts``, then close it."""
    framer = Framer()
    out: list[Chunk] = []
    last = 0
    for cut in sorted(set(cuts)):
        out += framer.feed(stream[last:cut])
        last = cut
    out += framer.feed(stream[last:])
    out += framer.close()
    return out


# frames: synthetic ones (up to the 1024-byte maximum) and the real corpus
frame_st = st.one_of(
    st.builds(segment, st.integers(0, 9999), st.integers(0, 900))
    .filter(lambda seg: len(seg) <= 1024)
    .map(build_frame),
    st.sampled_from(REAL),
)
# garbage a logger line or an HTTP scanner puts between frames; never contains '#'
garbage_st = st.one_of(
    st.just(b""),
    st.just(b"\r\n"),
    st.just(b"GET / HTTP/1.1\r\nHost: 59.172.208.250:8099\r\n\r\n"),
    st.binary(max_size=64).map(lambda b: b.replace(b"#", b"")),
)


@settings(max_examples=300)
@given(
    parts=st.lists(st.tuples(garbage_st, frame_st), min_size=1, max_size=8),
    tail=garbage_st,
    cuts=st.lists(st.integers(0, 12_000), max_size=20),
)
def test_any_split_gives_every_frame_in_order(
    parts: list[tuple[bytes, bytes]], tail: bytes, cuts: list[int]
) -> None:
    stream = b"".join(g + f for g, f in parts) + tail
    chunks = run(stream, [c % (len(stream) + 1) for c in cuts])
    # a frame may take the CR LF that follows it (from the separator), nothing else
    assert [f.removesuffix(b"\r\n") for f in frames_of(chunks)] == [
        f.removesuffix(b"\r\n") for _, f in parts
    ]
    # nothing is lost or invented: the chunks are the stream, up to blank separators
    assert unblank(b"".join(c.data for c in chunks)) == unblank(stream)
    assert all(c.kind != "bad" for c in chunks)


def unblank(data: bytes) -> bytes:
    return data.translate(None, b" \t\r\n")


@settings(max_examples=200)
@given(frames=st.lists(frame_st, min_size=1, max_size=6), size=st.integers(1, 64))
def test_byte_by_byte_and_small_reads(frames: list[bytes], size: int) -> None:
    stream = b"".join(frames)
    assert frames_of(run(stream, list(range(0, len(stream), size)))) == frames


@settings(max_examples=200)
@given(frames=st.lists(frame_st, min_size=1, max_size=6))
def test_one_read_with_many_frames(frames: list[bytes]) -> None:
    framer = Framer()
    assert frames_of(framer.feed(b"".join(frames)) + framer.close()) == frames


def test_frames_without_crlf_are_released_by_flush_or_the_next_frame() -> None:
    a, b = (build_frame(segment(i))[:-2] for i in (1, 2))  # no CR LF
    framer = Framer()
    assert framer.feed(a) == []
    assert framer.buffered == len(a)  # held, waiting for a CR LF that never comes
    assert frames_of(framer.feed(b)) == [a]  # the next frame shows the first has ended
    assert frames_of(framer.flush()) == [b]
    assert not framer.pending
    assert framer.buffered == 0


def test_crlf_split_across_reads() -> None:
    whole = build_frame(segment(3))
    framer = Framer()
    assert framer.feed(whole[:-1]) == []  # ends in CR
    assert frames_of(framer.feed(whole[-1:])) == [whole]


@settings(max_examples=300)
@given(
    good=st.lists(frame_st, min_size=2, max_size=5),
    at=st.integers(0, 4),
    delta=st.integers(1, 50),
)
def test_a_wrong_length_field_costs_one_frame_not_the_stream(
    good: list[bytes], at: int, delta: int
) -> None:
    """The framer resynchronises at the next '##'; the parser refuses the damaged frame."""
    at %= len(good)
    victim = good[at]
    declared = int(victim[2:6])
    wrong = b"##%04d" % min(declared + delta, 1024) + victim[6:]
    assume(wrong != victim)
    stream = b"".join(wrong if i == at else f for i, f in enumerate(good))
    chunks = run(stream, [])
    got = frames_of(chunks)
    others = [f for i, f in enumerate(good) if i != at]
    for f in others:
        assert f in got
    for c in chunks:
        if c.kind == "frame" and c.data not in others:
            try:
                parse_packet(c.data)
            except Exception:
                continue
            raise AssertionError(f"damaged frame accepted: {c.data!r}")


def test_length_above_1024_is_bad_and_skipped() -> None:
    good = build_frame(segment(5))
    framer = Framer()
    chunks = framer.feed(b"##9999" + b"x" * 40 + good) + framer.close()
    assert [c.kind for c in chunks if c.kind != "garbage"] == ["bad", "frame"]
    assert "above the standard's 1024" in chunks[0].detail
    assert frames_of(chunks) == [good]


def test_memory_is_bounded_by_one_frame() -> None:
    framer = Framer()
    for _ in range(1000):
        framer.feed(b"A" * 4096)  # a flood without any '##'
        assert framer.buffered <= 1
    framer.feed(b"##1024")
    framer.feed(b"x" * 5000)  # a maximal segment, then no CRC: resynchronised, released
    assert framer.buffered <= 1024 + 10


def test_real_receiver_log_with_http_scanners() -> None:
    """The logger log of tests/ingest/corpus: frames between HTTP requests, no CR LF."""
    log_frames = [c["frame"].encode() for c in CORPUS if c["id"].startswith("gb212receiver")]
    http = b"GET /cgi-bin/login.cgi?requestname=2&cmd=0 HTTP/1.1\r\nHost: x\r\n\r\n"
    stream = b"".join(http + f + b"\r\n\r\n" for f in log_frames)
    chunks = run(stream, list(range(0, len(stream), 100)))
    assert [f.rstrip(b"\r\n") for f in frames_of(chunks)] == log_frames
    garbage = b"".join(c.data for c in chunks if c.kind == "garbage")
    assert unblank(garbage) == unblank(http * len(log_frames))
