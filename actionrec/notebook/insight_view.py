"""The insight pictures (``actionrec.insight.picture``) as notebook outputs: PNG images IPython shows.

Example:
    >>> show_explanation(nu.explain(clip, models=models, at_s=2.0), source=clip)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from ..errors import ExportError
from ..insight.comparison import Comparison
from ..insight.explain import explanation_figure
from ..insight.picture import draw_comparison
from ..insight.report import Explanation


def _png(image_bgr: np.ndarray) -> Any:
    from IPython.display import Image

    ok, data = cv2.imencode(".png", image_bgr)
    if not ok:
        raise ExportError(f"OpenCV could not encode a {image_bgr.shape} image as PNG")
    return Image(data=data.tobytes(), format="png")


def show_explanation(explanation: Explanation, *, source: Any) -> Any:
    """The window's thumbnails with the drop of each time step under them, and the video's moments.

    Args:
        explanation: from :func:`actionrec.explain`.
        source: the video again (the thumbnails are read from it).

    Returns:
        An ``IPython.display.Image`` (PNG), the picture ``python -m actionrec explain`` writes.
    """
    return _png(explanation_figure(explanation, source=source))


def show_comparison(comparison: Comparison) -> Any:
    """The comparison's plot: per configuration, its windows' agreement with the reference, its speed and memory."""
    return _png(draw_comparison(comparison))
