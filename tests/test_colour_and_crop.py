"""Colour order on every decode path, and the model crop end to end, through the tiny models.

Colour: a pure red clip (BGR ``(0, 0, 255)``) must reach the caller as BGR red and the tiny model
must say "red", whichever decoder read it: OpenCV (the fast path), PyAV (the fallback, on a file
whose stream is corrupt after a few frames, and on one OpenCV refuses to open) and the browser
camera (a JPEG as the page sends it). An RGB swap anywhere makes the frames blue and the label
"blue".

Crop: the clips are painted in three bands along their long side, green | red | blue, placed so
that the centred square the model should see is 40 % red with 30 % green on one side and 30 % blue
on the other. The tiny model's label is the dominant colour of its crop, so only the right square
says "red": moved by a quarter of the crop towards the end it sees mostly blue, towards the start
mostly green, and the whole frame squashed has no red majority. Landscape, portrait and rotated
(display matrix, as phones write it) clips all go through the analysis a user runs.

Sideways: an upright frame bright on top and dark below is the tiny model's "top-heavy" class; the
same clip stored turned (and carrying the rotation to undo it) must still say "top-heavy", so a
decoder that ignores or inverts the rotation metadata fails.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from actionrec.models import compile_models, resolve_model
from actionrec.notebook.browser_camera import BrowserCamera
from actionrec.pipeline import LiveRecognizer, Recognizer
from actionrec.video import open_video
from tests.support.videos import solid

pytestmark = pytest.mark.timeout(60)

RED_BGR = (0, 0, 255)
# H.264 in yuv420p at crf 12 moves a pure primary by a few levels; a swapped channel moves it by 255.
TOLERANCE = 12


@pytest.fixture(scope="module")
def file_models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"), hint="THROUGHPUT")


@pytest.fixture(scope="module")
def live_models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc_live"), hint="LATENCY")


def assert_all_bgr(frames, bgr, what):
    means = np.array([f.image_bgr.reshape(-1, 3).mean(axis=0) for f in frames])
    worst = np.abs(means - np.array(bgr)).max(axis=1)
    bad = [(f.index, means[i].round().tolist()) for i, f in enumerate(frames) if worst[i] > TOLERANCE]
    assert not bad, f"{what}: frames (index, mean BGR) that are not BGR {bgr}: {bad[:5]}"


def labels_of(timeline):
    return [p.label for p in timeline.predictions]


def analyse(models, source):
    return Recognizer(models).analyze(source, progress=False, cache=False)


# -- colour order -------------------------------------------------------------------------------


def test_opencv_file_decode_keeps_bgr_and_a_red_clip_is_labelled_red(file_models, video_factory):
    path = video_factory(
        "cc_red.mp4", fps=25, duration_s=1.5, size_wh=(160, 120), paint=solid(RED_BGR), stamp_index=False
    )
    with open_video(path, progress=False) as video:
        frames = list(video)
    assert video.stats.warnings == [], "this clip must decode with OpenCV, the path under test"
    assert len(frames) == 38
    assert_all_bgr(frames, RED_BGR, "OpenCV read()")
    # The analysis decodes with grab()/retrieve() (frames off the sampling grid are not converted):
    # its frames must be BGR too.
    timeline = analyse(file_models, path)
    assert len(timeline) >= 1 and set(labels_of(timeline)) == {"red"}


def corrupt_after(path: Path, out: Path, packet_index: int) -> Path:
    """A copy of ``path`` whose video packet ``packet_index`` (decode order) is overwritten with 0xFF.

    OpenCV's ``read()`` returns False at that packet, as at the end of the file; the analysis goes
    on with PyAV, which skips the undecodable packet.
    """
    import av

    with av.open(str(path)) as container:
        packets = [(p.pos, p.size) for p in container.demux(video=0) if p.size]
    pos, size = packets[packet_index]
    data = bytearray(path.read_bytes())
    data[pos : pos + size] = b"\xff" * size
    out.write_bytes(bytes(data))
    return out


def test_pyav_fallback_after_a_corrupt_packet_keeps_bgr_and_the_label_red(file_models, video_factory, tmp_path):
    clean = video_factory(
        "cc_red_50.mp4", fps=25, duration_s=2.0, size_wh=(160, 120), paint=solid(RED_BGR), stamp_index=False
    )
    path = corrupt_after(clean, tmp_path / "corrupt.mp4", packet_index=2)
    with open_video(path, progress=False) as video:
        frames = list(video)
    (warning,) = video.stats.warnings
    found = re.fullmatch(
        r".*: OpenCV stopped after (\d+) frames at [\d.]+ s; PyAV decoded (\d+) more"
        r" and skipped 1 undecodable packet\(s\)",
        warning,
    )
    assert found, warning
    by_opencv, by_pyav = int(found[1]), int(found[2])
    assert by_opencv <= 3 and by_pyav >= 45, "most of the clip must come from PyAV"
    assert_all_bgr(frames[by_opencv:], RED_BGR, "PyAV after OpenCV stopped")
    timeline = analyse(file_models, path)
    assert timeline.frames_corrupt == 1
    assert len(timeline) >= 2 and set(labels_of(timeline)) == {"red"}


class RefusingCapture:
    """An OpenCV capture that cannot open the file (an unsupported container or codec)."""

    def isOpened(self):  # noqa: N802 (OpenCV's name)
        return False

    def release(self):
        pass


def test_pyav_for_a_file_opencv_cannot_open_keeps_bgr_and_the_label_red(file_models, video_factory):
    path = video_factory(
        "cc_red.mp4", fps=25, duration_s=1.5, size_wh=(160, 120), paint=solid(RED_BGR), stamp_index=False
    )
    with open_video(path, progress=False, capture_factory=lambda p: RefusingCapture()) as video:
        frames = list(video)
    assert video.stats.warnings == [f"OpenCV cannot open {path}; decoding it with PyAV instead (slower)"]
    assert len(frames) == 38
    assert_all_bgr(frames, RED_BGR, "PyAV")
    with open_video(path, progress=False, capture_factory=lambda p: RefusingCapture()) as video:
        timeline = analyse(file_models, video)
    assert len(timeline) >= 1 and set(labels_of(timeline)) == {"red"}


def page_jpeg(rgb: tuple[int, int, int], size_wh: tuple[int, int] = (160, 120)) -> bytes:
    """A JPEG as the page makes it: a canvas holds RGB(A) pixels and ``toBlob("image/jpeg")``
    encodes them. FFmpeg's MJPEG encoder is given RGB too, so no OpenCV channel convention goes
    into the bytes."""
    import av

    w, h = size_wh
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt, codec.time_base = w, h, "yuvj420p", Fraction(1, 30)
    rgb_frame = av.VideoFrame.from_ndarray(np.full((h, w, 3), rgb, np.uint8), format="rgb24")
    packet, *_ = [*codec.encode(rgb_frame.reformat(format="yuvj420p")), *codec.encode(None)]
    data = bytes(packet)
    assert data[:2] == b"\xff\xd8"  # a JPEG (SOI marker)
    return data


def page_says(camera: BrowserCamera, content: dict, buffers: list | None = None) -> None:
    """Deliver a message as the page would: through ipywidgets' comm message path."""
    camera._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": buffers or []})


