"""Which frames mattered: occlusion of time steps, on tiny decoders whose dependence is known.

The step decoder (``tests/support/insight_models.py``) reads only position 5 of its window, so
occluding position 5 must move its top class and occluding any other position must not.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from tests.support.cli import run_actionrec
from tests.support.insight_models import STEP, build_step_decoder, write_model_dir
from tests.support.tiny_models import build_decoder

BLUE, RED = (200, 60, 40), (40, 60, 200)  # BGR
FLASH_FRAME = 8 * 4 + STEP  # sample 37: position 5 of window 4 (stride 8 samples), at 2.3125 s


def red_flash(index: int, t: float, img: np.ndarray) -> None:
    img[:] = RED if index == FLASH_FRAME else BLUE


@pytest.fixture(scope="module")
def step_models(tmp_path_factory, tiny_labels_file):
    from actionrec.models import compile_models, resolve_model

    root = write_model_dir(tmp_path_factory.mktemp("step"), {"FP32": build_step_decoder})
    files = resolve_model(precision="FP32", model_dir=root, labels=tiny_labels_file)
    return compile_models(files, cache_dir=tmp_path_factory.mktemp("cc"))


@pytest.fixture(scope="module")
def flash_video(video_factory):
    # 16 frames/s: grid sample k is frame k, so the flash is exactly sample 37
    return video_factory("red_flash_16fps.mp4", fps=16, duration_s=4.0, paint=red_flash, stamp_index=False)


def synthetic(num_samples: int = 32, seed: int = 0):
    from actionrec.pipeline import EncodedVideo

    rng = np.random.default_rng(seed)
    emb = np.zeros((num_samples, 512), np.float32)
    emb[:, :12] = rng.uniform(0.1, 0.3, (num_samples, 12))
    emb[:, 0:4] += 0.5  # blue samples...
    emb[STEP, 0:4], emb[STEP, 8:12] = 0.1, 0.9  # ... but sample 5 (position 5 of window 0) is red
    times = np.arange(num_samples) / 16
    return EncodedVideo(
        source="synthetic",
        embeddings=emb,
        frame_times_s=times,
        frame_indices=np.arange(num_samples),
        duplicated=np.zeros(num_samples, bool),
        t0_s=0.0,
        step_s=1 / 16,
        frames_decoded=num_samples,
        duration_s=float(times[-1]),
    )


def test_the_step_the_decoder_reads_gets_the_attribution_and_the_others_none(step_models):
    from actionrec.insight import explain_window
    from actionrec.pipeline import SamplingGrid

    grid = SamplingGrid.from_seconds(window_s=1.0, clip_len=16, stride_s=0.5)
    w = explain_window(step_models, synthetic(), grid=grid, window_index=0)
    assert (w.label, w.class_index) == ("red", 2) and w.probability > 0.9
    others = [t for t in range(16) if t != STEP]
    for drops in (w.drop_mean, w.drop_neighbour):
        assert drops[STEP] > 0.5, drops
        assert max(abs(drops[t]) for t in others) < 1e-6, drops  # the decoder ignores them: exactly no effect
    assert w.ranked("mean")[0] == STEP and w.ranked("neighbour")[0] == STEP
    assert w.label_after_mean[STEP] != "red" and set(w.label_after_mean[t] for t in others) == {"red"}
    with pytest.raises(ValueError, match="baseline 'pixels' is not one of mean, neighbour"):
        w.ranked("pixels")


def test_the_real_contract_decoder_weighs_late_samples_for_brightening(tmp_path, tiny_labels_file):
    """The tiny decoder's "brightening" class (second half - first half): its early and late samples act oppositely."""
    from actionrec.insight import explain_window
    from actionrec.models import compile_models, resolve_model
    from actionrec.pipeline import SamplingGrid

    root = write_model_dir(tmp_path / "m", {"FP32": build_decoder})
    models = compile_models(
        resolve_model(precision="FP32", model_dir=root, labels=tiny_labels_file), cache_dir=tmp_path
    )
    enc = synthetic()
    emb = enc.embeddings.copy()
    emb[:16, :12] = np.linspace(0.0, 1.0, 16)[:, None]  # ever brighter grey: top class "brightening"
    grid = SamplingGrid.from_seconds(window_s=1.0, clip_len=16, stride_s=0.5)
    import dataclasses

    w = explain_window(models, dataclasses.replace(enc, embeddings=emb), grid=grid, window_index=0)
    assert w.label == "brightening"
    assert w.drop_mean[15] > 0 and w.drop_mean[0] > 0  # the brightest late and darkest early samples carry it
    assert w.drop_mean[15] > w.drop_mean[8] and w.drop_mean[0] > w.drop_mean[7]


