"""One configuration of an A/B comparison, in a process of its own: ``python -m actionrec.insight.worker SPEC RESULT``.

Started by :func:`actionrec.insight.compare`, which reads this process's peak memory from
``os.wait4``. ``SPEC`` (JSON) names the model files, the configuration, the clip and the cache
folders; the result is ``RESULT.npz`` (the per-window probabilities and spans, nothing pickled)
and ``RESULT.json`` (the timings and facts). Compiling is timed apart from the analysis.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write
from ..models.files import ModelFiles
from ..models.runtime import compile_models
from ..pipeline.files import Recognizer
from ..pipeline.options import RecognizerOptions
from ..results import softmax
from .explain import load_or_encode


def run_config(spec: dict[str, Any], result: Path) -> dict[str, Any]:
    """Compile, analyse the clip (embeddings from the cache when it holds them), write ``result``.{npz,json}.

    Returns:
        The facts written to ``RESULT.json``.
    """
    f = spec["files"]
    files = ModelFiles(
        model=f["model"],
        precision=f["precision"],
        encoder_xml=Path(f["encoder_xml"]),
        decoder_xml=Path(f["decoder_xml"]),
        labels_path=Path(f["labels_path"]) if f["labels_path"] else None,
        verified=bool(f["verified"]),
    )
    cfg = spec["config"]
    t0 = time.perf_counter()
    models = compile_models(
        files,
        device=cfg["device"],
        decoder_device=cfg.get("decoder_device"),
        hint="THROUGHPUT",
        cache_dir=spec["model_cache_dir"],
    )
    compile_s = time.perf_counter() - t0
    options = RecognizerOptions(window_s=cfg["window_s"], stride_s=cfg["stride_s"])
    recognizer = Recognizer(models, options=options)
    t1 = time.perf_counter()
    encoded, cached = load_or_encode(
        recognizer, spec["source"], cache=True, cache_dir=spec["embedding_cache_dir"], progress=False
    )
    decoded = recognizer.decode_windows(encoded)
    analysis_s = time.perf_counter() - t1
    with atomic_write(result.with_suffix(".npz"), "wb") as fh:
        np.savez(fh, probs=softmax(decoded.logits).astype(np.float32), starts_s=decoded.starts_s, ends_s=decoded.ends_s)
    facts = {
        "labels": list(models.labels),
        "windows": decoded.num_windows,
        "frames_decoded": decoded.frames_decoded,
        "compile_s": compile_s,
        "analysis_s": analysis_s,
        "video_fps": decoded.frames_decoded / analysis_s if analysis_s > 0 else 0.0,
        "encoder_ms": 0.0 if cached else float(encoded.timings.encoder_ms),
        "decoder_ms": float(decoded.timings.decoder_ms),
        "embeddings_cached": cached,
        "execution_devices": list(models.execution_devices),
    }
    with atomic_write(result.with_suffix(".json"), "w") as fh:
        json.dump(facts, fh)
    return facts


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``SPEC RESULT``; errors go to stderr as one ``Type: message`` line, exit code 1."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m actionrec.insight.worker SPEC.json RESULT", file=sys.stderr)
        return 2
    try:
        run_config(json.loads(Path(args[0]).read_text()), Path(args[1]))
    except Exception as exc:  # the parent reports it, naming the configuration
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
