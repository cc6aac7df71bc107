"""``python -m actionrec fetch``: download and verify one model's files and labels."""

from __future__ import annotations

import argparse

from .common import add_model_args, resolve_from_args


def add_args(p: argparse.ArgumentParser) -> None:
    """Add the ``fetch`` flags to ``p``: the model flags."""
    add_model_args(p)


def run_fetch(args: argparse.Namespace) -> int:
    """Download and verify one model's files and labels; print where they are."""
    files = resolve_from_args(args)
    state = "verified" if files.verified else "from --model-dir (not hash-checked)"
    print(f"encoder: {files.encoder_xml}  [{state}]")
    print(f"decoder: {files.decoder_xml}  [{state}]")
    print(f"labels:  {files.labels_path}")
    return 0
