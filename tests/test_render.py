"""Drawing: what changes on the frame, what never changes, and how it looks at both ends of sizes."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest

from actionrec.render import (
    PLACEHOLDER_TEXT,
    annotate,
    draw_crop,
    draw_labels,
    draw_stats,
    draw_time,
    format_time,
    label_text,
    prediction_at,
)
from actionrec.results import Prediction, StageTimings, Timeline
from tests.conftest import shared_path
from tests.support.artifacts import ARTIFACTS as TEST_ARTIFACTS

ARTIFACTS = TEST_ARTIFACTS / "render"
LABELS = ("arm wrestling", "wrestling", "shaking hands", "passing American football (not in game)", "a b")


def make_prediction(logits=(4.0, 2.2, 1.5, 1.0, 0.5), *, index=0, start_s=0.0, end_s=1.0, top_k=5) -> Prediction:
    return Prediction.from_logits(
        np.array(logits),
        labels=LABELS,
        top_k=top_k,
        window_index=index,
        start_s=start_s,
        end_s=end_s,
        coverage_s=0.98,
        timings=StageTimings(1.2, 0.4, 31.0, 3.2, 0.8),
    )


def busy_frame(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Noise over a gradient: text and panels must show on anything."""
    rng = np.random.default_rng(seed)
    grad = np.linspace(0, 255, w, dtype=np.float32)[None, :, None].repeat(h, 0).repeat(3, 2)
    return np.clip(grad * 0.7 + rng.integers(0, 80, (h, w, 3)), 0, 255).astype(np.uint8)


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.any(a != b, axis=2)


def test_crop_rectangle_changes_only_its_border():
    img = np.zeros((256, 340, 3), np.uint8)
    out = draw_crop(img, (42, 10, 200, 150), color_bgr=(0, 0, 255))
    mask = changed(img, out)
    inside = np.zeros_like(mask)
    inside[10:160, 42:242] = True
    assert not mask[~inside].any(), "pixels outside the crop changed"
    assert not mask[20:150, 52:232].any(), "the crop's interior changed"
    # every side is drawn along its whole length, in the requested colour
    assert mask[10, 42:242].all() and mask[159, 42:242].all()
    assert mask[10:160, 42].all() and mask[10:160, 241].all()
    assert tuple(out[10, 100]) == (0, 0, 255)


def test_crop_partly_outside_the_frame_is_clipped_and_empty_crop_is_rejected():
    img = np.zeros((100, 100, 3), np.uint8)
    out = draw_crop(img, (-50, 20, 100, 300))  # left and bottom sides lie outside
    mask = changed(img, out)
    assert mask[20, 0:50].all() and mask[20:100, 49].all()
    assert not mask[:, 0].all(), "a side outside the frame must not be drawn on the frame edge"
    assert not changed(img, draw_crop(img, (200, 200, 10, 10))).any()
    with pytest.raises(ValueError, match=r"positive width and height, got \(0, 0, 0, 10\)"):
        draw_crop(img, (0, 0, 0, 10))


