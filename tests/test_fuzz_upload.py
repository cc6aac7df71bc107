"""Fuzz target: the upload widget's message protocol, kernel side.

Any sequence of start / chunk / end / abort messages (and messages that are none of these) with
any fields: missing, of the wrong type, huge sizes, negative offsets, names with path separators,
NUL, lone surrogates or "..", chunks out of order, buffers that are not bytes. Every message must
end in a reply of the protocol (or none), never in an exception out of the handler nor in the
handler's "upload failed: <internal error>" branch; every text sent back must be sendable (valid
UTF-8 once JSON-encoded); and once the widget is closed the upload folder holds exactly the
finished uploads, byte-identical, under names inside it, and no handle into it is open.

Seeded in the suite (a few seconds); a campaign with ``FUZZ_SECONDS=600`` (see tests/support/fuzz.py).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from pathlib import Path

from hypothesis import strategies as st

from actionrec.notebook.upload import ChunkedUpload
from tests.support.fuzz import fuzz, timeout_mark

pytestmark = timeout_mark()  # a campaign runs past the suite's per-test timeout

CHUNK = 2048

# -- what the page may send --------------------------------------------------------------------

weird_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),  # lone surrogates (JSON allows them)
        st.sampled_from(list("/\\\x00.:*?<>|\n\r\t ")),
    ),
    max_size=40,
)
names = st.one_of(
    st.sampled_from(["clip.mp4", "../../evil.mp4", "/etc/passwd", "C:\\x\\v.MP4", "..", "", "con.mp4", ".part"]),
    weird_text,
    st.builds(lambda n: n * "a" + ".mp4", st.integers(0, 400)),
    st.none(),
    st.integers(),
    st.lists(st.text(max_size=3), max_size=2),
)
ids = st.one_of(st.sampled_from(["a", "b", "c", ""]), weird_text, st.integers(), st.none(), st.just("x" * 500))
numbers = st.one_of(
    st.integers(-5, 5000),
    st.integers(),
    st.sampled_from([2**63, -(2**63), 10**30]),
    st.booleans(),
    st.floats(allow_nan=True),
    st.none(),
    st.text(max_size=5),
)
buffer_items = st.one_of(
    st.binary(max_size=3 * CHUNK),
    st.builds(bytearray, st.binary(max_size=64)),
    st.builds(memoryview, st.binary(max_size=64)),
    st.text(max_size=5),
    st.integers(),
    st.none(),
)
buffers = st.one_of(st.lists(buffer_items, max_size=3), st.none(), st.text(max_size=3))
fields = st.dictionaries(
    st.sampled_from(["type", "id", "name", "size", "seq", "offset", "reason", "mime"]),
    st.one_of(numbers, names, ids),
    max_size=6,
)
kinds = st.one_of(st.sampled_from(["start", "chunk", "end", "abort", "ready", "ack"]), numbers)
raw_messages = st.one_of(
    st.builds(lambda kind, rest: {**rest, "type": kind}, kinds, fields),
    st.one_of(st.text(max_size=5), st.none(), st.integers(), st.lists(st.integers(), max_size=2)),
)

# Abstract steps, made concrete against the widget's current upload so that valid (finished)
# uploads are common: ("start", id, name, payload), ("next",), ("skip", d), ("end", d), ("finish",)
# (every remaining chunk, then the end), ("abort", reason), ("raw", content, buffers).
PAYLOADS = ("video", "video", "damaged", "noise", "tiny")
plain_names = st.sampled_from(["clip.mp4", "../up/../x.mkv", "a/b\\c.webm", "clip.mp4.part", "\x00.mp4", " . "])
start_names = st.one_of(plain_names, plain_names, weird_text, names)  # mostly strings: uploads can finish
steps = st.one_of(
    st.tuples(st.just("start"), st.sampled_from(["a", "b", "c"]), start_names, st.sampled_from(PAYLOADS)),
    st.tuples(st.just("next")),
    st.tuples(st.just("next")),
    st.tuples(st.just("next")),
    st.tuples(st.just("skip"), st.integers(-3, 3)),
    st.tuples(st.just("end"), st.integers(-2, 2)),
    st.tuples(st.just("finish")),
    st.tuples(st.just("finish")),
    st.tuples(st.just("abort"), st.one_of(st.just(""), weird_text, numbers)),
    st.tuples(st.just("raw"), raw_messages, buffers),
)
# Whole uploads (start, then finish) among the steps, so finished uploads are common too.
whole_upload = st.tuples(st.just("start"), st.sampled_from(["a", "b"]), plain_names, st.sampled_from(PAYLOADS))
sequences = st.lists(
    st.one_of(steps.map(lambda step: [step]), whole_upload.map(lambda start: [start, ("finish",)])),
    min_size=1,
    max_size=10,
).map(lambda groups: [step for group in groups for step in group])


def _payloads(video: bytes) -> dict[str, bytes]:
    damaged = bytearray(video)
    for i in range(64, len(damaged), 97):
        damaged[i] ^= 0x5A
    return {
        "video": video,
        "damaged": bytes(damaged),
        "noise": os.urandom(3 * CHUNK + 5),
        "tiny": b"\x00\x00\x00\x18ftypmp42",
    }


def _sendable(value: object) -> None:
    json.dumps(value, ensure_ascii=False).encode("utf-8")  # what the kernel's session does


def _open_handles_under(folder: Path) -> list[str]:
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        return []
    out = []
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(folder)):
            out.append(target)
    return out


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_fuzz_upload_protocol(tmp_path, video_factory):
    video = video_factory("fuzz_upload.mp4", duration_s=0.3, size_wh=(64, 48)).read_bytes()
    payloads = _payloads(video)
    counter = itertools.count()
    errors = _Errors()
    logger = logging.getLogger("actionrec.notebook.upload")
    logger.addHandler(errors)

    def check(sequence: list[tuple]) -> None:
        folder = tmp_path / f"case{next(counter)}"
        widget = ChunkedUpload(upload_dir=folder, max_bytes=64 * 1024, chunk_bytes=CHUNK)
        replies: list[dict] = []
        widget._reply = replies.append
        finished: dict[str, bytes] = {}  # final name -> the bytes that were uploaded
        current: dict = {}  # the upload the steps drive: id, data, offset, seq

        def send(content: object, bufs: object = None) -> list[dict]:
            before = len(replies)
            widget._on_page_msg(widget, content, [] if bufs is None else bufs)  # must never raise
            new = replies[before:]
            for reply in new:
                assert isinstance(reply, dict) and reply.get("type") in ("ready", "ack", "done", "error"), reply
                _sendable(reply)
                if reply["type"] == "done":
                    data = current.get("data")
                    assert data is not None and reply["id"] == current.get("id"), (reply, current)
                    finished[reply["name"]] = data
            _sendable([widget.message, widget.filename])
            assert not errors.records, [r.getMessage() for r in errors.records]  # no internal error
            return new

        def next_chunk(delta: int) -> bool:
            offset, seq = current["offset"] + delta * CHUNK, current["seq"] + delta
            piece = current["data"][max(0, offset) : max(0, offset) + CHUNK]
            msg = {"type": "chunk", "id": current["id"], "seq": seq, "offset": offset}
            if any(r["type"] == "ack" for r in send(msg, [piece])):
                current["offset"], current["seq"] = offset + len(piece), seq + 1
                return True
            return False

        try:
            for step in sequence:
                kind = step[0]
                if kind == "start":
                    _, upload_id, name, which = step
                    data = payloads[which]
                    current.clear()
                    current.update(id=upload_id, data=data, offset=0, seq=0)
                    send({"type": "start", "id": upload_id, "name": name, "size": len(data)})
                elif kind in ("next", "skip") and current:
                    next_chunk(step[1] if kind == "skip" else 0)
                elif kind == "finish" and current:
                    while current["offset"] < len(current["data"]) and next_chunk(0):
                        pass
                    send({"type": "end", "id": current["id"], "size": len(current["data"])})
                elif kind == "end" and current:
                    send({"type": "end", "id": current["id"], "size": len(current["data"]) + step[1]})
                elif kind == "abort" and current:
                    send({"type": "abort", "id": current["id"], "reason": step[1]})
                elif kind == "raw":
                    send(step[1], step[2])
        finally:
            widget.close()
        left = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
        assert left == sorted(finished), (left, sorted(finished))  # no part file, no stray file
        for name, data in finished.items():
            assert not name.startswith(".") and (folder / name).read_bytes() == data
        assert _open_handles_under(folder) == []

    try:
        fuzz(check, sequences, name="upload protocol", examples=60)
    finally:
        logger.removeHandler(errors)
