"""Synthetic timelines for the view, report and widget tests (no model needed).

Labels change in runs of a few windows, with a few uncertain windows in between, so a timeline
has certain and uncertain segments of several labels; scores are a softmax of seeded logits, so
every window's top-k differs.
"""

from __future__ import annotations

import numpy as np

from actionrec.results import Prediction, Timeline

LABELS = ("arm wrestling", "clapping", "juggling balls", "yawning", "tickling", "waving hand", "dancing", "reading")


def synthetic_timeline(
    n_windows: int = 20,
    *,
    stride_s: float = 0.5,
    window_s: float = 1.0,
    top_k: int = 5,
    run: int = 4,
    seed: int = 0,
    labels: tuple[str, ...] = LABELS,
    source: str = "synthetic.mp4",
    head: str = "",
) -> Timeline:
    """``n_windows`` windows ``stride_s`` apart; the top-1 label changes every ``run`` windows."""
    rng = np.random.default_rng(seed)
    preds = []
    for i in range(n_windows):
        logits = rng.normal(0.0, 0.6, len(labels))
        if (i // run) % 5 != 4:  # one run in five stays flat (uncertain at a threshold of 0.3)
            logits[(i // run) % len(labels)] += 3.0
        preds.append(
            Prediction.from_logits(
                logits,
                labels=labels,
                top_k=top_k,
                window_index=i,
                start_s=i * stride_s,
                end_s=i * stride_s + window_s,
                coverage_s=window_s,
            )
        )
    return Timeline(
        source=source,
        labels=tuple(labels),
        predictions=tuple(preds),
        window_s=window_s,
        stride_s=stride_s,
        step_s=window_s / 16,
        clip_len=16,
        top_k=top_k,
        model="action-recognition-0001",
        precision="FP16",
        device="CPU",
        duration_s=(n_windows - 1) * stride_s + window_s,
        head=head,
    )


def assert_same_timeline(a: Timeline, b: Timeline) -> None:
    """``b`` is ``a`` (the unsplit local run): windows, labels and segments identical, scores within float tolerance."""
    assert (b.source, b.labels, b.frames_decoded, b.duration_s) == (a.source, a.labels, a.frames_decoded, a.duration_s)
    rows = [(p.window_index, p.start_s, p.end_s, p.labels, p.coverage_s, p.duplicated) for p in a.predictions]
    assert [(p.window_index, p.start_s, p.end_s, p.labels, p.coverage_s, p.duplicated) for p in b.predictions] == rows
    np.testing.assert_allclose([p.scores for p in b.predictions], [p.scores for p in a.predictions], atol=1e-6)
    assert [(s.label, s.start_s, s.end_s, s.windows) for s in b.segments()] == [
        (s.label, s.start_s, s.end_s, s.windows) for s in a.segments()
    ]
