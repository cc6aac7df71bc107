"""The interactive timeline in a notebook: the video with its lanes, synced (an anywidget).

:class:`TimelineWidget` shows the same component as the HTML report (``timeline_view.js`` from
:mod:`actionrec.export`): top-1 segments, further lanes (label groups, custom actions, events), a
cursor following the video, click/drag to seek, hover for a window's top-k, subtitles, keys.

How the video reaches the page, in order:

1. **Jupyter's file server**: the page tells the kernel the server's root (``serverRoot`` in
   ``#jupyter-config-data``); a file under it is loaded from ``{baseUrl}files/{path}``, after the
   page has checked that URL answers with the file's size.
2. **Through the kernel**: otherwise (a file outside the root, a remote kernel, a front end
   without a file server, a URL that does not answer) the kernel sends the bytes in chunks of
   custom messages with binary buffers; the page joins them into a ``Blob`` and plays its object URL.

What plays: the original when browsers play its codec (H.264/VP8/VP9/AV1 in MP4/WebM, probed
with PyAV), else the browser-playable copy given as ``playable`` (the annotated MP4), else an
H.264 copy transcoded on first need into ``data/cache/browser/``. The page's ``<video>`` error
event moves on to the next one too. The note beside the controls says which one plays and how.

*Save report* writes the HTML report (:func:`actionrec.export.write_report`) and shows a link.

Not split: the widget, its video hand-over (files URL, kernel chunks, fallbacks) and the report
button are one protocol with ``timeline_widget.js``; the pieces only make sense together.

Example::

    nu.TimelineWidget(timeline, video=clip, playable=paths["mp4"], lanes=[grouped], events=events)
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from .. import settings
from ..errors import ActionRecError
from ..export.browser import browser_playability, transcode_for_browser
from ..export.report import write_report
from ..export.view import view_assets, view_document

if TYPE_CHECKING:
    from ..heads.events import ActionEvent
    from ..results import Timeline

CHUNK_BYTES = 2 * 1024**2  # per kernel message: far below the websocket's limits, few messages
_GLUE = Path(__file__).with_name("timeline_widget.js")
_MIME = {".webm": "video/webm"}


def _esm_source() -> str:
    """The widget's ES module: the shared component, then the widget's render function."""
    js, _ = view_assets()
    return js + "\n" + _GLUE.read_text(encoding="utf-8")


class _Candidate:
    """One file the page may play: the original, the given playable copy, or a transcoded copy."""

    def __init__(self, kind: str, path: Path | None, note: str, make: Callable[[], Path] | None = None) -> None:
        self.kind, self.path, self.note, self.make = kind, path, note, make


class TimelineWidget(anywidget.AnyWidget):
    """The video with its action timeline; click, drag, hover, keys, subtitles, *Save report*.

    Args:
        timeline: the analysed video (the first lane).
        video: the file to play; default ``timeline.source`` when it is a local file.
        playable: a browser-playable copy of it (e.g. the annotated MP4 from ``export_all``),
            played when browsers cannot play ``video``.
        lanes: further timelines of the same video (label groups, custom actions).
        events: action events (a lane of their own).
        threshold: top-1 probability below which windows are uncertain (grey).
        report_dir: where *Save report* writes ``STEM.html`` (default ``data/out/``).
        transcode_dir: where an H.264 copy is made when nothing else plays (default
            ``data/cache/browser/``).

    Read-only traits: ``doc`` (the view document), ``playing`` (which file plays and how, as the
    note says), ``report_path`` (the last report saved).

    Raises:
        ValueError: a bad ``threshold`` or a lane of another video.
        FileNotFoundError: ``video`` or ``playable`` is given but is not a file.
    """

    _esm = _esm_source()
    _css = view_assets()[1]
    doc = traitlets.Dict().tag(sync=True)
    playing = traitlets.Unicode("").tag(sync=True)
    report_path = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        timeline: Timeline,
        *,
        video: str | os.PathLike[str] | None = None,
        playable: str | os.PathLike[str] | None = None,
        lanes: Sequence[Timeline] = (),
        events: Sequence[ActionEvent] = (),
        threshold: float = 0.0,
        report_dir: str | os.PathLike[str] | None = None,
        transcode_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        doc = view_document(timeline, lanes=lanes, events=events, threshold=threshold)
        super().__init__(doc=doc)
        self._timeline, self._lanes, self._events, self._threshold = timeline, tuple(lanes), tuple(events), threshold
        self._report_dir = Path(report_dir) if report_dir is not None else settings.data_dir("out")
        self._transcode_dir = (
            Path(transcode_dir) if transcode_dir is not None else settings.data_dir("cache", "browser")
        )
        if video is None and timeline.source and "://" not in timeline.source and Path(timeline.source).is_file():
            video = timeline.source
        for name, value in (("video", video), ("playable", playable)):
            if value is not None and not Path(value).is_file():
                raise FileNotFoundError(f"{name}={os.fspath(value)!r} is not a file; pass an existing video or None")
        self._video = Path(video).resolve() if video is not None else None
        self._playable = Path(playable).resolve() if playable is not None else None
        self._lock = threading.Lock()
        self._candidates: list[_Candidate] | None = None  # probed on the first page's hello, not here
        self._tried = 0  # candidates the page failed to play
        self._server_root: Path | None = None
        self.on_msg(self._on_page_msg)

    # -- what plays ------------------------------------------------------------------------------

    def _make_candidates(self) -> list[_Candidate]:
        out: list[_Candidate] = []
        if self._video is None:
            if self._playable is not None:
                out.append(_Candidate("playable", self._playable, f"playing {self._playable.name}"))
            return out
        probe = browser_playability(self._video)
        why = f"the original {self._video.name} does not play in browsers ({probe.reason})"
        if probe.playable:
            out.append(_Candidate("original", self._video, f"playing {self._video.name}"))
            why = f"the browser could not play the original {self._video.name}"
        if self._playable is not None:
            out.append(_Candidate("playable", self._playable, f"playing {self._playable.name}: {why}"))
        target = self._transcode_dir / f"{self._video.stem}-{self._file_key(self._video)}.mp4"
        out.append(
            _Candidate(
                "transcoded",
                None,
                f"playing an H.264 copy made for the browser ({target.name}): {why}",
                lambda: target if target.is_file() else transcode_for_browser(self._video, target),
            )
        )
        return out

    @staticmethod
    def _file_key(path: Path) -> str:
        st = path.stat()
        return hashlib.sha256(f"{path}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:12]

    def _current(self) -> _Candidate | None:
        with self._lock:
            if self._candidates is None:
                self._candidates = self._make_candidates()
            return self._candidates[self._tried] if self._tried < len(self._candidates) else None

    # -- messages from the page --------------------------------------------------------------------

    def _on_page_msg(self, _widget: Any, content: dict, _buffers: list) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        view = str(content.get("view", "")) if isinstance(content, dict) else ""
        if kind == "hello":
            root = str(content.get("server_root") or "")
            page = str(content.get("page_path") or "")
            self._server_root = Path(os.path.expanduser(root)).resolve() if root else _root_from_page(page, Path.cwd())
            self._start(self._offer, view)
        elif kind == "need-bytes":
            self._start(self._send_bytes, view)
        elif kind == "video-error":
            with self._lock:
                if content.get("attempt") == self._tried:  # once per failed file, whatever the views
                    self._tried += 1
            self._start(self._offer, view)
        elif kind == "save-report":
            self._start(self._save_report, view)

    @staticmethod
    def _start(fn: Callable[[str], None], view: str) -> None:
        # Handlers stay tiny (they may run on a kernel subshell thread): the work runs in a thread.
        threading.Thread(target=fn, args=(view,), daemon=True, name="timeline-widget").start()

    def _offer(self, view: str) -> None:
        candidate = self._current()
        attempt = self._tried
        if candidate is None:
            note = (
                "no video: the timeline only"
                if self._video is None and self._playable is None
                else ("the browser could play none of the videos (original, annotated copy, H.264 copy)")
            )
            self.playing = note
            self.send({"type": "source", "view": view, "mode": "none", "note": note, "attempt": attempt})
            return
        if candidate.path is None and candidate.make is not None:
            self.send({"type": "status", "view": view, "note": "making an H.264 copy for the browser…"})
            try:
                candidate.path = candidate.make()
            except (ActionRecError, OSError, ValueError) as exc:  # shown on the page: no cell to raise into
                self.send({"type": "status", "view": view, "note": f"cannot make a browser copy: {exc}"})
                return
        path = candidate.path
        rel = self._relative(path)
        mime = _MIME.get(path.suffix.lower(), "video/mp4")
        size = path.stat().st_size
        base = {"type": "source", "view": view, "note": candidate.note, "mime": mime, "size": size}
        base |= {"name": path.name, "attempt": attempt, "kind": candidate.kind}
        if rel is not None:
            self.playing = f"{candidate.note} (from the Jupyter file server)"
            self.send(base | {"mode": "files", "path": rel})
        else:
            self._send_bytes(view)

    def _relative(self, path: Path) -> str | None:  # the page checks the URL answers before using it
        if self._server_root is None:
            return None
        try:
            return path.resolve().relative_to(self._server_root).as_posix()
        except ValueError:
            return None

    def _send_bytes(self, view: str) -> None:
        candidate = self._current()
        if candidate is None or candidate.path is None:
            return
        path, attempt = candidate.path, self._tried
        size = path.stat().st_size
        mime = _MIME.get(path.suffix.lower(), "video/mp4")
        self.playing = f"{candidate.note} (sent through the kernel)"
        transfer = uuid.uuid4().hex
        header = {"type": "source", "view": view, "mode": "kernel", "note": candidate.note, "mime": mime}
        self.send(header | {"size": size, "name": path.name, "attempt": attempt, "transfer": transfer})
        with path.open("rb") as f:
            offset = 0
            while True:
                chunk = f.read(CHUNK_BYTES)
                last = len(chunk) < CHUNK_BYTES or offset + len(chunk) >= size
                msg = {"type": "chunk", "view": view, "transfer": transfer, "offset": offset, "last": last}
                self.send(msg, [chunk])
                offset += len(chunk)
                if last:
                    return

    # -- the report ----------------------------------------------------------------------------------

    def save_report(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the HTML report of what this widget shows (what *Save report* does).

        Args:
            path: the ``.html`` file; default ``report_dir/STEM.html``.

        Returns:
            The report's path.
        """
        stem = Path(self._timeline.source.split("?", 1)[0]).stem or "timeline"
        target = Path(path) if path is not None else self._report_dir / f"{stem}.html"
        video = self._report_video()
        out = write_report(
            self._timeline, target, video=video, lanes=self._lanes, events=self._events, threshold=self._threshold
        )
        self.report_path = str(out.resolve())
        return out

    def _report_video(self) -> Path | None:
        candidate = self._current()
        if candidate is not None and candidate.path is not None:
            return candidate.path
        if self._video is not None and browser_playability(self._video).playable:
            return self._video
        return self._playable

    def _save_report(self, view: str) -> None:
        try:
            out = self.save_report()
        except (ActionRecError, OSError, ValueError) as exc:  # shown on the page: no cell to raise into
            self.send({"type": "report", "view": view, "error": f"{type(exc).__name__}: {exc}"})
            return
        self.send({"type": "report", "view": view, "path": str(out), "rel": self._relative(out) or ""})


def _root_from_page(page_path: str, cwd: Path) -> Path | None:
    """The server's root from the notebook's page path when the page does not state it (Notebook 7).

    A kernel starts in its notebook's folder: when ``cwd`` ends with the folders of ``page_path``
    (``DIR/NB.ipynb``), the root is what is left. ``None`` when they do not match (a remote kernel):
    the video then goes through the kernel.
    """
    if not page_path.endswith(".ipynb"):
        return None
    folders = PurePosixPath(page_path).parent.parts
    cwd = cwd.resolve()
    if folders and tuple(cwd.parts[-len(folders) :]) != folders:
        return None
    return cwd.parents[len(folders) - 1] if folders else cwd