@pytest.mark.parametrize("size_hw", [(16, 16), (256, 340), (1080, 1920)])
def test_every_drawing_returns_a_new_image_and_never_mutates_the_input(size_hw):
    img = busy_frame(*size_hw)
    before = img.copy()
    p = make_prediction()
    outputs = [
        draw_crop(img, (0, 0, size_hw[1] // 2, size_hw[0] // 2)),
        draw_labels(img, p, top_k=3),
        draw_labels(img, None),
        draw_labels(img, p, threshold=0.99),
        draw_time(img, 3723.5),
        draw_stats(img, fps=27.3, timings=p.timings, coverage_s=0.98),
        annotate(img, prediction=p, crop_xywh=(1, 1, 8, 8), timestamp_s=1.0, fps=3.0, timings=p.timings),
    ]
    assert np.array_equal(img, before)
    for out in outputs:
        assert out is not img and out.shape == img.shape and out.dtype == np.uint8
        assert changed(img, out).any()


def test_placeholder_prediction_and_uncertain_states_look_different():
    img = busy_frame(256, 340)
    p = make_prediction()
    placeholder = draw_labels(img, None)
    certain = draw_labels(img, p, threshold=0.5)
    uncertain = draw_labels(img, p, threshold=0.9)
    assert changed(placeholder, certain).any() and changed(certain, uncertain).any()
    assert label_text(None) == [PLACEHOLDER_TEXT] == ["collecting frames..."]
    assert label_text(p, top_k=2, threshold=0.5) == [" 75% arm wrestling", " 12% wrestling"]
    assert label_text(p, top_k=2, threshold=0.9)[0] == "uncertain (top-1 75% < 90%)"
    # the uncertain state is orange (BGR ~ (40, 160, 255)), the certain one is not
    orange = np.all(np.abs(uncertain.astype(int) - (40, 160, 255)) < 30, axis=2)
    orange_before = np.all(np.abs(certain.astype(int) - (40, 160, 255)) < 30, axis=2)
    assert orange.sum() > 50 + orange_before.sum()


def test_top_k_limits_the_rows_and_bad_options_say_what_is_valid():
    img = np.zeros((256, 340, 3), np.uint8)
    p = make_prediction()
    one, five = draw_labels(img, p, top_k=1), draw_labels(img, p)
    assert np.argwhere(changed(img, five))[:, 0].max() > np.argwhere(changed(img, one))[:, 0].max() + 50
    with pytest.raises(ValueError, match=r"top_k must be >= 1 or None.*got 0"):
        draw_labels(img, p, top_k=0)
    with pytest.raises(ValueError, match=r"threshold must be a probability in 0\.\.1, got 1\.5"):
        draw_labels(img, p, threshold=1.5)
    with pytest.raises(ValueError, match=r"H x W x 3 BGR array, got \(8, 8\).*COLOR_GRAY2BGR"):
        draw_labels(np.zeros((8, 8), np.uint8), p)
    with pytest.raises(ValueError, match=r"uint8 array, got dtype float32"):
        draw_time(np.zeros((8, 8, 3), np.float32), 0.0)


def test_text_grows_with_the_frame_but_keeps_inside_it():
    p = make_prediction()
    boxes = {}
    for h, w in [(256, 340), (1080, 1920)]:
        img = np.zeros((h, w, 3), np.uint8)
        ys, xs = np.nonzero(changed(img, draw_labels(img, p)))
        boxes[h] = (ys.max() - ys.min(), xs.max() - xs.min())
        assert xs.max() < w * 0.62, "the labels panel leaves the right of the frame to the stats"
    assert boxes[1080][0] > 2.5 * boxes[256][0], boxes
    assert boxes[1080][0] < 0.6 * 1080, "the panel must not cover most of a big frame"


def test_long_labels_are_shortened_to_fit():
    img = np.zeros((256, 340, 3), np.uint8)
    long = Prediction.from_logits(
        np.array([2.0, 1.0]), labels=("x" * 200, "y"), top_k=2, window_index=0, start_s=0.0, end_s=1.0
    )
    xs = np.nonzero(changed(img, draw_labels(img, long)))[1]
    assert xs.max() < 340 * 0.62


def test_time_and_stats_text():
    assert format_time(0.0) == "00:00.000"
    assert format_time(62.5) == "01:02.500"
    assert format_time(3723.25) == "1:02:03.250"
    img = np.zeros((256, 340, 3), np.uint8)
    assert np.array_equal(draw_stats(img), img), "no stats given: nothing drawn"
    ys, xs = np.nonzero(changed(img, draw_stats(img, fps=30.0)))
    assert xs.min() > 340 / 2 and ys.max() < 256 / 2, "stats sit top right"
    ys, xs = np.nonzero(changed(img, draw_time(img, 1.0)))
    assert xs.max() < 340 / 2 and ys.min() > 256 / 2, "the time sits bottom left"


def make_timeline(ends_s) -> Timeline:
    preds = tuple(make_prediction(index=i, start_s=e - 1.0, end_s=e) for i, e in enumerate(ends_s))
    return Timeline(
        source="t", labels=LABELS, predictions=preds, window_s=1.0, stride_s=0.5, step_s=1 / 16, clip_len=16, top_k=5
    )


def test_prediction_at_shows_what_a_viewer_would_know():
    tl = make_timeline([1.0, 1.5, 2.0, 2.5])
    assert prediction_at(tl, 0.0) is None and prediction_at(tl, 0.999) is None
    assert prediction_at(tl, 1.0).window_index == 0, "a window is shown from its end on"
    assert prediction_at(tl, 1.49).window_index == 0
    assert prediction_at(tl, 1.5).window_index == 1
    assert prediction_at(tl, 99.0).window_index == 3
    assert prediction_at(make_timeline([]), 5.0) is None
    assert prediction_at(tl.predictions, 2.2).window_index == 2


def test_prediction_at_matches_a_linear_scan():
    tl = make_timeline([1.0 + 0.5 * i for i in range(200)])
    rng = random.Random(1)
    for t in [rng.uniform(-1, 110) for _ in range(500)]:
        known = [p for p in tl.predictions if p.end_s <= t]
        expected = known[-1] if known else None
        assert prediction_at(tl, t) is expected


def save_and_read_back(name: str, image: np.ndarray) -> np.ndarray:
    """Write ``image`` as ``<artifacts>/render/<name>.png`` and read the file back."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    assert cv2.imwrite(str(path), image)
    return cv2.imread(str(path))


def test_save_renders_for_a_human_look():
    """Writes PNGs to <artifacts>/render/ (tests.support.artifacts); look at them after changing the style.

    What is saved is what annotate drew (PNG is lossless), with the crop box where it was asked for
    and an uncertain state that looks different from the confident one.
    """
    p = make_prediction()
    for name, (h, w) in {"synthetic_340x256": (256, 340), "synthetic_1920x1080": (1080, 1920)}.items():
        img = busy_frame(h, w)
        crop = ((w - h) // 2, 0, h, h)  # the centre square, as the model sees it
        sure = annotate(img, prediction=p, crop_xywh=crop, timestamp_s=62.5, fps=27.3, timings=p.timings)
        unsure = annotate(img, prediction=p, crop_xywh=crop, timestamp_s=62.5, top_k=3, threshold=0.9)
        assert np.array_equal(save_and_read_back(name, sure), sure)
        assert np.array_equal(save_and_read_back(f"{name}_uncertain", unsure), unsure)
        mask = changed(img, sure)
        row = h * 3 // 4  # below the label and stats panels, above the time
        assert mask[row, crop[0]] and mask[row, crop[0] + crop[2] - 1], "the crop's sides are not drawn"
        assert not mask[row, crop[0] + 8 : crop[0] + crop[2] - 8].any(), "the crop's interior was painted over"
        assert label_text(p, top_k=3, threshold=0.9)[0] != label_text(p)[0]
        assert changed(sure, unsure).any(), "an uncertain window renders like a confident one"
        # the labels themselves: a prediction draws more than the placeholder, in the top-left quarter,
        # and more classes draw more rows
        placeholder = annotate(img, prediction=None, crop_xywh=crop, timestamp_s=62.5)
        one, three = (annotate(img, prediction=p, crop_xywh=crop, timestamp_s=62.5, top_k=k) for k in (1, 3))
        labels = changed(placeholder, one)
        assert labels[: h // 2, : w // 2].any() and not labels[h // 2 :].any(), "no label panel in the top left"
        assert changed(one, three)[: h // 2, : w // 2].sum() > labels.sum() // 4, "top_k=3 draws no more rows"


@pytest.mark.shared
def test_render_on_the_real_sample_clip():
    clip = shared_path("media", "kinetics_arm_wrestling_340x256_28fps_h264.mp4")
    cap = cv2.VideoCapture(str(clip))
    try:
        ok, frame = cap.read()
    finally:
        cap.release()
    assert ok
    out = annotate(frame, prediction=make_prediction(), crop_xywh=(58, 0, 256, 256), timestamp_s=0.0, top_k=3)
    assert out.shape == frame.shape and np.array_equal(save_and_read_back("arm_wrestling_first_frame", out), out)
    mask = changed(frame, out)
    assert mask[128, 58] and mask[128, 58 + 255], "the crop's sides are not drawn on the real frame"
    assert mask[:60, :120].any(), "no label panel in the top-left corner"