@pytest.mark.parametrize(("rgb", "label"), [((255, 0, 0), "red"), ((0, 0, 255), "blue")], ids=["red", "blue"])
def test_browser_camera_jpeg_becomes_bgr_and_the_live_label_is_its_colour(live_models, monkeypatch, rgb, label):
    camera = BrowserCamera()
    data = page_jpeg(rgb)
    now = [0.0]

    def page_receives(content, buffers=None):
        # The page starts sending when a loop pulls (frames sent before are discarded by design).
        if content == {"type": "pull", "on": True}:
            page_says(camera, {"type": "frame", "seq": 0}, [data])

    monkeypatch.setattr(camera, "send", page_receives)
    page_says(
        camera,
        {
            "type": "status",
            "state": "streaming",
            "secure_context": True,
            "has_media_devices": True,
            "camera_permission": "granted",
        },
    )
    frames = camera.frames(timeout_s=1.0, clock=lambda: now[0])
    got, predictions = [], []
    # max_in_flight above the frame count: no sample is dropped, so every frame reaches the encoder
    with LiveRecognizer(live_models, max_in_flight=64) as live:
        for seq in range(45):  # 1.5 s at 30 frames/s: more than one window
            now[0] += 1 / 30
            if seq:
                page_says(camera, {"type": "frame", "seq": seq}, [data])
            frame = next(frames)
            got.append(frame)
            live.push(frame)
            if (p := live.poll()) is not None:  # the newest window decoded since the last poll
                predictions.append(p)
        live.close()
        if (p := live.poll()) is not None:
            predictions.append(p)
    camera.stop()
    bgr = rgb[::-1]
    assert_all_bgr(got, bgr, "browser camera")
    assert predictions and {p.label for p in predictions} == {label}
    assert live.samples_missing == 0


# -- the model crop, end to end ------------------------------------------------------------------

GREEN, RED, BLUE = (0, 255, 0), (0, 0, 255), (255, 0, 0)
SHORT, LONG = 240, 640  # the model's square is the middle 240 of 640: 200 px either side
SQUARE_START = (LONG - SHORT) // 2


def banded(upright_wh: tuple[int, int]) -> np.ndarray:
    """The upright picture: green | red | blue along the long side; inside the centred square
    30 % green, 40 % red, 30 % blue (so a quarter-square shift either way loses the red majority)."""
    w, h = upright_wh
    img = np.empty((h, w, 3), np.uint8)
    along = img if w >= h else img.transpose(1, 0, 2)  # a view: bands run along axis 1
    cut1, cut2 = SQUARE_START + round(0.3 * SHORT), SQUARE_START + round(0.7 * SHORT)
    along[:, :cut1] = GREEN
    along[:, cut1:cut2] = RED
    along[:, cut2:] = BLUE
    return img


