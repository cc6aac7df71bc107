"""Where things live and what the ``AR_*`` environment variables mean.

In a checkout (the folder holding ``notebook_utils.py`` beside the package), ``model/`` and
``data/`` sit in the repository and relative paths are resolved against it, not against the
current working directory, so the notebook, the CLI and the tests agree. Installed elsewhere
(``pip install``), they live in a per-user cache folder (``~/.cache/actionrec`` on Linux, the
platform's equivalent elsewhere) and relative paths are resolved against the current folder.
``AR_CACHE_DIR`` moves the models, ``AR_DATA_DIR`` the data (labels, samples, downloads, uploads,
embedding cache). A CLI flag always wins over its environment variable; both are read here and
nowhere else.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# A checkout has notebook_utils.py beside the package; an installed copy (site-packages) has not.
IN_CHECKOUT = (REPO_ROOT / "notebook_utils.py").is_file()

DEFAULT_MODEL = "action-recognition-0001"
DEFAULT_PRECISION = "FP16"
DEFAULT_DEVICE = "CPU"
DEFAULT_WINDOW_S = 1.0
DEFAULT_STRIDE_S = 0.5
DEFAULT_TOP_K = 5
DEFAULT_SMOOTHING = 1  # windows averaged per prediction (1 = none)
# Shown frames that may wait for a live recording's encoder: ~90 frames at 640x360 (3 s at 30 fps).
DEFAULT_RECORD_QUEUE_MB = 64.0
LIVE_TOP_K = 3  # the live player's overlay shows three labels (files keep DEFAULT_TOP_K)
MAX_TOP_K = 1000
MAX_SMOOTHING = 1000

ENV_MODEL_DIR = "AR_MODEL_DIR"
ENV_CACHE_DIR = "AR_CACHE_DIR"
ENV_DATA_DIR = "AR_DATA_DIR"
ENV_MODEL_BASE_URL = "AR_MODEL_BASE_URL"
ENV_DATA_BASE_URL = "AR_DATA_BASE_URL"
ENV_LABELS = "AR_LABELS"
ENV_PRECISION = "AR_PRECISION"
ENV_DEVICE = "AR_DEVICE"
ENV_ENCODER_DEVICE = "AR_ENCODER_DEVICE"
ENV_DECODER_DEVICE = "AR_DECODER_DEVICE"
ENV_VIDEO = "AR_VIDEO"
ENV_MAX_SECONDS = "AR_MAX_SECONDS"
ENV_MAX_UPLOAD_MB = "AR_MAX_UPLOAD_MB"
ENV_MAX_DOWNLOAD_MB = "AR_MAX_DOWNLOAD_MB"
ENV_FILE_DECODER = "AR_FILE_DECODER"
ENV_INFERENCE_PRECISION = "AR_INFERENCE_PRECISION"
FILE_DECODERS = ("sampled", "opencv")  # file analysis: the sampled decode where it applies, or always OpenCV
DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024**3  # 2 GB: a long phone clip, still well under a typical free disk


def env_str(name: str, default: str | None = None) -> str | None:
    """Return the environment variable ``name``, or ``default`` when unset or blank."""
    value = os.environ.get(name, "").strip()
    return value if value else default


def env_float(name: str, default: float | None = None) -> float | None:
    """Return the environment variable ``name`` as a float (``default`` when unset).

    Raises:
        ValueError: the variable is set but is not a number.
    """
    value = env_str(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(
            f"environment variable {name}={value!r} is not a number; set it to seconds (e.g. {name}=10) or unset it"
        ) from None


def max_upload_bytes(default: int = DEFAULT_MAX_UPLOAD_BYTES) -> int:
    """The upload limit in bytes: ``AR_MAX_UPLOAD_MB`` megabytes (MiB) when set, else ``default`` (2 GB).

    Used by the notebook's upload widget and reported by ``python -m actionrec doctor``.

    Args:
        default: the limit when the variable is unset or blank.

    Returns:
        The limit in bytes (always positive when the variable is set).

    Raises:
        ValueError: the variable is set but is not a positive, finite number of megabytes.

    Example:
        >>> os.environ["AR_MAX_UPLOAD_MB"] = "500"  # doctest: +SKIP
        >>> max_upload_bytes()  # doctest: +SKIP
        524288000
    """
    raw = env_str(ENV_MAX_UPLOAD_MB)
    if raw is None:
        return default
    return _megabytes(raw, what=ENV_MAX_UPLOAD_MB, fix=f"set e.g. {ENV_MAX_UPLOAD_MB}=500", default=default)


def max_download_bytes(megabytes: float | str | None = None) -> int:
    """The size limit of a video URL download, in bytes, counted on the bytes received.

    ``megabytes`` (``--max-download-mb``, or the ``max_download_mb`` keyword of
    :func:`actionrec.video.open_video` and the functions that take a URL) wins; else
    ``AR_MAX_DOWNLOAD_MB``; else the upload limit (:func:`max_upload_bytes`, 2 GB by default).
    Megabytes are MiB, as for ``AR_MAX_UPLOAD_MB``.

    Args:
        megabytes: the limit a caller passes, or ``None`` for the environment / the default.

    Returns:
        The limit in bytes (always positive).

    Raises:
        ValueError: the limit given, or ``AR_MAX_DOWNLOAD_MB`` / ``AR_MAX_UPLOAD_MB``, is not a
            positive, finite number of megabytes.

    Example:
        >>> max_download_bytes(1.5)
        1572864
    """
    if megabytes is not None:
        return _megabytes(
            megabytes, what="max_download_mb", fix="pass e.g. max_download_mb=500 (--max-download-mb 500)"
        )
    raw = env_str(ENV_MAX_DOWNLOAD_MB)
    if raw is None:
        return max_upload_bytes()
    return _megabytes(
        raw, what=ENV_MAX_DOWNLOAD_MB, fix=f"set e.g. {ENV_MAX_DOWNLOAD_MB}=500, or unset it for the upload limit"
    )


def _megabytes(raw: float | str, *, what: str, fix: str, default: int | None = None) -> int:
    """``raw`` megabytes (MiB) as a positive number of bytes, or a ValueError naming ``what``."""
    try:
        limit = int(float(raw) * 1024**2)
    except (ValueError, TypeError, OverflowError):  # not a number, nan, or inf
        limit = 0
    if limit <= 0 or isinstance(raw, bool):
        unset = "" if default is None else f", or unset it for the default ({default / 1024**2:g} MB)"
        raise ValueError(f"{what}={raw!r} is not a positive number of megabytes; {fix}{unset}")
    return limit


def home_dir() -> Path:
    """Where ``model/`` and ``data/`` live by default: the checkout, or the per-user cache folder."""
    if IN_CHECKOUT:
        return REPO_ROOT
    import platformdirs

    return platformdirs.user_cache_path(__package__)  # the package name: ~/.cache/actionrec on Linux


def resolve_path(path: str | os.PathLike[str]) -> Path:
    """Resolve a relative ``path`` against the repository root (installed: the current folder)."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    return (REPO_ROOT if IN_CHECKOUT else Path.cwd()) / p


