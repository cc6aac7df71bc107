"""Prediction / Timeline / Segment: validation, top-k, smoothing, thresholds, segments."""

from dataclasses import replace

import numpy as np
import pytest

from actionrec.results import UNCERTAIN, Prediction, Segment, StageTimings, Timeline, softmax

LABELS = ("run", "walk", "jump", "sit")


def pred(w, logits, top_k=2, stride=0.5):
    return Prediction.from_logits(
        np.asarray(logits, float), labels=LABELS, top_k=top_k, window_index=w, start_s=w * stride, end_s=w * stride + 1
    )


def timeline(rows, top_k=2):
    return Timeline(
        source="t",
        labels=LABELS,
        predictions=tuple(pred(i, r, top_k) for i, r in enumerate(rows)),
        window_s=1.0,
        stride_s=0.5,
        step_s=0.0625,
        clip_len=16,
        top_k=top_k,
    )


def test_from_logits_any_k_sorted_with_names():
    p = pred(0, [0.0, 3.0, 1.0, 2.0], top_k=4)
    assert p.labels == ("walk", "sit", "jump", "run") and p.class_ids == (1, 3, 2, 0)
    assert list(p.scores) == sorted(p.scores, reverse=True)
    assert sum(p.scores) == pytest.approx(1.0)
    assert pred(0, [0, 3, 1, 2], top_k=10).labels == p.labels  # k larger than classes: all
    assert p.reranked(LABELS, 1).labels == ("walk",)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(start_s=1.0, end_s=1.0), "end_s"),
        (dict(scores=(0.2, 0.5)), "sorted best first"),
        (dict(scores=(1.5, 0.1)), "probabilities"),
        (dict(labels=("a",)), "equal length"),
        (dict(window_index=-1), "window_index"),
    ],
)
def test_prediction_validation(kwargs, match):
    base = dict(window_index=0, start_s=0.0, end_s=1.0, labels=("a", "b"), scores=(0.6, 0.4), class_ids=(0, 1))
    with pytest.raises(ValueError, match=match):
        Prediction(**(base | kwargs))


def test_stage_timings_reject_negative():
    with pytest.raises(ValueError, match="encoder_ms"):
        StageTimings(encoder_ms=-1)


def test_timeline_requires_time_order():
    p0, p1 = pred(0, [1, 0, 0, 0]), pred(1, [1, 0, 0, 0])
    with pytest.raises(ValueError, match="time order"):
        Timeline("t", LABELS, (p1, p0), 1.0, 0.5, 0.0625, 16, 2)


def test_smoothing_is_a_centred_mean_of_probabilities():
    rows = [[5, 0, 0, 0], [0, 5, 0, 0], [5, 0, 0, 0], [5, 0, 0, 0]]
    tl = timeline(rows)
    sm = tl.smoothed(3)
    probs = softmax(np.array(rows, float))
    np.testing.assert_allclose(sm.predictions[1].probs, probs[0:3].mean(axis=0))
    np.testing.assert_allclose(sm.predictions[0].probs, probs[0:2].mean(axis=0))  # edge: shorter window
    assert [p.label for p in sm.predictions] == ["run"] * 4  # the one-window blip is smoothed away
    assert sm.smoothing == 3 and tl.smoothed(1).predictions == tl.predictions


def test_segments_merge_and_threshold_gives_uncertain():
    tl = timeline([[5, 0, 0, 0], [5, 0, 0, 0], [0.1, 0, 0, 0], [0, 5, 0, 0]])
    segs = tl.segments(threshold=0.5)
    assert [(s.label, s.uncertain) for s in segs] == [("run", False), ("run", True), ("walk", False)]
    assert (segs[0].start_s, segs[0].end_s, segs[0].windows) == (0.0, 1.0, 2)
    assert segs[1].uncertain and (segs[1].start_s, segs[1].end_s) == (1.0, 1.5)
    assert segs[-1].end_s == 2.5
    assert [s.label for s in tl.segments()] == ["run", "walk"]  # no threshold: argmax wins
    assert tl.top_segments(1)[0].label == "run"


