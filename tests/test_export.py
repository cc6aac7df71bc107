"""Exports: JSON against its published schema, CSV, strict WebVTT, atomic writes, annotated video."""

from __future__ import annotations

import csv
import errno
import itertools
import json
import os
import re
from collections import namedtuple
from importlib import resources

import cv2
import numpy as np
import pytest

from actionrec.atomic import atomic_write
from actionrec.errors import ExportError
from actionrec.export import (
    AnnotatedVideoWriter,
    csv_text,
    export_timeline,
    read_json,
    schema_text,
    timeline_to_dict,
    vtt_time,
    write_annotated_video,
    write_csv,
    write_json,
    write_vtt,
)
from actionrec.results import Prediction, StageTimings, Timeline

Frame = namedtuple("Frame", "image_bgr index timestamp_s")
LABELS = ("arm wrestling", "dancing, ballet", "a <b> & c", "yawning")


def make_timeline(n: int = 8, *, top_k: int = 3) -> Timeline:
    """Windows every 0.5 s; the top class changes at window 3 and window 6 is unsure."""
    preds = []
    for i in range(n):
        logits = [3.0, 1.0, 0.5, 0.0] if i < 3 else [0.0, 0.5, 3.0, 1.0]
        if i == 6:
            logits = [1.0, 0.9, 1.1, 0.8]
        preds.append(
            Prediction.from_logits(
                np.array(logits),
                labels=LABELS,
                top_k=top_k,
                window_index=i,
                start_s=0.5 * i,
                end_s=0.5 * i + 1.0,
                coverage_s=0.9375,
                duplicated=i % 2,
                missing=1 if i == 4 else 0,
                timings=StageTimings(1.5, 0.25, 30.0, 3.0, 0.5),
            )
        )
    return Timeline(
        source="/videos/My Clip.mp4",
        labels=LABELS,
        predictions=tuple(preds),
        window_s=1.0,
        stride_s=0.5,
        step_s=0.0625,
        clip_len=16,
        top_k=top_k,
        model="action-recognition-0001",
        precision="FP16",
        device="CPU",
        frames_decoded=135,
        duration_s=4.5,
    )


# -- JSON ----------------------------------------------------------------------------------------


def test_json_validates_against_the_published_schema_and_round_trips(tmp_path):
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is in requirements-dev.txt")
    tl = make_timeline()
    path = write_json(tl, tmp_path / "out" / "t.json", threshold=0.5, extra={"argv": ["--top-k", "3"]})
    schema = json.loads(resources.files("actionrec").joinpath("schemas/timeline-v2.schema.json").read_text())
    assert json.loads(schema_text()) == schema == json.loads(schema_text(2))
    jsonschema.Draft202012Validator.check_schema(schema)
    doc = read_json(path)
    jsonschema.Draft202012Validator(schema).validate(doc)
    assert doc == timeline_to_dict(tl, threshold=0.5, extra={"argv": ["--top-k", "3"]})
    assert doc["schema"] == "actionrec.timeline/2" and doc["threshold"] == 0.5 and doc["num_classes"] == 4
    assert [w["uncertain"] for w in doc["windows"]] == [False] * 6 + [True, False]
    w = doc["windows"][4]
    assert (w["index"], w["start_s"], w["end_s"], w["missing"], w["duplicated"]) == (4, 2.0, 3.0, 1, 0)
    assert [c["label"] for c in w["top_k"]] == ["a <b> & c", "yawning", "dancing, ballet"]
    assert w["top_k"][0]["score"] == tl.predictions[4].scores[0], "scores keep full precision"
    assert w["timings_ms"] == {"decode": 1.5, "preprocess": 0.25, "encoder": 30.0, "decoder": 3.0, "draw": 0.5}
    labels = [(s["label"], s["start_s"], s["end_s"], s["uncertain"]) for s in doc["segments"]]
    assert labels == [
        ("arm wrestling", 0.0, 1.5, False),
        ("a <b> & c", 1.5, 3.0, False),
        ("a <b> & c", 3.0, 3.5, True),  # v2: the real top label, the state in "uncertain"
        ("a <b> & c", 3.5, 4.5, False),
    ]


def test_schema_v1_stays_published_and_readable(tmp_path):
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is in requirements-dev.txt")
    v1 = json.loads(schema_text(1))
    assert v1["properties"]["schema"]["const"] == "actionrec.timeline/1"
    assert v1 == json.loads(resources.files("actionrec").joinpath("schemas/timeline-v1.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(v1)
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"schema": "actionrec.timeline/1", "windows": [], "segments": []}))
    assert read_json(old)["schema"] == "actionrec.timeline/1"
    with pytest.raises(ValueError, match=r"no timeline schema version 3; published: \(1, 2\)"):
        schema_text(3)


def test_schema_rejects_a_broken_document():
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is in requirements-dev.txt")
    doc = timeline_to_dict(make_timeline())
    doc["windows"][0]["top_k"][0]["score"] = 1.5
    with pytest.raises(jsonschema.ValidationError, match=r"1\.5 is greater than the maximum of 1"):
        jsonschema.validate(doc, json.loads(schema_text()), cls=jsonschema.Draft202012Validator)


