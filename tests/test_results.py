"""Prediction / Timeline / Segment: validation, top-k, smoothing, thresholds, segments."""

from dataclasses import replace

import numpy as np
import pytest

from actionrec.results import UNCERTAIN, Prediction, Segment, StageTimings, Timeline, smooth_probs, softmax

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


# -- what mutation testing (benchmarks/mutation.py) showed unchecked ---------------------------------

BASE = dict(window_index=0, start_s=0.0, end_s=1.0, labels=("a", "b"), scores=(0.6, 0.4), class_ids=(0, 1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(window_index=-1), r"window_index must be >= 0, got -1"),
        (dict(start_s=1.0, end_s=1.0), r"end_s \(1\.0\) must be after start_s \(1\.0\)"),
        (
            dict(labels=(), scores=(), class_ids=()),
            r"labels, scores and class_ids must be non-empty and of equal length",
        ),
        (dict(class_ids=(0,)), r"labels, scores and class_ids must be non-empty and of equal length"),
        (dict(scores=(0.6,)), r"labels, scores and class_ids must be non-empty and of equal length"),
        (dict(scores=(1.5, 0.1)), r"scores must be probabilities in 0\.\.1, got \(1\.5, 0\.1\)"),
        (dict(scores=(0.6, -0.1)), r"scores must be probabilities in 0\.\.1, got \(0\.6, -0\.1\)"),
        (dict(scores=(0.2, 0.5)), r"scores must be sorted best first, got \(0\.2, 0\.5\)"),
        (dict(duplicated=-1), r"duplicated and missing must be >= 0"),
        (dict(missing=-1), r"duplicated and missing must be >= 0"),
    ],
)
def test_prediction_refusals_say_exactly_why(kwargs, message):
    with pytest.raises(ValueError, match=rf"^{message}$"):
        Prediction(**(BASE | kwargs))


def test_prediction_limits_that_are_valid():
    assert Prediction(**(BASE | dict(scores=(1.0, 0.0)))).score == 1.0
    assert Prediction(**(BASE | dict(scores=(0.5, 0.5)))).scores == (0.5, 0.5)  # ties keep their order
    assert Prediction(**(BASE | dict(scores=(1.0 + 1e-7, 0.0)))).score > 1.0  # float noise is tolerated
    p = Prediction(**(BASE | dict(duplicated=0, missing=0)))
    assert (p.label, p.score, p.is_certain(0.6), p.is_certain(0.61)) == ("a", 0.6, True, False)


@pytest.mark.parametrize("name", ["decode_ms", "preprocess_ms", "encoder_ms", "decoder_ms", "draw_ms"])
def test_every_stage_timing_refuses_negative_or_nan(name):
    assert getattr(StageTimings(**{name: 0.0}), name) == 0.0
    with pytest.raises(ValueError, match=rf"^{name} must be a non-negative number of ms, got -1$"):
        StageTimings(**{name: -1})
    with pytest.raises(ValueError, match=rf"^{name} must be a non-negative number of ms, got nan$"):
        StageTimings(**{name: float("nan")})


def test_from_probs_checks_its_inputs_and_keeps_the_vector():
    kw = dict(window_index=0, start_s=0, end_s=1)
    with pytest.raises(ValueError, match=r"^3 labels for 4 classes$"):
        Prediction.from_probs(np.full(4, 0.25), labels=("a", "b", "c"), top_k=1, **kw)
    with pytest.raises(ValueError, match=r"^top_k must be >= 1, got 0$"):
        Prediction.from_probs(np.full(4, 0.25), labels=LABELS, top_k=0, **kw)
    p = Prediction.from_probs([[0.1, 0.4, 0.4, 0.1]], labels=LABELS, top_k=3, **kw)
    assert p.labels == ("walk", "jump", "run") and p.class_ids == (1, 2, 0)  # ties: model order
    assert type(p.start_s) is float and type(p.end_s) is float and type(p.class_ids[0]) is int
    assert p.probs.shape == (4,) and p.probs.dtype == np.float64
    with pytest.raises(ValueError, match=r"^this prediction has no probability vector to re-rank$"):
        Prediction(**BASE).reranked(("a", "b"), 1)


def test_reranking_and_smoothing_carry_every_per_window_field():
    extra = dict(coverage_s=0.9, duplicated=2, missing=1, timings=StageTimings(decode_ms=3.0, draw_ms=1.0))
    p = Prediction.from_logits(
        np.array([0.0, 3.0, 1.0, 2.0]), labels=LABELS, top_k=2, window_index=4, start_s=2.0, end_s=3.0, **extra
    )
    for q in (p.reranked(LABELS, 3), Timeline("t", LABELS, (p,), 1.0, 0.5, 0.0625, 16, 2).smoothed(2).predictions[0]):
        assert (q.coverage_s, q.duplicated, q.missing, q.timings) == (0.9, 2, 1, extra["timings"])
        assert (q.window_index, q.start_s, q.end_s) == (4, 2.0, 3.0)


