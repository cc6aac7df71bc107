"""The sampled decode (actionrec.video.sampled) gives the analysis exactly what the OpenCV path gives.

Every clip is decoded twice, the OpenCV way (``frame_filter``, as before) and the sampled way
(``frame_need``), and put on the same sampling grid: the same grid samples must take the same frames
(index, time) and the model crops must be the same tensors, bit for bit (measured: 0 grey levels;
the test allows none). The clips have moving texture, B-frames (libx264 ``preset=fast``: some
non-reference, so the sampled decode leaves some frames out) and come landscape, portrait, rotated
by a display matrix (90, 180, 270) and at a variable rate. Through the analysis a user runs, the
embeddings of both decoders agree, a red clip is still labelled red by the tiny model (its label
is the crop's dominant colour: swapped U/V or RGB order would say blue), and frames no sample takes
are never converted (conversions are counted).
"""

from __future__ import annotations

import numpy as np
import pytest

from actionrec import settings
from actionrec.models import compile_models, resolve_model
from actionrec.pipeline import Recognizer
from actionrec.pipeline.preprocess import preprocess_frame
from actionrec.pipeline.sampling import GridNeed, GridSampler, NearestFrameFilter
from actionrec.video import open_video
from actionrec.video import sampled as sampled_module
from tests.support.videos import make_video, solid

pytestmark = pytest.mark.timeout(120)

STEP_S = 1.0 / 16
B_FRAMES = {"crf": "20", "preset": "fast", "g": "30"}  # x264's fast preset: 3 B-frames, some non-reference


def texture(index: int, t: float, img: np.ndarray) -> None:
    """A moving colour gradient: every pixel differs from its neighbours and from the last frame."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    img[..., 0] = (xx * 3 + index * 7) % 256
    img[..., 1] = (yy * 5 + index * 3) % 256
    img[..., 2] = ((xx + yy) * 2 + index * 11) % 256


def grid_samples(path, *, sampled: bool):
    """(k, frame index, time, duplicated, tensor) of every grid sample, and the source's stats."""
    keep, need, sampler = NearestFrameFilter(step_s=STEP_S), GridNeed(step_s=STEP_S), GridSampler(step_s=STEP_S)
    out = []

    def add(samples):
        for s in samples:
            out.append((s.k, s.frame.index, s.frame.timestamp_s, s.duplicated, preprocess_frame(s.frame).tensor))

    with open_video(path, progress=False, frame_filter=keep, frame_need=need if sampled else None) as video:
        for i, frame in enumerate(video):
            if i == 0:
                keep.t0 = need.t0 = frame.timestamp_s
            add(sampler.push(frame))
        add(sampler.finish(video.stats.last_timestamp_s))
    return out, video.info, video.stats