def test_read_json_names_unknown_versions_and_non_exports(tmp_path):
    future = tmp_path / "future.json"
    future.write_text(json.dumps({"schema": "actionrec.timeline/3", "windows": [], "segments": []}))
    with pytest.raises(
        ExportError,
        match=r"schema 'actionrec.timeline/3'.*reads 'actionrec.timeline/1' and 'actionrec.timeline/2' only.*upgrade",
    ):
        read_json(future)
    other = tmp_path / "other.json"
    other.write_text("[1, 2]")
    with pytest.raises(ExportError, match=r"schema None.*not an export"):
        read_json(other)
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema": ')
    with pytest.raises(ExportError, match=r"cannot read .*broken.json as a timeline JSON export"):
        read_json(broken)
    with pytest.raises(ExportError, match=r"cannot read .*missing.json"):
        read_json(tmp_path / "missing.json")


def test_json_with_unserialisable_extra_fails_before_writing(tmp_path):
    with pytest.raises(ExportError, match=r"'extra' must hold only JSON data"):
        write_json(make_timeline(), tmp_path / "t.json", extra={"when": object()})
    assert list(tmp_path.iterdir()) == []


def test_json_errors_that_are_not_about_extra_do_not_blame_it(tmp_path):
    """Only the 'extra' check says 'extra': a path that cannot be opened fails as itself."""
    with pytest.raises(
        ValueError, match=r"^cannot write .*a\\x00b\.json': a file name cannot hold a NUL character$"
    ) as info:
        write_json(make_timeline(), str(tmp_path / "a\0b.json"), extra={"ok": 1})
    assert "'extra'" not in str(info.value) and list(tmp_path.iterdir()) == []


# -- CSV and WebVTT ------------------------------------------------------------------------------


