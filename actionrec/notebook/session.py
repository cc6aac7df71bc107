"""The notebook's walk-through steps as plain functions: each cell calls one or two of them.

Nothing here keeps state between calls: every function takes what it needs (a path, the compiled
models) and returns a value the next cell passes on, so any cell can be re-run on its own and
"Run All" twice gives the same result. The engine does the work (:mod:`actionrec.pipeline.sampling`,
:mod:`actionrec.pipeline.preprocess`, :mod:`actionrec.pipeline`, :mod:`actionrec.export`); these functions
only cut it into the pieces the tutorial shows one at a time.

Example:
    >>> clip = clip_for(None)                                     # doctest: +SKIP
    >>> window = sample_window(clip, models=models, start_s=2.0)  # doctest: +SKIP
    >>> embeddings = encode_window(models, window)                # doctest: +SKIP
    >>> decode_window(models, embeddings, window=window).label    # doctest: +SKIP
    'arm wrestling'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import settings
from ..errors import ClipTooShortError, VideoOpenError
from ..pipeline.options import RecognizerOptions
from ..results import UNCERTAIN, Prediction, Timeline

VIDEO_FORMATS = ("json", "csv", "vtt", "mp4")


def clip_for(
    video: str | os.PathLike[str] | int | None,
    *,
    data_base_url: str | None = None,
    progress: bool = True,
    max_download_mb: float | None = None,
) -> Path:
    """The video file the walk-through analyses (always a local file).

    ``video`` is resolved as :func:`actionrec.video.open_video` resolves it
    (:func:`actionrec.video.resolve_source`), so the notebook and the engine agree on what a path
    means and where a URL is downloaded.

    Args:
        video: ``AR_VIDEO``: a path (relative to the current folder or the project), an http(s)
            URL (downloaded once into ``data/downloads/``), a camera index, or ``None``.
        data_base_url: mirror for the pinned sample clip (``AR_DATA_BASE_URL``).
        progress: show download progress bars.
        max_download_mb: a URL's download limit in megabytes, counted on the bytes received
            (default ``AR_MAX_DOWNLOAD_MB``, else the upload limit ``AR_MAX_UPLOAD_MB``, 2 GB).

    Returns:
        The file: ``video`` itself, its download, or, for ``None`` and camera indices (the live
        section uses the camera), the verified "arm wrestling" sample clip.

    Raises:
        VideoOpenError: the path does not exist or is not a file, or the URL cannot be downloaded
            (including a download over the limit, or too little free disk space).
        DownloadError: the sample clip cannot be downloaded or fails verification.
    """
    from ..download import DEFAULT_RETRIES
    from ..redact import redact_url
    from ..video.open import resolve_source

    text = str(video).strip() if video is not None else ""
    shown = redact_url(text)  # a URL's credentials and query never reach the notebook's output
    if not text or text.isdigit():
        from ..models.files import fetch_sample

        return fetch_sample(data_base_url=data_base_url, progress=progress)
    fix = "set AR_VIDEO to a video file path, an http(s) URL or a camera index, or unset it to use the sample clip"
    try:
        found = resolve_source(text, fetch=False)
    except VideoOpenError as exc:
        raise VideoOpenError(f"AR_VIDEO={shown!r} is not a file: {exc}; {fix}") from exc
    if found.kind == "url":
        try:
            found = resolve_source(
                text, progress=progress, download_retries=DEFAULT_RETRIES, max_download_mb=max_download_mb
            )
        except VideoOpenError as exc:
            raise VideoOpenError(f"AR_VIDEO={shown!r} could not be downloaded: {exc}") from exc
    if found.kind != "file" or not isinstance(found.value, Path):
        raise VideoOpenError(f"AR_VIDEO={shown!r} is a {found.kind} ({found.display}), not a video file; {fix}")
    return found.value


def video_summary(path: str | os.PathLike[str]) -> str:
    """One line about a video file: size, frame rate, duration.

    Raises:
        VideoOpenError, VideoDecodeError: the file is not a readable video.
    """
    from ..video.open import open_video

    with open_video(path, progress=False) as video:
        info = video.info
    w, h = info.size_wh
    fps = f"{info.fps:.2f} frames/s" if info.fps else "frame rate not stored"
    length = f"{info.duration_s:.2f} s" if info.duration_s else "length not stored"
    frames = f", {info.frame_count} frames" if info.frame_count else ""
    return f"{Path(path).name}: {w}×{h} px, {fps}, {length}{frames}"


def read_frame(path: str | os.PathLike[str], *, at_s: float = 0.0) -> Any:
    """The first frame at or after ``at_s`` seconds (the last frame of a shorter clip).

    Returns:
        An :class:`actionrec.video.Frame` (``image_bgr``, ``index``, ``timestamp_s``).

    Raises:
        VideoOpenError, VideoDecodeError: the file is not a readable video.
    """
    return read_frames(path, at_s=[at_s])[0]


def read_frames(path: str | os.PathLike[str], *, at_s: Sequence[float]) -> list[Any]:
    """:func:`read_frame` at each time of ``at_s``, in one pass over the file (any order of times).

    Raises:
        VideoOpenError, VideoDecodeError: the file is not a readable video.
    """
    from ..video.open import open_video

    order = sorted(range(len(at_s)), key=lambda i: at_s[i])
    found: list[Any] = [None] * len(at_s)
    frame, n = None, 0
    with open_video(path, progress=False) as video:
        for frame in video:
            while n < len(order) and frame.timestamp_s >= at_s[order[n]] - 1e-9:
                found[order[n]] = frame
                n += 1
            if n == len(order):
                break
    if frame is None:
        raise VideoOpenError(f"{path} holds no frame")
    return [f if f is not None else frame for f in found]


@dataclass(frozen=True)
class WindowSamples:
    """The ``clip_len`` grid samples of one window, exactly as the engine samples them.

    Attributes:
        window_index: the window's index in the file's timeline (same grid, same stride).
        frames: the chosen source frames, in time order.
        grid_times_s: the grid time each sample stands for.
        duplicated: sample ``k`` reuses the previous sample's frame (source slower than the grid).
        crop_xywh: the model crop in source pixels.
        start_s, end_s: the window's span (first grid time, last grid time + one step).
    """

    window_index: int
    frames: tuple[Any, ...]
    grid_times_s: tuple[float, ...]
    duplicated: tuple[bool, ...]
    crop_xywh: tuple[int, int, int, int]
    start_s: float
    end_s: float

    @property
    def times_s(self) -> tuple[float, ...]:
        """Timestamps of the chosen frames."""
        return tuple(f.timestamp_s for f in self.frames)

    @property
    def coverage_s(self) -> float:
        """Video time really covered: last frame − first frame + one grid step."""
        step = (self.end_s - self.start_s) / len(self.frames)
        return self.times_s[-1] - self.times_s[0] + step


def sample_window(
    path: str | os.PathLike[str],
    *,
    models: Any,
    start_s: float,
    options: RecognizerOptions | None = None,
) -> WindowSamples:
    """Sample the window of the file's timeline that starts nearest to ``start_s``.

    Uses the engine's grid (:class:`actionrec.pipeline.GridSampler`): samples every
    ``window_s / clip_len`` seconds from the first frame, each taking the nearest frame. A clip too
    short for a window starting at ``start_s`` gives its last complete window instead.

    Args:
        path: the video file.
        models: the compiled models (``clip_len`` and the input size are read from them).
        start_s: where the wanted window starts (rounded to the nearest window of the timeline).
        options: window and stride, as for the file analysis; default :class:`RecognizerOptions`.

    Raises:
        ClipTooShortError: the clip is shorter than one window.
    """
    from ..pipeline.preprocess import crop_rect

    options = options if options is not None else RecognizerOptions()
    grid = options.grid(clip_len=models.clip_len)
    wanted = max(0, round(start_s / grid.stride_s))
    samples, total, t0 = _grid_samples(path, grid, grid.window_samples(wanted))
    if len(samples) < grid.clip_len:
        last = grid.count_windows(total) - 1
        if last < 0:
            raise ClipTooShortError(
                f"{path} gives {total} grid samples but one window needs {grid.clip_len} "
                f"({options.window_s} s); use a longer clip"
            )
        wanted = last
        samples, total, t0 = _grid_samples(path, grid, grid.window_samples(wanted))
    first = samples[0]
    size_wh = (first.frame.image_bgr.shape[1], first.frame.image_bgr.shape[0])
    start, end = grid.window_span(wanted, t0)
    return WindowSamples(
        window_index=wanted,
        frames=tuple(s.frame for s in samples),
        grid_times_s=tuple(s.grid_time_s for s in samples),
        duplicated=tuple(bool(s.duplicated) for s in samples),
        crop_xywh=crop_rect(size_wh, input_hw=models.input_size_hw),
        start_s=start,
        end_s=end,
    )


def _grid_samples(path: str | os.PathLike[str], grid: Any, ks: range) -> tuple[list[Any], int, float]:
    """The samples ``ks`` of ``path`` on ``grid``; also how many samples the file gave, and t0."""
    from ..pipeline.sampling import GridSampler
    from ..video.open import open_video

    sampler: GridSampler[Any] = GridSampler(step_s=grid.step_s)
    chosen, count = [], 0
    with open_video(path, progress=False) as video:
        for frame in video:
            for s in sampler.push(frame):
                count += 1
                if s.k in ks:
                    chosen.append(s)
            if count > ks[-1]:
                break
    return chosen, count, float(sampler.t0 or 0.0)


def encode_window(models: Any, window: WindowSamples) -> np.ndarray:
    """Run the encoder on each sampled frame: ``[clip_len, embedding_dim]`` float32, in frame order.

    Each frame is preprocessed as the encoder expects (BGR, 0..255, short side resized, centre
    crop; :func:`actionrec.pipeline.preprocess`). The frames go through the plugin's optimal
    number of requests at once (2 on a 2-core CPU with the throughput hint: about half the time of
    one request after another); the rows are put back in frame order.
    """
    from ..pipeline.jobs import InferJobs
    from ..pipeline.preprocess import preprocess

    rows: dict[int, np.ndarray] = {}

    def done(request: Any, index: int) -> None:
        rows[index] = np.array(request.get_output_tensor(0).data, dtype=np.float32).reshape(-1)

    jobs = InferJobs(models.encoder, max(1, min(len(window.frames), models.optimal_requests())), done)
    for index, frame in enumerate(window.frames):
        jobs.start_async({0: preprocess(frame.image_bgr, input_hw=models.input_size_hw).tensor}, index)
    jobs.wait_all()
    return np.stack([rows[i] for i in range(len(window.frames))])


def decode_window(models: Any, embeddings: np.ndarray, *, window: WindowSamples, top_k: int = 5) -> Prediction:
    """Run the decoder on one window's embeddings and keep the ``top_k`` classes.

    Raises:
        ValueError: ``embeddings`` is not ``[clip_len, embedding_dim]``.
    """
    expected = (models.clip_len, models.embedding_dim)
    if tuple(embeddings.shape) != expected:
        raise ValueError(f"embeddings must have shape {expected} (one row per sample), got {embeddings.shape}")
    logits = models.decoder.create_infer_request().infer({0: embeddings[None]})[0]
    return Prediction.from_logits(
        np.asarray(logits),
        labels=models.labels,
        top_k=top_k,
        window_index=window.window_index,
        start_s=window.start_s,
        end_s=window.end_s,
        coverage_s=window.coverage_s,
        duplicated=sum(window.duplicated[1:]),
    )


def describe_timeline(timeline: Timeline, *, threshold: float = 0.0, max_segments: int = 12) -> str:
    """What the analysis found, for people: the segments with their labels and times.

    Args:
        timeline: from :meth:`actionrec.pipeline.Recognizer.analyze`.
        threshold: top-1 probability below which a window is uncertain.
        max_segments: list at most this many segments (the longest are never dropped).
    """
    from ..render import format_time

    segments = timeline.segments(threshold=threshold)
    name = Path(str(timeline.source)).name
    lines = [
        f"{name}: {len(timeline)} windows of {timeline.window_s:g} s every {timeline.stride_s:g} s over "
        f"{timeline.duration_s:.2f} s ({timeline.frames_decoded} frames decoded)"
    ]
    if timeline.frames_corrupt or timeline.truncated:
        lines.append(f"  note: {timeline.frames_corrupt} corrupt frames skipped; truncated: {timeline.truncated}")
    shown = sorted(sorted(segments, key=lambda s: -s.duration_s)[:max_segments], key=lambda s: s.start_s)
    for seg in shown:
        said = UNCERTAIN if seg.uncertain else f"{seg.label}  ({seg.mean_score:.0%})"  # the state, not a class
        lines.append(f"  {format_time(seg.start_s)} – {format_time(seg.end_s)}  {said}")
    if len(shown) < len(segments):
        lines.append(f"  … and {len(segments) - len(shown)} shorter segments")
    top = timeline.top_segments(1, threshold=threshold)
    lines.append(f"Longest certain segment: {top[0].label}" if top else "No window reached the threshold.")
    return "\n".join(lines)


def export_all(
    timeline: Timeline,
    video: str | os.PathLike[str],
    *,
    out_dir: str | os.PathLike[str] | None = None,
    formats: Sequence[str] = VIDEO_FORMATS,
    threshold: float = 0.0,
    input_hw: tuple[int, int] = (224, 224),
) -> dict[str, Path]:
    """Write the timeline's JSON, CSV, WebVTT and the annotated H.264 video (atomically).

    Args:
        timeline: the analysed video.
        video: the same video again (its frames are drawn on for the annotated video).
        out_dir: destination (default ``data/out/``).
        formats: see :func:`actionrec.export.export_timeline`.
        threshold: top-1 probability below which windows are uncertain (no subtitle cue).
        input_hw: the encoder's input size, to outline the model crop.

    Returns:
        ``{format: path}``.

    Raises:
        ExportError: a file cannot be written; VideoOpenError: ``video`` cannot be read again.
    """
    from ..export.files import export_source

    folder = Path(out_dir) if out_dir is not None else settings.data_dir("out")
    return export_source(timeline, video, folder, formats=formats, input_hw=input_hw, threshold=threshold)


def describe_models(models: Any, files: Any = None) -> str:
    """Where the models came from and what was read from them."""
    lines = []
    if files is not None:
        how = "verified download (size + SHA-384)" if files.verified else "local folder, not hash-checked"
        lines += [
            f"encoder  {files.encoder_xml}",
            f"decoder  {files.decoder_xml}",
            f"labels   {files.labels_path}",
            f"source   {how}",
        ]
    h, w = models.input_size_hw
    lines.append(
        f"compiled {models.model} {models.precision} on {models.devices_text} ({models.hint}): encoder {w}×{h} BGR → "
        f"{models.embedding_dim} features; decoder {models.clip_len} × {models.embedding_dim} → "
        f"{models.num_classes} classes"
    )
    return "\n".join(lines)
