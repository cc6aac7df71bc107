"""The HTML report: one self-contained file with the video, its interactive timeline and tables.

:func:`write_report` writes a page that opens offline from disk (``file://``) and makes no
request of its own: the timeline component (``timeline_view.js`` / ``.css``) is inlined, the view
data (:func:`~actionrec.export.view.view_document`) sits in a ``<script type="application/json">``,
and a Content-Security-Policy allows no network source. The video is

- referenced by a relative path when it sits beside the report (or in a folder below it): move
  the folder, and the report still finds it;
- else embedded as a ``data:`` URI when it is at most ``embed_video_max_mb``;
- else referenced by its ``file://`` URI, with a note on the page saying so (the report then plays
  only on this machine, while the file stays there).

Example:
    >>> write_report(timeline, "data/out/clip.html", video="data/out/clip.annotated.mp4")  # doctest: +SKIP
    PosixPath('data/out/clip.html')
"""

from __future__ import annotations

import base64
import html
import json
import os
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..atomic import atomic_write
from ..errors import ExportError
from ..results import Timeline, describe_devices
from .view import view_assets, view_document

if TYPE_CHECKING:
    from ..heads.events import ActionEvent

EMBED_VIDEO_MAX_MB = 25.0  # a data: URI grows the file by 4/3; beyond this a reference is kinder
_MIME = {".webm": "video/webm", ".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/mp4", ".ogv": "video/ogg"}
# Inline scripts and styles only; media from disk or the page itself; nothing from a network.
_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "media-src file: data: blob:; img-src data: blob:"
)


def write_report(
    timeline: Timeline,
    path: str | os.PathLike[str],
    *,
    video: str | os.PathLike[str] | None = None,
    lanes: Sequence[Timeline] = (),
    events: Sequence[ActionEvent] = (),
    threshold: float = 0.0,
    embed_video_max_mb: float = EMBED_VIDEO_MAX_MB,
) -> Path:
    """Write the self-contained HTML report of ``timeline`` (atomically).

    Args:
        timeline: the analysed video.
        path: the ``.html`` file to write.
        video: the video the page plays (browser-playable: the annotated MP4, or an H.264/VP9
            original); ``None``: the timeline and tables only.
        lanes: further timelines of the same video (label groups, custom actions).
        events: action events, shown as a lane and a table.
        threshold: top-1 probability below which windows are uncertain (grey, no subtitle).
        embed_video_max_mb: a video outside the report's folder is embedded up to this size.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        FileNotFoundError: ``video`` is given but is not a file.
        ValueError: ``threshold`` is not in 0..1, or a lane is of another video.
        ExportError: the file cannot be written.
    """
    out = Path(path)
    doc = view_document(timeline, lanes=lanes, events=events, threshold=threshold)
    src, video_note = ("", "no video was given: the timeline and tables only")
    if video is not None:
        src, video_note = _video_source(Path(video), out.parent, embed_max_bytes=embed_video_max_mb * 1024**2)
    mime = _MIME.get(Path(video or "").suffix.lower(), "video/mp4")
    page = _page(doc, title=_title(timeline), src=src, mime=mime, note=video_note)
    with atomic_write(out, "w", newline="\n") as f:  # an OSError becomes an ExportError saying what to do
        f.write(page)
    return out


def _title(timeline: Timeline) -> str:
    name = Path(timeline.source.split("?", 1)[0]).name if timeline.source else ""
    return f"Actions in {name}" if name else "Actions"