def test_csv_has_the_documented_header_and_one_row_per_window(tmp_path):
    tl = make_timeline(top_k=3)
    with open(write_csv(tl, tmp_path / "t.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = "window,start_s,end_s,coverage_s,duplicated,missing,label_1,score_1,label_2,score_2,label_3,score_3"
    assert ",".join(rows[0]) == header + ",uncertain"
    assert len(rows) == 1 + len(tl)
    assert rows[1][:9] == ["0", "0", "1", "0.9375", "0", "0", "arm wrestling", rows[1][7], "dancing, ballet"]
    assert abs(float(rows[1][7]) - tl.predictions[0].scores[0]) < 1e-6
    assert rows[5][5] == "1" and rows[5][6] == "a <b> & c"
    assert [r[-1] for r in rows[1:]] == ["false"] * 8, "threshold 0: every window is certain"
    with open(write_csv(tl, tmp_path / "u.csv", threshold=0.5), newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert [r[-1] for r in rows[1:]] == ["false"] * 6 + ["true", "false"]
    assert rows[7][6] == "a <b> & c", "an uncertain window keeps its real labels"


def labelled_timeline(labels, rows, *, top_k=2):
    preds = [
        Prediction.from_logits(
            np.array(r, float), labels=labels, top_k=top_k, window_index=i, start_s=0.5 * i, end_s=0.5 * i + 1.0
        )
        for i, r in enumerate(rows)
    ]
    return Timeline("clip.mp4", labels, tuple(preds), window_s=1, stride_s=0.5, step_s=0.0625, clip_len=16, top_k=top_k)


def test_csv_cells_never_start_a_spreadsheet_formula(tmp_path):
    labels = ('=HYPERLINK("http://evil","x")', "+1+1", "-2", "@SUM(A1)", "\tcmd", "\uff1d1", "a=b", "'quoted")
    rows = [[5.0 if j == i else 0.0 for j in range(len(labels))] for i in range(len(labels))]
    tl = labelled_timeline(labels, rows, top_k=1)
    with open(write_csv(tl, tmp_path / "t.csv"), newline="", encoding="utf-8") as f:
        cells = [r[6] for r in list(csv.reader(f))[1:]]
    assert cells == ["'" + x for x in labels[:6]] + ["a=b", "'quoted"]
    assert not any(c[:1] in ("=", "+", "-", "@", "\t", "\r", "\uff1d") for c in cells)
    assert csv_text("arm wrestling") == "arm wrestling" and csv_text("") == ""


def test_a_class_named_uncertain_is_exported_as_a_class(tmp_path):
    tl = labelled_timeline(("uncertain", "walk"), [[5, 0], [5, 0], [0.1, 0], [0, 5]])
    paths = export_timeline(tl, tmp_path, formats="json,csv,vtt", threshold=0.6)
    doc = read_json(paths["json"])
    assert [(s["label"], s["uncertain"]) for s in doc["segments"]] == [
        ("uncertain", False),
        ("uncertain", True),
        ("walk", False),
    ]
    with open(paths["csv"], newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["label_1"], r["uncertain"]) for r in rows] == [
        ("uncertain", "false"),
        ("uncertain", "false"),
        ("uncertain", "true"),
        ("walk", "false"),
    ]
    cues = parse_vtt(paths["vtt"].read_text(encoding="utf-8"))
    assert [(s, e, t.split(" (")[0]) for s, e, t in cues] == [(0.0, 1.0, "uncertain"), (1.5, 2.5, "walk")]


def test_the_notebook_summary_tells_the_uncertain_state_from_a_class_named_uncertain():
    from actionrec.notebook.session import describe_timeline

    tl = labelled_timeline(("uncertain", "walk"), [[5, 0], [5, 0], [0.1, 0], [0, 5]])
    lines = describe_timeline(tl, threshold=0.6).splitlines()[1:4]
    assert [line.split("  ", 2)[-1] for line in lines] == ["uncertain  (99%)", "uncertain", "walk  (99%)"]


def parse_vtt(text: str) -> list[tuple[float, float, str]]:
    """A strict WebVTT reader for what we write: header, NOTE blocks, cues with HH:MM:SS.mmm times."""
    assert "\r" not in text and text.endswith("\n")
    blocks = text.split("\n\n")
    assert blocks[0] == "WEBVTT", "the first block is the bare signature line"
    stamp = r"(\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3})"

    def seconds(m, at):
        h, mi, s, ms = (int(m.group(at + i)) for i in range(4))
        return h * 3600 + mi * 60 + s + ms / 1000

    cues = []
    for block in blocks[1:]:
        if not block.strip():
            continue
        lines = block.strip("\n").split("\n")
        if lines[0].startswith("NOTE"):
            assert "-->" not in block
            continue
        if "-->" not in lines[0]:
            lines = lines[1:]  # cue identifier
        m = re.fullmatch(f"{stamp} --> {stamp}", lines[0])
        assert m, f"bad cue timing line {lines[0]!r}"
        text_lines = lines[1:]
        assert text_lines and all(t and "-->" not in t for t in text_lines)
        payload = "\n".join(text_lines)
        assert not re.search(r"<|&(?!amp;|lt;|gt;)", payload), f"unescaped cue text {payload!r}"
        cues.append((seconds(m, 1), seconds(m, 5), payload))
    for (s0, e0, _), (s1, _e1, _) in itertools.pairwise(cues):
        assert s1 >= e0, "cues overlap"
        assert s1 > s0, "cue start times must increase"
    assert all(e > s for s, e, _ in cues)
    return cues


def test_vtt_is_strictly_valid_and_skips_uncertain_segments(tmp_path):
    tl = make_timeline()
    cues = parse_vtt(write_vtt(tl, tmp_path / "t.vtt", threshold=0.5).read_text(encoding="utf-8"))
    texts = [t for _, _, t in cues]
    assert [(s, e) for s, e, _ in cues] == [(0.0, 1.5), (1.5, 3.0), (3.5, 4.5)], "3.0-3.5 is uncertain: no cue"
    assert texts[0] == f"arm wrestling ({round(tl.predictions[0].score * 100)}%)"
    assert texts[1].startswith("a &lt;b&gt; &amp; c (")
    all_cues = parse_vtt(write_vtt(tl, tmp_path / "all.vtt").read_text())
    assert [c[:2] for c in all_cues] == [(0.0, 1.5), (1.5, 4.5)], "threshold 0: the unsure window merges"
    assert vtt_time(3723.25) == "01:02:03.250" and vtt_time(0.0004) == "00:00:00.000"


def test_vtt_cue_text_stays_one_escaped_line_whatever_the_label(tmp_path):
    labels = ("two\nlines", "blank\n\nline", "x --> y", "<c.red>&amp</c>", "u\u2028v")  # labels from the API
    rows = [[5.0 if j == i else 0.0 for j in range(len(labels))] for i in range(len(labels))]
    tl = labelled_timeline(labels, rows, top_k=1)
    cues = parse_vtt(write_vtt(tl, tmp_path / "t.vtt").read_text(encoding="utf-8"))
    assert [t.rsplit(" (", 1)[0] for _, _, t in cues] == [
        "two lines",
        "blank line",
        "x --&gt; y",
        "&lt;c.red&gt;&amp;amp&lt;/c&gt;",
        "u v",
    ]


def test_vtt_of_an_empty_timeline_is_just_the_header(tmp_path):
    tl = Timeline(
        source="x", labels=LABELS, predictions=(), window_s=1, stride_s=0.5, step_s=0.0625, clip_len=16, top_k=1
    )
    assert parse_vtt(write_vtt(tl, tmp_path / "e.vtt").read_text()) == []


# -- atomic writes -------------------------------------------------------------------------------


@pytest.mark.parametrize("exc_type", [RuntimeError, KeyboardInterrupt])
def test_an_interrupted_write_leaves_neither_the_file_nor_a_temp(tmp_path, exc_type):
    target = tmp_path / "sub" / "out.json"
    with pytest.raises(exc_type), atomic_write(target, "w") as f:
        f.write('{"half": ')
        raise exc_type("stop")
    assert list((tmp_path / "sub").iterdir()) == []


def test_a_failed_overwrite_keeps_the_previous_file(tmp_path):
    target = tmp_path / "out.csv"
    write_csv(make_timeline(), target)
    before = target.read_bytes()
    with pytest.raises(KeyboardInterrupt), atomic_write(target) as tmp:
        tmp.write_bytes(b"partial")
        raise KeyboardInterrupt
    assert target.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_atomic_write_creates_parents_and_renames_only_at_the_end(tmp_path):
    target = tmp_path / "a" / "b" / "out.txt"
    with atomic_write(target, "w") as f:
        f.write("done")
        assert not target.exists(), "the final name appears only once the file is complete"
        assert f.name != str(target) and os.path.dirname(f.name) == str(target.parent)
    assert target.read_text() == "done" and len(list(target.parent.iterdir())) == 1


def test_ctrl_c_right_after_the_temp_file_is_created_leaves_nothing(tmp_path, monkeypatch):
    """The interrupt lands between creating the temporary file and the writer knowing its name."""
    import actionrec.atomic as atomic_module

    real_open = os.open

    def interrupted_open(path, flags, *args):
        fd = real_open(path, flags, *args)
        if flags & os.O_CREAT:
            os.close(fd)
            raise KeyboardInterrupt
        return fd

    monkeypatch.setattr(atomic_module.os, "open", interrupted_open)
    with pytest.raises(KeyboardInterrupt), atomic_write(tmp_path / "out.vtt", "w") as f:
        f.write("never")
    assert list(tmp_path.iterdir()) == []


def test_temp_files_of_writers_never_closed_are_removed_at_exit(tmp_path):
    """A Ctrl+C between a context manager's __enter__ and its with block: the exit hook cleans up."""
    import actionrec.atomic as atomic_module

    writer = atomic_write(tmp_path / "out.json", "w")
    writer.__enter__().write("{")  # and never __exit__
    (tmp,) = tmp_path.iterdir()
    assert ".tmp" in tmp.name
    atomic_module._remove_open_temps()
    assert list(tmp_path.iterdir()) == []
    assert not (tmp_path / "out.json").exists()


def test_disk_full_and_read_only_folder_become_clear_export_errors(tmp_path, monkeypatch):
    with (
        pytest.raises(ExportError, match=r"cannot write .*full.vtt: the disk is full"),
        atomic_write(tmp_path / "full.vtt"),
    ):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []

    def refuse(src, dst):
        raise PermissionError(errno.EROFS, "Read-only file system", str(dst))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ExportError, match=r"cannot write .*ro.json: the folder is not writable"):
        write_json(make_timeline(), tmp_path / "ro.json")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match=r"cannot write .*file/sub/t.csv"):
        write_csv(make_timeline(), tmp_path / "file" / "sub" / "t.csv")