def test_segment_refusals_and_duration():
    with pytest.raises(ValueError, match=r"^segment end_s \(1\.0\) must be after start_s \(2\.0\)$"):
        Segment("x", 2.0, 1.0, 0.5, 1)
    with pytest.raises(ValueError, match=r"^a segment holds at least one window$"):
        Segment("x", 0.0, 1.0, 0.5, 0)
    assert Segment("x", 0.5, 2.0, 0.5, 1).duration_s == 1.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(clip_len=0), r"clip_len, top_k and smoothing must be >= 1"),
        (dict(top_k=0), r"clip_len, top_k and smoothing must be >= 1"),
        (dict(smoothing=0), r"clip_len, top_k and smoothing must be >= 1"),
        (dict(window_s=0.0), r"window_s, stride_s and step_s must be positive"),
        (dict(stride_s=0.0), r"window_s, stride_s and step_s must be positive"),
        (dict(step_s=0.0), r"window_s, stride_s and step_s must be positive"),
    ],
)
def test_timeline_refusals_say_exactly_why(kwargs, message):
    base = dict(
        source="t", labels=LABELS, predictions=(), window_s=1.0, stride_s=0.5, step_s=0.0625, clip_len=16, top_k=2
    )
    assert len(Timeline(**(base | dict(clip_len=1, top_k=1, smoothing=1)))) == 0
    with pytest.raises(ValueError, match=rf"^{message}$"):
        Timeline(**(base | kwargs))


def test_timeline_keeps_no_secret_of_its_source_and_counts_its_windows():
    tl = replace(timeline([[1, 0, 0, 0]] * 3), source="https://u:p@h.example/x.mp4?sig=1#f")
    assert tl.source == "https://***@h.example/x.mp4" and len(tl) == 3
    assert timeline([[1, 0, 0, 0], [1, 0, 0, 0]]).predictions[1].start_s == 0.5  # equal order is fine


@pytest.mark.parametrize(
    ("windows", "spans"), [(2, [(0, 2), (1, 3), (2, 4), (3, 4)]), (4, [(0, 3), (0, 4), (1, 4), (2, 4)])]
)
def test_even_smoothing_widths_lean_forward(windows, spans):
    rows = [[5, 0, 0, 0], [0, 5, 0, 0], [0, 0, 5, 0], [0, 0, 0, 5]]
    sm = timeline(rows).smoothed(windows)
    probs = softmax(np.array(rows, float))
    for p, (lo, hi) in zip(sm.predictions, spans, strict=True):
        np.testing.assert_allclose(p.probs, probs[lo:hi].mean(axis=0))
    assert sm.top_k == 2 and all(len(p.labels) == 2 for p in sm.predictions)


def test_smoothing_refusals_and_the_empty_timeline():
    tl = timeline([[5, 0, 0, 0], [0, 5, 0, 0], [5, 0, 0, 0]])
    with pytest.raises(ValueError, match=r"^smoothing must be >= 1 window, got 0$"):
        tl.smoothed(0)
    message = (
        r"^this timeline is already smoothed over 3 windows; smooth the unsmoothed timeline over 2 windows instead$"
    )
    with pytest.raises(ValueError, match=message):
        tl.smoothed(3).smoothed(2)
    empty = timeline([])
    assert empty.smoothed(5) is empty


def test_segment_scores_spans_and_threshold_limits():
    tl = timeline([[5, 0, 0, 0], [3, 0, 0, 0], [0, 5, 0, 0], [0, 0.2, 0, 0], [0.2, 0, 0, 0], [0.1, 0.2, 0, 0]])
    segs = tl.segments(threshold=0.5)
    p = [q.score for q in tl.predictions]
    assert [(s.label, s.uncertain, s.windows) for s in segs] == [
        ("run", False, 2),
        ("walk", False, 1),
        ("walk", True, 3),
    ]
    assert segs[0].mean_score == pytest.approx((p[0] + p[1]) / 2) and segs[1].mean_score == pytest.approx(p[2])
    assert segs[2].mean_score == pytest.approx(np.mean(p[3:]))
    assert [(s.start_s, s.end_s) for s in segs] == [(0.0, 1.0), (1.0, 1.5), (1.5, 3.5)]
    assert all(s.uncertain for s in tl.segments(threshold=1.0))
    for bad in (-0.1, 1.1):
        with pytest.raises(ValueError, match=rf"^threshold must be a probability in 0\.\.1, got {bad}$"):
            tl.segments(threshold=bad)


