"""``python -m actionrec analyze`` as a user runs it: exports, summaries, bad inputs, proxies."""

import csv
import json
import os

import cv2
import pytest

from tests.conftest import shared_path
from tests.support.chromium import CHROMIUM, NO_CHROMIUM, probe_videos, serve_dir
from tests.support.cli import run_actionrec
from tests.support.videos import make_video


def run_cli(*args, timeout=300):
    return run_actionrec(*args, timeout=timeout)


def tiny_args(tiny_model_dir, tiny_labels_file, out):
    return ["--model-dir", str(tiny_model_dir), "--labels", str(tiny_labels_file), "--out", str(out), "--no-progress"]


def test_analyze_writes_all_formats_and_summary(tiny_model_dir, tiny_labels_file, tmp_path):
    def red(i, t, img):
        img[:] = (20, 20, 230)

    video = make_video(tmp_path / "in" / "red clip.mp4", fps=25, duration_s=3.0, paint=red, stamp_index=False)
    out = tmp_path / "out"
    r = run_cli(
        "analyze",
        str(video),
        *tiny_args(tiny_model_dir, tiny_labels_file, out),
        "--formats",
        "json,csv,vtt,mp4",
        "--top-k",
        "3",
        "--no-cache",
    )
    assert r.returncode == 0, r.stderr
    assert "red clip.mp4: 5 windows over 3.0 s" in r.stdout
    assert "red " in r.stdout and "0.0–" in r.stdout
    doc = json.loads((out / "red clip.json").read_text())
    assert doc["schema"] == "actionrec.timeline/2" and len(doc["windows"]) == 5
    rows = list(csv.DictReader((out / "red clip.csv").open()))
    assert len(rows) == 5 and rows[0]["label_1"] == "red" and "score_3" in rows[0]
    assert (out / "red clip.vtt").read_text().startswith("WEBVTT")
    cap = cv2.VideoCapture(str(out / "red clip.annotated.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 75 and int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 320


def test_folder_with_good_and_bad_files(tiny_model_dir, tiny_labels_file, tmp_path):
    folder = tmp_path / "mixed"
    make_video(folder / "good.mp4", fps=30, duration_s=2.0, size_wh=(160, 120))
    make_video(folder / "short.mp4", fps=30, duration_s=0.1, size_wh=(160, 120))
    (folder / "notes.mp4").write_text("not a video at all\n")
    (folder / "empty.mp4").write_bytes(b"")
    r = run_cli("analyze", str(folder), *tiny_args(tiny_model_dir, tiny_labels_file, tmp_path / "out"))
    assert r.returncode == 1
    assert "good.mp4: 3 windows" in r.stdout
    failed = [line for line in r.stderr.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 3, r.stderr
    assert any("short.mp4" in f and "too short" in f for f in failed)
    assert any("notes.mp4" in f for f in failed) and any("empty.mp4" in f for f in failed)
    assert "3 of 4 input(s) failed" in r.stderr
    assert "Traceback" not in r.stderr
    assert (tmp_path / "out" / "good.json").is_file()


def test_bad_flags_are_one_clear_line(tiny_model_dir, tiny_labels_file, tmp_path):
    video = make_video(tmp_path / "v.mp4", fps=30, duration_s=2.0, size_wh=(64, 48))
    r = run_cli("analyze", str(video), *tiny_args(tiny_model_dir, tiny_labels_file, tmp_path), "--formats", "gif")
    assert r.returncode == 2 and "unknown format(s) gif; valid: json,csv,vtt,mp4" in r.stderr
    r = run_cli("analyze", str(video), *tiny_args(tiny_model_dir, tiny_labels_file, tmp_path), "--stride-s", "0.001")
    assert r.returncode == 1 and "shorter than one sample interval" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_arm_wrestling_with_proxy_models_writes_four_formats_that_play(proxy_model_dir, tmp_path):
    clip = shared_path("media", "kinetics_arm_wrestling_340x256_28fps_h264.mp4")
    labels = shared_path("omz", "action-recognition-0001", "kinetics400-id2label.json")
    out = tmp_path / "out"
    r = run_cli(
        "analyze",
        str(clip),
        "--model-dir",
        str(proxy_model_dir),
        "--labels",
        str(labels),
        "--out",
        str(out),
        "--formats",
        "json,csv,vtt,mp4",
        "--no-progress",
        "--no-cache",
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    stem = clip.stem
    for suffix in (".json", ".csv", ".vtt", ".annotated.mp4"):
        assert (out / f"{stem}{suffix}").stat().st_size > 0
    assert len(json.loads((out / f"{stem}.json").read_text())["windows"]) == 19
    if not CHROMIUM.exists():
        pytest.skip(NO_CHROMIUM)
    with serve_dir(out) as url:
        result = probe_videos(url, [f"{stem}.annotated.mp4"])[f"{stem}.annotated.mp4"]
    assert result["readyState"] >= 2 and (result["width"], result["height"]) == (340, 256)
    assert abs(result["duration"] - 10.0) < 0.2


def _batch(tmp_path, tiny_model_dir, tiny_labels_file, monkeypatch, raise_for):
    """Four clips analysed in-process; ``raise_for[name]`` is raised when that clip is analysed."""
    from actionrec.cli.main import main
    from actionrec.pipeline import Recognizer

    clips = [make_video(tmp_path / "in" / f"{n}.mp4", fps=30, duration_s=2.0, size_wh=(64, 48)) for n in "abcd"]
    analyze, seen = Recognizer.analyze, []

    def flaky(self, source, **kw):
        seen.append(os.path.basename(source))
        if (exc := raise_for.get(os.path.basename(source))) is not None:
            raise exc
        return analyze(self, source, **kw)

    monkeypatch.setattr(Recognizer, "analyze", flaky)
    out = tmp_path / "out"
    code = main(["analyze", *map(str, clips), *tiny_args(tiny_model_dir, tiny_labels_file, out), "--formats", "json"])
    return code, clips, seen, out


def test_any_error_of_one_input_is_its_failed_line_and_the_batch_goes_on(
    tiny_model_dir, tiny_labels_file, tmp_path, monkeypatch, capsys
):
    ov_error = RuntimeError(
        "Exception from src/inference/src/cpp/infer_request.cpp:223:\n"
        "Exception from src/plugins/intel_cpu/src/node.cpp:42:\n"
        "Can't set the input tensor: shape [1,3,2,2] is not [1,3,32,32]\n"
    )
    raising = {
        "b.mp4": ValueError("could not broadcast input array from shape (3,) into shape (4,)"),
        "c.mp4": ov_error,
    }
    code, clips, seen, out = _batch(tmp_path, tiny_model_dir, tiny_labels_file, monkeypatch, raising)
    captured = capsys.readouterr()
    assert code == 1 and seen == ["a.mp4", "b.mp4", "c.mp4", "d.mp4"]
    assert f"{clips[0]}: 3 windows" in captured.out and f"{clips[3]}: 3 windows" in captured.out
    assert captured.err.splitlines() == [
        f"FAILED {clips[1]}: ValueError: could not broadcast input array from shape (3,) into shape (4,)",
        f"FAILED {clips[2]}: RuntimeError: Can't set the input tensor: shape [1,3,2,2] is not [1,3,32,32]",
        "2 of 4 input(s) failed",
    ]
    assert sorted(p.name for p in out.iterdir()) == ["a.json", "d.json"]


def test_ctrl_c_during_one_input_stops_the_whole_batch(tiny_model_dir, tiny_labels_file, tmp_path, monkeypatch, capsys):
    code, _, seen, out = _batch(tmp_path, tiny_model_dir, tiny_labels_file, monkeypatch, {"b.mp4": KeyboardInterrupt()})
    assert code == 130 and seen == ["a.mp4", "b.mp4"]  # c and d never start
    assert capsys.readouterr().err.splitlines() == ["interrupted"]
    assert sorted(p.name for p in out.iterdir()) == ["a.json"]
