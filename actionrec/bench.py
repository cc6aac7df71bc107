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

The **encoder-bound limit** (conventions): the best ``benchmark_app -hint throughput`` figure of the
encoder over batch 1, 8 and the pipeline's batch (``-b``), x source frames / grid samples: the file
cannot be analysed faster than the encoder alone. The pipeline runs both file decoders in paired,
interleaved runs (``opencv``, ``sampled``, then ``sampled``, ``opencv``, ...; the machine may be
shared, so only figures of the same run are compared): its figure is the default (sampled) decoder's,
the OpenCV path's is printed beside it with the median of the per-pair ratios. An OMZ-demo-style
loop (:func:`omz_style_loop`) is timed beside them. The load average is printed with the figures.

Not split: one command's measurements and the table they fill, read together; each part (the
decode, the encoder by batch, the decoder, the two peer loops, the paired pipeline runs) is short,
and a sibling module of the same layer could not be imported from here (the layer contract).
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import settings
from .models.files import ModelFiles
from .results import describe_devices


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
    encoder_batch_fps: dict[int, float] = field(default_factory=dict)
    encoder_bound_fps: float = 0.0
    limit_ratio: float = 0.0
    decoder: str = ""
    opencv_fps: float = 0.0
    opencv_limit_ratio: float = 0.0
    sampled_vs_opencv: float = 0.0
    pair_ratios: tuple[float, ...] = ()
    load_average: tuple[float, float] = (0.0, 0.0)
    cpu: str = ""
    omz_fps: float = 0.0
    decoder_device: str = ""  # "" when made: the encoder's ``device``
    inference_precision: str = ""  # what the compiled encoder computes in ("f32", "bf16"...); "" unread
    inference_precision_asked: str = ""  # --inference-precision / AR_INFERENCE_PRECISION; "" none

    def __post_init__(self) -> None:
        if not self.decoder_device:
            object.__setattr__(self, "decoder_device", self.device)

    def _computes(self) -> str:
        if not self.inference_precision:
            return ""
        asked = self.inference_precision_asked
        if not asked:
            return f", computing in {self.inference_precision}"
        which = "" if asked == self.inference_precision else f"{asked} "
        return f", computing in {self.inference_precision} ({which}asked for every model and benchmark_app)"

    def to_text(self) -> str:
        """The figures as an aligned table, for a terminal."""
        rows = [
            ("video", f"{self.video} ({self.frames} frames)"),
            ("model", f"{self.precision} on {describe_devices(self.device, self.decoder_device)}{self._computes()}"),
            ("grid samples / windows", f"{self.samples} / {self.windows}"),
            (
                "OpenCV decode",
                f"{self.decode_ms_per_frame:.2f} ms/frame ({1000 / self.decode_ms_per_frame:.0f} frames/s)",
            ),
            ("encoder alone", f"{self.encoder_fps:.1f} frames/s ({self.encoder_fps_source})"),
            ("decoder", f"{self.decoder_calls_per_s:.0f} calls/s ({1000 / self.decoder_calls_per_s:.2f} ms)"),
            ("ceiling", f"{self.ceiling_fps:.1f} video frames/s"),
            (
                "encoder alone by batch",
                ", ".join(f"b={b}: {fps:.1f}" for b, fps in sorted(self.encoder_batch_fps.items())) + " frames/s",
            ),
            (
                "encoder-bound limit",
                f"{self.encoder_bound_fps:.1f} video frames/s "
                f"(best batch x {self.frames} frames / {self.samples} samples)",
            ),
            (
                "actionrec pipeline",
                f"{self.video_fps:.1f} video frames/s ({self.decoder} decode, "
                f"{self.encoder_batch} samples per encoder request)",
            ),
            ("ratio to ceiling", f"{self.ratio:.3f}"),
            ("ratio to encoder-bound limit", f"{self.limit_ratio:.3f}"),
            (
                "OpenCV decode path",
                f"{self.opencv_fps:.1f} video frames/s ({self.opencv_limit_ratio:.3f} of the limit); "
                f"sampled / OpenCV, median of {len(self.pair_ratios)} pairs: {self.sampled_vs_opencv:.3f}",
            ),
            (
                "OMZ-demo-style loop",
                f"{self.omz_fps:.1f} video frames/s ({self.omz_fps / self.encoder_bound_fps:.3f} of the limit; "
                f"actionrec is {self.video_fps / self.omz_fps:.2f}x)"
                if self.omz_fps and self.encoder_bound_fps
                else "not measured",
            ),
            ("peak RSS", f"{self.peak_rss_mb:.0f} MB"),
            ("load average (1 min)", f"{self.load_average[0]:.2f} before, {self.load_average[1]:.2f} after"),
            ("CPU", self.cpu),
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


def benchmark_app_path() -> str | None:
    """``benchmark_app`` on PATH, else beside this Python (a venv's ``bin/`` need not be on PATH)."""
    found = shutil.which("benchmark_app")
    beside = Path(sys.executable).with_name("benchmark_app")
    return found or (str(beside) if beside.exists() else None)


def precision_config(device: str, inference_precision: str | None) -> dict[str, object]:
    """``{"INFERENCE_PRECISION_HINT": ...}`` where ``device`` takes it (as ``compile_models`` sets it), else ``{}``."""
    from .models.devices import device_config

    config = device_config(device, hint="THROUGHPUT", cache_dir="", inference_precision=inference_precision)
    return {k: v for k, v in config.items() if k == "INFERENCE_PRECISION_HINT"}


def measure_encoder(
    xml: Path, *, device: str, seconds: float, batch: int = 1, inference_precision: str | None = None
) -> tuple[float, str]:
    """Encoder throughput in frames/s at ``batch``: benchmark_app when installed, else an AsyncInferQueue run.

    ``inference_precision`` (e.g. ``"f32"``) goes to benchmark_app as ``-infer_precision`` and to
    the fallback's compile, where the device takes it (:func:`precision_config`).
    """
    exe = benchmark_app_path()
    hint = precision_config(device, inference_precision)
    if exe:
        cmd = [exe, "-m", str(xml), "-d", device, "-hint", "throughput", "-t", str(max(1, int(seconds)))]
        if hint:
            cmd += ["-infer_precision", str(hint["INFERENCE_PRECISION_HINT"])]
        out = subprocess.run(
            [*cmd, "-b", str(batch)] if batch != 1 else cmd,
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

    core = get_core()
    model = core.read_model(str(xml))
    if batch != 1:
        shape = model.input(0).get_partial_shape().to_shape()
        shape[0] = batch
        model.reshape({model.input(0): shape})
    compiled = core.compile_model(model, device, {"PERFORMANCE_HINT": "THROUGHPUT", **hint})
    jobs = ov.AsyncInferQueue(compiled, int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
    x = np.random.default_rng(0).uniform(0, 255, tuple(compiled.input(0).get_shape())).astype(np.float32)
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        jobs.start_async({0: x})
        n += batch
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


def baseline_loop(video: Path, files, *, device: str, inference_precision: str | None = None) -> float:
    """The original notebook's serial loop: encode every 2nd frame synchronously, decode per 16.

    The IRs are compiled as that notebook compiles them (no configuration: the device's defaults),
    except for ``inference_precision`` (:func:`precision_config`), which every part of a run shares.
    """
    import cv2
    import numpy as np

    from .models.runtime import get_core
    from .pipeline.preprocess import preprocess

    core = get_core()
    config = precision_config(device, inference_precision)
    enc = core.compile_model(str(files.encoder_xml), device, config).create_infer_request()
    decoder = core.compile_model(str(files.decoder_xml), device, config)
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


def omz_style_loop(video: Path, files: ModelFiles, *, device: str, inference_precision: str | None = None) -> float:
    """Video frames/s of a loop built like the OMZ action-recognition demo (our own implementation).

    A reader thread decodes with OpenCV and preprocesses every second frame into a small queue; the
    main thread feeds an ``AsyncInferQueue`` of two encoder requests (the IRs compiled with the
    plugin's defaults), keeps the embeddings in order in a ``clip_len``-long sliding window, and runs
    the decoder after every new embedding once the window is full. ``inference_precision`` as in
    :func:`baseline_loop`.
    """
    import queue
    import threading
    from collections import deque

    import cv2
    import numpy as np
    import openvino as ov

    from .models.runtime import get_core
    from .pipeline.preprocess import preprocess

    core = get_core()
    config = precision_config(device, inference_precision)
    encoder = core.compile_model(str(files.encoder_xml), device, config)
    decoder = core.compile_model(str(files.decoder_xml), device, config)
    clip_len = int(decoder.input(0).get_shape()[1])
    dec = decoder.create_infer_request()
    window: deque[np.ndarray] = deque(maxlen=clip_len)
    ready: dict[int, np.ndarray] = {}
    lock = threading.Lock()
    handoff: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=4)
    frames = [0]

    def done(request: ov.InferRequest, k: int) -> None:
        with lock:
            ready[k] = request.get_output_tensor(0).data.reshape(-1).copy()

    def reader() -> None:
        cap, n = cv2.VideoCapture(str(video)), 0
        try:
            while True:
                ok, image = cap.read()
                if not ok:
                    break
                if n % 2 == 0:
                    handoff.put(preprocess(image).tensor)
                n += 1
        finally:
            frames[0] = n
            cap.release()
            handoff.put(None)

    jobs = ov.AsyncInferQueue(encoder, 2)
    jobs.set_callback(done)
    next_k = 0

    def take_ready() -> None:
        nonlocal next_k
        while True:
            with lock:
                embedding = ready.pop(next_k, None)
            if embedding is None:
                return
            window.append(embedding)
            next_k += 1
            if len(window) == clip_len:
                dec.infer({0: np.stack(window)[None]})

    t = time.perf_counter()
    thread = threading.Thread(target=reader, name="omz-style-reader", daemon=True)
    thread.start()
    k = 0
    while (x := handoff.get()) is not None:
        jobs.start_async({0: x}, k)
        k += 1
        take_ready()
    jobs.wait_all()
    take_ready()
    thread.join()
    return frames[0] / (time.perf_counter() - t)


def run_bench(
    video: Path,
    files: ModelFiles,
    *,
    device: str = settings.DEFAULT_DEVICE,
    cache_dir: str | None = None,
    encoder_seconds: float = 15.0,
    baseline: bool = False,
    repeat: int = 3,
    encoder_device: str | None = None,
    decoder_device: str | None = None,
    inference_precision: str | None = None,
) -> BenchResult:
    """Measure the ceiling's parts, the encoder-bound limit and the real pipeline on ``video`` in one run.

    After a 2 s warm-up the pipeline runs ``repeat`` times with each file decoder, interleaved in
    pairs (the order alternates); the median run of each decoder gives its video fps.

    Args:
        video: the file to analyse.
        files: the model files (labels are not needed: placeholder names are used).
        device: where both models run, unless ``encoder_device`` / ``decoder_device`` say otherwise
            (the encoder alone and the two reference loops are measured on the encoder's device).
        cache_dir: root of the compile cache, as ``--cache-dir``.
        encoder_seconds: how long ``benchmark_app`` measures the encoder, per batch size.
        baseline: also time the original notebook's serial loop.
        repeat: pipeline runs per decoder; the medians count.
        encoder_device: where the encoder runs (default ``device``).
        decoder_device: where the decoder runs (default ``device``).
        inference_precision: what every model of the run computes in, the pipeline's, benchmark_app's
            and the two loops' (``f32`` on a CPU with AMX or AVX-512 BF16 comes closer to a CPU
            without them); default ``AR_INFERENCE_PRECISION``, else the device's own.

    Returns:
        The figures, measured in this process.

    Raises:
        ValueError: ``inference_precision`` is not one of f32, bf16, f16.
    """
    from .models.runtime import compile_models
    from .pipeline.files import Recognizer
    from .video import open_video

    asked = settings.inference_precision(inference_precision)
    load_before = os.getloadavg()[0]
    labels = placeholder_labels(files.decoder_xml)
    models = compile_models(
        files, device=device, encoder_device=encoder_device, decoder_device=decoder_device,
        hint="THROUGHPUT", labels=labels, cache_dir=cache_dir, inference_precision=asked,
    )  # fmt: skip
    device = models.device  # the encoder's, as checked
    recognizer = Recognizer(models)
    frames, decode_ms = measure_decode(video)
    timing = {"device": device, "seconds": encoder_seconds, "inference_precision": asked}
    enc_fps, enc_source = measure_encoder(files.encoder_xml, **timing)
    by_batch = {1: enc_fps}
    for batch in sorted({8, models.encoder_batch} - {1}):
        by_batch[batch] = measure_encoder(files.encoder_xml, **timing, batch=batch)[0]
    dec_fps = measure_decoder(models)
    recognizer.encode(str(video), progress=False, max_seconds=2.0)  # start-up (first requests) excluded
    walls: dict[str, list[float]] = {"opencv": [], "sampled": []}
    timeline = None
    for i in range(repeat):
        for decoder in ("opencv", "sampled") if i % 2 == 0 else ("sampled", "opencv"):
            recognizer.file_decoder = decoder
            t = time.perf_counter()
            timeline = recognizer.analyze(str(video), progress=False, cache=False)
            walls[decoder].append(time.perf_counter() - t)
    recognizer.file_decoder = "sampled"
    with open_video(video, frame_need=lambda *_: True) as opened:
        decoder_used = opened.info.decoder  # what the rule picks for this file
    wall = {d: sorted(w)[len(w) // 2] for d, w in walls.items()}  # median runs
    pairs = tuple(o / s for o, s in zip(walls["opencv"], walls["sampled"], strict=True))
    # The machine is shared: decode again after the pipeline runs and average, so the ceiling and
    # the pipeline see the same conditions as far as possible.
    decode_ms = (decode_ms + measure_decode(video)[1]) / 2
    samples = recognizer.grid.samples_in(timeline.duration_s)
    windows = len(timeline)
    ceiling = 1.0 / (decode_ms / 1000 + (samples / frames) / enc_fps + (windows / frames) / dec_fps)
    limit = max(by_batch.values()) * frames / samples
    video_fps = timeline.frames_decoded / wall["sampled"]
    opencv_fps = timeline.frames_decoded / wall["opencv"]
    base = baseline_loop(video, files, device=device, inference_precision=asked) if baseline else None
    omz = omz_style_loop(video, files, device=device, inference_precision=asked)
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
        encoder_batch_fps=by_batch,
        encoder_bound_fps=limit,
        limit_ratio=video_fps / limit,
        decoder=decoder_used,
        opencv_fps=opencv_fps,
        opencv_limit_ratio=opencv_fps / limit,
        sampled_vs_opencv=sorted(pairs)[len(pairs) // 2],
        pair_ratios=pairs,
        load_average=(load_before, os.getloadavg()[0]),
        cpu=cpu_name(),
        omz_fps=omz,
        decoder_device=models.decoder_device,
        inference_precision=models.inference_precision,
        inference_precision_asked=asked or "",
    )


def cpu_name() -> str:
    """The CPU model and core count, e.g. ``"AMD EPYC (2 cores)"``."""
    name = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            name = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    return f"{name or 'unknown CPU'} ({os.cpu_count()} cores)"


def placeholder_labels(decoder_xml: Path) -> tuple[str, ...]:
    """``("class 0", ...)``, one per decoder output: for timing models whose labels mean nothing."""
    from .models.runtime import get_core

    classes = int(get_core().read_model(str(decoder_xml)).output(0).get_partial_shape()[-1].get_length())
    return tuple(f"class {i}" for i in range(classes))