def test_top_segments_longest_certain_first_ties_by_score():
    # run 1.0 s (high score), walk 0.5 s, jump 1.0 s (lower), sit 0.5 s, walk 1.0 s (lowest, below 0.5)
    tl = timeline([[5, 0, 0, 0], [5, 0, 0, 0], [0, 5, 0, 0], [0, 0, 2, 0], [0, 0, 2, 0], [0, 0, 0, 3], [0, 1, 0, 0]])
    assert [s.label for s in tl.top_segments()] == ["run", "jump", "walk"]
    assert [(s.label, s.start_s) for s in tl.top_segments(2)] == [("run", 0.0), ("jump", 1.5)]
    assert [(s.label, s.start_s) for s in tl.top_segments(5, threshold=0.5)] == [
        ("run", 0.0),
        ("jump", 1.5),
        ("walk", 1.0),
        ("sit", 2.5),
    ]


def test_softmax_is_per_row_float64_and_overflow_safe():
    rows = softmax(np.array([[1.0, 2.0], [3.0, 5.0]]))
    np.testing.assert_allclose(rows, [softmax(np.array([1.0, 2.0])), softmax(np.array([3.0, 5.0]))])
    np.testing.assert_allclose(rows.sum(axis=-1), [1.0, 1.0])
    big = softmax(np.array([1000.0, 1001.0]))
    assert np.isfinite(big).all() and big[1] == pytest.approx(1 / (1 + np.exp(-1)))
    assert softmax(np.array([1.0, 2.0], np.float32)).dtype == np.float64
    far_apart = softmax(np.array([[1000.0, 1001.0], [0.0, 1.0]]))  # each row shifted by its own maximum
    np.testing.assert_allclose(far_apart, [softmax(np.array([0.0, 1.0]))] * 2)


def test_ties_in_many_classes_keep_model_order_and_inputs_become_float64():
    labels = tuple(f"c{i}" for i in range(20))
    p = np.random.default_rng(0).integers(0, 3, 20) / 10  # many equal probabilities
    pr = Prediction.from_probs(p / p.sum(), labels=labels, top_k=8, window_index=0, start_s=0, end_s=1)
    assert pr.class_ids == tuple(int(i) for i in np.argsort(-p, kind="stable")[:8]) == (0, 9, 11, 14, 15, 19, 1, 2)
    f32 = Prediction.from_probs(
        np.array([0.25, 0.75], np.float32), labels=("a", "b"), top_k=1, window_index=0, start_s=0, end_s=1
    )
    assert f32.probs.dtype == np.float64 and type(f32.score) is float
    column = Prediction.from_logits(
        np.array([[0.0], [2.0], [1.0]]), labels=("a", "b", "c"), top_k=3, window_index=0, start_s=0, end_s=1
    )
    assert column.labels == ("b", "c", "a") and sum(column.scores) == pytest.approx(1.0)  # a column of logits


def test_smallest_crop_and_scores_at_the_tolerance_are_valid():
    assert Prediction(**BASE, crop_xywh=(0, 0, 1, 1)).crop_xywh == (0, 0, 1, 1)
    assert Prediction(**(BASE | dict(scores=(1.0 + 1e-6, 0.0)))).score == 1.0 + 1e-6
    with pytest.raises(ValueError, match=r"^crop_xywh must be 4 whole numbers"):
        Prediction(**BASE, crop_xywh=range(1, 5))  # a tuple or a list, nothing else


def test_zero_length_segment_unsorted_timeline_and_smoothing_state():
    with pytest.raises(ValueError, match=r"^segment end_s \(1\.0\) must be after start_s \(1\.0\)$"):
        Segment("x", 1.0, 1.0, 0.5, 1)
    p0, p1 = pred(0, [1, 0, 0, 0]), pred(1, [1, 0, 0, 0])
    with pytest.raises(ValueError, match=r"^predictions must be in time order$"):
        Timeline("t", LABELS, (p1, p0), 1.0, 0.5, 0.0625, 16, 2)
    tl = timeline([[5, 0, 0, 0], [0, 5, 0, 0], [5, 0, 0, 0]])
    with pytest.raises(ValueError, match=r"already smoothed over 2 windows"):
        tl.smoothed(2).smoothed(3)
    assert tl.with_top_k(3).top_k == 3 and tl.with_top_k(1).top_k == 1