def test_explain_a_video_finds_the_flash_and_reuses_the_cache(step_models, flash_video, monkeypatch):
    from actionrec.insight import explain
    from actionrec.pipeline import Recognizer

    first = explain(flash_video, models=step_models, at_s=2.5)
    assert not first.embeddings_cached
    w = first.window
    assert (w.window_index, w.start_s, w.end_s, w.label) == (4, 2.0, 3.0, "red")
    assert w.frame_indices[STEP] == FLASH_FRAME and w.ranked("mean")[0] == STEP
    assert w.drop_mean[STEP] > 0.5 and w.drop_neighbour[STEP] > 0.5
    top = first.video.moments[0]
    assert (top.sample_index, top.time_s, top.window_index) == (FLASH_FRAME, pytest.approx(2.3125, abs=1e-3), 4)
    assert (top.label, top.label_after, top.label_changes, top.windows) == ("red", "blue", 1, 2)
    assert first.video.windows == 7

    def no_encoder(*args, **kwargs):
        raise AssertionError("the encoder ran although the cache holds the video")

    monkeypatch.setattr(Recognizer, "encode", no_encoder)
    again = explain(flash_video, models=step_models, at_s=2.5)
    assert again.embeddings_cached and again.window == first.window


def test_a_time_outside_the_clip_says_the_span(step_models, flash_video):
    from actionrec.errors import OutsideClipError
    from actionrec.insight import explain

    with pytest.raises(OutsideClipError, match=r"at_s=12\.0 s is outside the clip .*spans 0\.00–3\.94 s.*give a time"):
        explain(flash_video, models=step_models, at_s=12.0)
    with pytest.raises(OutsideClipError, match=r"spans 0\.00–3\.94 s"):
        explain(flash_video, models=step_models, at_s=-1.0)


def test_cli_writes_the_png_and_the_json(tmp_path, flash_video, tiny_labels_file):
    root = write_model_dir(tmp_path / "m", {"FP16": build_step_decoder})
    out = tmp_path / "out"
    proc = run_actionrec(
        "explain", str(flash_video), "--at-s", "2.5", "--model-dir", str(root),
        "--labels", str(tiny_labels_file), "--out", str(out), "--no-progress",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "window #4 2.00–3.00 s: red" in proc.stdout and "2.31 s  drop" in proc.stdout, proc.stdout
    doc = json.loads((out / "red_flash_16fps.explain.json").read_text())
    assert doc["schema"] == "actionrec.explain/1" and doc["window"]["label"] == "red"
    samples = doc["window"]["samples"]
    assert len(samples) == 16 and max(samples, key=lambda s: s["drop_mean"])["position"] == STEP
    assert doc["video"]["moments"][0]["sample_index"] == FLASH_FRAME
    image = cv2.imread(str(out / "red_flash_16fps.explain.png"))
    assert image is not None and image.shape[1] > 16 * 96
    # the sixth thumbnail (the flash) is red, the others blue: the thumbnails are the window's frames
    y, size, gap, margin = 56 + 48, 96, 6, 16
    pixel = [image[y, margin + t * (size + gap) + size // 2] for t in range(16)]
    assert [int(np.argmax(p)) for p in pixel] == [0] * STEP + [2] + [0] * (15 - STEP)

    bad = run_actionrec("explain", str(flash_video), "--at-s", "99", "--model-dir", str(root),
                        "--labels", str(tiny_labels_file), "--out", str(out))  # fmt: skip
    assert bad.returncode == 1 and "error: at_s=99.0 s is outside the clip" in bad.stderr, bad.stderr
    assert "spans 0.00–3.94 s" in bad.stderr
