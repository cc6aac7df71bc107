"""A/B compare: the same clip through two or more configurations, each measured in a process of its own.

Each configuration (precision, device, window, stride) runs in a fresh Python process
(:mod:`actionrec.insight.worker`), so its peak memory (``ru_maxrss`` from ``os.wait4``) and its
speed are its own; the model files are resolved (downloaded, verified) here first, so no child
measures a download. Configurations with the same encoder set-up (precision, device, window)
share embeddings through the embedding cache: the first encodes, the next read them (and say
so: their speed is then not measured). With ``cache=False`` the cache is a temporary folder
of this comparison, so nothing earlier is read and every encoder set-up is encoded once.

Example:
    >>> configs = [CompareConfig(precision="FP16"), CompareConfig(precision="FP16-INT8")]
    >>> result = compare("clip.mp4", configs=configs, model_dir="model/proxy")  # doctest: +SKIP
    >>> print(result.to_text())                                               # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .. import settings
from ..errors import CompareError, DeviceNotAvailableError, VideoOpenError
from ..models.files import resolve_model
from ..models.runtime import check_device
from ..video.open import SourceLike, resolve_source
from .comparison import Agreement, CompareConfig, Comparison, ConfigRun

TOP_K = 5
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding actionrec/, for the children's path


def rank(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties given their average rank (as Spearman's coefficient needs).

    Example:
        >>> rank(np.array([0.5, 0.1, 0.5, 0.9])).tolist()
        [2.5, 1.0, 2.5, 4.0]
    """
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for v in np.unique(values):
        tied = values == v
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of ``a`` and ``b``.

    1.0 for equal rankings; when one is constant (no ranking), 1.0 if both rank alike, else 0.0.

    Example:
        >>> spearman(np.array([0.1, 0.2, 0.7]), np.array([0.2, 0.3, 0.5]))
        1.0
        >>> spearman(np.array([1.0, 2.0]), np.array([2.0, 1.0]))
        -1.0
    """
    ra, rb = rank(a), rank(b)
    if ra.std() == 0 or rb.std() == 0:
        return 1.0 if np.array_equal(ra, rb) else 0.0
    return round(float(np.corrcoef(ra, rb)[0, 1]), 12)  # equal rankings give 1.0, not 0.9999999999999999


def agreement(
    ref_probs: np.ndarray, ref_centres_s: np.ndarray, probs: np.ndarray, centres_s: np.ndarray, *, top_k: int = TOP_K
) -> Agreement:
    """How ``probs`` (``[W', C]``) follows ``ref_probs`` (``[W, C]``): windows paired by nearest centre time.

    Per pair: the same top-1 class or not; over the union ``U`` of the two top-``top_k`` sets, the
    mean of ``|p_ref - p|`` and Spearman's rank correlation. Each is averaged over the pairs.

    Raises:
        ValueError: no windows, or another number of classes.
    """
    if not len(ref_probs) or not len(probs) or ref_probs.shape[1] != probs.shape[1]:
        raise ValueError(f"cannot compare windows of shapes {ref_probs.shape} and {probs.shape}")
    order = np.argsort(centres_s)
    pos = np.clip(np.searchsorted(centres_s[order], ref_centres_s), 0, len(order) - 1)
    left = np.clip(pos - 1, 0, len(order) - 1)
    nearer = np.abs(centres_s[order][left] - ref_centres_s) <= np.abs(centres_s[order][pos] - ref_centres_s)
    paired = order[np.where(nearer, left, pos)]
    same, diffs, rhos = [], [], []
    for w, v in enumerate(paired):
        a, b = ref_probs[w], probs[v]
        union = np.union1d(np.argsort(-a)[:top_k], np.argsort(-b)[:top_k])
        same.append(bool(np.argmax(a) == np.argmax(b)))
        diffs.append(float(np.abs(a[union] - b[union]).mean()))
        rhos.append(spearman(a[union], b[union]))
    return Agreement(
        windows=len(paired),
        top1_agreement=float(np.mean(same)),
        mean_abs_prob_diff=float(np.mean(diffs)),
        spearman=float(np.mean(rhos)),
        window_times_s=tuple(float(t) for t in ref_centres_s),
        window_agree=tuple(same),
        window_abs_diff=tuple(diffs),
    )


def _local_file(source: SourceLike, *, progress: bool) -> Path:
    resolved = resolve_source(source, progress=progress)
    if not resolved.is_local_file or not isinstance(resolved.value, Path):
        raise VideoOpenError(
            f"compare reads the clip once per configuration, so it needs a video file; got {resolved.display} "
            f"({resolved.kind}). Record or download it to a file first"
        )
    return resolved.value


def compare(
    source: SourceLike,
    *,
    configs: Sequence[CompareConfig],
    model: str = settings.DEFAULT_MODEL,
    model_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    data_base_url: str | None = None,
    labels: str | os.PathLike[str] | None = None,
    offline: bool = False,
    cache: bool = True,
    skip_unavailable: bool = True,
    progress: bool = False,
    on_start: Callable[[int, CompareConfig], object] | None = None,
) -> Comparison:
    """Run ``source`` through each configuration in its own process; compare each with the first.

    Args:
        source: a video file (or a URL, downloaded once here).
        configs: two or more distinct configurations; the first is the reference.
        model: the model family (``action-recognition-0001``).
        model_dir: models on disk in the OMZ layout (no download), as for
            :func:`~actionrec.models.resolve_model` (resolved here, once per precision).
        cache_dir: the verified download cache and compile cache (default ``model/``).
        base_url: a mirror for the model files.
        data_base_url: a mirror for the labels.
        labels: a local labels file.
        offline: never use the network.
        cache: share embeddings through the embedding cache (``data/cache/``); ``False``: through
            a temporary cache of this comparison only (every speed is then measured).
        skip_unavailable: leave out configurations whose device is not present here (listed in
            :attr:`Comparison.skipped`) instead of raising.
        progress: show download progress.
        on_start: ``on_start(i, config)`` before configuration ``i`` starts (a progress line).

    Returns:
        The table's data: each run's speed and memory, and its agreement with the reference.

    Raises:
        ValueError: fewer than two configurations, or the same one twice.
        DeviceNotAvailableError: a device is not present and ``skip_unavailable`` is false.
        CompareError: fewer than two configurations can run here, or one's process failed (its
            last error line is quoted).
        VideoOpenError: the source is not a readable file.
    """
    configs = list(configs)
    if len(configs) < 2 or len(set(configs)) != len(configs):
        names = ", ".join(c.name for c in configs) or "none"
        raise ValueError(f"compare needs two or more distinct configurations, got {names}")
    skipped: list[tuple[str, str]] = []
    runnable = []
    for c in configs:
        try:
            check_device(c.device)
            check_device(c.decoder_device or c.device)
            runnable.append(c)
        except DeviceNotAvailableError as exc:
            if not skip_unavailable:
                raise
            skipped.append((c.name, str(exc).split(". ")[0]))  # "device ... not available here; available: ..."
    if len(runnable) < 2:
        raise CompareError(
            f"only {len(runnable)} of the configurations can run here ({'; '.join(f'{n}: {r}' for n, r in skipped)}); "
            "give at least two with devices present (python -m actionrec doctor lists them)"
        )
    path = _local_file(source, progress=progress)
    files = {
        p: resolve_model(
            model,
            precision=p,
            model_dir=model_dir,
            cache_dir=cache_dir,
            base_url=base_url,
            data_base_url=data_base_url,
            labels=labels,
            offline=offline,
            progress=progress,
        )
        for p in dict.fromkeys(c.precision for c in runnable)
    }
    with tempfile.TemporaryDirectory(prefix="actionrec-compare-") as tmp:
        work = Path(tmp)
        embedding_cache = str(settings.data_dir("cache")) if cache else str(work / "cache")
        results = []
        for i, config in enumerate(runnable):
            if on_start is not None:
                on_start(i, config)
            results.append(_run_one(i, config, files[config.precision], path, work, embedding_cache, cache_dir))
    labels0 = results[0][1]["labels"]
    if any(r[1]["labels"] != labels0 for r in results):
        raise CompareError("the configurations' decoders give different classes; compare the same model")
    ref_probs, ref_centres = results[0][0]
    runs, agreements = [], []
    for i, ((probs, centres), facts, rss_mb) in enumerate(results):
        runs.append(
            ConfigRun(
                config=runnable[i],
                windows=int(facts["windows"]),
                frames_decoded=int(facts["frames_decoded"]),
                compile_s=float(facts["compile_s"]),
                analysis_s=float(facts["analysis_s"]),
                video_fps=float(facts["video_fps"]),
                encoder_ms=float(facts["encoder_ms"]),
                decoder_ms=float(facts["decoder_ms"]),
                peak_rss_mb=rss_mb,
                embeddings_cached=bool(facts["embeddings_cached"]),
                execution_devices=tuple(facts["execution_devices"]),
            )
        )
        agreements.append(None if i == 0 else agreement(ref_probs, ref_centres, probs, centres))
    return Comparison(source=str(path), runs=tuple(runs), agreements=tuple(agreements), skipped=tuple(skipped))


def _run_one(i, config, files, path, work, embedding_cache, model_cache_dir):
    """One child process: its ``((probs, centres), facts, peak_rss_mb)``."""
    spec = {
        "files": {
            "model": files.model,
            "precision": files.precision,
            "encoder_xml": str(files.encoder_xml),
            "decoder_xml": str(files.decoder_xml),
            "labels_path": str(files.labels_path) if files.labels_path else None,
            "verified": files.verified,
        },
        "config": {
            "device": config.device,
            "decoder_device": config.decoder_device or config.device,
            "window_s": config.window_s,
            "stride_s": config.stride_s,
        },
        "source": str(path),
        "embedding_cache_dir": embedding_cache,
        "model_cache_dir": str(model_cache_dir) if model_cache_dir else None,
    }
    spec_path, result, errors = work / f"spec{i}.json", work / f"result{i}", work / f"stderr{i}.txt"
    spec_path.write_text(json.dumps(spec))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, "-m", "actionrec.insight.worker", str(spec_path), str(result)]
    with open(errors, "wb") as err:  # a file, not a pipe: a chatty child never blocks on a full pipe
        child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env)
        try:
            _, status, usage = os.wait4(child.pid, 0)
        except BaseException:
            child.kill()
            child.wait()
            raise
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    if child.returncode != 0:
        lines = [line for line in errors.read_text(errors="replace").splitlines() if line.strip()]
        raise CompareError(
            f"configuration {config.name} failed (exit code {child.returncode}): "
            f"{lines[-1] if lines else 'no message'}; run `python -m actionrec analyze` with it to see more"
        )
    facts = json.loads(result.with_suffix(".json").read_text())
    with np.load(result.with_suffix(".npz"), allow_pickle=False) as z:
        probs = z["probs"]
        centres = (z["starts_s"] + z["ends_s"]) / 2
    return (probs, centres), facts, usage.ru_maxrss / 1024


def write_comparison(
    comparison: Comparison, out_dir: str | os.PathLike[str], *, stem: str | None = None
) -> dict[str, Path]:
    """``STEM.compare.json`` (the table's data) and ``STEM.compare.png`` (its plot), atomically.

    Args:
        comparison: from :func:`compare`.
        out_dir: the folder (created when needed).
        stem: file name stem (default: the clip's).

    Returns:
        ``{"json": path, "png": path}``.

    Raises:
        ExportError: a file cannot be written.
    """
    from ..atomic import atomic_write
    from .picture import draw_comparison, write_png

    out = Path(out_dir)
    stem = stem or Path(comparison.source).stem or "video"
    path = out / f"{stem}.compare.json"
    with atomic_write(path, "w") as f:
        f.write(json.dumps(comparison.to_dict(), indent=1) + "\n")
    return {"json": path, "png": write_png(draw_comparison(comparison), out / f"{stem}.compare.png")}