@pytest.mark.parametrize("n", [20, 600])  # 600: windows ranked in several blocks of 256 (the last one short)
def test_vectorised_ranking_gives_the_predictions_of_row_by_row_ranking(n):
    from actionrec.results import predictions_from_probs

    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(6), size=n)
    probs[4] = probs[n - 4] = [0.25, 0.25, 0.1, 0.25, 0.05, 0.1]  # ties: the lower class id first, as from_probs
    labels = tuple("abcdef")
    starts = [0.5 * w for w in range(n)]
    windows = [
        {"window_index": w, "start_s": starts[w], "end_s": starts[w] + 1, "coverage_s": 1.0, "crop_xywh": (1, 2, 3, 4)}
        for w in range(n)
    ]
    fast = predictions_from_probs(probs, labels=labels, top_k=3, windows=windows)
    slow = tuple(
        Prediction.from_probs(
            probs[w],
            labels=labels,
            top_k=3,
            window_index=w,
            start_s=starts[w],
            end_s=starts[w] + 1,
            coverage_s=1.0,
            crop_xywh=(1, 2, 3, 4),
        )
        for w in range(n)
    )
    assert fast == slow
    assert fast[4].labels == fast[n - 4].labels == ("a", "b", "d")


def test_devices_are_named_once_when_both_models_share_one():
    from actionrec.results import describe_devices

    assert describe_devices("CPU") == "CPU"  # no decoder device given: it runs with the encoder
    assert describe_devices("GPU", "GPU") == "GPU"
    assert describe_devices("GPU", "CPU") == "GPU encoder, CPU decoder"
    assert describe_devices("", "CPU") == "? encoder, CPU decoder"  # an unknown encoder device is shown as such
    made = Timeline("t", LABELS, (), 1.0, 0.5, 0.0625, 16, 2, device="GPU")
    assert made.decoder_device == "GPU" and made.devices_text == "GPU"  # not said: the encoder's device
    split = Timeline("t", LABELS, (), 1.0, 0.5, 0.0625, 16, 2, device="GPU", decoder_device="CPU")
    assert split.decoder_device == "CPU" and split.devices_text == "GPU encoder, CPU decoder"


def test_vectorised_ranking_refuses_what_it_cannot_rank_and_says_why():
    from actionrec.results import predictions_from_probs

    one = [{"window_index": 0, "start_s": 0.0, "end_s": 1.0}]
    with pytest.raises(ValueError, match=r"^4 labels for probabilities of shape \[1, 3\]$"):
        predictions_from_probs(np.full((1, 3), 1 / 3), labels=LABELS, top_k=1, windows=one)
    with pytest.raises(ValueError, match=r"^4 labels for probabilities of shape \[4\]$"):  # one row, not [1, 4]
        predictions_from_probs(np.full(4, 0.25), labels=LABELS, top_k=1, windows=one)
    with pytest.raises(ValueError, match=r"^1 windows for 2 rows of probabilities$"):
        predictions_from_probs(np.full((2, 4), 0.25), labels=LABELS, top_k=1, windows=one)
    with pytest.raises(ValueError, match=r"^top_k must be >= 1, got 0$"):
        predictions_from_probs(np.full((1, 4), 0.25), labels=LABELS, top_k=0, windows=one)
    (top1,) = predictions_from_probs(np.array([[0.1, 0.6, 0.2, 0.1]], np.float32), labels=LABELS, top_k=1, windows=one)
    assert top1.labels == (LABELS[1],) and top1.probs.dtype == np.float64  # top_k 1 is valid; float32 comes in


def test_vectorised_ranking_keeps_model_order_among_many_tied_classes():
    from actionrec.results import predictions_from_probs

    labels = tuple(f"c{i}" for i in range(400))  # as many classes as Kinetics-400: numpy's default sort is unstable
    levels = np.random.default_rng(0).integers(0, 3, (4, 400)).astype(np.float64)
    probs = levels / levels.sum(axis=1, keepdims=True)
    windows = [{"window_index": w, "start_s": float(w), "end_s": w + 1.0} for w in range(4)]
    fast = predictions_from_probs(probs, labels=labels, top_k=8, windows=windows)
    for w, p in enumerate(fast):
        assert p.class_ids == tuple(int(i) for i in np.argsort(-probs[w], kind="stable")[:8])
        assert list(p.class_ids) == sorted(p.class_ids)  # ties all: the lowest class ids of the best level


def test_smoothing_over_one_window_is_the_identity_and_long_float32_input_keeps_its_precision():
    probs = np.random.default_rng(5).dirichlet(np.ones(4), size=50)
    assert smooth_probs(probs, 1).tobytes() == probs.tobytes()  # unchanged to the bit, not a running sum's rounding
    long = np.random.default_rng(6).dirichlet(np.ones(4), size=20_000).astype(np.float32)
    smoothed = smooth_probs(long, 5)
    direct = np.stack([long[max(0, i - 2) : i + 3].astype(np.float64).mean(axis=0) for i in range(len(long))])
    assert smoothed.dtype == np.float64
    np.testing.assert_allclose(smoothed, direct, atol=1e-9)  # a float32 running sum drifts by ~1e-4 here
