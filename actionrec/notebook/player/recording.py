"""The live player's ``record=`` option: where sessions go, and the timeline of what was shown.

The recording itself (the video encoded off the event loop's thread, the files written
atomically) is :class:`~actionrec.export.recording.SessionRecorder`; this module checks the
player's ``record=`` argument (:func:`record_folder`), opens a recorder for one playback
(:func:`open_recorder`) and hands it the windows the playback showed, as the
:class:`~actionrec.results.Timeline` a file analysis gives (:func:`session_timeline`,
:func:`finish_recording`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ...results import Prediction, Timeline
from ...settings import data_dir, resolve_path

if TYPE_CHECKING:
    from ...export.recording import Recording, SessionRecorder
    from ...heads.events import ActionEvent
    from .report import PlaybackSettings

RECORDINGS_DIR = ("out", "recordings")  # record=True: data/out/recordings/ (AR_DATA_DIR moves data/)


def record_folder(record: str | os.PathLike[str] | bool | None) -> Path | None:
    """The folder sessions are recorded in, checked before any playback.

    Args:
        record: a folder (relative paths resolve against the repository, like the other data
            folders); ``True`` for ``data/out/recordings/``; ``None`` or ``False`` to record nothing.

    Returns:
        The absolute folder (not created yet: a session that shows no frame writes nothing), or
        ``None``.

    Raises:
        TypeError: ``record`` is not a path, a bool or ``None``.
        ValueError: ``record`` is empty, or names an existing file, or a folder that cannot be
            created or written (the message says which part is in the way).
    """
    if record is None or record is False:
        return None
    if record is True:
        return data_dir(*RECORDINGS_DIR).absolute()
    if not isinstance(record, (str, os.PathLike)):
        raise TypeError(
            f"LivePlayer record= takes a folder (str or Path), True for data/out/recordings, or None; "
            f"got {type(record).__name__} {record!r}"
        )
    if not os.fspath(record).strip():
        raise ValueError("LivePlayer record='' is empty: give a folder, True for data/out/recordings, or None")
    folder = resolve_path(record).absolute()
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing == folder and not folder.is_dir():
        raise ValueError(f"LivePlayer record={os.fspath(record)!r}: {folder} is a file, not a folder; choose a folder")
    if existing is not None and not existing.is_dir():
        raise ValueError(
            f"LivePlayer record={os.fspath(record)!r}: {existing} is a file, so {folder} cannot be created; "
            "choose another folder"
        )
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(
            f"LivePlayer record={os.fspath(record)!r}: {existing} is not writable; "
            "choose another folder or fix its permissions"
        )
    return folder


def session_timeline(
    predictions: Sequence[Prediction],
    *,
    source: str,
    labels: Sequence[str],
    settings: PlaybackSettings,
    frames_decoded: int,
    duration_s: float,
) -> Timeline:
    """The windows a playback showed, as the :class:`~actionrec.results.Timeline` a file analysis gives.

    Args:
        predictions: the windows, in order (``PlayerReport.predictions``), unchanged.
        source: what was played.
        labels: the recognizer's classes (the head's, when it has one).
        settings: the playback's settings (window, stride, top-k, smoothing, models, head).
        frames_decoded: source frames read.
        duration_s: source time from the first frame read to the last.
    """
    grid, options, models, head = settings.grid, settings.options, settings.models, settings.head
    return Timeline(
        source=source,
        labels=tuple(labels),
        predictions=tuple(predictions),
        window_s=grid.window_s,
        stride_s=grid.stride_s,
        step_s=grid.step_s,
        clip_len=grid.clip_len,
        top_k=options.top_k,
        model=models.model,
        precision=models.precision,
        device=models.device,
        decoder_device=models.decoder_device,
        smoothing=options.smoothing,
        frames_decoded=frames_decoded,
        duration_s=max(0.0, duration_s),
        head=head.name if head is not None else "",
    )


def open_recorder(settings: PlaybackSettings, *, source: str, step_s: float | None) -> SessionRecorder:
    """A recorder for one playback of ``source`` into ``settings.record`` (nothing is written yet).

    Args:
        settings: the playback's settings (``record`` must be set).
        source: what is played (names the session folder and its files).
        step_s: the source's frame interval, when known (the video's nominal rate).
    """
    from ...export.recording import SessionRecorder

    if settings.record is None:
        raise ValueError("open_recorder needs PlaybackSettings.record: the folder to record in")
    fps = 1.0 / step_s if step_s else None
    return SessionRecorder(settings.record, source=source, fps=fps, queue_mb=settings.record_queue_mb)


def finish_recording(
    recorder: SessionRecorder,
    predictions: Sequence[Prediction],
    *,
    source: str,
    labels: Sequence[str],
    settings: PlaybackSettings,
    frames_decoded: int,
    duration_s: float,
    events: Sequence[ActionEvent] | None,
    stopped_by: str,
) -> Recording:
    """Close ``recorder``'s video and write the windows shown beside it (see :func:`session_timeline`).

    Args:
        recorder: the playback's recorder.
        predictions: the windows shown, in order.
        source: what was played.
        labels: the recognizer's classes.
        settings: the playback's settings.
        frames_decoded: source frames read.
        duration_s: source time from the first frame read to the last.
        events: the playback's action events (``None``: it had no rules).
        stopped_by: why it ended (stored in the JSON's ``"extra"``).
    """
    timeline = session_timeline(
        predictions,
        source=source,
        labels=labels,
        settings=settings,
        frames_decoded=frames_decoded,
        duration_s=duration_s,
    )
    return recorder.finish(timeline, events=events, threshold=settings.threshold, extra={"stopped_by": stopped_by})