CLIPS = {
    "landscape": {"size_wh": (320, 240)},
    "portrait": {"size_wh": (240, 320)},
    "rot90": {"size_wh": (320, 240), "rotation_deg": 90},
    "rot180": {"size_wh": (320, 240), "rotation_deg": 180},
    "rot270": {"size_wh": (256, 144), "rotation_deg": 270},
    "vfr": {"size_wh": (320, 240), "timestamps_s": [i / 30 + (0.012 if i % 7 == 3 else 0.0) for i in range(75)]},
    "60fps": {"size_wh": (320, 180), "fps": 60.0},
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("sampled")
    return {
        name: make_video(root / f"{name}.mp4", duration_s=2.5, paint=texture, options=B_FRAMES, **kwargs)
        for name, kwargs in CLIPS.items()
    }


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_sampled_decode_takes_the_same_frames_and_gives_the_same_tensors(clips, name):
    old, old_info, old_stats = grid_samples(clips[name], sampled=False)
    new, new_info, new_stats = grid_samples(clips[name], sampled=True)
    assert (old_info.decoder, new_info.decoder) == ("opencv", "pyav-sampled")
    assert (new_info.size_wh, new_info.rotation_deg) == (old_info.size_wh, old_info.rotation_deg)
    assert new_stats.frames_decoded == old_stats.frames_decoded, "every source frame counts, decoded or not"
    assert [(k, i, d) for k, i, _, d, _ in new] == [(k, i, d) for k, i, _, d, _ in old], "other frames sampled"
    assert np.allclose([t for _, _, t, _, _ in new], [t for _, _, t, _, _ in old], atol=1e-9)
    worst = max(float(np.abs(a[4] - b[4]).max()) for a, b in zip(old, new, strict=True))
    assert worst == 0.0, f"{name}: model crops differ by up to {worst} grey levels"
    assert new_stats.frames_converted == len(new), "only the sampled frames' crops are converted"


@pytest.mark.parametrize("name", ["landscape", "rot90", "rot180", "rot270"])
def test_any_rectangle_equals_the_same_rectangle_of_opencvs_upright_frame(clips, name):
    with open_video(clips[name], progress=False) as video:
        upright = [f.image_bgr for _, f in zip(range(8), video, strict=False)]
    with open_video(clips[name], progress=False, frame_need=lambda *_: True) as video:
        lazy = [f for _, f in zip(range(8), video, strict=False)]
    w, h = video.info.size_wh
    rects = [(0, 0, w, h), (1, 3, 37, 21), (w - 31, h - 17, 31, 17), (6, 1, 64, 63), (w // 2, 0, 1, h)]
    for image, frame in zip(upright, lazy, strict=True):
        for x, y, cw, ch in rects:
            crop = frame.crop_bgr(x, y, cw, ch)
            assert np.array_equal(crop, image[y : y + ch, x : x + cw]), (
                f"{name} frame {frame.index} rect {x, y, cw, ch}"
            )
    with pytest.raises(ValueError, match=rf"crop \(x=0, y=0, w={w + 1}, h=1\) is not inside the {w}x{h} frame"):
        lazy[0].crop_bgr(0, 0, w + 1, 1)


def test_non_reference_frames_no_sample_takes_are_not_decoded(clips):
    _, _, stats = grid_samples(clips["landscape"], sampled=True)
    assert stats.nonref_skipped > 0, "the clip has non-reference B-frames off the grid: some must be left out"
    assert stats.frames_decoded == 75 and stats.nonref_skipped < 75 - 41  # 41 grid samples need their frames


def test_frame_need_keeps_exactly_the_nearest_frames():
    need = GridNeed(step_s=0.1, margin_s=0.0)
    need.t0 = 0.0
    # frames at 0.00, 0.04, 0.09, 0.13, 0.16: grid 0.1 is nearest to 0.09, none to 0.04 or 0.13
    assert need(0.04, 0.09, 0.13) and not need(0.0, 0.04, 0.09) and not need(0.09, 0.13, 0.16)
    assert need(0.13, 0.16, 0.3), "0.2 is nearer to 0.16 than to 0.3"
    assert need(0.05, 0.1, 0.15) and not need(0.0, 0.05, 0.1)
    # 0.05 between 0.0 and 0.145 would own grid 0.1 if it were 2.5 ms nearer
    wide = GridNeed(step_s=0.1, margin_s=0.003)
    wide.t0 = 0.0
    assert not need(0.0, 0.05, 0.145) and wide(0.0, 0.05, 0.145), "a frame within the margin is kept"
    assert GridNeed(step_s=0.1)(0.0, 0.04, 0.09), "t0 unknown: every frame is needed"


@pytest.fixture(scope="module")
def models(tiny_model_dir, tiny_labels_file, tmp_path_factory):
    files = resolve_model(precision="FP32", model_dir=tiny_model_dir, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc_sampled"), hint="THROUGHPUT")


def test_analysis_embeddings_equal_with_both_decoders_and_unsampled_frames_are_never_converted(
    models, clips, monkeypatch
):
    calls = []
    real = sampled_module._Converter.coded_bgr
    monkeypatch.setattr(sampled_module._Converter, "coded_bgr", lambda self, *a: calls.append(a) or real(self, *a))
    path = clips["rot90"]
    old = Recognizer(models, file_decoder="opencv").encode(path, progress=False)
    assert calls == []
    new = Recognizer(models, file_decoder="sampled").encode(path, progress=False)
    assert np.array_equal(new.frame_indices, old.frame_indices) and new.frames_decoded == old.frames_decoded == 75
    assert np.abs(new.embeddings - old.embeddings).max() <= 1e-6
    assert new.crop_xywh == old.crop_xywh and new.size_wh == old.size_wh == (240, 320)
    assert len(calls) == int(new.encoded.sum()) == new.num_samples < 75, "one conversion per encoded sample"
    _, _, crop_w, crop_h = new.crop_xywh
    assert {(w * h) for _, _, _, w, h in calls} == {crop_w * crop_h}, "only the model crop is converted, not the frame"


def test_a_red_clip_through_the_sampled_decode_is_labelled_red(models, tmp_path):
    path = make_video(
        tmp_path / "red.mp4",
        fps=25,
        duration_s=1.5,
        size_wh=(160, 120),
        paint=solid((0, 0, 255)),
        options=B_FRAMES,
        stamp_index=False,
    )
    with open_video(path, progress=False, frame_need=lambda *_: True) as video:
        assert video.info.decoder == "pyav-sampled"
        crop = next(iter(video)).crop_bgr(20, 0, 120, 120)
    assert np.abs(crop.reshape(-1, 3).mean(axis=0) - (0, 0, 255)).max() < 12, "BGR red stays BGR red"
    timeline = Recognizer(models).analyze(path, progress=False, cache=False)
    assert len(timeline) >= 1 and {p.label for p in timeline.predictions} == {"red"}


@pytest.mark.parametrize(
    ("suffix", "codec", "decoder"),
    [
        (".mov", "libx264", "pyav-sampled"),
        (".mkv", "libx264", "opencv"),  # not MP4/MOV
        (".mp4", "mjpeg", "opencv"),  # full-range yuvj420p
        (".avi", "mjpeg", "opencv"),
    ],
)
def test_the_rule_picks_the_sampled_decode_for_mp4_and_mov_in_yuv420p_only(tmp_path, suffix, codec, decoder):
    path = make_video(tmp_path / f"clip{suffix}", duration_s=0.5, codec=codec)
    with open_video(path, progress=False, frame_need=lambda *_: True) as video:
        assert video.info.decoder == decoder
        assert next(iter(video)).image_bgr.shape == (240, 320, 3)
    with open_video(path, progress=False) as video:
        assert video.info.decoder == "opencv", "without frame_need, files decode as before"


def test_odd_sizes_are_outside_the_rule():
    from types import SimpleNamespace as Ns

    def container(w, h, fmt="yuv420p", colour_range=1, name="mov,mp4,m4a,3gp,3g2,mj2"):
        context = Ns(format=Ns(name=fmt), color_range=colour_range, width=w, height=h)
        return Ns(format=Ns(name=name), streams=Ns(video=[Ns(codec_context=context)]))

    assert sampled_module.sampled_reason(container(320, 240)) is None
    assert "odd frame size 321x240" in sampled_module.sampled_reason(container(321, 240))
    assert "not limited-range yuv420p" in sampled_module.sampled_reason(container(320, 240, "yuv420p10le"))
    assert "not limited-range yuv420p" in sampled_module.sampled_reason(container(320, 240, colour_range=2))
    assert "not MP4/MOV" in sampled_module.sampled_reason(container(320, 240, name="matroska,webm"))


def test_the_file_decoder_setting(monkeypatch):
    monkeypatch.delenv(settings.ENV_FILE_DECODER, raising=False)
    assert settings.file_decoder() == "sampled"
    monkeypatch.setenv(settings.ENV_FILE_DECODER, "OpenCV")
    assert settings.file_decoder() == "opencv" and settings.file_decoder("sampled") == "sampled"
    monkeypatch.setenv(settings.ENV_FILE_DECODER, "fast")
    with pytest.raises(ValueError, match=r"'fast' is not one of sampled, opencv; set AR_FILE_DECODER="):
        settings.file_decoder()


SHARED_MP4 = [
    "damaged_soccer_juggling_1280x720_24fps_truncated60.mp4",  # BT.709-tagged, truncated
    "damaged_testpattern_1280x720_10fps_corrupt.mp4",  # an undecodable packet
    "dance_portrait_1080x1920_24fps_h264.mp4",  # BT.709-tagged portrait
    "kinetics_arm_wrestling_340x256_28fps_h264.mp4",  # grid points exactly halfway between frames
    "phone_keyboard_rot90_568x320_30fps_3frames.mov",  # display matrix
]


@pytest.mark.shared
@pytest.mark.parametrize("name", SHARED_MP4)
def test_real_mp4_and_mov_clips_give_the_same_samples_and_tensors(name):
    from tests.conftest import shared_path

    path = shared_path("media", name)
    old, old_info, old_stats = grid_samples(path, sampled=False)
    new, new_info, new_stats = grid_samples(path, sampled=True)
    assert new_info.decoder == "pyav-sampled" and new_info.rotation_deg == old_info.rotation_deg
    assert [(k, i, d) for k, i, _, d, _ in new] == [(k, i, d) for k, i, _, d, _ in old]
    assert max(float(np.abs(a[4] - b[4]).max()) for a, b in zip(old, new, strict=True)) == 0.0
    assert (new_stats.frames_decoded, new_stats.frames_corrupt, new_stats.truncated) == (
        old_stats.frames_decoded,
        old_stats.frames_corrupt,
        old_stats.truncated,
    )