def _video_source(video: Path, folder: Path, *, embed_max_bytes: float) -> tuple[str, str]:
    """``(src, note)`` for the ``<video>``: relative beside/below the report, else data: or file:."""
    if not video.is_file():
        raise FileNotFoundError(f"no video at {video}: pass the annotated MP4 (or a playable original), or video=None")
    size_mb = video.stat().st_size / 1024**2
    try:
        rel = video.resolve().relative_to(folder.resolve())
    except ValueError:
        rel = None
    if rel is not None:
        return urllib.parse.quote(rel.as_posix()), f"video: {rel.as_posix()} (beside the report, {size_mb:.1f} MB)"
    if video.stat().st_size <= embed_max_bytes:
        mime = _MIME.get(video.suffix.lower(), "video/mp4")
        data = base64.b64encode(video.read_bytes()).decode("ascii")
        return f"data:{mime};base64,{data}", f"video: {video.name}, embedded ({size_mb:.1f} MB)"
    uri = video.resolve().as_uri()
    return uri, (
        f"the video is not embedded ({size_mb:.1f} MB) and lies outside the report's folder: it plays from {uri} "
        "on this machine only; copy it beside the report (same name) to send both"
    )


def _json_for_script(doc: Any) -> str:
    # In a <script> element, only "</" and "<!--" could end it early: no "<" survives unescaped.
    text = json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _num(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}"