def test_a_class_named_uncertain_is_a_class_and_the_uncertain_state_a_flag():
    labels = (UNCERTAIN, "walk", "jump")
    rows = [[5, 0, 0], [5, 0, 0], [0.2, 0, 0.1], [0, 0.1, 0.2], [0, 0.2, 0.1], [0, 5, 0]]
    preds = [
        Prediction.from_logits(
            np.array(r, float), labels=labels, top_k=2, window_index=w, start_s=w * 0.5, end_s=w * 0.5 + 1
        )
        for w, r in enumerate(rows)
    ]
    tl = Timeline("x.mp4", labels, tuple(preds), window_s=1, stride_s=0.5, step_s=0.0625, clip_len=16, top_k=2)
    segs = tl.segments(threshold=0.6)
    # the certain class "uncertain", then one uncertain span of three windows (tops: uncertain, jump,
    # walk: the earliest of the tied wins), then walk
    assert [(s.label, s.uncertain, s.windows) for s in segs] == [
        (UNCERTAIN, False, 2),
        (UNCERTAIN, True, 3),
        ("walk", False, 1),
    ]
    assert [s.label for s in tl.top_segments(3, threshold=0.6)] == [UNCERTAIN, "walk"]
    assert Segment("uncertain", 0.0, 1.0, 0.9, 1).uncertain is False


def test_with_top_k_reranks_without_inference():
    tl = timeline([[1, 2, 3, 4]], top_k=1)
    assert tl.with_top_k(3).predictions[0].labels == ("sit", "jump", "walk")


def test_segment_validation():
    with pytest.raises(ValueError, match="after start_s"):
        Segment("x", 2.0, 1.0, 0.5, 1)


def test_smoothing_twice_is_refused():
    tl = timeline([[5, 0, 0, 0], [0, 5, 0, 0], [5, 0, 0, 0]])
    with pytest.raises(ValueError, match="already smoothed over 3 windows"):
        tl.smoothed(3).smoothed(3)
    assert tl.smoothed(3).smoothed(1).smoothing == 3


def test_a_window_carries_its_model_crop_through_reranking_and_smoothing():
    crop = (20, 0, 120, 120)
    p = Prediction.from_logits(
        np.array([0.0, 3.0, 1.0, 2.0]), labels=LABELS, top_k=2, window_index=0, start_s=0.0, end_s=1.0, crop_xywh=crop
    )
    assert p.crop_xywh == crop and pred(0, [0.0, 3.0, 1.0, 2.0]).crop_xywh is None  # optional: files need not say
    assert p.reranked(LABELS, 3).crop_xywh == crop
    tl = Timeline("t", LABELS, (p, replace(p, window_index=1, start_s=0.5, end_s=1.5)), 1.0, 0.5, 0.0625, 16, 2)
    assert [q.crop_xywh for q in tl.smoothed(2).predictions] == [crop, crop]
    assert [q.crop_xywh for q in tl.with_top_k(1).predictions] == [crop, crop]
    assert p != replace(p, crop_xywh=(0, 0, 120, 120))  # compared: another crop saw other pixels
    assert replace(p, crop_xywh=[20, 0, np.int64(120), 120]).crop_xywh == crop  # normalised to 4 Python ints
    assert type(replace(p, crop_xywh=[20, 0, np.int64(120), 120]).crop_xywh[2]) is int


@pytest.mark.parametrize(
    ("crop", "match"),
    [
        ((0, 0, 10), r"crop_xywh must be 4 whole numbers \(x, y, width, height\) in pixels, got \(0, 0, 10\)"),
        ((0, 0, 10.5, 10), r"crop_xywh must be 4 whole numbers"),
        ((0, 0, True, 10), r"crop_xywh must be 4 whole numbers"),
        ("0,0,1,1", r"crop_xywh must be 4 whole numbers"),
        ((0, 0, 0, 10), r"crop_xywh must have a positive width and height, got \(0, 0, 0, 10\)"),
        ((5, 5, 10, -1), r"crop_xywh must have a positive width and height"),
    ],
)
def test_crop_validation(crop, match):
    base = dict(window_index=0, start_s=0.0, end_s=1.0, labels=("a", "b"), scores=(0.6, 0.4), class_ids=(0, 1))
    with pytest.raises(ValueError, match=match):
        Prediction(**base, crop_xywh=crop)