# -- annotated video -----------------------------------------------------------------------------


def frames_at(timestamps_s, size_wh=(320, 240), value=90):
    w, h = size_wh
    return [Frame(np.full((h, w, 3), value, np.uint8), i, t) for i, t in enumerate(timestamps_s)]


def decode(path):
    import av

    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames = [f for f in c.decode(stream)]
        return stream.codec_context.name, stream.codec_context.pix_fmt, frames


def top_level_boxes(data: bytes) -> list[str]:
    names, pos = [], 0
    while pos + 8 <= len(data):
        size, name = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8].decode("latin-1")
        size = int.from_bytes(data[pos + 8 : pos + 16], "big") if size == 1 else size or len(data) - pos
        names.append(name)
        pos += size
    return names


@pytest.mark.parametrize(
    ("suffix", "codec", "tick_s"),
    [(".mp4", "h264", 1 / 90000), (".webm", "vp9", 1 / 1000)],
)
def test_video_keeps_variable_frame_times_and_even_size(tmp_path, suffix, codec, tick_s):
    times = [0.0, 0.04, 0.1, 0.133, 0.2, 0.5, 0.52, 0.9, 1.0, 1.7, 1.75, 2.0]
    target = tmp_path / f"vfr{suffix}"
    with AnnotatedVideoWriter(target, fps=10, size_wh=(161, 121)) as sink:
        for f in frames_at(times, size_wh=(161, 121)):
            sink.write(f.image_bgr, f.timestamp_s)
        assert not target.exists()
    name, pix_fmt, frames = decode(target)
    assert (name, pix_fmt) == (codec, "yuv420p")
    assert [(f.width, f.height) for f in frames] == [(160, 120)] * len(times), "odd sizes lose one px"
    assert np.allclose([float(f.time) for f in frames], times, atol=tick_s + 1e-9)
    cap = cv2.VideoCapture(str(target))
    count = 0
    while cap.read()[0]:
        count += 1
    cap.release()
    assert count == len(times)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    if suffix == ".mp4":
        boxes = top_level_boxes(target.read_bytes())
        assert boxes.index("moov") < boxes.index("mdat"), f"+faststart puts moov first, got {boxes}"


def test_video_shows_the_known_prediction_and_the_crop(tmp_path):
    tl = make_timeline()
    frames = frames_at([i / 20 for i in range(40)], size_wh=(640, 480))
    path = write_annotated_video(iter(frames), tl, tmp_path / "a.mp4", crop_fn=lambda img: (80, 0, 480, 480))
    _, _, decoded = decode(path)
    assert len(decoded) == 40
    before, after = decoded[10].to_ndarray(format="bgr24"), decoded[30].to_ndarray(format="bgr24")  # 0.5 s, 1.5 s

    def green(img):  # the top-1 bar, shown once the first window (0..1 s) has ended
        return int(np.all(np.abs(img[:200, :400].astype(int) - (90, 200, 60)) < 50, axis=2).sum())

    assert green(before) == 0 and green(after) > 200
    col = after[100:400, 80:82].reshape(-1, 3).mean(axis=0)  # the crop's left side, amber (0, 215, 255)
    assert col[2] > 180 and col[0] < 80, col
    assert abs(after[300, 300].astype(int) - 90).max() < 10, "inside the crop the frame is untouched"
    stats = write_annotated_video(frames[25:35], tl, tmp_path / "s.webm", show_stats=True)
    with_stats = decode(stats)[2][5].to_ndarray(format="bgr24")
    assert np.abs(with_stats[:150, 500:].astype(int) - after[:150, 500:]).max() > 100, "stats drawn top right"


