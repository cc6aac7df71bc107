"""``python -m actionrec bench`` prints the figures (no timing is asserted: that is the script's job)."""

import json

from tests.support.videos import make_video
from tests.test_cli_analyze import run_cli


def test_bench_prints_fps_ceiling_ratio_and_memory(tiny_model_dir, tmp_path):
    video = make_video(tmp_path / "b.mp4", fps=30, duration_s=3.0, size_wh=(320, 240))
    args = ["bench", str(video), "--model-dir", str(tiny_model_dir), "--precision", "FP16"]
    r = run_cli(*args, "--encoder-seconds", "1", "--repeat", "1", "--json")
    assert r.returncode == 0, r.stderr
    figures = json.loads(r.stdout)
    assert figures["frames"] == 90 and figures["samples"] == 48 and figures["windows"] == 5
    assert figures["ceiling_fps"] > 0 and figures["video_fps"] > 0 and figures["peak_rss_mb"] > 0
    assert abs(figures["ratio"] - figures["video_fps"] / figures["ceiling_fps"]) < 1e-9
    r = run_cli(*args, "--encoder-seconds", "1", "--repeat", "1")
    assert "ratio to ceiling" in r.stdout and "peak RSS" in r.stdout
