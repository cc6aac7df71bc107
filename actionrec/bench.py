"""``python -m actionrec bench VIDEO``: video frames/s against the same-run ceiling.

The ceiling follows ../shared/docs/conventions.md, measured in the same run on the same IR::

    ceiling = 1 / (t_decode_per_frame + s / enc_fps + d / dec_fps)

``t_decode_per_frame``: OpenCV decoding every frame of VIDEO; ``enc_fps``: ``benchmark_app -hint
throughput`` on the encoder (an equivalent in-process measurement when benchmark_app is missing);
``dec_fps``: decoder calls per second; ``s`` / ``d``: grid samples / windows per source frame.
The ceiling's encoder runs the IR as it is (batch 1); the pipeline sends it batches of
:func:`~actionrec.models.cpu_file_batch` samples on a CPU (see :mod:`actionrec.pipeline.encoders`).
Video fps = source frames / wall time of :meth:`Recognizer.analyze` (compile time and a 2 s warm-up
excluded; the median of ``--repeat`` runs).
"""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from . import settings
from .models.files import ModelFiles


@dataclass(frozen=True)
class BenchResult:
    """Figures of one benchmark run (all measured in the same process and run)."""

    video: str
    precision: str
    device: str
    frames: int
    samples: int
    windows: int
    decode_ms_per_frame: float
    encoder_fps: float
    encoder_fps_source: str
    decoder_calls_per_s: float
    ceiling_fps: float
    video_fps: float
    ratio: float
    peak_rss_mb: float
    encoder_batch: int = 1
    baseline_fps: float | None = None

    def to_text(self) -> str:
        """The figures as an aligned table, for a terminal."""
        rows = [
            ("video", f"{self.video} ({self.frames} frames)"),
            ("model", f"{self.precision} on {self.device}"),
            ("grid samples / windows", f"{self.samples} / {self.windows}"),
            (
                "OpenCV decode",
                f"{self.decode_ms_per_frame:.2f} ms/frame ({1000 / self.decode_ms_per_frame:.0f} frames/s)",
            ),
            ("encoder alone", f"{self.encoder_fps:.1f} frames/s ({self.encoder_fps_source})"),
            ("decoder", f"{self.decoder_calls_per_s:.0f} calls/s ({1000 / self.decoder_calls_per_s:.2f} ms)"),
            ("ceiling", f"{self.ceiling_fps:.1f} video frames/s"),
            (
                "actionrec pipeline",
                f"{self.video_fps:.1f} video frames/s ({self.encoder_batch} samples per encoder request)",
            ),
            ("ratio to ceiling", f"{self.ratio:.3f}"),
            ("peak RSS", f"{self.peak_rss_mb:.0f} MB"),
        ]
        if self.baseline_fps:
            rows.append(
                (
                    "original serial loop",
                    f"{self.baseline_fps:.1f} video frames/s ({self.baseline_fps / self.ceiling_fps:.3f} of ceiling; "
                    f"actionrec is {self.video_fps / self.baseline_fps:.2f}x)",
                )
            )
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def measure_decode(video: Path) -> tuple[int, float]:
    """(frames, ms per frame) for OpenCV reading every frame."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    n, t = 0, time.perf_counter()
    while cap.read()[0]:
        n += 1
    elapsed = time.perf_counter() - t
    cap.release()
    return n, elapsed * 1000 / max(n, 1)


def measure_encoder(xml: Path, *, device: str, seconds: float) -> tuple[float, str]:
    """Encoder throughput in frames/s: benchmark_app when installed, else an AsyncInferQueue run."""
    exe = shutil.which("benchmark_app")
    if exe:
        out = subprocess.run(
            [exe, "-m", str(xml), "-d", device, "-hint", "throughput", "-t", str(int(seconds))],
            capture_output=True,
            text=True,
            timeout=seconds * 4 + 120,
        )
        m = re.search(r"Throughput:\s+([\d.]+)\s+FPS", out.stdout)
        if m:
            return float(m.group(1)), "benchmark_app -hint throughput"
    import numpy as np
    import openvino as ov

    from .models.runtime import get_core

    compiled = get_core().compile_model(str(xml), device, {"PERFORMANCE_HINT": "THROUGHPUT"})
    jobs = ov.AsyncInferQueue(compiled, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
    x = np.random.default_rng(0).uniform(0, 255, tuple(compiled.input(0).get_shape())).astype(np.float32)
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        jobs.start_async({0: x})
        n += 1
    jobs.wait_all()
    return n / (time.perf_counter() - t), "AsyncInferQueue, throughput hint"


def measure_decoder(models, *, seconds: float = 2.0) -> float:
    """Decoder calls per second, one window at a time."""
    import numpy as np

    request = models.decoder.create_infer_request()
    x = np.random.default_rng(0).normal(size=(1, models.clip_len, models.embedding_dim)).astype(np.float32)
    request.infer({0: x})
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        request.infer({0: x})
        n += 1
    return n / (time.perf_counter() - t)


def baseline_loop(video: Path, files, *, device: str) -> float:
    """The original notebook's serial loop: encode every 2nd frame synchronously, decode per 16.

    The IRs are compiled as that notebook compiles them (no configuration: the device's defaults).
    """
    import cv2
    import numpy as np

    from .models.runtime import get_core
    from .pipeline.preprocess import preprocess

    core = get_core()
    enc = core.compile_model(str(files.encoder_xml), device).create_infer_request()
    decoder = core.compile_model(str(files.decoder_xml), device)
    dec, clip_len = decoder.create_infer_request(), int(decoder.input(0).get_shape()[1])
    cap = cv2.VideoCapture(str(video))
    clip: list[np.ndarray] = []
    n, t = 0, time.perf_counter()
    while True:
        ok, img = cap.read()
        if not ok:
            break
        if n % 2 == 0:
            clip.append(enc.infer({0: preprocess(img).tensor})[0].reshape(-1).copy())
            if len(clip) == clip_len:
                dec.infer({0: np.stack(clip)[None]})
                clip = []
        n += 1
    cap.release()
    return n / (time.perf_counter() - t)


def run_bench(
    video: Path,
    files: ModelFiles,
    *,
    device: str = settings.DEFAULT_DEVICE,
    cache_dir: str | None = None,
    encoder_seconds: float = 15.0,
    baseline: bool = False,
    repeat: int = 3,
) -> BenchResult:
    """Measure the ceiling's parts and the real pipeline on ``video`` in one run.

    The pipeline runs ``repeat`` times after a 2 s warm-up; the median run gives the video fps.

    Args:
        video: the file to analyse.
        files: the model files (labels are not needed: placeholder names are used).
        device: where both models run.
        cache_dir: root of the compile cache, as ``--cache-dir``.
        encoder_seconds: how long ``benchmark_app`` measures the encoder.
        baseline: also time the original notebook's serial loop.
        repeat: pipeline runs; the median counts.

    Returns:
        The figures, measured in this process.
    """
    from .models.runtime import compile_models
    from .pipeline.files import Recognizer

    labels = placeholder_labels(files.decoder_xml)
    models = compile_models(files, device=device, hint="THROUGHPUT", labels=labels, cache_dir=cache_dir)
    recognizer = Recognizer(models)
    frames, decode_ms = measure_decode(video)
    enc_fps, enc_source = measure_encoder(files.encoder_xml, device=device, seconds=encoder_seconds)
    dec_fps = measure_decoder(models)
    recognizer.encode(str(video), progress=False, max_seconds=2.0)  # start-up (first requests) excluded
    walls = []
    for _ in range(repeat):
        t = time.perf_counter()
        timeline = recognizer.analyze(str(video), progress=False, cache=False)
        walls.append(time.perf_counter() - t)
    wall = sorted(walls)[len(walls) // 2]  # median run
    # The machine is shared: decode again after the pipeline runs and average, so the ceiling and
    # the pipeline see the same conditions as far as possible.
    decode_ms = (decode_ms + measure_decode(video)[1]) / 2
    samples = recognizer.grid.samples_in(timeline.duration_s)
    windows = len(timeline)
    ceiling = 1.0 / (decode_ms / 1000 + (samples / frames) / enc_fps + (windows / frames) / dec_fps)
    video_fps = timeline.frames_decoded / wall
    base = baseline_loop(video, files, device=device) if baseline else None
    return BenchResult(
        video=str(video),
        precision=files.precision,
        device=device,
        frames=frames,
        samples=samples,
        windows=windows,
        decode_ms_per_frame=decode_ms,
        encoder_fps=enc_fps,
        encoder_fps_source=enc_source,
        decoder_calls_per_s=dec_fps,
        ceiling_fps=ceiling,
        video_fps=video_fps,
        ratio=video_fps / ceiling,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        encoder_batch=models.encoder_batch,
        baseline_fps=base,
    )


def placeholder_labels(decoder_xml: Path) -> tuple[str, ...]:
    """``("class 0", ...)``, one per decoder output: for timing models whose labels mean nothing."""
    from .models.runtime import get_core

    classes = int(get_core().read_model(str(decoder_xml)).output(0).get_partial_shape()[-1].get_length())
    return tuple(f"class {i}" for i in range(classes))
