"""Flags shared by every command that needs the models, and the model files they resolve to."""

from __future__ import annotations

import argparse

from .. import settings
from ..models.files import ModelFiles, resolve_model
from ..models.registry import MODELS, PRECISIONS


def add_model_args(p: argparse.ArgumentParser, *, precision: bool = True) -> None:
    """Flags shared by every command that needs the models (``precision=False``: all but ``--precision``)."""
    p.add_argument("--model", default=settings.DEFAULT_MODEL, help=f"one of {', '.join(MODELS)} (default: %(default)s)")
    if precision:
        p.add_argument(
            "--precision",
            default=settings.env_str(settings.ENV_PRECISION, settings.DEFAULT_PRECISION),
            choices=PRECISIONS,
            help="model precision (env AR_PRECISION; default: %(default)s)",
        )
    p.add_argument("--cache-dir", help="verified download cache (env AR_CACHE_DIR; default: model/)")
    p.add_argument("--model-dir", help="use models on disk in the OMZ layout, no download (env AR_MODEL_DIR)")
    p.add_argument(
        "--base-url", help="mirror for model files: models_bin/1/<rest> -> URL/<rest> (env AR_MODEL_BASE_URL)"
    )
    p.add_argument("--data-base-url", help="mirror for labels and sample clips (env AR_DATA_BASE_URL)")
    p.add_argument("--labels", help="local labels file instead of the download (env AR_LABELS)")
    p.add_argument("--offline", action="store_true", help="never use the network; fail if a file is not cached")
    p.add_argument("--no-progress", action="store_true", help="hide download progress bars")


def add_device_args(p: argparse.ArgumentParser) -> None:
    """``--device``, ``--encoder-device`` and ``--decoder-device`` (read with :func:`devices_from_args`)."""
    p.add_argument("--device", help="OpenVINO device of both models: CPU, GPU, NPU, AUTO (env AR_DEVICE; default: CPU)")
    p.add_argument(
        "--encoder-device", help="the encoder's device, e.g. GPU (env AR_ENCODER_DEVICE; default: the --device)"
    )
    p.add_argument(
        "--decoder-device", help="the decoder's device, e.g. CPU (env AR_DECODER_DEVICE; default: the --device)"
    )


def devices_from_args(args: argparse.Namespace) -> dict[str, str]:
    """``{"device", "encoder_device", "decoder_device"}`` for :func:`~actionrec.models.compile_models`.

    A flag wins over its environment variable; ``--encoder-device`` / ``AR_ENCODER_DEVICE`` (and the
    decoder's) fall back to ``--device`` / ``AR_DEVICE``, then CPU.
    """
    return {
        "device": settings.device(args.device),
        "encoder_device": settings.encoder_device(args.encoder_device, device_override=args.device),
        "decoder_device": settings.decoder_device(args.decoder_device, device_override=args.device),
    }


def resolve_from_args(args: argparse.Namespace, *, need_labels: bool = True) -> ModelFiles:
    """:func:`actionrec.models.resolve_model` with the flags of :func:`add_model_args`.

    Args:
        args: parsed flags of a command that called :func:`add_model_args`.
        need_labels: fetch the registry labels when ``--labels`` is not given (benchmarks: no).

    Returns:
        The resolved model files.
    """
    return resolve_model(
        args.model,
        precision=args.precision,
        model_dir=args.model_dir,
        cache_dir=args.cache_dir,
        base_url=args.base_url,
        data_base_url=args.data_base_url,
        labels=args.labels,
        offline=args.offline,
        progress=not args.no_progress,
        need_labels=need_labels,
    )
