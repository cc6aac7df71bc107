"""Which frames mattered: :func:`explain` a window of a video, and write it as a PNG and a JSON.

The embeddings come from the embedding cache when it holds the video (no encoder runs), else
from one encoder pass, stored in the cache for next time; only the decoder runs for the
occlusions (:mod:`actionrec.insight.occlusion`).

Example:
    >>> models = compile_models(resolve_model())                         # doctest: +SKIP
    >>> explanation = explain("clip.mp4", models=models, at_s=2.0)       # doctest: +SKIP
    >>> write_explanation(explanation, "data/out", source="clip.mp4")    # doctest: +SKIP
    {'png': PosixPath('data/out/clip.explain.png'), 'json': PosixPath('data/out/clip.explain.json')}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..errors import ExportError
from ..models.runtime import ActionModels
from ..pipeline.cache import EmbeddingCache
from ..pipeline.encoded import EncodedVideo
from ..pipeline.files import Recognizer
from ..pipeline.options import RecognizerOptions
from ..video.open import SourceLike, open_video
from .occlusion import explain_video, explain_window
from .picture import draw_explanation, write_png
from .report import Explanation

THUMB_PX = 96


def load_or_encode(
    recognizer: Recognizer,
    source: SourceLike,
    *,
    cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> tuple[EncodedVideo, bool]:
    """The embeddings of ``source`` on ``recognizer``'s grid: from the cache when it has them.

    Args:
        recognizer: its models and grid key the cache entry (as :meth:`Recognizer.analyze` does).
        source: a local file is cached; other sources are encoded each time.
        cache: read and write the embedding cache.
        cache_dir: the cache's folder (default ``data/cache/``).
        progress: show the encoder's progress bar.

    Returns:
        ``(encoded, from_cache)``.

    Raises:
        VideoOpenError, VideoDecodeError, ModelOutputError: as :meth:`Recognizer.encode`.
        ExportError: the cache cannot be written.
    """
    store = (
        EmbeddingCache.for_source(source, models=recognizer.models, grid=recognizer.grid, cache_dir=cache_dir)
        if cache
        else None
    )
    known = store.load() if store is not None else None
    if known is not None and not known.missing_for(recognizer.grid):
        return known, True
    encoded = recognizer.encode(source, progress=progress, known=known)
    if store is not None and not encoded.truncated:
        store.save(encoded)
    return encoded, False


def explain(
    source: SourceLike,
    *,
    models: ActionModels,
    at_s: float,
    options: RecognizerOptions | None = None,
    cache: bool = True,
    top_n: int = 5,
    min_gap_s: float = 0.5,
    progress: bool = False,
) -> Explanation:
    """Which time steps of the window at ``at_s`` its top class depends on, and the video's key moments.

    Args:
        source: the video (a local file's embeddings are cached).
        models: the compiled models.
        at_s: the time to explain, in seconds of the source.
        options: window and stride (default :class:`~actionrec.pipeline.RecognizerOptions`).
        cache: use the embedding cache (no encoder runs when it holds the video).
        top_n: moments listed over the whole video.
        min_gap_s: least time between two listed moments.
        progress: show the encoder's progress bar.

    Returns:
        The window's per-sample drops (mean and neighbour baselines) and the video's moments.

    Raises:
        OutsideClipError: ``at_s`` lies outside the clip (the message gives its span).
        ClipTooShortError: the clip holds no complete window.
        VideoOpenError, VideoDecodeError, ModelOutputError: the source or models do not work.
    """
    recognizer = Recognizer(models, options=options)
    encoded, cached = load_or_encode(recognizer, source, cache=cache, progress=progress)
    window = explain_window(models, encoded, grid=recognizer.grid, at_s=float(at_s))
    video = explain_video(models, encoded, grid=recognizer.grid, top_n=top_n, min_gap_s=min_gap_s)
    return Explanation(
        window=window,
        video=video,
        at_s=float(at_s),
        model=models.model,
        precision=models.precision,
        device=models.device,
        decoder_device=models.decoder_device,
        embeddings_cached=cached,
        crop_xywh=encoded.crop_xywh,
    )


def window_thumbnails(
    source: SourceLike,
    frame_indices: tuple[int, ...],
    *,
    crop_xywh: tuple[int, int, int, int] | None,
    size_px: int = THUMB_PX,
) -> list[np.ndarray]:
    """The frames of ``frame_indices`` (in that order, repeats allowed), cropped and square, in one pass.

    Raises:
        VideoOpenError: the source cannot be opened again, or ends before a frame.
    """
    import cv2

    from ..errors import VideoOpenError

    wanted = set(frame_indices)
    found: dict[int, np.ndarray] = {}
    with open_video(source, progress=False) as video:
        for frame in video:
            if frame.index in wanted:
                image = frame.image_bgr
                if crop_xywh is not None:
                    x, y, w, h = crop_xywh
                    image = image[y : y + h, x : x + w]
                found[frame.index] = cv2.resize(image, (size_px, size_px), interpolation=cv2.INTER_AREA)
            if len(found) == len(wanted) or frame.index > max(wanted):
                break
    missing = sorted(wanted - found.keys())
    if missing:
        raise VideoOpenError(f"{source}: frames {missing[:4]} could not be read again for the thumbnails")
    return [found[i] for i in frame_indices]


def write_explanation(
    explanation: Explanation, out_dir: str | os.PathLike[str], *, source: SourceLike, stem: str | None = None
) -> dict[str, Path]:
    """``STEM.explain.png`` (thumbnails, drops, the video's moments) and ``STEM.explain.json``, atomically.

    Args:
        explanation: from :func:`explain`.
        out_dir: the folder (created when needed).
        source: the video again, for the thumbnails.
        stem: file name stem (default: the source's).

    Returns:
        ``{"png": path, "json": path}``.

    Raises:
        ExportError: a file cannot be written.
        VideoOpenError: the source cannot be read again for the thumbnails.
    """
    out = Path(out_dir)
    stem = stem or Path(str(explanation.window.source)).stem or "video"
    thumbs = window_thumbnails(source, explanation.window.frame_indices, crop_xywh=explanation.crop_xywh)
    png = write_png(draw_explanation(explanation, thumbs), out / f"{stem}.explain.png")
    path = out / f"{stem}.explain.json"
    try:
        text = json.dumps(explanation.to_dict(), indent=1)
    except (TypeError, ValueError) as exc:  # pragma: no cover - every field is JSON-able
        raise ExportError(f"the explanation is not JSON-able: {exc}") from None
    with atomic_write(path, "w") as f:
        f.write(text + "\n")
    return {"png": png, "json": path}


def explanation_figure(explanation: Explanation, *, source: SourceLike) -> Any:
    """The PNG picture of :func:`write_explanation` as a BGR array (for a notebook or a report)."""
    thumbs = window_thumbnails(source, explanation.window.frame_indices, crop_xywh=explanation.crop_xywh)
    return draw_explanation(explanation, thumbs)