# How to store a picture so that a player shows it upright: set_rotation(path, d) writes the display
# matrix of a d degree clockwise turn (ffprobe: "rotation of -d degrees"; a phone held upright writes
# 90), so the stored frame is the upright one turned d degrees counter-clockwise.
STORE = {0: None, 90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}


def stored_painter(upright: np.ndarray, degrees: int):
    stored = upright if STORE[degrees] is None else cv2.rotate(upright, STORE[degrees])

    def paint(index, t, img):
        img[:] = stored

    return paint


def stored_size(upright_wh: tuple[int, int], degrees: int) -> tuple[int, int]:
    return upright_wh if degrees in (0, 180) else upright_wh[::-1]


CROP_CASES = {  # name: (upright size, rotation metadata, the centred square in upright pixels)
    "landscape": ((LONG, SHORT), 0, (SQUARE_START, 0, SHORT, SHORT)),
    "portrait": ((SHORT, LONG), 0, (0, SQUARE_START, SHORT, SHORT)),
    "rotated90": ((SHORT, LONG), 90, (0, SQUARE_START, SHORT, SHORT)),
    "rotated270": ((SHORT, LONG), 270, (0, SQUARE_START, SHORT, SHORT)),
    "rotated180": ((LONG, SHORT), 180, (SQUARE_START, 0, SHORT, SHORT)),
}


@pytest.mark.parametrize("name", CROP_CASES)
def test_the_model_sees_the_centred_square_of_the_upright_frame(file_models, video_factory, name):
    upright_wh, degrees, crop_xywh = CROP_CASES[name]
    # The crop is written down here from the frame size, not computed with crop_rect: the centred
    # square of the short side, in upright pixels.
    upright = banded(upright_wh)
    path = video_factory(
        f"crop_{name}.mp4",
        fps=25,
        duration_s=1.5,
        size_wh=stored_size(upright_wh, degrees),
        paint=stored_painter(upright, degrees),
        stamp_index=False,
        rotation_deg=degrees,
    )
    with open_video(path, progress=False) as video:
        first = next(video)
    assert (video.info.size_wh, video.info.rotation_deg) == (upright_wh, degrees)
    x, y, w, h = crop_xywh
    centre = first.image_bgr[y + h // 2, x + w // 2]  # the middle of the square is red
    assert np.abs(centre.astype(int) - RED).max() <= TOLERANCE, centre
    timeline = analyse(file_models, path)
    assert len(timeline) >= 2
    # Both at once, so a failure shows what the model said as well as where it looked.
    seen = (set(labels_of(timeline)), {p.crop_xywh for p in timeline.predictions})
    assert seen == ({"red"}, {crop_xywh}), "the model saw another part of the frame than the centred square"


def top_heavy(upright_wh: tuple[int, int]) -> np.ndarray:
    """Upright: white on top, dark blue below (the tiny model's "top-heavy"; sideways it reads "blue")."""
    w, h = upright_wh
    img = np.empty((h, w, 3), np.uint8)
    img[: h // 2] = 255
    img[h // 2 :] = (100, 0, 0)
    return img


@pytest.mark.parametrize("decoder", ["opencv", "pyav"])
@pytest.mark.parametrize("degrees", [0, 90, 180, 270])
def test_rotated_clip_is_analysed_upright_not_sideways(file_models, video_factory, decoder, degrees):
    upright_wh = (320, 240) if degrees in (0, 180) else (240, 320)
    path = video_factory(
        f"top_heavy_{degrees}.mp4",
        fps=25,
        duration_s=1.5,
        size_wh=stored_size(upright_wh, degrees),
        paint=stored_painter(top_heavy(upright_wh), degrees),
        stamp_index=False,
        rotation_deg=degrees,
    )
    factory = (lambda p: RefusingCapture()) if decoder == "pyav" else None
    with open_video(path, progress=False, capture_factory=factory) as video:
        assert any("PyAV" in w for w in video.stats.warnings) == (decoder == "pyav")
        timeline = analyse(file_models, video)
    short = min(upright_wh)
    crop = ((upright_wh[0] - short) // 2, (upright_wh[1] - short) // 2, short, short)
    # "top-heavy" is what the tiny model says of a frame brighter on top than below: a clip whose
    # rotation is ignored (or applied the wrong way) is analysed sideways or upside down and is "blue".
    assert len(timeline) >= 2
    assert (set(labels_of(timeline)), {p.crop_xywh for p in timeline.predictions}) == ({"top-heavy"}, {crop})


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_the_same_stored_frames_without_the_rotation_are_not_top_heavy(file_models, video_factory, degrees):
    """The negative control of the test above: the stored frames alone are sideways (or upside down),
    and the tiny model says so; only the display matrix makes them "top-heavy"."""
    upright_wh = (240, 320) if degrees != 180 else (320, 240)
    path = video_factory(
        f"top_heavy_{degrees}_no_matrix.mp4",
        fps=25,
        duration_s=1.5,
        size_wh=stored_size(upright_wh, degrees),
        paint=stored_painter(top_heavy(upright_wh), degrees),
        stamp_index=False,
    )
    timeline = analyse(file_models, path)
    assert len(timeline) >= 2 and set(labels_of(timeline)) == {"blue"}