def test_interrupted_video_leaves_nothing_behind(tmp_path):
    target = tmp_path / "v.mp4"
    with pytest.raises(KeyboardInterrupt), AnnotatedVideoWriter(target, fps=30, size_wh=(64, 48)) as sink:
        for f in frames_at([i / 30 for i in range(10)], size_wh=(64, 48)):
            sink.write(f.image_bgr, f.timestamp_s)
        raise KeyboardInterrupt

    def failing_source():
        yield from frames_at([0.0, 0.1], size_wh=(64, 48))
        raise RuntimeError("camera unplugged")

    with pytest.raises(RuntimeError, match="camera unplugged"):
        write_annotated_video(failing_source(), make_timeline(), tmp_path / "w.webm")
    with (
        pytest.raises(ExportError, match=r"no frames were written to .*e.mp4"),
        AnnotatedVideoWriter(tmp_path / "e.mp4", fps=30, size_wh=(64, 48)),
    ):
        pass
    with pytest.raises(ExportError, match=r"no frames to write"):
        write_annotated_video([], make_timeline(), tmp_path / "n.mp4")
    assert list(tmp_path.iterdir()) == []


def test_writer_options_are_checked(tmp_path):
    with pytest.raises(ValueError, match=r"must be \.mp4 \(H\.264\) or \.webm \(VP9\), got 'x.avi'"):
        AnnotatedVideoWriter(tmp_path / "x.avi", fps=30, size_wh=(64, 48))
    with pytest.raises(ValueError, match=r"codec 'vp9' does not go in \.mp4"):
        AnnotatedVideoWriter(tmp_path / "x.mp4", fps=30, size_wh=(64, 48), codec="vp9")
    with pytest.raises(ValueError, match=r"fps must be > 0, got 0"):
        AnnotatedVideoWriter(tmp_path / "x.mp4", fps=0, size_wh=(64, 48))
    with pytest.raises(ExportError, match=r"writer is not open"):
        AnnotatedVideoWriter(tmp_path / "x.mp4", fps=30, size_wh=(64, 48)).write(np.zeros((48, 64, 3), np.uint8), 0.0)


def test_repeated_timestamps_are_nudged_and_other_sizes_resized(tmp_path):
    target = tmp_path / "d.webm"
    with AnnotatedVideoWriter(target, fps=30, size_wh=(64, 48)) as sink:
        sink.write(np.zeros((48, 64, 3), np.uint8), 0.0)
        sink.write(np.zeros((48, 64, 3), np.uint8), 0.0)
        sink.write(np.zeros((96, 128, 3), np.uint8), 0.1)
    _, _, frames = decode(target)
    assert [float(f.time) for f in frames] == [0.0, 0.001, 0.1]
    assert {(f.width, f.height) for f in frames} == {(64, 48)}


# -- all formats at once -------------------------------------------------------------------------


def test_export_timeline_writes_the_requested_formats(tmp_path):
    tl = make_timeline()
    frames = frames_at([i / 10 for i in range(30)])
    paths = export_timeline(tl, tmp_path / "out", formats="json, csv,vtt,mp4", frames=frames)
    assert {k: p.name for k, p in paths.items()} == {
        "json": "My_Clip.json",
        "csv": "My_Clip.csv",
        "vtt": "My_Clip.vtt",
        "mp4": "My_Clip.annotated.mp4",
    }
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths.values())
    again = export_timeline(tl, tmp_path / "out", formats=["webm", "json"], stem="other", frames=frames)
    assert [p.name for p in again.values()] == ["other.annotated.webm", "other.json"]


def test_export_timeline_rejects_bad_requests_before_writing(tmp_path):
    tl = make_timeline()
    with pytest.raises(ValueError, match=r"unknown export format\(s\) \['gif'\]; valid: json, csv, vtt, mp4, webm"):
        export_timeline(tl, tmp_path, formats=("json", "gif"))
    with pytest.raises(ValueError, match=r"no export format given; valid: json, csv, vtt, mp4, webm"):
        export_timeline(tl, tmp_path, formats=[])
    with pytest.raises(ValueError, match=r"'mp4' \(the annotated video\) needs the source frames: pass frames="):
        export_timeline(tl, tmp_path, formats=("json", "mp4"))
    with pytest.raises(ValueError, match=r"iterated twice"):
        export_timeline(tl, tmp_path, formats=("mp4", "webm"), frames=iter(frames_at([0.0])))
    assert list(tmp_path.iterdir()) == []


# -- what mutation testing (benchmarks/mutation.py) showed unchecked ---------------------------------


def two_window_timeline(**kw) -> Timeline:
    preds = tuple(
        Prediction.from_probs(
            np.array(p),
            labels=("ä run", "walk"),
            top_k=2,
            window_index=i,
            start_s=0.5 * i,
            end_s=0.5 * i + 1.0,
            coverage_s=0.9375,
            duplicated=i,
            missing=1 - i,
            timings=StageTimings(1.0, 2.0, 3.0, 4.0, 5.0),
        )
        for i, p in enumerate(([0.75, 0.25], [0.375, 0.625]))
    )
    base = dict(
        source="https://h.example/v/clip.mp4?sig=s",
        labels=("ä run", "walk"),
        predictions=preds,
        window_s=1.0,
        stride_s=0.5,
        step_s=0.0625,
        clip_len=16,
        top_k=2,
        model="m",
        precision="FP16",
        device="CPU",
        smoothing=1,
        frames_decoded=45,
        frames_corrupt=2,
        truncated=True,
        duration_s=1.5,
    )
    return Timeline(**(base | kw))


