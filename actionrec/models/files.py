"""Find the model files (verified cache or a local folder) and their labels file.

Example:
    >>> files = resolve_model("action-recognition-0001", precision="FP16")  # doctest: +SKIP
    >>> files.labels_path                                                  # doctest: +SKIP
    PosixPath('data/labels/kinetics400-id2label.json')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .. import settings
from ..download import RemoteFile, fetch_file, fetch_files, mirror_url
from ..errors import ModelNotFoundError
from .registry import PRECISIONS, get_model, get_sample


@dataclass(frozen=True)
class ModelFiles:
    """Where one model's IRs and labels are on disk.

    Attributes:
        model: model family name, e.g. ``"action-recognition-0001"``.
        precision: ``FP32``, ``FP16`` or ``FP16-INT8``.
        encoder_xml, decoder_xml: IR paths (the ``.bin`` sits beside each).
        labels_path: labels file, or ``None`` when labels are not known.
        verified: True when the IRs came from the verified cache (False for ``--model-dir``).
    """

    model: str
    precision: str
    encoder_xml: Path
    decoder_xml: Path
    labels_path: Path | None
    verified: bool


def resolve_model(
    model: str = settings.DEFAULT_MODEL,
    *,
    precision: str = settings.DEFAULT_PRECISION,
    model_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    data_base_url: str | None = None,
    labels: str | os.PathLike[str] | None = None,
    offline: bool = False,
    progress: bool = True,
    need_labels: bool = True,
) -> ModelFiles:
    """Return verified model files, downloading what is missing.

    With ``model_dir`` (or ``AR_MODEL_DIR``) the IRs are used from that folder in the OMZ layout,
    with no download and no hash check (they may be your own). Labels come from ``labels``
    (or ``AR_LABELS``) when given, else from the verified registry download (skipped when
    ``need_labels`` is false, e.g. for benchmarks, where ``labels_path`` is then ``None``).

    Raises:
        ModelNotFoundError: unknown model/precision, or files missing in ``model_dir``.
        DownloadError: a download failed (see :func:`actionrec.download.fetch_file`).
    """
    if precision not in PRECISIONS:
        raise ModelNotFoundError(f"precision {precision!r} is not valid; use one of {', '.join(PRECISIONS)}")
    local_dir = settings.model_dir(model_dir)
    cache = settings.cache_dir(cache_dir)
    labels_file = settings.labels_path(labels)
    if local_dir is not None:
        enc, dec = (local_dir / _xml(model, part, precision) for part in ("encoder", "decoder"))
        missing = [p for p in (enc, dec, enc.with_suffix(".bin"), dec.with_suffix(".bin")) if not p.is_file()]
        if missing:
            raise ModelNotFoundError(
                f"model folder {local_dir} lacks {', '.join(str(m) for m in missing)}; it must use "
                f"the OMZ layout DIR/{model}-encoder/{precision}/{model}-encoder.xml (+ .bin, same for "
                "the decoder), as `python -m actionrec fetch --cache-dir DIR` or "
                "make_proxy_models.py --out DIR write it"
            )
        verified = False
    else:
        spec = get_model(model)
        fetch_files(
            spec.files(precision),
            cache_dir=cache,
            model_base_url=settings.model_base_url(base_url),
            offline=offline,
            progress=progress,
        )
        enc, dec = (cache / spec.xml_name(part, precision) for part in ("encoder", "decoder"))
        verified = True
    if labels_file is None and need_labels:
        labels_file = fetch_labels(model, data_base_url=data_base_url, offline=offline, progress=progress)
    return ModelFiles(model, precision, enc, dec, labels_file, verified)


def fetch_labels(
    model: str,
    *,
    data_base_url: str | None = None,
    offline: bool = False,
    progress: bool = True,
) -> Path | None:
    """Download and verify the registry labels of ``model`` into ``data/labels/``.

    Returns ``None`` for a model that is not in the registry (your own IRs): pass ``labels``.
    """
    try:
        remote = get_model(model).labels
    except ModelNotFoundError:
        return None
    return _fetch_data(remote, data_base_url=data_base_url, offline=offline, progress=progress)


def fetch_sample(
    name: str | None = None,
    *,
    data_base_url: str | None = None,
    offline: bool = False,
    progress: bool = True,
) -> Path:
    """Download and verify a pinned sample clip into ``data/samples/`` and return its path."""
    remote = get_sample(name) if name else get_sample()
    return _fetch_data(remote, data_base_url=data_base_url, offline=offline, progress=progress)


def _fetch_data(remote: RemoteFile, *, data_base_url: str | None, offline: bool, progress: bool) -> Path:
    """A pinned data file into ``data/`` (through ``--data-base-url`` / ``AR_DATA_BASE_URL``)."""
    return fetch_file(
        remote,
        cache_dir=settings.data_dir(),
        url=mirror_url(remote.url, data_base_url=settings.data_base_url(data_base_url)),
        offline=offline,
        progress=progress,
    )


def _xml(model: str, part: str, precision: str) -> str:
    return f"{model}-{part}/{precision}/{model}-{part}.xml"