def cache_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Verified model downloads and the compile cache (``--cache-dir`` ≡ ``AR_CACHE_DIR``; default ``model/``)."""
    value = override or env_str(ENV_CACHE_DIR)
    return resolve_path(value) if value else home_dir() / "model"


def model_dir(override: str | os.PathLike[str] | None = None) -> Path | None:
    """Models already on disk in the OMZ layout (``--model-dir`` ≡ ``AR_MODEL_DIR``), if any."""
    value = override or env_str(ENV_MODEL_DIR)
    return resolve_path(value) if value else None


def model_base_url(override: str | None = None) -> str | None:
    """Mirror for model files (``--base-url`` ≡ ``AR_MODEL_BASE_URL``), if any."""
    return override or env_str(ENV_MODEL_BASE_URL)


def data_base_url(override: str | None = None) -> str | None:
    """Mirror for pinned data files (``--data-base-url`` ≡ ``AR_DATA_BASE_URL``), if any."""
    return override or env_str(ENV_DATA_BASE_URL)


def labels_path(override: str | os.PathLike[str] | None = None) -> Path | None:
    """A local labels file to use instead of downloading (``--labels`` ≡ ``AR_LABELS``)."""
    value = override or env_str(ENV_LABELS)
    return resolve_path(value) if value else None


def data_dir(*parts: str) -> Path:
    """A folder under ``data/`` (labels, samples, downloads, uploads, cache); ``AR_DATA_DIR`` moves it."""
    value = env_str(ENV_DATA_DIR)
    return (resolve_path(value) if value else home_dir() / "data").joinpath(*parts)


def device(override: str | None = None) -> str:
    """Where the models run (``--device`` ≡ ``AR_DEVICE``; default ``CPU``)."""
    return override or env_str(ENV_DEVICE, DEFAULT_DEVICE) or DEFAULT_DEVICE


def encoder_device(override: str | None = None, *, device_override: str | None = None) -> str:
    """Where the encoder runs: ``--encoder-device`` ≡ ``AR_ENCODER_DEVICE``, else :func:`device`.

    Args:
        override: ``--encoder-device``.
        device_override: ``--device`` (the fallback's own flag, which wins over ``AR_DEVICE``).

    Example:
        >>> os.environ["AR_ENCODER_DEVICE"] = "GPU"  # doctest: +SKIP
        >>> encoder_device(), encoder_device("CPU")  # doctest: +SKIP
        ('GPU', 'CPU')
    """
    return override or env_str(ENV_ENCODER_DEVICE) or device(device_override)


def decoder_device(override: str | None = None, *, device_override: str | None = None) -> str:
    """Where the decoder runs: ``--decoder-device`` ≡ ``AR_DECODER_DEVICE``, else :func:`device`."""
    return override or env_str(ENV_DECODER_DEVICE) or device(device_override)


def file_decoder(override: str | None = None) -> str:
    """How the file pipeline decodes: ``"sampled"`` (the default) or ``"opencv"``.

    ``"sampled"``: :mod:`actionrec.video.sampled` where its rule allows, else OpenCV; ``"opencv"``:
    always the OpenCV path (for comparisons).

    Raises:
        ValueError: ``override`` or ``AR_FILE_DECODER`` is another word.
    """
    value = (override or env_str(ENV_FILE_DECODER, FILE_DECODERS[0]) or "").lower()
    if value not in FILE_DECODERS:
        raise ValueError(
            f"file decoder {value!r} is not one of {', '.join(FILE_DECODERS)}; set {ENV_FILE_DECODER}=sampled "
            "(the default) or opencv (the old path, for comparisons)"
        )
    return value


INFERENCE_PRECISIONS = ("f32", "bf16", "f16")


def inference_precision(override: str | None = None) -> str | None:
    """The precision OpenVINO computes in (``INFERENCE_PRECISION_HINT``), or ``None``: the device's own.

    The CPU plugin runs FP16 and FP32 models in bf16 on CPUs with AVX-512 BF16 or AMX (twice as fast
    there; the scores differ from f32 in the last digits) and in f32 elsewhere. ``f32`` makes every
    CPU compute the same numbers (for comparisons across machines, and the test suite).

    Raises:
        ValueError: ``override`` or ``AR_INFERENCE_PRECISION`` is not one of f32, bf16, f16.
    """
    value = override or env_str(ENV_INFERENCE_PRECISION)
    if value is None:
        return None
    value = value.lower()
    if value not in INFERENCE_PRECISIONS:
        raise ValueError(
            f"inference precision {value!r} is not one of {', '.join(INFERENCE_PRECISIONS)}; set "
            f"{ENV_INFERENCE_PRECISION}=f32 (the same numbers on every CPU), or unset it for the device's default"
        )
    return value
