"""The timeline view's data (view_document) and the self-contained HTML report (write_report)."""

from __future__ import annotations

import contextlib
import json
import re
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from actionrec.errors import ExportError
from actionrec.export import (
    VIEW_SCHEMA_ID,
    export_timeline,
    timeline_to_dict,
    view_document,
    vtt_cues,
    write_report,
)
from actionrec.export import report as report_module
from actionrec.heads import detect_events
from tests.support.timelines import synthetic_timeline

Frame = namedtuple("Frame", "image_bgr index timestamp_s")
DATA_RE = re.compile(r'<script type="application/json" id="ar-view-data">(.*?)</script>', re.S)


def _data(report: Path) -> dict:
    match = DATA_RE.search(report.read_text(encoding="utf-8"))
    assert match, "no view data in the report"
    return json.loads(match.group(1))


def _video(path: Path, *, size_bytes: int = 2000) -> Path:
    path.write_bytes(b"\0" * size_bytes)  # write_report does not decode the video: any bytes do here
    return path


@pytest.fixture
def timeline():
    return synthetic_timeline(20, source="clip.mp4")


def test_view_document_is_the_json_export_of_each_lane(timeline):
    grouped = synthetic_timeline(20, source="clip.mp4", labels=("sports", "other"), seed=3, head="groups: sports")
    events = detect_events(timeline, ["clapping > 0.5 for 1s"])
    doc = view_document(timeline, lanes=[grouped], events=events, threshold=0.3)
    assert doc["schema"] == VIEW_SCHEMA_ID
    assert [lane["name"] for lane in doc["lanes"]] == ["top-1", "groups: sports"]
    assert doc["lanes"][0]["timeline"] == timeline_to_dict(timeline, threshold=0.3, events=events)
    assert doc["lanes"][1]["timeline"] == timeline_to_dict(grouped, threshold=0.3)
    assert doc["events"] == [e.to_dict() for e in events] and events
    assert [(c["start_s"], c["end_s"], c["text"]) for c in doc["cues"]] == vtt_cues(timeline, threshold=0.3)
    assert doc["settings"]["model"] == "action-recognition-0001" and doc["settings"]["device"] == "CPU"
    assert doc["duration_s"] == pytest.approx(10.5)
    json.dumps(doc, allow_nan=False)  # JSON-able as it is


def test_view_document_refuses_a_lane_of_another_video_and_a_bad_threshold(timeline):
    other = synthetic_timeline(20, source="other.mp4", head="custom")
    with pytest.raises(ValueError, match=r"lane 'custom' is of 'other.mp4', not of 'clip.mp4'"):
        view_document(timeline, lanes=[other])
    with pytest.raises(ValueError, match=r"threshold must be a probability in 0..1, got 1.5"):
        view_document(timeline, threshold=1.5)


def test_report_is_self_contained_and_carries_the_timelines_json(tmp_path, timeline):
    video = _video(tmp_path / "clip.mp4")
    report = write_report(timeline, tmp_path / "clip.html", video=video, threshold=0.3)
    text = report.read_text(encoding="utf-8")
    assert not re.search(r"https?://", text, re.I), re.search(r".{40}https?://.{40}", text, re.I)
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=\"(?!clip\.mp4\")", text), "a resource outside the page"
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    doc = _data(report)
    assert doc == json.loads(json.dumps(view_document(timeline, threshold=0.3)))
    assert doc["lanes"][0]["timeline"] == timeline_to_dict(timeline, threshold=0.3)
    assert '<source src="clip.mp4" type="video/mp4">' in text  # beside the report: relative
    for what in ("action-recognition-0001", "FP16", "CPU", "Segments: top-1", "Settings"):
        assert what in text
    for seg in timeline.segments(threshold=0.3):
        assert f"<td>{seg.start_s:.2f}</td><td>{seg.end_s:.2f}</td>" in text


