"""Insight: which frames mattered, and how two configurations compare (``docs/explain.md``).

- :mod:`~actionrec.insight.report` and :mod:`~actionrec.insight.comparison`: the results
  (:class:`Explanation`, :class:`Comparison`...)
- :mod:`~actionrec.insight.occlusion`: occlusion of time steps (only the decoder runs)
- :mod:`~actionrec.insight.explain`: :func:`explain` a video at a time, :func:`write_explanation`
- :mod:`~actionrec.insight.compare`: :func:`compare` configurations, each in its own process
  (:mod:`~actionrec.insight.worker`)
- :mod:`~actionrec.insight.picture`: the PNG pictures (OpenCV)
"""

from .compare import agreement, compare, spearman, write_comparison
from .comparison import COMPARE_SCHEMA_ID, Agreement, CompareConfig, Comparison, ConfigRun
from .explain import explain, explanation_figure, load_or_encode, write_explanation
from .occlusion import explain_video, explain_window, occluded, window_at
from .picture import draw_comparison, draw_explanation, write_png
from .report import (
    EXPLAIN_SCHEMA_ID,
    Explanation,
    Moment,
    VideoExplanation,
    WindowExplanation,
)

__all__ = [
    "COMPARE_SCHEMA_ID",
    "EXPLAIN_SCHEMA_ID",
    "Agreement",
    "CompareConfig",
    "Comparison",
    "ConfigRun",
    "Explanation",
    "Moment",
    "VideoExplanation",
    "WindowExplanation",
    "agreement",
    "compare",
    "draw_comparison",
    "draw_explanation",
    "explain",
    "explain_video",
    "explain_window",
    "explanation_figure",
    "load_or_encode",
    "occluded",
    "spearman",
    "window_at",
    "write_comparison",
    "write_explanation",
    "write_png",
]