def test_the_json_document_field_by_field():
    from actionrec.version import __version__

    doc = timeline_to_dict(two_window_timeline(), threshold=0.7, extra={"k": [1]})
    timings = {"decode": 1.0, "preprocess": 2.0, "encoder": 3.0, "decoder": 4.0, "draw": 5.0}
    assert doc == {
        "schema": "actionrec.timeline/2",
        "generator": f"actionrec {__version__}",
        "source": "https://h.example/v/clip.mp4",
        "model": "m",
        "precision": "FP16",
        "device": "CPU",
        "decoder_device": "CPU",
        "num_classes": 2,
        "window_s": 1.0,
        "stride_s": 0.5,
        "step_s": 0.0625,
        "clip_len": 16,
        "top_k": 2,
        "smoothing": 1,
        "threshold": 0.7,
        "frames_decoded": 45,
        "frames_corrupt": 2,
        "truncated": True,
        "duration_s": 1.5,
        "head": {"kind": "model", "name": "m", "labels": ["ä run", "walk"]},
        "windows": [
            {
                "index": 0,
                "start_s": 0.0,
                "end_s": 1.0,
                "coverage_s": 0.9375,
                "duplicated": 0,
                "missing": 1,
                "uncertain": False,
                "timings_ms": timings,
                "top_k": [
                    {"label": "ä run", "class_id": 0, "score": 0.75},
                    {"label": "walk", "class_id": 1, "score": 0.25},
                ],
            },
            {
                "index": 1,
                "start_s": 0.5,
                "end_s": 1.5,
                "coverage_s": 0.9375,
                "duplicated": 1,
                "missing": 0,
                "uncertain": True,
                "timings_ms": timings,
                "top_k": [
                    {"label": "walk", "class_id": 1, "score": 0.625},
                    {"label": "ä run", "class_id": 0, "score": 0.375},
                ],
            },
        ],
        "segments": [
            {"label": "ä run", "uncertain": False, "start_s": 0.0, "end_s": 0.5, "mean_score": 0.75, "windows": 1},
            {"label": "walk", "uncertain": True, "start_s": 0.5, "end_s": 1.5, "mean_score": 0.625, "windows": 1},
        ],
        "extra": {"k": [1]},
    }
    assert (
        timeline_to_dict(two_window_timeline())["extra"] == {}
        and timeline_to_dict(two_window_timeline())["threshold"] == 0.0
    )


def test_json_file_is_readable_utf8_one_document_and_refuses_nan(tmp_path):
    path = write_json(two_window_timeline(), str(tmp_path / "t.json"))
    assert isinstance(path, type(tmp_path)) and path == tmp_path / "t.json"
    text = path.read_text(encoding="utf-8")
    doc = read_json(path)
    assert doc["threshold"] == 0.0 and [w["uncertain"] for w in doc["windows"]] == [False, False]  # default: none
    assert '"ä run"' in text and text.endswith("}\n") and text.count("\n") > 50  # indented, non-ASCII kept readable
    assert text.startswith('{\n "schema": "actionrec.timeline/2"')
    with pytest.raises(
        ExportError,
        match=r"^cannot write .*n\.json: Out of range float values are not JSON compliant.*; "
        r"'extra' must hold only JSON data \(str, numbers, bool, None, lists, dicts\)$",
    ):
        write_json(two_window_timeline(), tmp_path / "n.json", extra={"x": float("nan")})
    assert not (tmp_path / "n.json").exists()


def test_read_json_refusals_name_the_file_and_the_fault(tmp_path):
    from actionrec.version import __version__

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema": "actionrec.timeline/2", "windows": [], "segments": None}))
    with pytest.raises(
        ExportError, match=rf"^{re.escape(str(bad))} is malformed: 'segments' must be a list, got NoneType$"
    ):
        read_json(bad)
    bad.write_text(json.dumps({"schema": "actionrec.timeline/2", "windows": "w", "segments": []}))
    with pytest.raises(ExportError, match=r"is malformed: 'windows' must be a list, got str$"):
        read_json(bad)
    bad.write_text(json.dumps({"schema": "actionrec.timeline/9", "windows": [], "segments": []}))
    expected = (
        f"{bad} has schema 'actionrec.timeline/9'; this actionrec {__version__} reads 'actionrec.timeline/1' and "
        "'actionrec.timeline/2' only (upgrade actionrec to read it)"
    )
    with pytest.raises(ExportError, match=f"^{re.escape(expected)}$"):
        read_json(bad)
    bad.write_text(json.dumps({"schema": "other/1"}))
    with pytest.raises(
        ExportError, match=r"reads 'actionrec.timeline/1' and 'actionrec.timeline/2' only \(not an export\)$"
    ):
        read_json(bad)
    bad.write_bytes(b"\xff\xfe{")
    with pytest.raises(ExportError, match=rf"^cannot read {re.escape(str(bad))} as a timeline JSON export: "):
        read_json(bad)


def test_csv_numbers_prefixes_and_short_windows(tmp_path):
    preds = (
        Prediction(0, 0.0000004, 1.0, ("a",), (1.0,), (0,), coverage_s=0.000003),
        Prediction(1, 2.5, 3.25, ("b",), (0.1234567,), (1,), coverage_s=10.0),
    )
    tl = Timeline("s", ("a", "b", "c"), preds, window_s=1, stride_s=0.5, step_s=0.0625, clip_len=16, top_k=2)
    with open(write_csv(tl, tmp_path / "t.csv"), newline="", encoding="utf-8") as f:
        text = f.read()
    assert text.splitlines()[1:] == ["0,0,1,0.000003,0,0,a,1,,,false", "1,2.5,3.25,10,0,0,b,0.123457,,,false"]
    assert "\r" not in text and text.endswith("\n")
    for prefix in ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20"):
        assert csv_text(prefix + "x") == "'" + prefix + "x"
    assert csv_text("x=1") == "x=1"