def _table(caption: str, header: Sequence[str], rows: Sequence[Sequence[str]], *, seek: Sequence[float] = ()) -> str:
    head = "".join(f"<th scope='col'>{html.escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        attr = f" data-seek-s='{seek[i]:.3f}' tabindex='0'" if i < len(seek) else ""
        body.append(f"<tr{attr}>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    return (
        f"<table><caption>{html.escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _settings_table(doc: dict[str, Any]) -> str:
    main = doc["lanes"][0]["timeline"]
    rows = [
        ("source", str(main["source"])),
        ("model", str(main["model"] or "?")),
        ("precision", str(main["precision"] or "?")),
        ("device", describe_devices(str(main["device"] or "?"), str(main.get("decoder_device") or ""))),
        ("classes", f"{main['head']['name']} ({main['num_classes']})"),
        ("window", f"{main['window_s']:g} s ({main['clip_len']} samples, {main['step_s'] * 1000:g} ms apart)"),
        ("stride", f"{main['stride_s']:g} s"),
        ("top-k", str(main["top_k"])),
        ("smoothing", f"{main['smoothing']} window(s)"),
        ("threshold", f"{doc['threshold']:g} (top-1 below it is uncertain)"),
        ("duration", f"{main['duration_s']:.2f} s, {len(main['windows'])} windows"),
        ("frames", f"{main['frames_decoded']} decoded, {main['frames_corrupt']} corrupt"),
        ("generator", str(main["generator"])),
    ]
    body = "".join(f"<tr><th scope='row'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table class='ar-settings'><caption>Settings</caption><tbody>{body}</tbody></table>"


def _tables(doc: dict[str, Any]) -> str:
    parts = [_settings_table(doc)]
    for i, lane in enumerate(doc["lanes"]):
        segs = lane["timeline"]["segments"]
        rows = [
            (
                _num(s["start_s"]),
                _num(s["end_s"]),
                s["label"] + (" (uncertain)" if s["uncertain"] else ""),
                f"{s['mean_score']:.1%}",
                str(s["windows"]),
            )
            for s in segs
        ]
        table = _table(
            f"Segments: {lane['name']}",
            ("start s", "end s", "label", "mean score", "windows"),
            rows,
            seek=[s["start_s"] for s in segs],
        )
        parts.append(
            table if i == 0 else f"<details><summary>Segments: {html.escape(lane['name'])}</summary>{table}</details>"
        )
    if doc["events"]:
        rows = [
            (
                e["label"],
                _num(e["start_s"]),
                _num(e["end_s"]),
                _num(e["duration_s"]),
                f"{e['peak_score']:.1%}",
                _num(e["peak_s"]),
                e["rule"],
            )
            for e in doc["events"]
        ]
        header = ("label", "start s", "end s", "duration s", "peak score", "peak at s", "rule")
        parts.append(_table("Events", header, rows, seek=[e["start_s"] for e in doc["events"]]))
    return "\n".join(parts)


_PAGE_CSS = """
body { margin: 0 auto; max-width: 1100px; padding: 12px 16px 40px; font: 14px/1.45 system-ui, sans-serif; color: #222; }
h1 { font-size: 20px; margin: 8px 0 4px; }
.ar-video-note { color: #666; font-size: 12px; margin: 0 0 6px; }
table { border-collapse: collapse; margin: 14px 0; font-size: 13px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border-bottom: 1px solid #e2e2e2; padding: 2px 10px 2px 0; text-align: left; vertical-align: top; }
tr[data-seek-s] { cursor: pointer; }
tr[data-seek-s]:hover, tr[data-seek-s]:focus { background: #eef4fb; }
details { margin: 8px 0; }
pre { max-height: 40vh; overflow: auto; background: #f6f6f6; padding: 8px; font-size: 12px; }
.ar-data button { font: inherit; padding: 2px 10px; }
"""

_BOOT_JS = """
(function () {
  "use strict";
  const doc = JSON.parse(document.getElementById("ar-view-data").textContent);
  const video = document.getElementById("ar-video");
  const root = document.getElementById("ar-timeline");
  const view = actionrecTimeline(root, video, doc);
  root.dataset.drawnAtMs = performance.now().toFixed(1); // since navigation: the timeline is on screen
  if (video) {
    video.addEventListener("error", () => {
      const e = video.error;
      view.setNote(`this browser cannot play the video (media error ${e ? e.code : "?"}): open it with a video player`);
    });
  }
  // The tables and the data section come after this script (the timeline is drawn first).
  document.addEventListener("DOMContentLoaded", () => {
    for (const row of document.querySelectorAll("tr[data-seek-s]")) {
      const go = () => {
        if (!video) return;
        video.currentTime = Number(row.dataset.seekS);
        root.scrollIntoView({ block: "nearest" });
      };
      row.addEventListener("click", go);
      row.addEventListener("keydown", (ev) => { if (ev.key === "Enter") go(); });
    }
    const text = () => JSON.stringify(doc.lanes[0].timeline, null, 1);
    const download = document.getElementById("ar-download");
    download.addEventListener("click", () => {
      const a = document.createElement("a");
      a.href = URL.createObjectURL(new Blob([text() + "\\n"], { type: "application/json" }));
      a.download = download.dataset.name;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    });
    const details = document.getElementById("ar-json");
    details.addEventListener("toggle", () => {
      const pre = details.querySelector("pre");
      if (details.open && !pre.textContent) pre.textContent = text();
    });
  });
})();
"""


def _page(doc: dict[str, Any], *, title: str, src: str, mime: str, note: str) -> str:
    js, css = view_assets()
    if "</script" in js.lower():
        raise ExportError("timeline_view.js holds '</script': it cannot be inlined (a packaging error)")
    video = (
        f'<video id="ar-video" controls playsinline preload="auto" aria-label="The analysed video">'
        f'<source src="{html.escape(src, quote=True)}" type="{mime}">Your browser cannot play this video.</video>'
        if src
        else ""
    )
    stem = Path(str(doc["settings"]["source"]).split("?", 1)[0]).stem or "timeline"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="{html.escape(doc["settings"]["generator"])}">
<title>{html.escape(title)}</title>
<style>{css}{_PAGE_CSS}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p class="ar-video-note">{html.escape(note)}</p>
{video}
<div id="ar-timeline"></div>
<script type="application/json" id="ar-view-data">{_json_for_script(doc)}</script>
<script>{js}</script>
<script>{_BOOT_JS}</script>
{_tables(doc)}
<section class="ar-data">
<p><button type="button" id="ar-download" data-name="{html.escape(stem, quote=True)}.json"
 aria-label="Download the timeline JSON">Download the JSON data</button>
 (schema <code>{html.escape(doc["lanes"][0]["timeline"]["schema"])}</code>,
 as <code>--formats json</code> writes it)</p>
<details id="ar-json"><summary>The JSON data this page was drawn from</summary><pre></pre></details>
</section>
</body>
</html>
"""
