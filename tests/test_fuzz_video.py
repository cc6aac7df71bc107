"""Fuzz target: ``open_video`` on mutated bytes of real clips (``../shared/media``).

Each case takes one small real clip, applies a few byte mutations (flip, truncate, splice, insert,
zero), writes it to a temporary file, opens it with :func:`~actionrec.video.open_video` and reads
its frames (at most :data:`MAX_FRAMES`). A case must end in frames (each an ``H x W x 3`` uint8
image with a strictly increasing timestamp) or in one of the project's errors, and leave no file
behind but its own input.

In the suite the cases run in this process (seeded, a few seconds). A campaign
(``FUZZ_SECONDS=600``) runs each case in a worker process, so a native crash (a segfault inside
FFmpeg or OpenCV) or a hang is recorded under ``/tmp/fuzz-crashes/`` (the input and a note) and
the campaign goes on; a Python exception other than the project's errors still fails it.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import tempfile
import traceback
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from tests.conftest import shared_path
from tests.support.fuzz import campaign_seconds, fuzz, timeout_mark

CLIPS = (
    "phone_keyboard_rot90_568x320_30fps_3frames.mov",
    "damaged_testpattern_1280x720_10fps_corrupt.mp4",
    "chrome_recording_no_duration_1280x720_vfr_vp9.webm",
    "ucf101_apply_eye_makeup_320x240_25fps_xvid.avi",
    "kinetics_flipping_pancake_426x240_30fps_h264_opus.mkv",
)
MAX_FRAMES = 30
CASE_TIMEOUT_S = 60.0
CRASH_DIR = Path("/tmp/fuzz-crashes")

# A position: mostly inside the headers (the first few KB decide how a file is read), else anywhere.
_position = st.one_of(st.integers(0, 4096), st.floats(0.0, 1.0))
_mutation = st.one_of(
    st.tuples(st.just("flip"), _position, st.integers(1, 255)),
    st.tuples(st.just("truncate"), _position, st.just(0)),
    st.tuples(st.just("splice"), _position, _position, st.integers(1, 4096)),
    st.tuples(st.just("insert"), _position, st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("zero"), _position, st.integers(1, 4096)),
)
mutations = st.lists(_mutation, min_size=1, max_size=4)


def _at(data: bytes, position: int | float) -> int:
    n = max(len(data), 1)
    return min(int(position * n) if isinstance(position, float) else position, n - 1)


def mutate(data: bytes, ops: list[tuple]) -> bytes:
    """Apply ``ops`` (from :data:`mutations`) to ``data`` in order; deterministic."""
    out = bytearray(data)
    for op in ops:
        kind, where = op[0], _at(bytes(out), op[1])
        if kind == "flip":
            out[where] ^= op[2]
        elif kind == "truncate":
            del out[max(where, 1) :]
        elif kind == "splice":  # copy a run of the file over another place in it
            src = _at(bytes(out), op[2])
            out[where : where + op[3]] = out[src : src + op[3]]
        elif kind == "insert":
            out[where:where] = op[2]
        else:
            out[where : where + op[2]] = bytes(len(out[where : where + op[2]]))
    return bytes(out)


def open_mutated(data: bytes, suffix: str, workdir: str) -> str:
    """Write ``data`` under ``workdir``, open and read it; the outcome in words.

    Raises:
        AssertionError: a frame is malformed, or a file other than the input was left behind.
        Exception: anything :func:`open_video` raised that is not one of the project's errors.
    """
    from actionrec import settings
    from actionrec.errors import ActionRecError
    from actionrec.video import open_video

    root = Path(workdir)
    settings.REPO_ROOT = root / "repo"  # nothing may land in data/ (uploads, downloads, cache)
    path = root / f"case{suffix}"
    path.write_bytes(data)
    try:
        with open_video(path, progress=False) as video:
            n, prev = 0, -np.inf
            for frame in video:
                image = frame.image_bgr
                assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8, image.shape
                assert image.shape[0] > 0 and image.shape[1] > 0, image.shape
                assert np.isfinite(frame.timestamp_s) and frame.timestamp_s > prev, (prev, frame.timestamp_s)
                prev, n = frame.timestamp_s, n + 1
                if n >= MAX_FRAMES:
                    break
        outcome = f"{n} frames"
    except ActionRecError as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        outcome = type(exc).__name__
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p != path)
    assert left == [], f"files left behind: {left}"
    path.unlink()
    return outcome


def _worker(conn) -> None:  # pragma: no cover - runs in the campaign's worker process
    while True:
        job = conn.recv()
        if job is None:
            return
        data, suffix = job
        with tempfile.TemporaryDirectory(prefix="fuzz-video-") as workdir:
            try:
                conn.send(("ok", open_mutated(data, suffix, workdir)))
            except BaseException as exc:  # sent back whole: the campaign fails on it
                conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))


class Isolated:
    """Runs cases in one worker process at a time; a crash or hang is recorded, then a new worker."""

    def __init__(self) -> None:
        self.crashes: list[str] = []
        self._ctx = multiprocessing.get_context("spawn")
        self._proc = None

    def _start(self) -> None:
        self._conn, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_worker, args=(child,), daemon=True)
        self._proc.start()
        child.close()

    def run(self, data: bytes, suffix: str, note: str) -> str:
        if self._proc is None or not self._proc.is_alive():
            self._start()
        self._conn.send((data, suffix))
        if self._conn.poll(CASE_TIMEOUT_S):
            try:
                status, text = self._conn.recv()
            except EOFError:  # the worker died mid-case
                status, text = "crash", ""
        else:
            status, text = "hang", ""
        if status == "ok":
            return text
        if status == "error":
            raise AssertionError(text)
        self._proc.kill()  # this worker only (started above), by its handle
        self._proc.join()
        self._record(data, suffix, f"{status} (exit code {self._proc.exitcode}); {note}")
        self._proc = None
        return status

    def _record(self, data: bytes, suffix: str, what: str) -> None:
        CRASH_DIR.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(data).hexdigest()[:16] + suffix
        (CRASH_DIR / name).write_bytes(data)
        (CRASH_DIR / f"{name}.txt").write_text(what + "\n")
        self.crashes.append(f"{CRASH_DIR / name}: {what}")

    def close(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._conn.send(None)
            self._proc.join(5)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()


@timeout_mark()  # a campaign outlasts the suite's 300 s per test; its batches stop once FUZZ_SECONDS are up
def test_open_video_on_mutated_real_clips(tmp_path):
    clips = {name: shared_path("media", name).read_bytes() for name in CLIPS}
    campaign = campaign_seconds() > 0
    isolated = Isolated() if campaign else None
    outcomes: dict[str, int] = {}

    def check(name: str, ops: list[tuple]) -> None:
        data, suffix = mutate(clips[name], ops), Path(name).suffix
        if isolated is not None:
            outcome = isolated.run(data, suffix, f"{name} mutated by {ops!r}")
        else:
            workdir = tempfile.mkdtemp(dir=tmp_path)
            outcome = open_mutated(data, suffix, workdir)
            os.rmdir(workdir)  # fails if anything is left
        key = outcome if not outcome.endswith("frames") else "frames"
        outcomes[key] = outcomes.get(key, 0) + 1

    try:
        cases = fuzz(check, st.sampled_from(CLIPS), mutations, name="open_video")
    finally:
        if isolated is not None:
            isolated.close()
    print(f"open_video outcomes: {outcomes}")
    if isolated is not None:
        print(f"native crashes or hangs recorded: {len(isolated.crashes)}", *isolated.crashes, sep="\n  ")
    assert cases >= 40 and sum(outcomes.values()) == cases
    assert outcomes.get("frames", 0) > 0  # the mutations leave many clips readable: the frame path is fuzzed too


def test_mutations_are_deterministic_and_change_the_bytes():
    data = bytes(range(256)) * 4
    ops = [("flip", 3, 0xFF), ("insert", 0.5, b"xyz"), ("splice", 10, 0.9, 16), ("zero", 100, 8), ("truncate", 900, 0)]
    once = mutate(data, ops)
    assert once == mutate(data, ops) and once != data and len(once) == 900
    assert once[3] == 3 ^ 0xFF and once[512:515] == b"xyz" and once[100:108] == bytes(8)