def test_vtt_header_names_the_model_and_numbers_its_cues(tmp_path):
    from actionrec.version import __version__

    text = write_vtt(two_window_timeline(model="m\nodel"), tmp_path / "t.vtt").read_text(encoding="utf-8")
    assert text.split("\n\n")[:2] == ["WEBVTT", f"NOTE actionrec {__version__} m odel FP16"]
    cues = [b.strip("\n") for b in text.split("\n\n")[2:] if b]
    assert cues == ["1\n00:00:00.000 --> 00:00:00.500\nä run (75%)", "2\n00:00:00.500 --> 00:00:01.500\nwalk (62%)"]
    bare = write_vtt(two_window_timeline(model="", precision=""), tmp_path / "b.vtt").read_text(encoding="utf-8")
    assert bare.split("\n\n")[1] == f"NOTE actionrec {__version__}"
    assert write_vtt(two_window_timeline(), tmp_path / "u.vtt", threshold=0.7).read_text().count(" --> ") == 1


def test_vtt_times_round_to_the_millisecond_and_never_go_negative():
    assert [vtt_time(s) for s in (-1.0, 0.0014, 0.0016, 59.9996, 3600 * 100 + 0.001)] == [
        "00:00:00.000",
        "00:00:00.001",
        "00:00:00.002",
        "00:01:00.000",
        "100:00:00.001",
    ]


def test_tiny_segment_still_gets_a_cue_that_ends_after_it_starts(tmp_path):
    preds = (Prediction(0, 0.0, 0.0004, ("a",), (1.0,), (0,)),)
    tl = Timeline("s", ("a",), preds, window_s=1, stride_s=0.5, step_s=0.0625, clip_len=16, top_k=1)
    assert "00:00:00.000 --> 00:00:00.001" in write_vtt(tl, tmp_path / "t.vtt").read_text()


@pytest.mark.parametrize(
    ("source", "stem"),
    [
        ("https://h/x/My%20Clip.mp4?sig=1", "My_20Clip"),
        ("/a/b/", "b"),
        ("", "timeline"),
        ("data/ä ö.mkv", "timeline"),
        ("._x_.mp4", "x"),
        ("/v/clip?sig=1.5", "clip"),  # from the first "?" on, not part of the name (URLs lose it earlier)
        ("/v/clip?a=1.x?b", "clip"),
        ("/v/BOX", "BOX"),
        ("/v/Xylo.mp4", "Xylo"),
    ],
)
def test_export_names_files_after_the_source(tmp_path, source, stem):
    tl = replace_source(two_window_timeline(), source)
    assert export_timeline(tl, tmp_path, formats="csv")["csv"].name == f"{stem}.csv"


def replace_source(tl, source):
    from dataclasses import replace

    return replace(tl, source=source)


def test_export_format_names_are_forgiving_and_each_written_once(tmp_path):
    from actionrec.export.files import export_source

    paths = export_timeline(two_window_timeline(), tmp_path, formats=" JSON,csv , json ")
    assert list(paths) == ["json", "csv"] and sorted(p.name for p in tmp_path.iterdir()) == ["clip.csv", "clip.json"]
    with open(paths["csv"], newline="") as f:
        assert [r[-1] for r in csv.reader(f)][1:] == ["false", "false"]  # default threshold 0: all certain
    out = export_source(two_window_timeline(), "/no/such/file.mp4", tmp_path / "s", formats="VTT", stem="x")
    assert {k: p.name for k, p in out.items()} == {"vtt": "x.vtt"}  # no video format: the source is not opened
    assert out["vtt"].read_text(encoding="utf-8").count(" --> ") == 2  # default threshold 0: every segment a cue
    out = export_source(two_window_timeline(), "/no/such/file.mp4", tmp_path / "s", formats=["csv"], threshold=0.7)
    with open(out["csv"], newline="") as f:
        assert [r[-1] for r in csv.reader(f)][1:] == ["false", "true"]


def test_export_source_reads_the_source_again_for_the_annotated_video(tmp_path, video_factory):
    """The video formats re-open the source and outline the model crop for the given input size."""
    from actionrec.export.files import export_source

    src = video_factory("export_source_640x480.mp4", fps=10, size_wh=(640, 480), duration_s=2.0, stamp_index=False)
    tl = make_timeline(3)
    out = export_source(tl, src, tmp_path / "o", formats="json,mp4", stem="s", input_hw=(224, 448))
    assert {k: p.name for k, p in out.items()} == {"json": "s.json", "mp4": "s.annotated.mp4"}
    _, _, frames = decode(out["mp4"])
    assert len(frames) == 20
    img = frames[15].to_ndarray(format="bgr24")
    # input 224 x 448 on 640 x 480: the crop is (0, 80, 640, 320); its top side is drawn in amber
    top = img[80:82, 100:540].reshape(-1, 3).mean(axis=0)
    assert top[2] > 180 and top[0] < 80, top
    assert abs(img[240, 320].astype(int) - 128).max() < 12, "inside the crop the frame is untouched"
    sure = export_source(tl, src, tmp_path / "w", formats=["webm"])["webm"]
    unsure = export_source(tl, src, tmp_path / "u", formats=["webm"], threshold=0.99)["webm"]
    sure_img, unsure_img = (decode(p)[2][15].to_ndarray(format="bgr24").astype(int) for p in (sure, unsure))
    assert np.abs(unsure_img[:200, :400] - sure_img[:200, :400]).max() > 60, "the threshold reaches the video"
    assert np.abs(unsure_img[200:] - sure_img[200:]).max() < 40, "only the label panel differs"
    with pytest.raises(ValueError, match=r"^mp4 and webm together need frames that can be iterated twice"):
        export_timeline(tl, tmp_path, formats=("mp4", "webm"), frames=iter(frames_at([0.0])))
    message = r"^mp4 and webm together need frames that can be iterated twice \(a list, not an iterator\)$"
    with pytest.raises(ValueError, match=message):
        export_timeline(tl, tmp_path, formats=("webm", "mp4"), frames=iter(frames_at([0.0])))


