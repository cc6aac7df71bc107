"""``python -m actionrec bench`` prints the figures (no timing is asserted: that is the script's job)."""

import json
import os
import re
import stat
import sys

from actionrec.bench import measure_encoder, omz_style_loop
from actionrec.models import resolve_model
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
    # the suite sets AR_INFERENCE_PRECISION=f32 (conftest): the pipeline computes in it
    assert figures["inference_precision_asked"] == figures["inference_precision"] == "f32"
    r = run_cli(*args, "--encoder-seconds", "1", "--repeat", "1", "--inference-precision", "f32")
    assert r.returncode == 0, r.stderr
    assert "ratio to ceiling" in r.stdout and "peak RSS" in r.stdout
    assert "computing in f32 (asked for every model and benchmark_app)" in r.stdout


def test_bench_refuses_an_unknown_inference_precision(tiny_model_dir, tmp_path):
    r = run_cli("bench", str(tmp_path / "any.mp4"), "--model-dir", str(tiny_model_dir), "--inference-precision", "f8")
    assert r.returncode == 2
    choices = r"\(choose from '?f32'?, '?bf16'?, '?f16'?\)"  # quoted from Python 3.12 on
    assert re.search(r"argument --inference-precision: invalid choice: 'f8' " + choices, r.stderr)


def fake_benchmark_app(folder, monkeypatch):
    """A ``benchmark_app`` first on PATH that records its arguments and reports 123.4 FPS."""
    exe = folder / "benchmark_app"
    record = folder / "argv.json"
    exe.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"open({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
        "print('[ INFO ] Throughput:          123.40 FPS')\n"
    )
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return record


def test_the_encoder_alone_is_measured_in_the_precision_the_run_computes_in(tiny_model_dir, tmp_path, monkeypatch):
    record = fake_benchmark_app(tmp_path, monkeypatch)
    xml = next(tiny_model_dir.rglob("*encoder*.xml"))
    fps, source = measure_encoder(xml, device="CPU", seconds=1, batch=8, inference_precision="f32")
    assert (fps, source) == (123.4, "benchmark_app -hint throughput")
    argv = json.loads(record.read_text())
    assert argv[argv.index("-infer_precision") + 1] == "f32" and argv[argv.index("-b") + 1] == "8"
    measure_encoder(xml, device="CPU", seconds=1)
    assert "-infer_precision" not in json.loads(record.read_text())  # the device's own precision


def test_the_omz_style_loop_computes_in_the_asked_precision(tiny_model_dir, tiny_labels_file, tmp_path, monkeypatch):
    """Its IRs keep the plugin's defaults but for the precision every part of the run shares."""
    import openvino as ov

    configs = []
    real = ov.Core.compile_model

    def spy(self, model, device=None, config=None, *rest, **kw):
        configs.append(config)
        return real(self, model, device, config or {}, *rest, **kw)

    files = resolve_model(precision="FP16", model_dir=tiny_model_dir, labels=tiny_labels_file)
    video = make_video(tmp_path / "o.mp4", fps=30, duration_s=1.2, size_wh=(160, 120))
    monkeypatch.setattr(ov.Core, "compile_model", spy)
    assert omz_style_loop(video, files, device="CPU", inference_precision="f32") > 0
    assert configs == [{"INFERENCE_PRECISION_HINT": "f32"}] * 2
    configs.clear()
    omz_style_loop(video, files, device="CPU")
    assert configs == [{}, {}]