def test_a_label_cannot_end_the_data_script(tmp_path):
    labels = ("</script><script>alert(1)</script>", "<!-- x", "a & b")
    timeline = synthetic_timeline(6, labels=labels)
    text = write_report(timeline, tmp_path / "r.html").read_text(encoding="utf-8")
    assert text.count("<script") == 3  # the data, the component, the boot script
    assert _data(tmp_path / "r.html")["lanes"][0]["timeline"]["head"]["labels"] == list(labels)
    assert "&lt;/script&gt;" in text  # the segments table escapes it


def test_report_video_beside_below_embedded_or_by_file_uri(tmp_path, timeline):
    out = tmp_path / "out"
    out.mkdir()
    (out / "videos").mkdir()
    below = _video(out / "videos" / "a b.mp4")
    text = write_report(timeline, out / "r.html", video=below).read_text()
    assert '<source src="videos/a%20b.mp4"' in text

    elsewhere = _video(tmp_path / "small.webm", size_bytes=3000)
    text = write_report(timeline, out / "r.html", video=elsewhere).read_text()
    assert '<source src="data:video/webm;base64,' in text and "embedded" in text

    text = write_report(timeline, out / "r.html", video=elsewhere, embed_video_max_mb=0.001).read_text()
    uri = elsewhere.resolve().as_uri()
    assert f'<source src="{uri}"' in text
    assert f"it plays from {uri} on this machine only" in text  # the visible note

    with pytest.raises(FileNotFoundError, match=r"no video at .*missing.mp4"):
        write_report(timeline, out / "r.html", video=tmp_path / "missing.mp4")


def test_report_is_written_atomically(tmp_path, timeline, monkeypatch):
    target = tmp_path / "r.html"
    target.write_text("the previous report")
    real = report_module.atomic_write

    @contextlib.contextmanager
    def failing(path, *args, **kwargs):
        with real(path, *args, **kwargs) as f:

            class Half:
                def write(self, text):
                    f.write(text[: len(text) // 2])
                    raise OSError(28, "No space left on device")

            yield Half()

    monkeypatch.setattr(report_module, "atomic_write", failing)
    with pytest.raises(ExportError, match=r"cannot write .*r.html: the disk is full"):
        write_report(timeline, target)
    assert target.read_text() == "the previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]  # no temp file left behind


def test_export_formats_html_plays_the_annotated_video(tmp_path, timeline):
    frames = [Frame(np.full((48, 64, 3), 40 * (i % 5), np.uint8), i, i / 10) for i in range(105)]
    written = export_timeline(timeline, tmp_path, formats="html,json,mp4", frames=frames, threshold=0.3)
    assert set(written) == {"html", "json", "mp4"}
    assert written["html"] == tmp_path / "clip.html"
    text = written["html"].read_text()
    assert '<source src="clip.annotated.mp4" type="video/mp4">' in text
    assert _data(written["html"])["lanes"][0]["timeline"] == json.loads(written["json"].read_text())

    only = export_timeline(timeline, tmp_path / "only", formats=["html"])
    assert "no video was given" in only["html"].read_text()  # clip.mp4 is no file here: no video


def test_cli_accepts_html():
    from actionrec.cli.analyze import parse_formats

    assert parse_formats("json,html") == ("json", "html")


def test_cli_formats_html_points_at_the_annotated_video_else_the_source(tiny_model_dir, tiny_labels_file, tmp_path):
    from tests.support.cli import run_actionrec
    from tests.support.videos import make_video

    video = make_video(tmp_path / "in" / "red.mp4", fps=25, duration_s=3.0, size_wh=(64, 48))
    flags = ["--model-dir", str(tiny_model_dir), "--labels", str(tiny_labels_file), "--no-progress", "--no-cache"]
    r = run_actionrec("analyze", str(video), *flags, "--out", str(tmp_path / "a"), "--formats", "json,mp4,html")
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "a" / "red.html").read_text()
    assert '<source src="red.annotated.mp4"' in text
    assert _data(tmp_path / "a" / "red.html")["lanes"][0]["timeline"] == json.loads(
        (tmp_path / "a" / "red.json").read_text()
    )

    r = run_actionrec("analyze", str(video), *flags, "--out", str(tmp_path / "b"), "--formats", "html")
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "b" / "red.html").read_text()
    assert '<source src="data:video/mp4;base64,' in text  # the H.264 source itself, small: embedded