def test_export_source_from_a_url_downloads_without_a_progress_bar(tmp_path, video_factory, http_server, capfd):
    from actionrec.export.files import export_source

    src = video_factory("export_source_url.mp4", fps=10, size_wh=(64, 48), duration_s=1.0)
    url = http_server.add("v/export_source_url.mp4", src.read_bytes())
    capfd.readouterr()
    out = export_source(make_timeline(2), url, tmp_path / "o", formats="mp4")
    assert out["mp4"].name == "My_Clip.annotated.mp4" and len(decode(out["mp4"])[2]) == 10
    assert "%|" not in capfd.readouterr().err, "exports download without a progress bar"


@pytest.mark.parametrize("head", ["", "groups: warm-cool.json"])
def test_read_timeline_gives_back_the_timeline_the_json_was_written_from(tmp_path, head):
    from dataclasses import replace

    from actionrec.export import read_timeline

    timeline = replace(make_timeline(), head=head, smoothing=3, frames_corrupt=2, truncated=True)
    path = write_json(timeline, tmp_path / "t.json", threshold=0.5)
    back = read_timeline(path)
    assert back.predictions == timeline.predictions  # labels, scores, class ids, times, coverage, timings
    assert back == timeline  # every field (crop_xywh is not exported; these windows have none)
    assert timeline_to_dict(back, threshold=0.5) == timeline_to_dict(timeline, threshold=0.5)


def test_read_timeline_refuses_a_v1_file_and_names_a_malformed_window(tmp_path):
    from actionrec.export import read_timeline

    old = tmp_path / "old.json"
    old.write_text(json.dumps({"schema": "actionrec.timeline/1", "windows": [], "segments": []}))
    with pytest.raises(ExportError, match=r"'actionrec.timeline/1', which does not list its classes; analyse the"):
        read_timeline(old)
    doc = timeline_to_dict(make_timeline())
    del doc["windows"][2]["top_k"][0]["score"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ExportError, match=r"bad.json is malformed: KeyError: 'score'"):
        read_timeline(bad)


@pytest.mark.parametrize(
    ("head", "kind", "name"),
    [
        ("", "model", "action-recognition-0001"),  # the decoder's own classes: named after the model
        ("groups: sports.json", "groups", "groups: sports.json"),
        ("actions: a: b.json", "actions", "actions: a: b.json"),  # the kind ends at the first ": "
        ("my head", "custom", "my head"),  # no kind given
        (": nameless.json", "custom", ": nameless.json"),  # an empty kind is none
    ],
)
def test_the_json_head_says_what_the_classes_are(head, kind, name):
    from dataclasses import replace

    from actionrec.export import head_to_dict

    doc = head_to_dict(replace(make_timeline(2), head=head))
    assert doc == {"kind": kind, "name": name, "labels": list(LABELS)}


def test_events_are_exported_only_when_given_and_as_given(tmp_path):
    from actionrec.heads.events import ActionEvent

    timeline = make_timeline(4)
    event = ActionEvent("yawning", 0.5, 2.0, 0.9, 1.25, 0.8, 3, "yawning > 0.6 for 1s")
    assert "events" not in timeline_to_dict(timeline)  # no rules were given: no key
    assert timeline_to_dict(timeline, events=[])["events"] == []  # rules given, nothing found
    assert timeline_to_dict(timeline, events=[event])["events"] == [event.to_dict()]
    written = json.loads(write_json(timeline, tmp_path / "e.json", events=[event]).read_text())
    assert written["events"] == [event.to_dict()] and written["events"][0]["rule"] == "yawning > 0.6 for 1s"
    assert "events" not in json.loads(write_json(timeline, tmp_path / "n.json").read_text())


def test_the_vtt_cues_by_default_keep_every_certain_segment():
    from actionrec.export import vtt_cues

    timeline = make_timeline()
    assert vtt_cues(timeline) == vtt_cues(timeline, threshold=0.0)
    # window 6 (its top-1 below 50 %) is certain at the default threshold 0: it stays in the second cue
    assert vtt_cues(timeline) == [(0.0, 1.5, "arm wrestling (79%)"), (1.5, 4.5, "a &lt;b&gt; &amp; c (69%)")]


def test_read_timeline_keeps_a_split_device_and_reads_files_from_before_timings_and_decoder_device(tmp_path):
    from dataclasses import replace

    from actionrec.export import read_timeline

    split = replace(make_timeline(3), device="GPU", decoder_device="CPU")
    back = read_timeline(write_json(split, tmp_path / "split.json"))
    assert (back.device, back.decoder_device) == ("GPU", "CPU")
    doc = timeline_to_dict(make_timeline(3))
    del doc["decoder_device"]  # written before the decoder could run elsewhere: one device
    for w in doc["windows"]:
        del w["timings_ms"]  # written before timings were exported
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc))
    back = read_timeline(old)
    assert (back.device, back.decoder_device) == ("CPU", "CPU")
    assert all(p.timings == StageTimings() for p in back.predictions)
