"""Every real clip of ../shared/media: what open_video must deliver on it, one table row per file.

The rows are anchored to MANIFEST.tsv: the frame range of each row must contain the number of
frames ffprobe decodes there (so a row cannot drift from the manifest), and the nominal fps must be
the one OpenCV reports. A new clip in the folder fails ``test_every_clip_has_one_row`` until its row
(one line) is added. Skipped with a reason when ../shared is absent.
"""

import csv
import re
from dataclasses import dataclass

import numpy as np
import pytest

from actionrec.video import open_video
from tests.conftest import shared_path

pytestmark = pytest.mark.shared


@dataclass(frozen=True)
class Expect:
    """What a clip must give: frame count range, upright size, what VideoInfo trusts, flags."""

    frames: tuple[int, int]
    size_wh: tuple[int, int]
    frame_count: int | None  # VideoInfo.frame_count: None where the container's count cannot be trusted
    truncated: bool = False
    corrupt: tuple[int, int] = (0, 0)  # stats.frames_corrupt range
    fallbacks: int = 0  # stats.timestamp_fallbacks
    rotation_deg: int = 0


# fmt: off
TABLE = {
    "asl_sign_walk_640x480_30fps_mjpeg_DERIVED.avi": Expect((89, 89), (640, 480), 89),
    "chrome_recording_no_duration_1280x720_vfr_vp9.webm": Expect((74, 74), (1280, 720), None),  # count -1.4e17
    "damaged_soccer_juggling_1280x720_24fps_truncated60.mp4": Expect((120, 122), (1280, 720), 247, truncated=True, corrupt=(0, 3)),  # noqa: E501
    "damaged_testpattern_1280x720_10fps_corrupt.mp4": Expect((49, 49), (1280, 720), 50, corrupt=(1, 1)),  # OpenCV: 28
    "dance_portrait_1080x1920_24fps_h264.mp4": Expect((288, 288), (1080, 1920), 288),
    "group_aerobics_384x288_10fps_mpeg4.avi": Expect((393, 393), (384, 288), 393),
    "kinetics_arm_wrestling_340x256_28fps_h264.mp4": Expect((280, 280), (340, 256), 280),
    "kinetics_flipping_pancake_426x240_30fps_h264_opus.mkv": Expect((310, 310), (426, 240), None),  # OpenCV says 311
    "mixed_scenes_martial_arts_480x270_25fps_vp8.webm": Expect((394, 394), (480, 270), None),  # OpenCV says 375
    "phone_keyboard_rot90_568x320_30fps_3frames.mov": Expect((3, 3), (320, 568), 3, rotation_deg=90),
    "ucf101_apply_eye_makeup_320x240_25fps_xvid.avi": Expect((164, 164), (320, 240), 164, fallbacks=1),  # last is 0.0
    "ucf101_cricket_shot_224x224_25fps.gif": Expect((79, 79), (224, 224), 79),
}
# fmt: on


def manifest() -> dict[str, dict[str, str]]:
    with open(shared_path("media", "MANIFEST.tsv"), newline="", encoding="utf-8") as f:
        return {row["file"]: row for row in csv.DictReader(f, delimiter="\t")}


def test_every_clip_has_one_row():
    files = set(manifest())
    assert files == set(TABLE), f"add a row for {sorted(files - set(TABLE))}, drop {sorted(set(TABLE) - files)}"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(TABLE))
def test_clip(name):
    expect = TABLE[name]
    facts = manifest()[name]
    ffprobe_decoded = int(re.search(r"ffprobe packets=\d+ decoded=(\d+)", facts["frame_count"]).group(1))
    assert expect.frames[0] <= ffprobe_decoded <= expect.frames[1], "the row disagrees with MANIFEST.tsv"
    opencv_fps = float(re.search(r"OpenCV CAP_PROP_FPS=([\d.]+)", facts["fps"]).group(1))

    with open_video(shared_path("media", name)) as video:
        times, shapes = [], set()
        for frame in video:
            times.append(frame.timestamp_s)
            shapes.add(frame.image_bgr.shape)
    info, stats = video.info, video.stats

    assert expect.frames[0] <= len(times) <= expect.frames[1] and stats.frames_decoded == len(times)
    assert (info.size_wh, info.rotation_deg) == (expect.size_wh, expect.rotation_deg)
    assert info.frame_count == expect.frame_count
    assert shapes == {(expect.size_wh[1], expect.size_wh[0], 3)}, "every frame upright and the same size"
    assert info.fps == pytest.approx(opencv_fps, abs=1e-3) and not info.is_live
    assert np.all(np.diff(times) > 0), "timestamps strictly increasing"
    assert 0.0 <= times[0] < 0.05
    if info.duration_s is not None and not expect.truncated:
        assert times[-1] + 1 / info.fps == pytest.approx(info.duration_s, abs=0.1), "the last frame is at the end"
    assert stats.truncated == expect.truncated
    assert expect.corrupt[0] <= stats.frames_corrupt <= expect.corrupt[1]
    assert stats.timestamp_fallbacks == expect.fallbacks
    damaged = expect.truncated or expect.corrupt[1] > 0 or expect.fallbacks > 0
    assert stats.frames_dropped == 0 and bool(stats.warnings) == damaged, stats.warnings


@pytest.fixture(scope="module")
def tiny_models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    from actionrec.models import compile_models, resolve_model

    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(TABLE))
def test_clip_analysis_gives_the_oracle_windows_or_one_clear_error(name, tiny_models):
    """The whole analysis on each real clip: windows as the oracle says, flags reported, or ClipTooShortError."""
    from actionrec.errors import ClipTooShortError
    from actionrec.pipeline import Recognizer
    from tests.oracle import oracle_windows

    path = shared_path("media", name)
    with open_video(path, progress=False) as video:
        times = [f.timestamp_s for f in video]
    expected = oracle_windows(times, window_s=1.0, clip_len=16, stride_s=0.5)
    recognizer = Recognizer(tiny_models)
    if not expected:
        span = times[-1] - times[0]
        with pytest.raises(ClipTooShortError, match=rf"too short: {len(times)} frames cover {span:.2f} s"):
            recognizer.analyze(path, progress=False, cache=False)
        return
    timeline = recognizer.analyze(path, progress=False, cache=False)
    assert [round(p.start_s, 6) for p in timeline.predictions] == [round(e["start_s"], 6) for e in expected]
    assert [p.duplicated for p in timeline.predictions] == [e["duplicated"] for e in expected]
    assert timeline.frames_decoded == len(times)
    assert timeline.truncated == TABLE[name].truncated
    assert TABLE[name].corrupt[0] <= timeline.frames_corrupt <= TABLE[name].corrupt[1]
